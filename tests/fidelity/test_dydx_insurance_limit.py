"""dYdX v4's per-block limit on what the insurance fund loses on one account (risk.dydx_insurance).

Source: dydxprotocol/v4-chain @ 84d4664bae71e3a077adaac67fb77ad19cd28d30,
protocol/x/clob/keeper/liquidations.go `validateLiquidationAgainstSubaccountBlockLimits` ("The
total insurance lost does not exceed the maximum insurance lost per block"),
`GetSubaccountMaxInsuranceLost` (per subaccount and block), checked per fill on the fill's insurance
fund delta (process_single_match.go `validateMatchedLiquidation`); protocol/x/clob/memclob/memclob.go
("Subaccount has reached max insurance lost block limit. Stop matching.": the fill that would pass
the limit is not made, nor any after it); deleveraging.go `IsValidInsuranceFundDelta` (the fund
must be able to pay: else "Deleveraging is required. Stop matching."); mainnet genesis
max_quantums_insurance_lost 1,000,000,000,000 (1,000,000 USDC). With mainnet's 100,000 USDC of
notional per account and block the limit only binds on a deficit of about a million, so these
tests run the dydx profile with the limit at 100 USDC.

The world: a long of 10 BTC from 20,000 at 20x on 10,000 USDC (bankruptcy price 19,000), bids for
100 BTC at 18,200 (or ten orders of 0.1 BTC there), an insurance fund of 10,000 USDC; the oracle
falls to 19,020 in block 5: TNC 200 against TMMR 5,706, ABR = 5,506 / 5,706, the fillable price
19,020 − 1.5 × 5,506 / 10 = 18,194.1, past the bankruptcy price: a fill at 18,200 loses 820 a BTC
against the oracle. Each fill's delta (risk.dydx_fills): its share of TNC, TNC × DMMR / TMMR with
DMMR its lots' 3 % of 19,020, less that loss; the fund pays it when negative.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from perpsim.engine import commands as C
from perpsim.engine.events import Liquidation
from perpsim.engine.exchange import Exchange
from perpsim.engine.twin import pure_exchange
from perpsim.model.enums import Side
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import market_brackets
from perpsim.risk.dydx_insurance import insurance_bound
from perpsim.risk.profiles import DYDX, VenueProfile, market_under

U = 10**8
SEC = 10**9
SYMBOL = "BTCUSDT"
LONG, MAKER = 1, 3
SMALL = replace(DYDX, liquidation=replace(DYDX.liquidation, steps=replace(DYDX.liquidation.steps, block_insurance=100)))


def world(profile: VenueProfile, engine: type = Exchange, bid: tuple[str, str] = ("100", "18200"), *,
          bids: tuple[tuple[str, str], ...] = (), fund: int = 0) -> Exchange:
    """A 10 BTC long from 20,000 at 20x (1,000 USDT margin a BTC plus the fees) against a maker
    who sold it and bids `bids` (quantity, price: one order each, in that order), else `bid`;
    `fund` USDT in the insurance fund."""
    spec = market_under(profile, default_markets()[SYMBOL])
    px, lots = spec.price_to_ticks, spec.qty_to_lots
    ex = engine({SYMBOL: spec}, {SYMBOL: market_brackets(spec)}, profile=profile, start_ts=1)
    ex.apply(C.SetIndexPrice(1, SYMBOL, px("20000")))
    ex.apply(C.Deposit(1, MAKER, "USDT", 100_000_000 * U))
    if fund:
        ex.apply(C.FundInsurance(1, "USDT", fund * U))
    ex.apply(C.Deposit(1, LONG, "USDT", int(10 * (1_000 + 20_000 * spec.taker_fee) * U)))
    ex.apply(C.SetLeverage(1, LONG, SYMBOL, 20))
    ex.apply(C.PlaceOrder(1, MAKER, SYMBOL, Side.SELL, lots("10"), px("20000")))
    ex.apply(C.PlaceOrder(1, LONG, SYMBOL, Side.BUY, lots("10"), px("20000")))
    for qty, price in bids or (bid,):
        ex.apply(C.PlaceOrder(1, MAKER, SYMBOL, Side.BUY, lots(qty), px(price)))
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
    """The block's order is 10 % of 190,200 = 1 BTC, one fill at 18,200 (one maker order): DMMR =
    570.6 of TMMR 5,706, so its share of TNC is 200 × 570.6 / 5,706 = 20; its delta 20 − 820 =
    −800, which the fund pays. The account keeps TNC 200 − 820 + 800 = 180 for its 9 BTC (the
    same 180 / 5,135.4 ratio as 200 / 5,706)."""
    ex = world(DYDX, fund=10_000)
    assert block(ex, 5 * SEC, "19020") == ([(1_000, 1_000)], D(800))
    assert ex.state.margin_balance(LONG, "USDT") == 180 * U
    assert ex.liquidation._blocks[LONG][3] == 800 * U


def test_an_empty_fund_stops_matching_before_the_fill() -> None:
    """The same fill with no money in the fund: it cannot pay 800 ("Deleveraging is required. Stop
    matching."), so nothing fills; TNC 200 is not negative, so nothing is deleveraged either: the
    account keeps its 10 BTC for the next block."""
    ex = world(DYDX)
    assert block(ex, 5 * SEC, "19020") == ([], D(0))
    assert ex.state.margin_balance(LONG, "USDT") == 200 * U


def test_the_limit_stops_matching_at_the_fill_that_would_pass_it() -> None:
    """With 100 USDC a block and ten bids of 0.1 BTC at 18,200: the first fill's share of TNC is
    200 × 57.06 / 5,706 = 2, its delta 2 − 82 = −80, within the 100; it leaves TNC 200 − 82 + 80 =
    198 and TMMR 5,648.94. The second's share is 198 × 57.06 / 5,648.94 = 2, its delta −80 would
    pass the 20 left: matching stops, the block's order carries the one fill (0.1 BTC), the fund
    paid 80. Block 6 (TNC / TMMR unchanged, so the same 18,194.1 limit; the order 10 % of
    188,298 = 0.99 BTC): again one fill, share 198 × 0.1 / 9.9 = 2, the fund pays 80, TNC 196."""
    ex = world(SMALL, bids=(("0.1", "18200"),) * 10, fund=10_000)
    assert block(ex, 5 * SEC, "19020") == ([(100, 100)], D(80))
    assert ex.liquidation._blocks[LONG][3] == 80 * U
    assert ex.state.margin_balance(LONG, "USDT") == 198 * U
    assert block(ex, 5 * SEC + SEC // 2, "19020") == ([], D(0))  # the rest of block 5: waits
    assert block(ex, 6 * SEC) == ([(100, 100)], D(80))
    assert ex.state.margin_balance(LONG, "USDT") == 196 * U


def test_a_deficit_beyond_the_limit_is_deleveraged() -> None:
    """The oracle gaps to 18,900: TNC 10,000 − 11,000 = −1,000, TMMR 5,670. The block's 1 BTC would
    fill at 18,200 (limit 18,049.5) in one fill: its share of TNC −1,000 × 567 / 5,670 = −100, its
    delta −100 − 700 = −800, more than the block's 100: matching stops before it; the order fills
    nothing with TNC below zero, which dYdX deleverages: the whole position ("the full position size will get
    deleveraged"), 10 BTC at the bankruptcy price, 19,000, against the maker's short; the fund
    pays nothing and holds nothing."""
    ex = world(SMALL, fund=10_000)
    [(qty, filled)], paid = block(ex, 5 * SEC, "18900")
    assert (qty, filled, paid) == (10_000, 0, 0)
    assert not ex.markets[SYMBOL].positions  # the maker's 10 BTC short was the one counterparty


def test_the_bound_itself() -> None:
    """The bound of an order without a fillable price (a Multi-Assets account's): no cost at or
    better than the oracle; a short's buy above the oracle costs alike."""
    assert insurance_bound(500, oracle=100, limit=100, sell=True, K=10, tnc=-5, left=0) == 500
    assert insurance_bound(500, oracle=100, limit=104, sell=False, K=10, tnc=30, left=10) == 1  # 40 // 40
    # 10 a lot: 500 lots cost 5,000, of which 30 of collateral and 4,970 of the fund
    assert insurance_bound(500, oracle=100, limit=99, sell=True, K=10, tnc=30, left=4_970) == 500
    assert insurance_bound(500, oracle=100, limit=99, sell=True, K=10, tnc=30, left=4_969) == 499


def test_the_plain_twin_limits_alike() -> None:
    """The compiled engine and its plain-Python twin (engine/twin.py): the same events and hash
    through the limited blocks, fill by fill, and a gap past the limit."""
    runs = []
    for engine in (Exchange, pure_exchange().Exchange):
        ex = world(SMALL, engine, bids=(("0.1", "18200"),) * 10 + (("5", "18000"),), fund=10_000)
        commands = (C.SetIndexPrice(5 * SEC, SYMBOL, 190_200), C.AdvanceClock(6 * SEC),
                    C.SetIndexPrice(7 * SEC, SYMBOL, 185_000))
        runs.append(([[list(e) for e in ex.apply(cmd)] for cmd in commands], ex.state_hash()))
    assert runs[0] == runs[1] and any(runs[0][0])
