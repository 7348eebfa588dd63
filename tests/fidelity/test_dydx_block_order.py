"""The order of dYdX v4's liquidations within a block (risk.dydx_order, venue-mechanics §4.6).

Source: dydxprotocol/v4-chain @ 84d4664bae71e3a077adaac67fb77ad19cd28d30,
protocol/x/clob/keeper/liquidations.go `SortLiquidationOrders`: "Orders are first ordered by their
absolute percentage difference from the oracle price in descending order, followed by the their
size in quote quantums in descending order, and finally by order hashes"
(`LiquidateSubaccountsAgainstOrderbook`: "The most underwater accounts should be liquidated
first"). The order hash is replaced here by a stable digest of (block, market, account, side).

The world: the dydx profile (IMF 5 %, MMF 3 %) on BTCUSDT and ETHUSDT; a maker bids BTC at 19,450
(0.1) and deeper at 19,420; the BTC oracle falls from 20,000 to 19,500 in block 5.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from decimal import Decimal as D

from perpsim.engine import commands as C
from perpsim.engine.events import Liquidation
from perpsim.engine.exchange import Exchange
from perpsim.engine.market import position_of
from perpsim.engine.twin import pure_exchange
from perpsim.model.enums import Side
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import market_brackets
from perpsim.risk.dydx_order import rank_key, tie_break
from perpsim.risk.profiles import DYDX, market_under

U = 10**8
SEC = 10**9
BTC, ETH = "BTCUSDT", "ETHUSDT"
MAKER = 3
SPECS = {s: market_under(DYDX, default_markets()[s]) for s in (BTC, ETH)}


def px(symbol: str, price: str) -> int:
    return SPECS[symbol].price_to_ticks(price)


def lots(symbol: str, qty: str) -> int:
    return SPECS[symbol].qty_to_lots(qty)


def exchange() -> Exchange:
    ex = Exchange(dict(SPECS), {s: market_brackets(sp) for s, sp in SPECS.items()}, profile=DYDX, start_ts=1)
    ex.apply(C.SetIndexPrice(1, BTC, px(BTC, "20000")))
    ex.apply(C.SetIndexPrice(1, ETH, px(ETH, "2000")))
    ex.apply(C.Deposit(1, MAKER, "USDT", 100_000_000 * U))
    return ex


def go_long(ex: Exchange, account: int, symbol: str, qty: str, price: str) -> None:
    ex.apply(C.SetLeverage(1, account, symbol, 20))
    ex.apply(C.PlaceOrder(1, MAKER, symbol, Side.SELL, lots(symbol, qty), px(symbol, price)))
    ex.apply(C.PlaceOrder(1, account, symbol, Side.BUY, lots(symbol, qty), px(symbol, price)))


def btc_liquidations(ex: Exchange, price: str, fills: dict | None = None) -> list[tuple[int, int]]:
    """(account, filled) of the BTC liquidation orders the BTC oracle at `price` sets off in block
    5, in the order they were sent; `fills` gets each account's (lots, price) fills."""
    events = ex.apply(C.SetIndexPrice(5 * SEC, BTC, px(BTC, price)))
    ex.check_integrity()
    for e in events:
        if getattr(e, "liquidation", False) and e.symbol == BTC and e.event.counter_account == MAKER \
                and fills is not None:
            fills.setdefault(e.event.account, []).append((e.event.qty, e.event.price))
    return [(e.account, e.filled) for e in events if isinstance(e, Liquidation) and e.symbol == BTC]


def bids(ex: Exchange) -> None:
    ex.apply(C.PlaceOrder(1, MAKER, BTC, Side.BUY, lots(BTC, "0.1"), px(BTC, "19450")))
    ex.apply(C.PlaceOrder(1, MAKER, BTC, Side.BUY, lots(BTC, "100"), px(BTC, "19420")))


