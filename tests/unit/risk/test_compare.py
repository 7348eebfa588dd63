"""risk.compare: one position under every venue profile, hand-checked.

The position: short 2 BTC (BTCUSDT, tick 0.1) at 30,000, 25x requested, mark 30,300, average
premium 0.1 %. Entry notional 60,000; notional at the mark 60,600.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from perpsim.risk.compare import compare, venue_figures

D = Decimal


@pytest.fixture(scope="module")
def table():
    c = compare(side="short", size="2", entry="30000", leverage=25, mark="30300", premium="0.001")
    return {v.profile: v for v in c.venues}


def test_binance_uses_the_markets_own_bracket_and_solves_mm_at_the_liquidation_price(table) -> None:
    v = table["binance"]
    # bracket 2 of BTCUSDT (cap 250k, 0.5 %, cum 50): 2,400 + 2 (30,000 − P) = 0.01 P − 50
    # → P = 62,450 / 2.01 = 31,069.65…, a short's shown price rounded down to the tick
    assert (v.leverage, v.initial_margin) == (25, D("2400.00"))
    assert v.liquidation_price == D("31069.6") and v.bankruptcy_price == D("31200.0")
    assert v.maintenance_margin == D("253.00")  # 60,600 × 0.5 % − 50
    assert v.liquidation_distance_pct == D("2.54")  # (31,069.65 − 30,300) / 30,300, rounded down
    assert (v.fee_open, v.fee_close) == (D("30.00"), D("30.30"))  # 0.05 % of 60,000 and of 60,600
    # F = 0.1 % + clamp(0.01 % − 0.1 %, ±0.05 %) = 0.05 %: the short receives 0.05 % × 60,600
    assert (v.funding_rate, v.funding_every_hours, v.funding_payment) == (D("0.0005"), 8, D("30.30"))


def test_bybit_classic_keeps_mm_at_entry(table) -> None:
    v = table["bybit"]
    # LP = entry + (IM − MM at entry) / size = 30,000 + (2,400 − 300) / 2
    assert v.liquidation_price == D("31050.0") and v.maintenance_margin == D("300.00")
    assert (v.fee_open, v.fee_close) == (D("33.00"), D("33.33"))  # 0.055 % taker


def test_hyperliquid_caps_nothing_here_but_holds_half_the_max_leverage_margin_and_pays_hourly(table) -> None:
    v = table["hyperliquid"]
    # MMR 1.25 % (40x max): 62,400 = 2.025 P → 30,814.81…
    assert (v.leverage, v.liquidation_price, v.maintenance_margin) == (25, D("30814.8"), D("757.50"))
    # F_8h 0.05 % paid hourly at 1/8 on size × oracle (= the mark here): 60,600 × 0.00625 % = 3.7875
    assert (v.funding_rate, v.funding_every_hours, v.funding_payment) == (D("0.0000625"), 1, D("3.78"))


def test_dydx_caps_leverage_at_one_over_imf_and_adds_the_premium(table) -> None:
    v = table["dydx"]
    assert (v.leverage, v.max_leverage, v.initial_margin) == (20, 20, D("3000.00"))
    assert any("20x" in w for w in v.warnings)
    # MMF 3 %: 63,000 = 2.06 P → 30,582.52…; bankruptcy 63,000 / 2
    assert (v.liquidation_price, v.bankruptcy_price) == (D("30582.5"), D("31500.0"))
    # rate_8h = premium (0.1 %), paid hourly: 60,600 × 0.0125 %
    assert (v.funding_rate, v.funding_payment, v.liquidation_trigger) == (D("0.000125"), D("7.57"), "oracle")


def test_okx_counts_the_taker_fee_in_maintenance_and_funds_the_premium_itself(table) -> None:
    v = table["okx"]
    assert v.maintenance_rate == D("0.0045") and v.maintenance_margin == D("272.70")
    assert v.liquidation_price == D("31060.2")  # 62,400 / 2.009
    assert v.funding_rate == D("0.001") and v.funding_payment == D("60.60")


def test_cost_to_open_follows_each_venues_rule(table) -> None:
    # Binance: IM + open loss of a sell 300 below the mark, 2 × 300; Bybit: IM + 0.055 % of 60,000
    # to open + 0.055 % of 60,000 × (1 + 1/25) to close; the others ask for the IM alone
    assert table["binance"].cost_to_open == D("3000.00")
    assert table["bybit"].cost_to_open == D("2467.32")
    assert table["hyperliquid"].cost_to_open == table["hyperliquid"].initial_margin == D("2400.00")


def test_initial_margins_differ_where_the_venues_rules_differ(table) -> None:
    assert {v.initial_margin for v in table.values()} == {D("2400.00"), D("3000.00")}
    assert len({v.liquidation_price for v in table.values()}) == 5


def test_a_long_pays_funding_rounded_against_it_and_maker_fees_apply() -> None:
    c = compare(side="long", size="2", entry="30000", leverage=25, mark="30300", premium="0.001",
                profiles=["hyperliquid", "binance"], maker=True)
    assert [v.profile for v in c.venues] == ["hyperliquid", "binance"]
    hl, bn = c.venues
    assert hl.funding_payment == D("-3.79")  # −3.7875 rounded toward −∞
    assert (hl.fee_rate, hl.fee_open) == (D("0.00015"), D("9.00"))
    assert bn.fee_rate == D("0.0002")  # the market's own maker fee


def test_inverse_contracts_only_where_the_venue_lists_them() -> None:
    c = compare(side="long", size="100", entry="65000", leverage=10, market="BTCUSD")
    listed = {v.profile: v.listed for v in c.venues}
    assert listed == {"binance": True, "bybit": True, "okx": False, "hyperliquid": False, "dydx": False}
    assert c.asset == "BTC"
    assert all(v.initial_margin is None and v.note for v in c.venues if not v.listed)


@pytest.mark.parametrize("kwargs, error", [
    (dict(size="-1"), ValueError),
    (dict(size=1.5), TypeError),
    (dict(side="up"), ValueError),
    (dict(leverage=0), ValueError),
    (dict(profiles=["kraken"]), ValueError),
    (dict(profiles=[]), ValueError),
    (dict(market="NOPE"), ValueError),
])
def test_bad_input_is_refused(kwargs, error) -> None:
    args = dict(side="long", size="1", entry="30000", leverage=10) | kwargs
    with pytest.raises(error):
        compare(**args)


def test_a_fixed_tier_replaces_the_table_for_one_profile() -> None:
    v = venue_figures("bybit", side="long", size="1", entry="20000", leverage=50, mmr="0.005")
    assert v.note and v.max_leverage is None and v.liquidation_price == D("19700.0")


def test_the_same_wallet_at_every_venue() -> None:
    c = compare(side="long", size="1", entry="65000", leverage=10, wallet="2000", profiles=["binance", "hyperliquid"])
    bn, hl = c.venues
    # Binance bracket 2 (0.5 %, cum 50): 2,000 + P − 65,000 = 0.005 P − 50 → 62,950 / 0.995 = 63,266.33…
    assert bn.liquidation_price == D("63266.4") and bn.initial_margin == D("6500.00")
    # Hyperliquid 1.25 %: 63,000 / 0.9875 = 63,797.46…
    assert hl.liquidation_price == D("63797.5")
    assert all(any("below" in w for w in v.warnings) for v in c.venues)  # 2,000 < 6,500: could not open
    with pytest.raises(ValueError):
        compare(side="long", size="1", entry="65000", leverage=10, wallet="-1")
