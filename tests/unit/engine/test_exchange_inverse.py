"""Inverse (coin-margined) markets: PnL in coin, exact to the satoshi with rounding stated."""

from __future__ import annotations

from fractions import Fraction

import pytest

from perpsim.engine import commands as C
from perpsim.engine.events import AutoDeleveraged, Liquidation
from perpsim.engine.exchange import Exchange
from perpsim.engine.views import ExchangeView
from perpsim.model.enums import OrderKind, Side, TimeInForce
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import Brackets
from perpsim.risk.positions import Position

SAT = 10**8  # money units per BTC
SYMBOL = "BTCUSD"
SPEC = default_markets()[SYMBOL]  # 100 USD contracts, tick 0.1
# a COIN-M style table in BTC: caps 10/20/30 BTC, MMR 0.4/0.5/1 %
BRACKETS = Brackets.from_rows([(10 * SAT, 125, 400_000), (20 * SAT, 100, 500_000), (30 * SAT, 50, 1_000_000)])


def px(text: str) -> int:
    return SPEC.price_to_ticks(text)


@pytest.fixture
def ex():
    ex = Exchange({SYMBOL: SPEC}, {SYMBOL: BRACKETS}, start_ts=1)
    ex.apply(C.SetIndexPrice(1, SYMBOL, px("50000")))
    for account in (1, 2):
        ex.apply(C.Deposit(1, account, "BTC", 10 * SAT))
    return ex


def do(ex, cmd):
    events = ex.apply(cmd)
    ex.check_integrity()
    return events


def test_long_profit_is_paid_in_coin(ex):
    # account 2 buys 100 contracts (10,000 USD) at 50,000: cost 10,000 / 50,000 = 0.2 BTC
    do(ex, C.PlaceOrder(1, 1, SYMBOL, Side.SELL, 100, px("50000")))
    do(ex, C.PlaceOrder(1, 2, SYMBOL, Side.BUY, 100, px("50000")))
    p = ex.position(2, SYMBOL)
    assert (p.lots, p.cost) == (100, 20_000_000)
    do(ex, C.SetIndexPrice(2, SYMBOL, px("60000")))
    # uPnL = 0.2 - 10,000 / 60,000 = 0.0333... BTC, rounded down
    assert ex.upnl(2, "BTC") == 3_333_333
    assert ex.upnl(1, "BTC") == -3_333_334  # the short's loss rounds up in size
    wallet = ex.wallet(2, "BTC")
    do(ex, C.PlaceOrder(2, 1, SYMBOL, Side.BUY, 100, px("60000")))
    do(ex, C.PlaceOrder(2, 2, SYMBOL, Side.SELL, 100, px("60000"), reduce_only=True))
    # realized the same 3,333,333 sat; taker fee 0.05 % of 10,000 / 60,000 BTC, rounded up
    assert ex.wallet(2, "BTC") == wallet + 3_333_333 - 8_334
    # the half satoshi both sides lost to rounding is booked as dust, not lost
    assert ExchangeView(ex).flows("BTC").dust == 1


def test_inverse_isolated_liquidation(ex):
    do(ex, C.SetMarginMode(1, 2, SYMBOL, isolated=True))
    do(ex, C.PlaceOrder(1, 1, SYMBOL, Side.SELL, 100, px("50000")))
    do(ex, C.PlaceOrder(1, 2, SYMBOL, Side.BUY, 100, px("50000")))
    # isolated margin at 20x: 0.2 BTC / 20 = 0.01 BTC
    assert ex.isolated_margin(2, SYMBOL) == 1_000_000
    lp = ex.liquidation_price(2, SYMBOL)
    # COIN-M: LP = (N×MMR + N) / (WB + N/EP) with N = 10,000 USD, WB 0.01 BTC, EP 50,000
    assert lp.price == Fraction(10_040) / (Fraction("0.01") + Fraction(10_000, 50_000))
    do(ex, C.PlaceOrder(1, 1, SYMBOL, Side.BUY, 100, px("47000")))
    events = do(ex, C.SetIndexPrice(2, SYMBOL, px("47700")))
    (liq,) = [e for e in events if isinstance(e, Liquidation)]
    # bankruptcy: 10,000 / (0.01 + 0.2) = 47,619.047... rounded up to the tick for a long
    assert liq.bankruptcy_price == px("47619.1")
    assert ex.position(2, SYMBOL).lots == 0
    assert ex.isolated_margin(2, SYMBOL) == 0
    # deleveraged at the bankruptcy price: 23 sat of the isolated margin were left, and went to
    # the fund as (part of) the liquidation fee; the wallet lost the margin and the taker fee
    assert ex.wallet(2, "BTC") == 10 * SAT - 1_000_000 - 10_000
    assert ExchangeView(ex).insurance("BTC") == 23


