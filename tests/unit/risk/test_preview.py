"""perpsim.risk.preview: Decimal in, Decimal out, exact against the §4.1 formula, each output's
display rounding, cross margin, COIN-M, the liquidation band, and bad input."""

from __future__ import annotations

import math
from decimal import Decimal as D
from fractions import Fraction
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perpsim.model.market_files import default_markets
from perpsim.risk import preview as pv
from perpsim.risk.liqprice import LiquidationModel

BTCUSD_ROWS = [
    ("10", 125, "0.004"),
    ("20", 100, "0.005"),
    ("30", 50, "0.01"),
    ("50", 20, "0.025"),
    ("100", 10, "0.05"),
    ("200", 5, "0.10"),
    ("400", 4, "0.125"),
    ("1000", 3, "0.15"),
    ("1500", 2, "0.25"),
]


def one_way_lp(s: int, q: Fraction, ep: Fraction, wb: Fraction, mmr: Fraction, cum: Fraction,
               tmm1: Fraction = Fraction(0), upnl1: Fraction = Fraction(0)) -> Fraction:
    """§4.1 one-way reduced form, literally (the test's independent oracle)."""
    return (wb - tmm1 + upnl1 + cum - s * q * ep) / (q * mmr - s * q)


# --- types and exactness ---------------------------------------------------------------------


def test_outputs_are_decimals():
    p = pv.preview_position(side="long", size="0.5", entry="30000.5", leverage=10, market="BTCUSDT")
    for name in ("notional", "unrealized_pnl", "wallet_balance", "margin_balance", "initial_margin",
                 "maintenance_margin", "mmr", "cum", "margin_ratio_pct", "liquidation_price", "bankruptcy_price",
                 "liquidation_distance_pct", "partial_liquidation_price", "full_liquidation_price"):
        assert isinstance(getattr(p, name), D), name
    assert p.asset == "USDT"
    assert p.wallet_balance == p.initial_margin == D("1500.02")  # 15,000.25 / 10, truncated


def test_inputs_with_many_decimals_are_not_rounded():
    # An averaged entry far off any tick, a mark with 8 decimals: uPnL is exact.
    p = pv.preview_position(side="short", size="0.123", entry="30000.123456789", mark="29999.87654321",
                            leverage=5, money_places=12)
    exact = Fraction("0.123") * (Fraction("30000.123456789") - Fraction("29999.87654321"))
    assert Fraction(p.unrealized_pnl) == math.floor(exact * 10**12) / Fraction(10**12)


def test_floats_are_refused():
    with pytest.raises(TypeError, match="float"):
        pv.preview_position(side="long", size=1.0, entry="100", leverage=2)
    with pytest.raises(TypeError, match="float"):
        pv.funding_rate(0.0001)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(size="0"), "size must be > 0"),
        (dict(entry="-1"), "entry must be > 0"),
        (dict(entry="abc"), "not a decimal number"),
        (dict(entry="Infinity"), "not a finite number"),
        (dict(entry="1e99"), "out of range"),
        (dict(side="up"), "side must be"),
        (dict(leverage="2.5"), "leverage must be a whole number"),
        (dict(leverage=None), "wallet .* or the leverage"),
        (dict(margin_mode="portfolio"), "margin_mode"),
        (dict(margin_mode="cross"), "cross wallet balance"),
        (dict(other_mm="5"), "cross margin only"),
        (dict(mmr="0.004", brackets=[("1", 1, "0.1")]), "not both"),
        (dict(cum="5"), "cum needs mmr"),
        (dict(mmr="1.5"), r"mmr must be in \[0, 1\)"),
        (dict(mmr="0.000000001"), "finer than 1e-8"),
        (dict(market="DOGEUSDT"), "unknown market"),
        (dict(market="BTCUSD", mmr="0.004", profile="bybit"), "bybit profile has no inverse"),
        (dict(profile="okx"), "profile must be"),
        (dict(rounding="up"), "rounding must be"),
        (dict(contract_size="100", market="BTCUSDT"), "conflicts"),
        (dict(brackets=[("100", 10)]), "expected \\(cap, max_leverage, mmr\\)"),
        (dict(money_places=-1), "money_places"),
    ],
)
def test_bad_input_raises_value_error(kwargs, message):
    base = dict(side="long", size="1", entry="20000", leverage=20)
    with pytest.raises(ValueError, match=message):
        pv.preview_position(**{**base, **kwargs})