def test_the_most_under_water_goes_first_not_the_highest_trigger() -> None:
    """A: 1 BTC from 20,000 on 1,000 USDC; liquidation price 19,000 / 0.97 = 19,587.6. B: 1 BTC
    from 20,000 and 10 ETH from 2,000 on 2,000 USDC, ETH then at 1,955: its BTC liquidation price
    (38,000 − 9.7 × 1,955) / 0.97 = 19,625.3 is the higher, so the liquidation index lists B
    first. At 19,500: A's TNC 500 against TMMR 585, ABR = 85 / 585 = 0.145, fillable price
    19,372.5 (0.65 % off the oracle); B's TNC 2,000 − 500 − 450 = 1,050 against 585 + 586.5 =
    1,171.5, ABR = 121.5 / 1,171.5 = 0.104, 19,409.0 (0.47 % off). dYdX takes A first: A's
    0.1 BTC takes the 19,450 bid, B's the 19,420 ones."""
    a, b = 11, 12
    ex = exchange()
    ex.apply(C.Deposit(1, a, "USDT", int((1_000 + 20_000 * SPECS[BTC].taker_fee) * U)))
    ex.apply(C.Deposit(1, b, "USDT", int((2_000 + 2 * 20_000 * SPECS[BTC].taker_fee) * U)))
    go_long(ex, a, BTC, "1", "20000")
    go_long(ex, b, BTC, "1", "20000")
    go_long(ex, b, ETH, "10", "2000")
    ex.apply(C.SetIndexPrice(1, ETH, px(ETH, "1955")))
    bids(ex)
    index_order = [position_of(k)[0] for k in ex.markets[BTC].liq.triggered(px(BTC, "19500"))]
    assert index_order == [b, a]
    fills: dict = {}
    assert btc_liquidations(ex, "19500", fills) == [(a, 100), (b, 100)]
    assert fills == {a: [(100, px(BTC, "19450"))], b: [(100, px(BTC, "19420"))]}


def test_equal_distress_the_larger_order_first() -> None:
    """Accounts 5 (1 BTC on 1,000) and 6 (2 BTC on 2,000), both from 20,000: the same
    liquidation price, so the index lists 5 first (key order); at 19,500 the same fillable
    price 19,372.5, and 6's order (0.2 BTC, 3,900 USDC) is the larger: 6 first, taking the 0.1
    at 19,450 and 0.1 at 19,420."""
    ex = exchange()
    for account, btc in ((5, "1"), (6, "2")):
        ex.apply(C.Deposit(1, account, "USDT", int(D(btc) * (1_000 + 20_000 * SPECS[BTC].taker_fee) * U)))
        go_long(ex, account, BTC, btc, "20000")
    bids(ex)
    assert [position_of(k)[0] for k in ex.markets[BTC].liq.triggered(px(BTC, "19500"))] == [5, 6]
    fills: dict = {}
    assert btc_liquidations(ex, "19500", fills) == [(6, 200), (5, 100)]
    assert fills == {6: [(100, px(BTC, "19450")), (100, px(BTC, "19420"))], 5: [(100, px(BTC, "19420"))]}


def test_equal_orders_by_a_stable_digest_that_changes_with_the_block() -> None:
    """Two identical accounts: the digest decides, the same in every run of the same commands;
    its order is not the account order in every block (dYdX's order hash, a pseudo-random draw)."""
    def run() -> list:
        ex = exchange()
        for account in (7, 8):
            ex.apply(C.Deposit(1, account, "USDT", int((1_000 + 20_000 * SPECS[BTC].taker_fee) * U)))
            go_long(ex, account, BTC, "1", "20000")
        bids(ex)
        return btc_liquidations(ex, "19500")

    first = run()
    assert first == run() and sorted(first) == [(7, 100), (8, 100)]
    expected = min((7, 8), key=lambda acc: tie_break(5, BTC, acc, 0))
    assert first[0][0] == expected
    flips = {min((7, 8), key=lambda acc: tie_break(block, BTC, acc, 0)) for block in range(32)}
    assert flips == {7, 8}


def test_rank_key_orders_by_distance_then_size() -> None:
    near = rank_key(oracle=195_000, limit=194_090, notional=10, block=5, symbol=BTC, account=1, pside=0)
    far = rank_key(oracle=195_000, limit=193_725, notional=1, block=5, symbol=BTC, account=2, pside=0)
    short_far = rank_key(oracle=195_000, limit=196_275, notional=1, block=5, symbol=BTC, account=3, pside=0)
    big = rank_key(oracle=195_000, limit=193_725, notional=5, block=5, symbol=BTC, account=4, pside=0)
    assert sorted([near, far, big]) == [big, far, near]
    assert far[0] == short_far[0]  # the distance either side of the oracle


CAP_ONE = replace(DYDX, liquidation=replace(DYDX.liquidation, steps=replace(DYDX.liquidation.steps, block_accounts=1)))


