"""Base-tier trading fees of the Bybit and dYdX profiles against their published figures.

Sources:
- Bybit non-VIP USDT perpetuals, 0.02 % maker / 0.055 % taker, with Bybit's worked example "10 BTC
  contracts at 8,000 USDT: taker fee 10 × 8,000 × 0.055 % = 44 USDT, maker fee × 0.02 % = 16 USDT"
  (Bybit's fee help as restated at http://refeshop.com/fanyong/futuojituan/2015/1112/277.html,
  2024-07-31; [C-copy]);
- dYdX v4 fee tier 1 (< 1M USD 30-day volume): taker 5.0 bps, maker 1.0 bps
  (dydxprotocol/v4-documentation old-docs/pages/introduction-trading_fees.md @ 307159d2, 2025-09-15;
  the live tiers are governance parameters, feetiers/perpetual_fee_params).
"""

from __future__ import annotations

from decimal import Decimal as D

from perpsim.risk.compare import venue_figures
from perpsim.risk.profiles import BYBIT, DYDX


def test_bybit_worked_fee_example() -> None:
    taker = venue_figures(BYBIT, side="long", size="10", entry="8000", leverage=10)
    maker = venue_figures(BYBIT, side="long", size="10", entry="8000", leverage=10, maker=True)
    assert (taker.fee_rate, taker.fee_open) == (D("0.00055"), D("44.00"))
    assert (maker.fee_rate, maker.fee_open) == (D("0.0002"), D("16.00"))


def test_dydx_fee_tier_one() -> None:
    taker = venue_figures(DYDX, side="long", size="1", entry="60000", leverage=10)
    maker = venue_figures(DYDX, side="long", size="1", entry="60000", leverage=10, maker=True)
    assert (taker.fee_rate, taker.fee_open) == (D("0.0005"), D("30.00"))  # 5.0 bps of 60,000
    assert (maker.fee_rate, maker.fee_open) == (D("0.0001"), D("6.00"))  # 1.0 bps