# --- exact against the formula, and the display rounding -------------------------------------

sizes = st.integers(1, 10**6).map(lambda n: Fraction(n, 1000))
prices = st.integers(1000, 10**8).map(lambda n: Fraction(n, 100))
mmrs = st.integers(1, 500).map(lambda n: Fraction(n, 10_000))


def dec(x: Fraction, places: int) -> str:
    n = x * 10**places
    assert n.denominator == 1
    return str(D(n.numerator).scaleb(-places))


@given(st.sampled_from([1, -1]), sizes, prices, st.integers(1, 125), mmrs)
def test_liquidation_price_is_the_formula_rounded(s, q, ep, lev, mmr):
    kw = dict(side="long" if s > 0 else "short", size=dec(q, 3), entry=dec(ep, 2), leverage=lev,
              mmr=dec(mmr, 4), price_step="0.01")
    wb = q * ep / lev  # the default isolated wallet: IM at entry
    # The grid's money unit here is 10**-17 (2 + 3 + 8 + 4 guard digits); IM rounds up to it.
    exact = one_way_lp(s, q, ep, Fraction(math.ceil(wb * 10**17), 10**17), mmr, Fraction(0))
    venue = pv.liquidation_price(**kw)
    nearest = pv.liquidation_price(**kw, rounding="nearest")
    if exact < 0:
        assert venue is None and nearest is None
        return
    # Conservative: a long's shown LP is at or above the exact one, a short's at or below, within one step.
    assert 0 <= s * (Fraction(venue) - exact) < Fraction(1, 100)
    assert abs(Fraction(nearest) - exact) <= Fraction(1, 200)
    bp = pv.bankruptcy_price(side=kw["side"], size=kw["size"], entry=kw["entry"], leverage=lev)
    # BP rounds like LP; the position reaches its LP before its BP.
    assert s * (Fraction(venue) - Fraction(bp)) >= 0


def test_money_display_truncates_and_nearest_is_half_even():
    kw = dict(side="buy", size="1", price="2.58", mark="2.58", leverage=20)  # IM 0.129
    assert pv.order_cost(**kw).initial_margin == D("0.12")
    assert pv.order_cost(**kw, rounding="nearest").initial_margin == D("0.13")
    kw = dict(kw, price="2.5", mark="2.5")  # IM 0.125: a tie
    assert pv.order_cost(**kw, rounding="nearest").initial_margin == D("0.12")


def test_price_step_follows_market_tick_or_inputs():
    base = dict(side="long", size="1", leverage=20, mmr="0.004")
    assert pv.liquidation_price(**base, entry="20000") == D("19076.31")  # default 0.01, long rounds up
    assert pv.liquidation_price(**base, entry="20000", market="BTCUSDT") == D("19076.4")  # tick 0.1
    assert pv.liquidation_price(**base, entry="20000.125") == D("19076.425")  # entry's own places
    assert pv.liquidation_price(**base, entry="20000", price_step="0.5") == D("19076.5")
    assert pv.liquidation_price(**{**base, "side": "short"}, entry="20000", price_step="0.5") == D("20916.0")


def test_margin_ratio_and_distance():
    # Long 1 @ 20,000, wallet 1,000, mark 19,500: balance 500, MM 78 → 15.6 %.
    p = pv.preview_position(side="long", size="1", entry="20000", mark="19500", wallet="1000", leverage=20,
                            mmr="0.004")
    assert p.unrealized_pnl == D("-500.00") and p.margin_balance == D("500.00")
    assert p.maintenance_margin == D("78.00") and p.margin_ratio_pct == D("15.60")
    exact = (19_500 - Fraction(19_000) / Fraction("0.996")) / 19_500 * 100  # 2.17…
    assert p.liquidation_distance_pct == D(math.floor(exact * 100)) / 100
    # Beyond the LP: negative distance, ratio over 100 %, a warning.
    q = pv.preview_position(side="long", size="1", entry="20000", mark="19050", wallet="1000", leverage=20,
                            mmr="0.004")
    assert q.liquidation_distance_pct < 0 and q.margin_ratio_pct > 100
    assert any("already" in w for w in q.warnings)
    # Balance <= 0: the ratio is unbounded (None, shown as --).
    r = pv.preview_position(side="long", size="1", entry="20000", mark="18000", wallet="1000", leverage=20,
                            mmr="0.004")
    assert r.margin_ratio_pct is None