def two_markets(profile=DYDX, engine: type = Exchange) -> Exchange:
    """Account 11: 1 BTC from 20,000 on 1,000 USDC; account 12: 10 ETH from 2,000 on 1,000 USDC
    (both 20x); the maker bids 100 BTC at 19,400 and 100 ETH at 1,930."""
    ex = engine(dict(SPECS), {s: market_brackets(sp) for s, sp in SPECS.items()}, profile=profile, start_ts=1)
    ex.apply(C.SetIndexPrice(1, BTC, px(BTC, "20000")))
    ex.apply(C.SetIndexPrice(1, ETH, px(ETH, "2000")))
    ex.apply(C.Deposit(1, MAKER, "USDT", 100_000_000 * U))
    for account, symbol, qty, price in ((11, BTC, "1", "20000"), (12, ETH, "10", "2000")):
        ex.apply(C.Deposit(1, account, "USDT", int((1_000 + 20_000 * SPECS[symbol].taker_fee) * U)))
        go_long(ex, account, symbol, qty, price)
    ex.apply(C.PlaceOrder(1, MAKER, BTC, Side.BUY, lots(BTC, "100"), px(BTC, "19400")))
    ex.apply(C.PlaceOrder(1, MAKER, ETH, Side.BUY, lots(ETH, "100"), px(ETH, "1930")))
    return ex


def shocks(ex: Exchange, block: int) -> list[list[int]]:
    """The accounts liquidated by ETH at 1,940 (the block's start), BTC at 19,500 (0.1 s later),
    and the next block's pass (AdvanceClock), in the order sent."""
    out = []
    for cmd in (C.SetIndexPrice(block * SEC, ETH, px(ETH, "1940")),
                C.SetIndexPrice(block * SEC + SEC // 10, BTC, px(BTC, "19500")), C.AdvanceClock((block + 1) * SEC)):
        events = ex.apply(cmd)
        ex.check_integrity()
        out.append([e.account for e in events if isinstance(e, Liquidation)])
    return out


def test_every_markets_orders_are_sorted_together() -> None:
    """Block 5: 12 (ETH at 1,940: TNC 400, TMMR 582) sells 1 ETH at 1,930 (fee min(28.95, 40 − 10)
    = 28.95: TNC 361.05, TMMR 523.8); 11 (BTC at 19,500: TNC 500, TMMR 585) 0.1 BTC at 19,400 (fee
    29.1: TNC 460.9, TMMR 526.5). Block 6, one pass over both markets: ETH's limit 1,940 − 1.5 ×
    (162.75 / 523.8) × 58.2 = 1,912.875 → 1,912.88, 1.398 % off its oracle; BTC's 19,500 − 1.5 ×
    (65.6 / 526.5) × 585 = 19,390.67 → 19,390.7, 0.561 % off: ETH's first (a sweep market by
    market would send BTC's first)."""
    assert shocks(two_markets(), 5) == [[12], [11], [12, 11]]


def test_the_blocks_window_is_drawn_across_markets() -> None:
    """One account a block: block 7 liquidates 12 (ETH) and leaves 11 (BTC) waiting; block 8
    draws its window of 1 over both from digest("liquidations/8/") % 2 = 1 in account order
    [11, 12]: 12 again, 11 waits (a draw per market would take BTC's 11, the first market's)."""
    assert digest_start(8, 2) == 1
    assert shocks(two_markets(CAP_ONE), 7) == [[12], [], [12]]


def digest_start(block: int, n: int) -> int:
    return int.from_bytes(hashlib.blake2b(f"liquidations/{block}/".encode(), digest_size=8).digest(), "big") % n


def test_the_plain_twin_sweeps_alike() -> None:
    """The compiled engine and its plain-Python twin (engine/twin.py): the same events and state
    hash through both blocks above."""
    runs = []
    for engine in (Exchange, pure_exchange().Exchange):
        ex = two_markets(CAP_ONE, engine)
        events = [ex.apply(cmd) for cmd in (C.SetIndexPrice(7 * SEC, ETH, px(ETH, "1940")),
                                            C.SetIndexPrice(7 * SEC + SEC // 10, BTC, px(BTC, "19500")),
                                            C.AdvanceClock(8 * SEC))]
        assert any(isinstance(e, Liquidation) for e in events[2])
        runs.append(([[list(e) for e in batch] for batch in events], ex.state_hash()))
    assert runs[0] == runs[1]
