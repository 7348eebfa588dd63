"""The dydx profile against dYdX v4's published protocol parameters and formulas.

Sources (dydxprotocol/v4-chain @ 84d4664bae71e3a077adaac67fb77ad19cd28d30, venue-mechanics §2.5,
§3.5, §4.6, §6.5):
- liquidity tier "Large-Cap": initial_margin_ppm 50,000 (IMF 5 %), maintenance_fraction_ppm
  600,000 (MMF 3 %) — protocol/testing/genesis.sh, protocol/testing/mainnet/genesis.json;
- IM = |notional| × IMF, MM = |notional| × IMF × maintenance fraction
  (protocol/x/perpetuals/lib/lib.go GetMarginRequirementsInQuoteQuantums); liquidatable when
  TNC < TMMR (protocol/lib/margin/risk.go);
- funding: rate_8h = premium + default_funding_ppm (0), |rate| ≤ funding_rate_clamp_factor
  (600 %) × (IMF − MMF), settled hourly through the funding index
  (protocol/x/perpetuals/keeper/perpetual.go, protocol/x/perpetuals/funding/funding.go);
- liquidation fee: at most max_liquidation_fee_ppm (15,000 = 1.5 %) of the quote, out of the
  surplus over the bankruptcy price (protocol/x/clob/keeper/liquidations.go);
- deleveraging: no ranking, a pseudo-random start (protocol/x/clob/keeper/deleveraging.go).
"""

from __future__ import annotations

from decimal import Decimal as D
from fractions import Fraction as F

from perpsim.risk.compare import venue_figures
from perpsim.risk.profiles import DYDX
from perpsim.risk.venue_rules import AdlRanking, adl_score


def test_large_cap_margins() -> None:
    v = venue_figures(DYDX, side="long", size="1", entry="60000", leverage=20)
    assert (v.initial_margin, v.maintenance_margin, v.max_leverage) == (D("3000.00"), D("1800.00"), 20)
    # TNC = TMMR: 3,000 + (P − 60,000) = 0.03 P → P = 57,000 / 0.97 = 58,762.88…
    assert v.liquidation_price == D("58762.9") and v.bankruptcy_price == D("57000.0")


def test_funding_clamp_is_600_percent_of_imf_minus_mmf() -> None:
    f = DYDX.funding
    assert f.cap == 12_000_000  # 6 × (5 % − 3 %) = 12 % per 8 h
    assert f.rate(20_000_000) == 12_000_000 and f.rate(-20_000_000) == -12_000_000
    assert f.rate(10_000) == 10_000  # the premium itself: default funding 0, no clamp band
    assert f.rate_per_payment(10_000) == F(10_000, 8 * 10**8)  # hourly eighth


def test_liquidation_fee_and_no_adl_ranking() -> None:
    assert DYDX.liquidation.fee_rate == 1_500_000 and DYDX.liquidation.trigger == "oracle"
    assert DYDX.adl.ranking is AdlRanking.RANDOM_START
    assert adl_score(DYDX.adl.ranking, upnl=F(1), wallet=F(1), maintenance=F(1), mark=F(1), entry=F(1),
                     notional=F(1), entry_notional=F(1)) is None


def test_partial_liquidation_steps() -> None:
    """max_position_portion_liquidated_ppm 100,000 (10 % per block), min_position_notional_liquidated
    1,000 USDC (mainnet genesis liquidations_config)."""
    steps = DYDX.liquidation.steps
    assert (steps.fraction, steps.min_notional) == (10_000_000, 1_000)
