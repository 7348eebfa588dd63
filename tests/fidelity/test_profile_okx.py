"""The okx profile against OKX's published rules (no worked liquidation example found).

Sources:
- isolated USDT-margined margin ratio = (margin + uPnL) / (face value × |contracts| × mark ×
  (tier MMR + fee rate)), liquidation at ≤ 100 % — OKX help copied at https://open-lib.com/11556.html
  (venue-mechanics §3.4); the liquidation price below is that ratio solved at 100 % [derived];
- funding = clamp(MA(premium − interest), floor, cap) with interest 0, BTC cap ±0.375 %, 8 h —
  https://www.okx.com/help/360053909272 and
  https://www.okx.com/help/okx-to-optimize-funding-rate-calculation (§2.4);
- ADL at the current mark price — OKX help (§6.4).
"""

from __future__ import annotations

from decimal import Decimal as D
from fractions import Fraction as F

from perpsim.risk.compare import venue_figures
from perpsim.risk.profiles import OKX


def test_mm_counts_the_taker_fee() -> None:
    # long 1 BTC at 20,000, 50x, tier MMR 0.4 % + taker 0.05 %: 400 + (P − 20,000) = 0.0045 P
    v = venue_figures(OKX, side="long", size="1", entry="20000", leverage=50, mmr="0.004", rounding="nearest")
    assert v.maintenance_rate == D("0.0045") and v.maintenance_margin == D("90.00")
    assert v.liquidation_price == D("19688.6")  # 19,600 / 0.9955 = 19,688.598…


def test_funding_is_the_premium_capped() -> None:
    assert OKX.funding.rate(20_000) == 20_000  # no clamp band: 0.02 % stays 0.02 %
    assert OKX.funding.rate(500_000) == 375_000 and OKX.funding.rate(-500_000) == -375_000
    assert OKX.funding.rate_per_payment(20_000) == F(20_000, 10**8)


def test_no_inverse_and_adl_at_mark() -> None:
    assert not OKX.lists("inverse", "BTC")
    assert OKX.adl.price == "mark"