def test_initial_margin_is_at_mark_and_wallet_defaults_to_im_at_entry():
    p = pv.preview_position(side="long", size="2", entry="100", mark="110", leverage=4, mmr="0.01")
    assert p.wallet_balance == D("50.00")  # 200 / 4 at entry
    assert p.initial_margin == D("55.00")  # 220 / 4 at the mark (Binance positionRisk, A5)


def test_no_liquidation_price():
    # A 1x long with extra margin cannot be liquidated by the mark alone: "--".
    p = pv.preview_position(side="long", size="1", entry="100", wallet="200", leverage=1, mmr="0.004")
    assert p.liquidation_price is None and p.bankruptcy_price is None
    assert p.partial_liquidation_price is None and p.full_liquidation_price is None and p.stages == ()
    assert p.liquidation_distance_pct is None
    assert any("no liquidation price" in w for w in p.warnings)


def test_leverage_above_the_bracket_maximum_warns():
    p = pv.preview_position(side="long", size="100", entry="20000", leverage=50)  # 2 M: bracket 4, max 20x
    assert p.bracket == 4 and any("exceeds the bracket's maximum 20x" in w for w in p.warnings)


# --- cross margin ------------------------------------------------------------------------------


def test_cross_uses_other_positions():
    kw = dict(side="long", size="1", entry="20000", wallet="5000", leverage=20, mmr="0.004",
              margin_mode="cross", other_mm="100", other_upnl="-200", price_step="0.0001", rounding="nearest")
    p = pv.preview_position(**kw)
    exact = one_way_lp(1, Fraction(1), Fraction(20_000), Fraction(5_000), Fraction("0.004"), Fraction(0),
                       Fraction(100), Fraction(-200))
    assert p.liquidation_price == D(round(exact * 10_000)) / 10_000
    assert p.margin_balance == D("4800.00")  # wallet + other uPnL + 0
    assert p.margin_ratio_pct == D("3.75")  # (100 + 80) / 4,800
    # BP: the other uPnL counts, their MM does not.
    assert pv.bankruptcy_price(side="long", size="1", entry="20000", wallet="5000", margin_mode="cross",
                               other_upnl="-200") == D("15200.00")


# --- COIN-M -----------------------------------------------------------------------------------


def test_coin_m_forum_case():
    # §4.1: WB 101 BTC, long $10 M (100,000 × 100 USD) @ 45,000 → 33,578.86 (bracket 7 at LP).
    kw = dict(side="long", size="100000", entry="45000", wallet="101", market="BTCUSD", brackets=BTCUSD_ROWS)
    p = pv.preview_position(**kw, price_step="0.01", rounding="nearest")
    assert p.liquidation_price == D("33578.86") and p.liquidation_bracket == 7
    assert p.asset == "BTC" and p.notional == D("222.22222222")
    assert pv.preview_position(**kw).liquidation_price == D("33578.9")  # BTCUSD tick 0.1, up
    # The same through contract_size instead of a market.
    same = pv.preview_position(**{**kw, "market": None}, contract_size="100", price_step="0.01", rounding="nearest")
    assert same.liquidation_price == D("33578.86")


def test_coin_m_short_bankruptcy_and_cost():
    # Short 10 × 100 USD @ 40,000 with 0.0025 BTC: BP = 1,000 / 0.0225 = 44,444.44… (short: down).
    assert pv.bankruptcy_price(side="short", size="10", entry="40000", wallet="0.0025", contract_size="100") == (
        D("44444.44")
    )
    c = pv.order_cost(side="buy", size="10", price="40000", mark="39000", leverage=10, market="BTCUSD")
    assert c.initial_margin == D("0.00250000")  # 1,000 / 40,000 / 10
    # Buying at 40,000 with the mark at 39,000: uPnL = 1,000 × (1/40,000 − 1/39,000) < 0.
    exact = 1_000 * (Fraction(1, 39_000) - Fraction(1, 40_000))
    assert c.open_loss == D(math.floor(exact * 10**8)) / 10**8
    with pytest.raises(ValueError, match="USDⓈ-M"):
        pv.order_cost(side="sell", size="10", price="40000", mark="39000", leverage=10, market="BTCUSD",
                      last="40000", model="revised_2024")


# --- the liquidation band ----------------------------------------------------------------------


