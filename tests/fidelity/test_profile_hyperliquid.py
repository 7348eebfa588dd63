"""The hyperliquid profile against Hyperliquid's published rules and examples.

Sources:
- margin tiers: maintenance_margin = notional × MMR − deduction, MMR(tier) = IMR at the tier's
  max leverage / 2, deduction(n) = deduction(n − 1) + lower_bound(n) × (MMR(n) − MMR(n − 1));
  BTC 0–150M 40x, >150M 20x; ETH 0–100M 25x, >100M 15x —
  https://hyperliquid.gitbook.io/hyperliquid-docs/trading/margin-tiers ;
- liquidation price liq = price − side × margin_available / size / (1 − l × side), l = 1 /
  maintenance leverage (= 2 × max leverage): A15 long 1 BTC at 100,000, isolated margin 10,000,
  max 40x → 91,139.2405 (venue-mechanics §4.7, §10 A15; formula restated from
  https://hyperliquid.gitbook.io/hyperliquid-docs/trading/liquidations at https://docs.hyena.trade/trading/liquidation);
- funding: F_8h = P + clamp(0.01 % − P, ±0.05 %), paid hourly at F_8h / 8, capped at 4 % per hour;
  the page's example: premium 1 % → 0.95 % per 8 h, 0.11875 % per hour (§2.6, A12) —
  https://hyperliquid.gitbook.io/hyperliquid-docs/trading/funding ;
- ADL ranking (mark / entry) × (notional / account value) —
  https://hyperliquid.gitbook.io/hyperliquid-docs/trading/auto-deleveraging .
"""

from __future__ import annotations

from decimal import Decimal as D
from fractions import Fraction as F

from perpsim.risk import preview as pv
from perpsim.risk.compare import venue_figures
from perpsim.risk.profiles import HYPERLIQUID
from perpsim.risk.venue_rules import adl_score


def test_a15_isolated_long() -> None:
    v = venue_figures(HYPERLIQUID, side="long", size="1", entry="100000", leverage=10)
    assert (v.initial_margin, v.maintenance_margin, v.maintenance_rate) == (D("10000.00"), D("1250.00"), D("0.0125"))
    assert v.liquidation_price == D("91139.3")  # 91,139.2405 rounded up to the tick


def test_tier_deduction_follows_the_published_recursion() -> None:
    rows = [(D(cap), lev, D(mmr) / 10**8) for cap, lev, mmr in HYPERLIQUID.table("linear", "BTC").rows]
    t = pv.bracket_table(brackets=rows)
    assert [r.mmr for r in t] == [D("0.0125"), D("0.025")]
    assert t[1].cum == D("1875000")  # 150,000,000 × (2.5 % − 1.25 %)
    assert [r.max_leverage for r in t] == [40, 20]


def test_leverage_above_the_tier_max_is_lowered() -> None:
    v = venue_figures(HYPERLIQUID, side="long", size="1", entry="100000", leverage=50)
    assert v.leverage == 40 and v.initial_margin == D("2500.00")


def test_funding_example_and_hourly_cap() -> None:
    f = HYPERLIQUID.funding
    assert f.rate(1_000_000) == 950_000  # 1 % → 0.95 % per 8 h
    assert f.rate_per_payment(1_000_000) == F(11875, 10**7)  # 0.11875 % per hour
    assert f.rate_per_payment(50_000_000) == F(4, 100)  # 49.95 % / 8 = 6.24 % capped at 4 % per hour


def test_adl_ranking() -> None:
    # mark 110 over entry 100, notional 1,100 on an account of 220: 1.1 × 5 = 5.5
    assert adl_score(HYPERLIQUID.adl.ranking, upnl=F(120), wallet=F(100), maintenance=F(0), mark=F(110),
                     entry=F(100), notional=F(1100), entry_notional=F(1000)) == F(11, 2)


def test_partial_liquidation_steps() -> None:
    """Above 100k USDC of notional, 20 % per attempt, 30 s apart; market orders, no fee (§4.7,
    https://hyperliquid.gitbook.io/hyperliquid-docs/trading/liquidations , copy at
    https://docs.hyena.trade/trading/liquidation)."""
    steps = HYPERLIQUID.liquidation.steps
    assert (steps.fraction, steps.above_notional, steps.interval_s) == (20_000_000, 100_000, 30)
    assert HYPERLIQUID.liquidation.order == "market" and HYPERLIQUID.liquidation.fee_rate == 0