def test_funding_estimates_are_what_the_settlement_books(ex):
    """100 contracts at 50,000: notional 0.2 BTC; premium 0 (empty book), so the rate is the
    interest, 0.01 %: the long pays 2,000 sat, the short receives them; rounded like the
    settlement (exact here)."""
    do(ex, C.PlaceOrder(1, 1, SYMBOL, Side.SELL, 100, px("50000")))
    do(ex, C.PlaceOrder(1, 2, SYMBOL, Side.BUY, 100, px("50000")))
    do(ex, C.AdvanceClock(3600 * 10**9))
    assert ex.predicted_funding_rate(SYMBOL) == 10_000
    estimates = {a: ex.funding_estimate(a, SYMBOL) for a in (1, 2)}
    assert estimates == {1: 2_000, 2: -2_000}
    preview = ex.preview_order(C.PlaceOrder(2, 2, SYMBOL, Side.BUY, 50, px("50000")))
    assert (preview["funding_rate"], preview["funding_payment"]) == (10_000, -3_000)
    wallets = {a: ex.wallet(a, "BTC") for a in (1, 2)}
    do(ex, C.AdvanceClock(ExchangeView(ex).funding(SYMBOL).next_funding_ts))
    assert {a: ex.wallet(a, "BTC") - wallets[a] for a in (1, 2)} == estimates


def test_adl_never_takes_a_counterparty_below_zero_and_the_fund_holds_the_rest():
    """Found by the exchange machine: a mark that gapped far past a short's bankruptcy price,
    and one long to deleverage, opened near the mark. Closed at that price, all 100 lots would
    realize a loss beyond the long's isolated margin; it gives up the 99 its margin carries and
    the fund, empty, takes over the last lot at the same price."""
    ex = Exchange({SYMBOL: SPEC}, {SYMBOL: BRACKETS}, start_ts=1)
    do(ex, C.SetIndexPrice(1, SYMBOL, 200_000))
    for account in (1, 2, 3):
        do(ex, C.SetMarginMode(1, account, SYMBOL, isolated=True))
        do(ex, C.Deposit(1, account, "BTC", 5_000_000))
    # account 1 rests asks at the index as it rises (20x, then 10x) and buys at market after
    # each: the first buy is refused for margin, the second trades 10 lots with its own first ask
    for lev, lots, price in ((20, 100, 197_850), (10, 10, 219_060)):
        do(ex, C.SetIndexPrice(1, SYMBOL, price))
        do(ex, C.SetLeverage(1, 1, SYMBOL, lev))
        do(ex, C.PlaceOrder(1, 1, SYMBOL, Side.SELL, lots, price))
        do(ex, C.PlaceOrder(1, 1, SYMBOL, Side.BUY, lots, 0, kind=OrderKind.MARKET, tif=TimeInForce.IOC))
    do(ex, C.SetIndexPrice(1, SYMBOL, 226_790))
    for account in (2, 3):
        do(ex, C.SetLeverage(1, account, SYMBOL, 100))
    do(ex, C.PlaceOrder(1, 2, SYMBOL, Side.SELL, 500, 226_790))
    # account 3's market buy sweeps account 1's stale asks: account 1 is short 100, bankrupt
    events = do(ex, C.PlaceOrder(1, 3, SYMBOL, Side.BUY, 500, 0, kind=OrderKind.MARKET, tif=TimeInForce.IOC))

    [liq] = [e for e in events if isinstance(e, Liquidation)]
    [adl] = [e for e in events if isinstance(e, AutoDeleveraged)]
    assert (liq.account, liq.bankruptcy_price, liq.filled, liq.deleveraged, liq.taken_by_insurance) == \
        (1, 210_299, 0, 99, 1)
    assert (adl.counterparty, adl.qty, adl.price) == (3, 99, 210_299)
    p = ex.position(3, SYMBOL)
    # what one more lot at 210,299 would have cost account 3 is more than the margin it has left
    one_more = -ex.markets[SYMBOL].fill(Position(p.lots, p.cost), -1, 210_299)
    assert 0 <= ex.isolated_margin(3, SYMBOL) < one_more
    fund = ex.position(0, SYMBOL)
    assert fund.lots == -1 and ExchangeView(ex).insurance("BTC") >= 0