def test_tier_one_band_is_one_price():
    p = pv.preview_position(side="short", size="1", entry="20000", leverage=20, market="BTCUSDT")
    assert p.liquidation_bracket == 1
    assert p.partial_liquidation_price == p.full_liquidation_price == p.liquidation_price
    assert [s.kind for s in p.stages] == ["full"]


def test_long_steps_down_one_tier_at_a_time():
    # 30 BTC @ 20,000, 20x: bracket 3 at the LP → 250,000 / LP BTC → … → bracket 1.
    p = pv.preview_position(side="long", size="30", entry="20000", leverage=20, market="BTCUSDT")
    assert [(s.kind, s.bracket) for s in p.stages] == [("partial", 3), ("partial", 2), ("full", 1)]
    first, second = p.stages[0], p.stages[1]
    assert first.price == p.liquidation_price == p.partial_liquidation_price
    assert p.full_liquidation_price == p.stages[-1].price
    assert p.partial_liquidation_price > second.price > p.full_liquidation_price
    # The reduced rest has lost less and can go further than the whole position's BP (no fee).
    assert p.full_liquidation_price < p.bankruptcy_price
    # Stage 1 keeps floor(250,000 / LP1) at the 0.001 lot; the exact LP1 has bracket 3 (1 %, cum 1,300).
    lp1 = one_way_lp(1, Fraction(30), Fraction(20_000), Fraction(30_000), Fraction("0.01"), Fraction(1_300))
    kept = Fraction(math.floor(250_000 / lp1 * 1000), 1000)
    assert Fraction(first.size_after) == kept == Fraction(second.size_before)
    # Stage 2: the rest, with the wallet less the loss realized at LP1, in bracket 2 (0.5 %, cum 50).
    wallet = Fraction(30_000) + (30 - kept) * (lp1 - 20_000)
    wallet = Fraction(math.floor(wallet * 10**16), 10**16)  # realized PnL rounds down at the money unit
    lp2 = one_way_lp(1, kept, Fraction(20_000), wallet, Fraction("0.005"), Fraction(50))
    assert second.price == D(math.ceil(lp2 * 10)) / 10


def test_short_band_ascends_and_fee_can_force_full_liquidation():
    kw = dict(side="short", size="30", entry="20000", leverage=20, market="BTCUSDT")
    p = pv.preview_position(**kw)
    assert len(p.stages) > 1 and p.stages[-1].kind == "full"
    prices = [s.price for s in p.stages]
    sizes = [s.size_before for s in p.stages]
    assert prices == sorted(prices) and sizes == sorted(set(sizes), reverse=True)
    # A short's notional grows as the price rises: a tier can take several shrinking steps.
    assert [s.bracket for s in p.stages] == sorted((s.bracket for s in p.stages), reverse=True)
    # A liquidation fee (1.25 %) above the bracket's MMR (1 %): the reduced rest is still
    # liquidatable at the mark (§4.2 step 4), so the whole position goes at the first price.
    f = pv.preview_position(**kw, liquidation_fee="0.0125")
    assert [s.kind for s in f.stages] == ["full"]
    assert f.full_liquidation_price == f.partial_liquidation_price == p.partial_liquidation_price


def test_bybit_band_uses_the_entry_bracket():
    p = pv.preview_position(side="long", size="30", entry="20000", leverage=20, market="BTCUSDT", profile="bybit")
    assert p.bracket == p.liquidation_bracket == 3  # 600,000 at entry
    assert p.maintenance_margin == D("4700.00")  # 600,000 × 1 % − 1,300
    assert p.stages[0].bracket == 3 and p.stages[-1].bracket == 1
    assert p.stages[0].size_after == D("12.500")  # 250,000 at entry


def test_inverse_long_band_terminates():
    p = pv.preview_position(side="long", size="100000", entry="45000", wallet="101", market="BTCUSD",
                            brackets=BTCUSD_ROWS)
    assert p.stages[0].bracket == 7 and p.stages[-1].kind == "full" and p.stages[-1].bracket == 1
    sizes = [s.size_before for s in p.stages]
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) == len(sizes)


# --- maintenance, brackets, cost, funding -------------------------------------------------------


