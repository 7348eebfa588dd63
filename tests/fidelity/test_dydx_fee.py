"""dYdX v4's liquidation fee: at most 1.5 % of the fill's quote, only out of what it left above its
bankruptcy quote (risk.dydx_fee, venue-mechanics §4.6).

Source: dydxprotocol/v4-chain @ 84d4664bae71e3a077adaac67fb77ad19cd28d30,
protocol/x/clob/keeper/liquidations.go `GetBankruptcyPriceInQuoteQuantums` ("-DNNV - (TNC *
(abs(DMMR) / TMMR))") and `GetLiquidationInsuranceFundDelta` ("The liquidation fee paid by the
user is the minimum of the max liquidation fee and the leftover collateral from liquidating the
position"); mainnet genesis max_liquidation_fee_ppm 15,000.

The world: the dydx profile on BTCUSDT (MMF 3 %), a long of 10 BTC from 20,000 at 20x on 10,000
USDC, one maker's bids; each block's order is 1 BTC (10 % of the position).
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from perpsim.engine import commands as C
from perpsim.engine.events import Liquidation
from perpsim.model.market_files import default_markets
from perpsim.risk.dydx_fee import insurance_delta, leftover
from perpsim.risk.profiles import DYDX, market_under
from perpsim.risk.units import RATE_SCALE
from tests.fidelity.test_dydx_insurance_limit import world

U = 10**8
SEC = 10**9
SYMBOL = "BTCUSDT"
LONG, MAKER = 1, 3
SPEC = market_under(DYDX, default_markets()[SYMBOL])
RATE = DYDX.liquidation.fee_rate  # 1.5 %


def fee_paid(index: str, bid: str) -> D:
    """What the fund receives (USDC) from the block's 1 BTC sold at `bid` with the oracle at `index`."""
    px = SPEC.price_to_ticks
    ex = world(DYDX, bid=("50", bid))
    fund = ex.state.ledger.insurance("USDT")
    events = ex.apply(C.SetIndexPrice(5 * SEC, SYMBOL, px(index)))
    ex.check_integrity()
    assert [(e.qty, e.filled) for e in events if isinstance(e, Liquidation)] == [(1_000, 1_000)]
    return D(ex.state.ledger.insurance("USDT") - fund) / U


def test_the_full_fee_when_the_leftover_covers_it() -> None:
    """Oracle 19,500 (TNC 5,000, TMMR 5,850), 1 BTC sold at 19,400: its bankruptcy quote is
    19,500 − 5,000 × 585 / 5,850 = 19,000, the leftover 400; 1.5 % of 19,400 = 291 < 400."""
    assert fee_paid("19500", "19400") == D(291)


def test_the_fee_is_what_the_fill_left_when_less() -> None:
    """Oracle 19,100 (TNC 1,000, TMMR 5,730): the bankruptcy quote of 1 BTC is 19,100 − 1,000 ×
    573 / 5,730 = 19,000. Sold at 19,020 the leftover is 20, less than 1.5 % of 19,020 (285.3):
    the fee is 20 (the market's rule, 1.5 % at the bankruptcy price, would take 285). Sold at
    19,000 nothing is left: no fee."""
    assert fee_paid("19100", "19020") == D(20)
    assert fee_paid("19100", "19000") == D(0)


@pytest.mark.parametrize(("quote", "oracle_value", "sell", "tnc", "expected"), [
    (19_400, 19_500, True, 5_000, 400),  # the long above: share 500, slippage 100
    (19_020, 19_100, True, 1_000, 20),
    (20_600, 20_500, False, 1_000, 100 - 100),  # a short's buy 100 above the oracle, share 100
])
def test_leftover(quote: int, oracle_value: int, sell: bool, tnc: int, expected: int) -> None:
    tmmr = 10 * oracle_value * 3 // 100 * RATE_SCALE  # 10 lots' worth, MM 3 %
    dmmr = tmmr // 10
    assert leftover(oracle_value=oracle_value, quote=quote, sell=sell, tnc=tnc, dmmr=dmmr, tmmr=tmmr) == expected


def test_the_share_and_the_max_fee_floor() -> None:
    """TNC 10 over three equal parts: 3.33 → 3 (−3.33 → −4, toward −∞); 1.5 % of 101 = 1.515 → 1
    unit (BigIntMulPpm floors); a leftover at or below zero is the fund's payment, as is."""
    assert leftover(oracle_value=100, quote=100, sell=True, tnc=10, dmmr=1, tmmr=3) == 3
    assert leftover(oracle_value=100, quote=100, sell=True, tnc=-10, dmmr=1, tmmr=3) == -4  # toward −∞
    assert insurance_delta(quote=101, rate=RATE, leftover=50) == 1
    assert insurance_delta(quote=10_100, rate=RATE, leftover=50) == 50  # 151.5 → 151 > 50: the leftover
    assert insurance_delta(quote=101, rate=RATE, leftover=0) == 0
    assert insurance_delta(quote=101, rate=RATE, leftover=-7) == -7
