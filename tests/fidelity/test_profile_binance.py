"""The binance profile against Binance's published worked examples.

Sources (venue-mechanics.md §2.1, §3.1, §4.1, §6.1, §10):
- A3 (isolated 1 BTC at 20,000, 20x, bracket MMR 0.4 %, cum 0): long LP 19,076.3052, short LP
  20,916.3347, bankruptcy 19,000 / 21,000 — solved from the USDⓈ-M liquidation-price FAQ,
  https://www.binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93 ;
- A2's Binance reading (1 BTC at 20,000, 50x, MMR 0.5 %): 19,698.49;
- A12 funding clamp with I = 0.01 % per 8 h: P̄ 0.02 % → F 0.01 %, P̄ 0.10 % → 0.05 %,
  P̄ −0.184 % → −0.134 % (Binance funding FAQ https://www.binance.com/en/support/faq/360033525031,
  formula read in copies; interestRate "0.00010000" in GET /fapi/v1/premiumIndex);
- A4 cost to open (qty 1, order 9,253.30, mark 9,259.84, 20x): long 462.66, short 462.66 + open
  loss 6.54 = 469.20 — https://www.binance.com/en/support/faq/87fa7ee33b574f7084d42bd2ce2e463b ;
- ADL ranking LeveragePnl = max(0, uPnL) / max(1, WB) × MM / (WB + uPnL), quoted on
  https://dev.binance.vision/t/how-to-caculating-leverage-pnl-quantile/17801 .
BTCUSDT's tick is 0.1: published decimals are compared at that tick, rounded to nearest.
"""

from __future__ import annotations

from decimal import Decimal as D
from fractions import Fraction as F

import pytest

from perpsim.risk.compare import venue_figures
from perpsim.risk.profiles import BINANCE
from perpsim.risk.venue_rules import adl_score


@pytest.mark.parametrize("side, lp, bp", [("long", "19076.3", "19000.0"), ("short", "20916.3", "21000.0")])
def test_a3_isolated_liquidation_and_bankruptcy(side, lp, bp) -> None:
    v = venue_figures(BINANCE, side=side, size="1", entry="20000", leverage=20, mmr="0.004", rounding="nearest")
    assert (v.initial_margin, v.liquidation_price, v.bankruptcy_price) == (D("1000.00"), D(lp), D(bp))


def test_a2_inputs_under_binance_give_19698_49() -> None:
    v = venue_figures(BINANCE, side="long", size="1", entry="20000", leverage=50, mmr="0.005", rounding="nearest")
    assert v.liquidation_price == D("19698.5")  # 19,698.49 at the 0.1 tick


@pytest.mark.parametrize("premium, rate", [(20_000, 10_000), (100_000, 50_000), (-184_000, -134_000)])
def test_a12_funding_clamp(premium, rate) -> None:
    assert BINANCE.funding.rate(premium) == rate
    assert BINANCE.funding.rate_per_payment(premium) == F(rate, 10**8)  # paid once per 8 h


def test_adl_leverage_pnl() -> None:
    # uPnL 100 on wallet 1,000 with MM 11: 0.1 × 11 / 1,100 = 0.001; a loser ranks 0
    assert adl_score(BINANCE.adl.ranking, upnl=F(100), wallet=F(1000), maintenance=F(11), mark=F(1), entry=F(1),
                     notional=F(1), entry_notional=F(1)) == F(1, 1000)
    assert adl_score(BINANCE.adl.ranking, upnl=F(-5), wallet=F(1000), maintenance=F(11), mark=F(1), entry=F(1),
                     notional=F(1), entry_notional=F(1)) == 0


@pytest.mark.parametrize("side, cost", [("long", "462.66"), ("short", "469.20")])
def test_a4_cost_to_open(side, cost) -> None:
    v = venue_figures(BINANCE, side=side, size="1", entry="9253.3", mark="9259.84", leverage=20, mmr="0.004")
    assert v.cost_to_open == D(cost)