def test_maintenance_bracket_boundaries():
    # floor < notional <= cap: 50,000 is bracket 1, 50,000.1 bracket 2 (0.5 %, cum 50).
    one = pv.maintenance(size="1", price="50000", market="BTCUSDT")
    two = pv.maintenance(size="1", price="50000.1", market="BTCUSDT")
    assert (one.bracket.number, one.maintenance_margin) == (1, D("200.00"))
    assert (two.bracket.number, two.bracket.cum, two.maintenance_margin) == (2, D("50"), D("200.00"))
    assert pv.maintenance_margin(size="1", price="50000.1", market="BTCUSDT", money_places=4) == D("200.0005")
    assert one.initial_margin is None and one.asset == "USDT"


def test_bracket_table_fixed_and_default():
    (fixed,) = pv.bracket_table(mmr="0.0065", cum="1.5")
    assert (fixed.mmr, fixed.cum, fixed.cap, fixed.max_leverage) == (D("0.0065"), D("1.5"), None, None)
    table = pv.bracket_table()
    assert len(table) == 10 and table[2].floor == D("250000") and table[2].max_leverage == 50
    eth = pv.bracket_table(market=default_markets()["ETHUSDT"])  # the market's own table, not BTCUSDT's
    assert eth != table and (eth[1].cap, eth[1].max_leverage, eth[1].mmr) == (D("600000"), 100, D("0.005"))


def test_funding_rate_bounds_and_payments():
    assert pv.funding_rate("0.03", cap="0.02") == D("0.02")
    assert pv.funding_rate("-0.03", floor="-0.0075") == D("-0.0075")
    assert pv.funding_rate("0.0001", interest="0") == D("0.0001") - D("0.0001")
    # 0.08 % + clamp(0.01 % − 0.08 %) = 0.03 %, paid in two halves.
    assert pv.funding_rate("0.0008", interval_hours=4, payment_hours=2) == D("0.00015")
    with pytest.raises(ValueError, match="must divide"):
        pv.funding_rate("0.001", payment_hours=3)
    with pytest.raises(ValueError, match="finer than 1e-8"):
        pv.funding_rate("0.000000001")


def test_order_cost_revised_needs_last():
    with pytest.raises(ValueError, match="last"):
        pv.order_cost(side="sell", size="1", price="100", mark="100", leverage=10, model="revised_2024")
    c = pv.order_cost(side="sell", size="1", price="100", mark="100", leverage=10, model="revised-2024", last="100")
    assert c.assumed_price == D("100.15") and c.initial_margin == D("10.01")  # 10.015 truncated


def test_band_lot_step_without_a_market():
    # Linear without a market: the IOC trades in 0.001 steps, whatever precision the size has.
    p = pv.preview_position(side="long", size="600", entry="20000", leverage=10)
    assert p.stages[0].size_after == D("541.120") and p.stages[-1].kind == "full"


def test_profile_accepts_a_model_or_a_venue_profile():
    venue = SimpleNamespace(liquidation_model=LiquidationModel.BYBIT)  # e.g. a risk profile object
    kw = dict(side="long", size="1", entry="20000", leverage=50, mmr="0.005")
    assert pv.liquidation_price(**kw, profile=venue) == pv.liquidation_price(**kw, profile=LiquidationModel.BYBIT)
    assert pv.liquidation_price(**kw, profile="BYBIT") == D("19700.00")


@given(st.sampled_from(["long", "short"]), st.integers(1, 20_000_000), st.integers(100, 10_000_000),
       st.integers(1, 125), st.sampled_from(["0", "0.0125"]), st.sampled_from(["binance", "bybit"]))
def test_band_is_monotone_and_ends(side, lots, cents, lev, fee, profile):
    p = pv.preview_position(side=side, size=D(lots).scaleb(-3), entry=D(cents).scaleb(-2), leverage=lev,
                            market="BTCUSDT", liquidation_fee=fee, profile=profile)
    if p.liquidation_price is None:
        assert p.stages == ()
        return
    assert p.stages[0].price == p.partial_liquidation_price == p.liquidation_price
    adverse = [s.price if side == "short" else -s.price for s in p.stages]
    sizes = [s.size_before for s in p.stages]
    assert adverse == sorted(adverse) and sizes == sorted(set(sizes), reverse=True)
    assert all(s.kind == "partial" and s.size_after > 0 for s in p.stages[:-1])
    for before, after in zip(p.stages, p.stages[1:], strict=False):
        assert before.size_after == after.size_before
    last = p.stages[-1]
    assert (last.kind == "full") == (p.full_liquidation_price is not None)
    if last.kind == "full":
        assert last.size_after == 0 and p.full_liquidation_price == last.price
