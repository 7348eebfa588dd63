"""dYdX v4's per-block limit on what the insurance fund loses on one account (risk.dydx_insurance).

Source: dydxprotocol/v4-chain @ 84d4664bae71e3a077adaac67fb77ad19cd28d30,
protocol/x/clob/keeper/liquidations.go `validateLiquidationAgainstSubaccountBlockLimits` ("The
total insurance lost does not exceed the maximum insurance lost per block"),
`GetSubaccountMaxInsuranceLost` (per subaccount and block); protocol/x/clob/memclob/memclob.go
("Subaccount has reached max insurance lost block limit. Stop matching."); mainnet genesis
max_quantums_insurance_lost 1,000,000,000,000 (1,000,000 USDC). With mainnet's 100,000 USDC of
notional per account and block the limit only binds on a deficit of about a million, so these
tests run the dydx profile with the limit at 100 USDC.

The world: a long of 10 BTC from 20,000 at 20x on 10,000 USDC (bankruptcy price 19,000), bids for
100 BTC at 18,200; the oracle falls to 19,020 in block 5: TNC 200 against TMMR 5,706, ABR =
5,506 / 5,706, the fillable price 19,020 − 1.5 × 5,506 / 10 = 18,194.1, past the bankruptcy price:
a fill at 18,200 loses 820 a BTC against the oracle, and what that takes below zero the fund pays.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from perpsim.engine import commands as C
from perpsim.engine.events import Liquidation
from perpsim.engine.exchange import Exchange
from perpsim.engine.twin import pure_exchange
from perpsim.model.enums import Side
from perpsim.model.markets import default_markets
from perpsim.risk.brackets import market_brackets
from perpsim.risk.dydx_insurance import insurance_bound
from perpsim.risk.profiles import DYDX, VenueProfile, market_under

U = 10**8
SEC = 10**9
SYMBOL = "BTCUSDT"
LONG, MAKER = 1, 3
SMALL = replace(DYDX, liquidation=replace(DYDX.liquidation, steps=replace(DYDX.liquidation.steps, block_insurance=100)))


def world(profile: VenueProfile, engine: type = Exchange, bid: tuple[str, str] = ("100", "18200")) -> Exchange:
    """A 10 BTC long from 20,000 at 20x (1,000 USDT margin a BTC plus the fees) against a maker
    who sold it and bids `bid` (quantity, price)."""
    spec = market_under(profile, default_markets()[SYMBOL])
    px, lots = spec.price_to_ticks, spec.qty_to_lots
    ex = engine({SYMBOL: spec}, {SYMBOL: market_brackets(spec)}, profile=profile, start_ts=1)
    ex.apply(C.SetIndexPrice(1, SYMBOL, px("20000")))
    ex.apply(C.Deposit(1, MAKER, "USDT", 100_000_000 * U))
    ex.apply(C.Deposit(1, LONG, "USDT", int(10 * (1_000 + 20_000 * spec.taker_fee) * U)))
    ex.apply(C.SetLeverage(1, LONG, SYMBOL, 20))
    ex.apply(C.PlaceOrder(1, MAKER, SYMBOL, Side.SELL, lots("10"), px("20000")))
    ex.apply(C.PlaceOrder(1, LONG, SYMBOL, Side.BUY, lots("10"), px("20000")))
    ex.apply(C.PlaceOrder(1, MAKER, SYMBOL, Side.BUY, lots(bid[0]), px(bid[1])))
    return ex


def block(ex: Exchange, ts: int, index: str | None = None) -> tuple[list[tuple[int, int]], D]:
    """(qty, filled) of the liquidation orders of the command at `ts`, and what the fund paid."""
    fund = ex.state.ledger.insurance("USDT")
    if index is None:
        events = ex.apply(C.AdvanceClock(ts))
    else:
        events = ex.apply(C.SetIndexPrice(ts, SYMBOL, ex.markets[SYMBOL].spec.price_to_ticks(index)))
    ex.check_integrity()
    paid = D(fund - ex.state.ledger.insurance("USDT")) / U
    return [(e.qty, e.filled) for e in events if isinstance(e, Liquidation)], paid


def test_mainnet_limit_does_not_bind_here() -> None:
    """The block's order is 10 % of 190,200 = 1 BTC; all of it fills at 18,200: TNC 200 − 820 =
    −620, which the fund pays (no fee: nothing is left to pay it from)."""
    ex = world(DYDX)
    assert block(ex, 5 * SEC, "19020") == ([(1_000, 1_000)], D(620))


def test_the_limit_sizes_the_order_and_holds_the_rest_to_the_next_block() -> None:
    """With 100 USDC a block the order may only carry what, filled at its 18,194.1 limit, costs the
    fund at most 100: (200 + 100) / 825.9 = 0.3632 BTC, 0.363 (rounded down: the limit stays a
    limit). It fills at 18,200: 200 − 0.363 × 820 = −97.66, which the fund pays and the block's
    record keeps. Block 6: TNC 0, so ABR = 1 and the limit is 19,020 × (1 − 4.5 %) = 18,164.1;
    100 / 855.9 = 0.1168 BTC, 0.116, costing the fund 0.116 × 820 = 95.12."""
    ex = world(SMALL)
    assert block(ex, 5 * SEC, "19020") == ([(363, 363)], D("97.66"))
    assert ex.liquidation._blocks[LONG][3] == 9_766_000_000
    assert block(ex, 5 * SEC + SEC // 2, "19020") == ([], D(0))  # the rest of block 5: waits
    assert block(ex, 6 * SEC) == ([(116, 116)], D("95.12"))
    assert insurance_bound(1_000, oracle=190_200, limit=181_941, sell=True, K=10**4, tnc=200 * U, left=100 * U) == 363


def test_a_deficit_beyond_the_limit_is_deleveraged() -> None:
    """The oracle gaps to 18,900: TNC 10,000 − 11,000 = −1,000, more than the block's 100 can
    cover, so no lot may go to the book (insurance_bound: 0); the order fills nothing with TNC
    below zero, which dYdX deleverages: the whole position ("the full position size will get
    deleveraged"), 10 BTC at the bankruptcy price, 19,000, against the maker's short; the fund
    pays nothing and holds nothing."""
    ex = world(SMALL)
    [(qty, filled)], paid = block(ex, 5 * SEC, "18900")
    assert (qty, filled, paid) == (10_000, 0, 0)
    assert not ex.markets[SYMBOL].positions  # the maker's 10 BTC short was the one counterparty
    assert insurance_bound(1_000, oracle=189_000, limit=180_495, sell=True, K=10**4, tnc=-1_000 * U,
                           left=100 * U) == 0


def test_the_bound_itself() -> None:
    """No cost at or better than the oracle; a short's buy above the oracle costs alike."""
    assert insurance_bound(500, oracle=100, limit=100, sell=True, K=10, tnc=-5, left=0) == 500
    assert insurance_bound(500, oracle=100, limit=104, sell=False, K=10, tnc=30, left=10) == 1  # 40 // 40
    # 10 a lot: 500 lots cost 5,000, of which 30 of collateral and 4,970 of the fund
    assert insurance_bound(500, oracle=100, limit=99, sell=True, K=10, tnc=30, left=4_970) == 500
    assert insurance_bound(500, oracle=100, limit=99, sell=True, K=10, tnc=30, left=4_969) == 499


def test_the_plain_twin_limits_alike() -> None:
    """The compiled engine and its plain-Python twin (engine/twin.py): the same events and hash
    through the limited blocks and a gap past the limit."""
    runs = []
    for engine in (Exchange, pure_exchange().Exchange):
        ex = world(SMALL, engine)
        commands = (C.SetIndexPrice(5 * SEC, SYMBOL, 190_200), C.AdvanceClock(6 * SEC),
                    C.SetIndexPrice(7 * SEC, SYMBOL, 185_000))
        runs.append(([[list(e) for e in ex.apply(cmd)] for cmd in commands], ex.state_hash()))
    assert runs[0] == runs[1] and any(runs[0][0])