@pytest.mark.parametrize("isolated", [False, True])
def test_index_keys_are_the_exact_liquidation_prices_rounded(isolated):
    """The liquidation index files a coin-M position at its exact liquidation price rounded
    against the account (direction +1: liquidated at or below it), however the margin is
    held: cross or isolated, one-way or a hedge-mode pair, at several leverages."""
    from perpsim.engine.market import position_key
    from perpsim.risk.liqprice import Trigger

    ex = Exchange({SYMBOL: SPEC}, {SYMBOL: BRACKETS}, start_ts=1)
    ex.apply(C.SetIndexPrice(1, SYMBOL, px("50000")))
    maker, hedger = 1, 9
    do(ex, C.Deposit(1, maker, "BTC", 1_000 * SAT))
    do(ex, C.Deposit(1, hedger, "BTC", SAT // 10))
    do(ex, C.SetPositionMode(1, hedger, hedge=True))
    for account, lev in ((2, 5), (3, 20), (4, 50)):
        do(ex, C.Deposit(1, account, "BTC", SAT // 20))  # thin: every one has a price
        if isolated:
            do(ex, C.SetMarginMode(1, account, SYMBOL, isolated=True))
        do(ex, C.SetLeverage(1, account, SYMBOL, lev))
    for i, (account, side) in enumerate(((2, Side.BUY), (3, Side.SELL), (4, Side.BUY))):
        opposite = Side.SELL if side == Side.BUY else Side.BUY
        do(ex, C.PlaceOrder(1, maker, SYMBOL, opposite, 100 + 50 * i, px("50000")))
        do(ex, C.PlaceOrder(1, account, SYMBOL, side, 100 + 50 * i, px("50000")))
    for pside, side, qty in ((1, Side.BUY, 300), (2, Side.SELL, 200)):  # a hedged pair, net long
        opposite = Side.SELL if side == Side.BUY else Side.BUY
        do(ex, C.PlaceOrder(1, maker, SYMBOL, opposite, qty, px("50000")))
        do(ex, C.PlaceOrder(1, hedger, SYMBOL, side, qty, px("50000"), position_side=pside))
    do(ex, C.SetIndexPrice(2, SYMBOL, px("50500")))

    filed = {key: (direction, tick) for key, direction, tick in ex.markets[SYMBOL].liq.entries()}
    for account in (2, 3, 4):
        lp = ex.liquidation_price(account, SYMBOL)
        expected = (1 if lp.trigger is Trigger.AT_OR_BELOW else -1, lp.tick)
        assert filed[position_key(account)] == expected
    pair = ex.liquidation_price(hedger, SYMBOL)  # the pair's legs against the cross wallet
    assert filed[position_key(hedger)] == (1 if pair.trigger is Trigger.AT_OR_BELOW else -1, pair.tick)
