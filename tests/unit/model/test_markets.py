"""Market specs: exact conversions at the decimal edge, validation, TOML loading."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perpsim.model.market_files import default_markets, load_markets
from perpsim.model.markets import (
    MAX_MONEY_UNITS,
    MAX_PRICE_TICKS,
    MAX_QTY_LOTS,
    MarketKind,
    MarketSpec,
)
from perpsim.model.reasons import Rejected, RejectReason

R = RejectReason

LINEAR_KW: dict = dict(
    symbol="BTCUSDT",
    kind="linear",
    base="BTC",
    quote="USDT",
    tick_size="0.1",
    lot_size="0.001",
    min_qty="0.001",
    max_qty="1000",
    min_price="0.1",
    max_price="400000",
    min_notional="5",
    settle_decimals=8,
)


def spec(**overrides) -> MarketSpec:
    return MarketSpec(**{**LINEAR_KW, **overrides})


def rejected(fn, *args) -> Rejected:
    with pytest.raises(Rejected) as info:
        fn(*args)
    return info.value


def spec_error(**overrides) -> dict:
    err = rejected(lambda: spec(**overrides))
    assert err.reason is R.INVALID_MARKET_SPEC
    return err.reject.fields


BTC = spec()
MARKETS = default_markets()


# --- round trips -------------------------------------------------------------------------------

MIN_P, MAX_P, MIN_Q, MAX_Q = BTC.book_limits()


@given(st.integers(MIN_P, MAX_P))
def test_price_round_trip(ticks: int) -> None:
    price = BTC.ticks_to_price(ticks)
    assert BTC.price_to_ticks(price) == ticks
    assert BTC.price_to_ticks(str(price)) == ticks
    assert BTC.price_to_ticks(BTC.format_price(ticks)) == ticks
    assert price == Decimal(ticks) * Decimal("0.1")


@given(st.integers(MIN_Q, MAX_Q))
def test_qty_round_trip(lots: int) -> None:
    qty = BTC.lots_to_qty(lots)
    assert BTC.qty_to_lots(qty) == lots
    assert BTC.qty_to_lots(BTC.format_qty(lots)) == lots


@given(st.integers(-MAX_MONEY_UNITS, MAX_MONEY_UNITS))
def test_money_round_trip(units: int) -> None:
    money = BTC.units_to_money(units)
    assert BTC.money_to_units(money) == units
    assert BTC.money_to_units(BTC.format_money(units)) == units


@given(st.sampled_from(sorted(MARKETS)), st.data())
def test_round_trips_on_every_default_market(symbol: str, data: st.DataObject) -> None:
    m = MARKETS[symbol]
    p0, p1, q0, q1 = m.book_limits()
    ticks = data.draw(st.integers(p0, p1))
    lots = data.draw(st.integers(q0, q1))
    assert m.price_to_ticks(m.format_price(ticks)) == ticks
    assert m.qty_to_lots(m.format_qty(lots)) == lots


def test_output_has_exactly_the_grid_decimals() -> None:
    assert BTC.ticks_to_price(200001) == Decimal("20000.1")
    assert BTC.ticks_to_price(200001).as_tuple().exponent == -1
    assert BTC.format_price(200000) == "20000.0"
    assert BTC.format_qty(1) == "0.001"
    assert BTC.format_qty(1000) == "1.000"
    assert BTC.format_money(1) == "0.00000001"
    assert BTC.format_money(-150_000_000) == "-1.50000000"
    half = spec(tick_size="0.5", min_price="0.5", max_price="1000")
    assert half.price_decimals == 1
    assert half.format_price(3) == "1.5"
    assert half.format_price(2) == "1.0"
    whole = spec(tick_size="5", min_price="5", max_price="1000")
    assert whole.format_price(3) == "15"
    # A tick written with trailing zeros is canonical: "0.10" has one decimal, like 0.1.
    assert spec(tick_size="0.10").tick_size.as_tuple().exponent == -1
    assert spec(tick_size="0.10").format_price(200001) == "20000.1"
    tiny = spec(
        tick_size="0.0000001", min_price="0.0000001", max_price="0.4",
        lot_size="1", min_qty="1", min_notional="0",
    )
    assert tiny.format_price(1) == "0.0000001"  # never exponent notation


def test_integer_outputs_accept_any_sign_and_refuse_non_integers() -> None:
    assert BTC.ticks_to_price(-5) == Decimal("-0.5")
    assert BTC.lots_to_qty(-2) == Decimal("-0.002")
    assert BTC.ticks_to_price(0) == 0
    for fn in (BTC.ticks_to_price, BTC.lots_to_qty, BTC.units_to_money):
        with pytest.raises(TypeError):
            fn(1.0)
        with pytest.raises(TypeError):
            fn(True)
        with pytest.raises(TypeError):
            fn("1")


# --- accepted spellings ------------------------------------------------------------------------


def test_equal_spellings_give_equal_integers() -> None:
    assert BTC.qty_to_lots("1e3") == BTC.qty_to_lots("1000.000") == BTC.qty_to_lots(1000) == 1_000_000
    assert BTC.qty_to_lots(Decimal("1E+3")) == 1_000_000
    assert BTC.price_to_ticks("20000.10000") == BTC.price_to_ticks("2.00001e4") == 200001
    assert BTC.price_to_ticks(".5") == BTC.price_to_ticks("0.5") == BTC.price_to_ticks("+0.5") == 5
    assert BTC.price_to_ticks("5.") == 50
    assert BTC.money_to_units("1e-8") == 1


def test_limits_are_inclusive_and_one_step_beyond_is_rejected() -> None:
    assert BTC.price_to_ticks("0.1") == 1
    assert BTC.price_to_ticks("400000") == 4_000_000
    assert BTC.qty_to_lots("0.001") == 1
    assert BTC.qty_to_lots("1000") == 1_000_000
    assert rejected(BTC.price_to_ticks, "400000.1").reason is R.PRICE_TOO_HIGH
    assert rejected(BTC.qty_to_lots, "1000.001").reason is R.QUANTITY_TOO_LARGE
    m = spec(min_price="100", min_qty="0.01")
    assert m.price_to_ticks("100") == 1000
    assert m.qty_to_lots("0.01") == 10
    assert rejected(m.price_to_ticks, "99.9").reason is R.PRICE_TOO_LOW
    assert rejected(m.qty_to_lots, "0.009").reason is R.QUANTITY_TOO_SMALL


def test_money_limits() -> None:
    top = BTC.format_money(MAX_MONEY_UNITS)
    assert BTC.money_to_units(top) == MAX_MONEY_UNITS
    assert BTC.money_to_units("-" + top) == -MAX_MONEY_UNITS
    err = rejected(BTC.money_to_units, BTC.format_money(MAX_MONEY_UNITS + 1))
    assert err.reason is R.BAD_PRECISION
    assert err.reject.fields["max_amount"] == top
    assert BTC.money_to_units("0") == 0


# --- rejections, with their fields -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "reason", "extra"),
    [
        ("abc", R.BAD_PRECISION, {}),
        ("", R.BAD_PRECISION, {}),
        ("NaN", R.BAD_PRECISION, {}),
        ("Infinity", R.BAD_PRECISION, {}),
        (" 1", R.BAD_PRECISION, {}),
        ("1_000", R.BAD_PRECISION, {}),
        ("١٢", R.BAD_PRECISION, {}),  # Decimal() would accept Arabic-Indic digits
        ("0x10", R.BAD_PRECISION, {}),
        ("0", R.INVALID_PRICE, {}),
        ("-0", R.INVALID_PRICE, {}),
        ("-20000", R.INVALID_PRICE, {}),
        ("0.15", R.PRICE_OFF_TICK, {"tick_size": "0.1"}),
        ("20000.01", R.PRICE_OFF_TICK, {"tick_size": "0.1"}),
        ("1e-9999", R.PRICE_OFF_TICK, {"tick_size": "0.1"}),
        ("400000.1", R.PRICE_TOO_HIGH, {"max_price": "400000"}),
        ("1e999999999", R.PRICE_TOO_HIGH, {"max_price": "400000"}),  # decided without 10**huge
    ],
)
def test_price_rejections(value: str, reason: RejectReason, extra: dict) -> None:
    err = rejected(BTC.price_to_ticks, value)
    assert err.reason is reason
    assert err.reject.fields == {"field": "price", "value": value, **extra}


def test_price_too_low_fields() -> None:
    m = spec(min_price="100")
    err = rejected(m.price_to_ticks, "99.9")
    assert err.reason is R.PRICE_TOO_LOW
    assert err.reject.fields == {"field": "price", "value": "99.9", "min_price": "100"}


@pytest.mark.parametrize(
    ("value", "reason", "extra"),
    [
        ("1..0", R.BAD_PRECISION, {}),
        ("sNaN", R.BAD_PRECISION, {}),
        ("0", R.INVALID_QUANTITY, {}),
        ("-0.001", R.INVALID_QUANTITY, {}),
        ("0.0015", R.QUANTITY_OFF_STEP, {"lot_size": "0.001"}),
        ("1000.001", R.QUANTITY_TOO_LARGE, {"max_qty": "1000"}),
    ],
)
def test_qty_rejections(value: str, reason: RejectReason, extra: dict) -> None:
    err = rejected(BTC.qty_to_lots, value)
    assert err.reason is reason
    assert err.reject.fields == {"field": "quantity", "value": value, **extra}


def test_qty_too_small_fields() -> None:
    m = spec(min_qty="0.01")
    err = rejected(m.qty_to_lots, "0.009")
    assert err.reason is R.QUANTITY_TOO_SMALL
    assert err.reject.fields == {"field": "quantity", "value": "0.009", "min_qty": "0.01"}


def test_money_rejections() -> None:
    err = rejected(BTC.money_to_units, "0.000000001")
    assert err.reason is R.BAD_PRECISION
    assert err.reject.fields == {"field": "amount", "value": "0.000000001", "settle_decimals": 8}
    assert rejected(BTC.money_to_units, "inf").reason is R.BAD_PRECISION
    assert rejected(BTC.money_to_units, "1e999999999").reason is R.BAD_PRECISION


def test_reasons_carry_binance_codes() -> None:
    assert rejected(BTC.price_to_ticks, "x").reject.info.binance_code == -1111
    assert rejected(BTC.price_to_ticks, "0.15").reject.info.status == "INVALID_ARGUMENT"


def test_decimal_inputs_follow_the_same_rules() -> None:
    assert BTC.price_to_ticks(Decimal("0.1")) == 1
    assert rejected(BTC.price_to_ticks, Decimal("0.15")).reason is R.PRICE_OFF_TICK
    assert rejected(BTC.price_to_ticks, Decimal("NaN")).reason is R.BAD_PRECISION
    assert rejected(BTC.price_to_ticks, Decimal("-Infinity")).reason is R.BAD_PRECISION
    assert BTC.price_to_ticks(20000) == 200000
    assert rejected(BTC.price_to_ticks, -1).reason is R.INVALID_PRICE


def test_overlong_input_is_rejected_not_computed() -> None:
    long_text = "1." + "0" * 100
    err = rejected(BTC.qty_to_lots, long_text)
    assert err.reason is R.BAD_PRECISION
    assert len(err.reject.fields["value"]) < 80
    assert rejected(BTC.qty_to_lots, 10**100).reason is R.BAD_PRECISION


@pytest.mark.parametrize("method", ["price_to_ticks", "qty_to_lots", "money_to_units"])
@pytest.mark.parametrize("value", [0.1, 1.0, float("nan"), True, None, b"1", [1]])
def test_non_decimal_types_are_refused(method: str, value: object) -> None:
    with pytest.raises(TypeError) as info:
        getattr(BTC, method)(value)
    if isinstance(value, float):
        assert "float" in str(info.value)


def test_a_rejection_converts_nothing() -> None:
    """Conversions are pure: a rejection leaves the spec unchanged and later conversions exact."""
    before = dataclasses.asdict(BTC)
    cases = ((BTC.price_to_ticks, "0.15"), (BTC.qty_to_lots, "0.0015"), (BTC.money_to_units, "1e-9"))
    for fn, value in cases:
        with pytest.raises(Rejected):
            fn(value)
    assert dataclasses.asdict(BTC) == before
    assert BTC.price_to_ticks("0.2") == 2


# --- spec validation -----------------------------------------------------------------------------


def test_spec_normalizes_and_derives() -> None:
    assert BTC.kind is MarketKind.LINEAR
    assert BTC.settle == "USDT"
    assert BTC.max_open_orders == 200
    assert isinstance(BTC.tick_size, Decimal)
    assert spec(max_qty="1E+3").max_qty.as_tuple().exponent == 0
    assert spec(tick_size="0.10") == spec(tick_size="0.1")
    assert hash(spec()) == hash(BTC)
    with pytest.raises(dataclasses.FrozenInstanceError):
        BTC.tick_size = Decimal("1")  # type: ignore[misc]


def test_linear_notional_per_tick_lot_is_exact() -> None:
    assert BTC.notional_per_tick_lot == 10_000  # 0.1 x 0.001 x 1e8
    assert MARKETS["ETHUSDT"].notional_per_tick_lot == 1_000  # 0.01 x 0.001 x 1e8
    # price 20000.0 x qty 0.5 = 10000 USDT = 1e12 units
    ticks, lots = BTC.price_to_ticks("20000"), BTC.qty_to_lots("0.5")
    assert ticks * lots * BTC.notional_per_tick_lot == BTC.money_to_units("10000")
    with pytest.raises(ValueError, match="linear"):
        _ = MARKETS["BTCUSD"].notional_per_tick_lot


def test_linear_requires_integral_notional_per_tick_lot() -> None:
    # 0.1 x 0.001 x 10**3 = 0.1 unit: notionals would not be exact.
    assert spec_error(settle_decimals=3, min_notional="5")["field"] == "settle_decimals"
    assert spec(settle_decimals=4).notional_per_tick_lot == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"symbol": "btc usdt"}, "symbol"),
        ({"symbol": ""}, "symbol"),
        ({"kind": "spot"}, "kind"),
        ({"base": "btc"}, "base"),
        ({"quote": "BTC"}, "quote"),
        ({"settle": "BTC"}, "settle"),
        ({"tick_size": "0"}, "tick_size"),
        ({"tick_size": "-0.1"}, "tick_size"),
        ({"lot_size": "0"}, "lot_size"),
        ({"tick_size": 0.1}, "tick_size"),
        ({"lot_size": "abc"}, "lot_size"),
        ({"tick_size": "NaN"}, "tick_size"),
        ({"tick_size": "1e-50"}, "tick_size"),
        ({"min_price": "0"}, "min_price"),
        ({"min_qty": "0"}, "min_qty"),
        ({"min_price": "0.15"}, "min_price"),
        ({"max_price": "400000.05"}, "max_price"),
        ({"min_qty": "0.0015"}, "min_qty"),
        ({"max_qty": "1000.0005"}, "max_qty"),
        ({"min_price": "500000"}, "max_price"),
        ({"min_qty": "2000"}, "max_qty"),
        ({"min_notional": "-1"}, "min_notional"),
        ({"min_notional": "0.000000001"}, "min_notional"),
        ({"contract_size": "100"}, "contract_size"),
        ({"price_band_up": "0.99"}, "price_band_up"),
        ({"price_band_down": "0"}, "price_band_down"),
        ({"price_band_down": "1.01"}, "price_band_down"),
        ({"maker_fee": "-0.0006"}, "maker_fee"),
        ({"maker_fee": "1"}, "maker_fee"),
        ({"taker_fee": "-0.0001"}, "taker_fee"),
        ({"liquidation_fee": "1"}, "liquidation_fee"),
        ({"settle_decimals": -1}, "settle_decimals"),
        ({"settle_decimals": 19}, "settle_decimals"),
        ({"settle_decimals": True}, "settle_decimals"),
        ({"settle_decimals": "8"}, "settle_decimals"),
        ({"max_open_orders": 0}, "max_open_orders"),
    ],
)
def test_invalid_specs_name_the_field(overrides: dict, field: str) -> None:
    fields = spec_error(**overrides)
    assert fields["field"] == field
    assert fields["symbol"] == overrides.get("symbol", "BTCUSDT")
    assert fields["problem"]


def test_negative_maker_fee_within_taker_fee_is_a_valid_rebate() -> None:
    assert spec(maker_fee="-0.0005").maker_fee == Decimal("-0.0005")


def test_int64_book_bounds_are_enforced() -> None:
    assert MAX_QTY_LOTS == 1 << 40
    assert MAX_PRICE_TICKS * MAX_QTY_LOTS == 1 << 62
    # Exactly at the bounds is fine.
    at = spec(
        tick_size="1", min_price="1", max_price=str(MAX_PRICE_TICKS),
        lot_size="1", min_qty="1", max_qty=str(MAX_QTY_LOTS), min_notional="0",
    )  # fmt: skip
    assert at.book_limits() == (1, MAX_PRICE_TICKS, 1, MAX_QTY_LOTS)
    # One tick / one lot beyond is not.
    over = spec_error(tick_size="1", min_price="1", max_price=str(MAX_PRICE_TICKS + 1))
    assert over["field"] == "max_price"
    assert spec_error(lot_size="1", min_qty="1", max_qty=str(MAX_QTY_LOTS + 1))["field"] == "max_qty"
    # The classic trap: Binance's BTCUSDT max price 1000000 at tick 0.1 is 10**7 ticks > 2**22.
    assert spec_error(max_price="1000000")["field"] == "max_price"
    for m in MARKETS.values():
        p0, p1, q0, q1 = m.book_limits()
        assert 1 <= p0 <= p1 <= MAX_PRICE_TICKS
        assert 1 <= q0 <= q1 <= MAX_QTY_LOTS


# --- default markets -----------------------------------------------------------------------------


def test_default_markets() -> None:
    assert set(MARKETS) == {"BTCUSDT", "ETHUSDT", "BTCUSD", "SOLUSDT", "CYBERUSDT"}
    for symbol, m in MARKETS.items():
        assert m.symbol == symbol
        assert dataclasses.replace(m) == m  # re-validates
    # the linear markets carry their own bracket tables (tests/fidelity/test_market_brackets.py)
    assert dataclasses.replace(MARKETS["BTCUSDT"], brackets=()) == MarketSpec(**{**LINEAR_KW, "max_open_orders": 200})
    eth = MARKETS["ETHUSDT"]
    assert (eth.tick_size, eth.lot_size, eth.max_price) == (Decimal("0.01"), Decimal("0.001"), 40000)
    inv = MARKETS["BTCUSD"]
    assert inv.kind is MarketKind.INVERSE
    assert (inv.base, inv.quote, inv.settle) == ("BTC", "USD", "BTC")
    assert inv.contract_size == 100
    assert inv.qty_to_lots("5") == 5
    assert rejected(inv.qty_to_lots, "0.5").reason is R.QUANTITY_OFF_STEP
    assert inv.money_to_units("0.00000001") == 1
    assert MARKETS["BTCUSDT"].taker_fee == Decimal("0.0005")
    assert MARKETS["BTCUSDT"].liquidation_fee == Decimal("0.0125")


def test_default_markets_file_matches_the_source_tree() -> None:
    source = Path(__file__).parents[3] / "model" / "markets.toml"
    assert load_markets(source) == MARKETS


def test_inverse_settles_in_base() -> None:
    fields = spec_error(
        symbol="BTCUSD", kind="inverse", quote="USD", settle="USD", contract_size="100", min_notional="0"
    )
    assert fields["field"] == "settle"


# --- TOML loading --------------------------------------------------------------------------------

GOOD = """
[markets.BTCUSDT]
kind = "linear"
base = "BTC"
quote = "USDT"
tick_size = "0.1"
lot_size = "0.001"
min_qty = "0.001"
max_qty = 1000
min_price = "0.1"
max_price = "400000"
settle_decimals = 8
"""


def load_error(text: str) -> dict:
    err = rejected(load_markets, text)
    assert err.reason is R.INVALID_MARKET_SPEC
    return err.reject.fields


def test_load_minimal_text_bytes_and_path(tmp_path: Path) -> None:
    markets = load_markets(GOOD)
    assert list(markets) == ["BTCUSDT"]
    m = markets["BTCUSDT"]
    assert m.max_qty == 1000 and m.settle == "USDT" and m.maker_fee == Decimal("0.0002")
    assert load_markets(GOOD.encode()) == markets
    path = tmp_path / "m.toml"
    path.write_text(GOOD, encoding="utf-8")
    assert load_markets(path) == markets


def test_load_rejects_toml_float_naming_the_field() -> None:
    fields = load_error(GOOD.replace('tick_size = "0.1"', "tick_size = 0.1"))
    assert fields["symbol"] == "BTCUSDT"
    assert fields["field"] == "tick_size"
    assert "float" in fields["problem"] and "string" in fields["problem"]


def test_load_rejects_unknown_key() -> None:
    fields = load_error(GOOD + 'tick = "0.1"\n')
    assert fields == {"symbol": "BTCUSDT", "field": "tick", "problem": "unknown key 'tick'"}
    assert load_error(GOOD + 'symbol = "BTCUSDT"\n')["field"] == "symbol"
    assert load_error("version = 1\n" + GOOD)["field"] == "version"


def test_load_rejects_missing_key() -> None:
    fields = load_error(GOOD.replace('lot_size = "0.001"\n', ""))
    assert fields == {"symbol": "BTCUSDT", "field": "lot_size", "problem": "missing required key 'lot_size'"}
    inverse = GOOD.replace('"linear"', '"inverse"').replace('"USDT"', '"USD"')
    assert load_error(inverse)["field"] == "contract_size"
    assert load_markets(inverse + 'contract_size = "100"\n')["BTCUSDT"].settle == "BTC"


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ('settle_decimals = "8"', "settle_decimals"),
        ("settle_decimals = 8.0", "settle_decimals"),
        ("max_open_orders = true", "max_open_orders"),
        ("min_notional = true", "min_notional"),
        ("min_notional = [1]", "min_notional"),
        ("settle = 1", "settle"),
    ],
)
def test_load_rejects_wrong_types(line: str, field: str) -> None:
    key = line.split(" ")[0]
    text = "\n".join(x for x in GOOD.splitlines() if not x.startswith(key + " ")) + "\n" + line + "\n"
    assert load_error(text)["field"] == field


def test_load_rejects_invalid_spec_and_bad_documents() -> None:
    assert load_error(GOOD.replace('"400000"', '"1000000"'))["field"] == "max_price"
    assert load_error("")["field"] == "markets"
    assert load_error("markets = 1")["field"] == "markets"
    assert load_error("[markets]\nBTCUSDT = 1\n")["problem"].startswith("[markets.<SYMBOL>]")
    broken = load_error("[markets.BTCUSDT\n")
    assert broken["field"] == "toml" and "invalid TOML" in broken["problem"]
    assert "pathlib.Path" in load_error("model/markets.toml")["problem"]
    with pytest.raises(TypeError):
        load_markets(42)  # type: ignore[arg-type]


def test_load_is_all_or_nothing() -> None:
    second = GOOD.replace("BTCUSDT", "ETHUSDT").replace('"0.1"', '"0.15"', 1)
    fields = load_error(GOOD + second)
    assert (fields["symbol"], fields["field"]) == ("ETHUSDT", "min_price")  # 0.1 is off the 0.15 grid
