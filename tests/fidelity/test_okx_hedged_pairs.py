"""OKX closes a cross account's hedged pair against itself first (venue-mechanics §4.5), through
Exchange.apply.

Source: OKX help, "V. Forced Partial or Full Liquidation",
https://supdljgzdhc.okx.com/hc/en-us/articles/360020411711-V-Forced-Partial-or-Full-Liquidation
[C-copy]: "In Cross Margin Mode, if there are both long and short positions, the pairs of long/short
positions will be closed immediately. If Margin Ratio reaches the required Maintenance Margin Ratio,
liquidation will stop; if it is not reached, the liquidation will continue."

The source names no price; the pair closes at the mark (risk.okx_liquidation), which on a linear
market changes nothing in the wallet: each leg's realized PnL is closed lots × (mark − its entry),
and the two marks cancel. No order reaches the book and no liquidation fee is charged on the pair.

The world: the okx profile on BTCUSDT with the tiers of the partial-step example
(tests/fidelity/test_okx_partial_steps.py): tier 1 up to 40,000 USDT at 0.45 % (MMR 0.4 % + the
0.05 % taker fee), tier 2 up to 240,000 at 1.05 % (maintenance amount 240), tier 3 at 2.05 %. HEDGE
holds, in hedge mode and cross margin, a long and a short opened at 20,000 at 50x (both legs' IM
and MM count: OKX margins each leg).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from perpsim.engine import commands as C
from perpsim.engine.events import HedgedPairClosed, Liquidation
from perpsim.engine.exchange import Exchange
from perpsim.engine.market import BOTH, IF_ACCOUNT, LONG, SHORT, position_key
from perpsim.engine.twin import pure_exchange
from perpsim.model.enums import Side
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import market_brackets
from perpsim.risk.okx_liquidation import netted_lots
from perpsim.risk.profiles import BINANCE, OKX, VenueProfile, market_under

U = 10**8
SYMBOL = "BTCUSDT"
HEDGE, MAKER = 1, 3
TIERS = ((D(40_000), 100, D("0.0045")), (D(240_000), 50, D("0.0105")), (D(10_000_000), 20, D("0.0205")))


def world(long: str, short: str, wallet: str, bid: tuple[str, str], profile: VenueProfile = OKX,
          engine: type = Exchange) -> Exchange:
    """HEDGE: `long` and `short` BTC from 20,000 at 50x on `wallet` USDT (after the opening fees);
    the maker keeps a bid of bid[0] BTC at bid[1]."""
    spec = replace(market_under(profile, default_markets()[SYMBOL]), brackets=TIERS)
    px, lots = spec.price_to_ticks, spec.qty_to_lots
    ex = engine({SYMBOL: spec}, {SYMBOL: market_brackets(spec)}, profile=profile, start_ts=1)
    fee = (D(long) + D(short)) * 20_000 * spec.taker_fee
    ex.apply(C.SetIndexPrice(1, SYMBOL, px("20000")))
    ex.apply(C.Deposit(1, MAKER, "USDT", 100_000_000 * U))
    ex.apply(C.Deposit(1, HEDGE, "USDT", int((D(wallet) + fee) * U)))
    ex.apply(C.SetPositionMode(1, HEDGE, True))
    ex.apply(C.SetLeverage(1, HEDGE, SYMBOL, 50))
    ex.apply(C.PlaceOrder(1, MAKER, SYMBOL, Side.SELL, lots(long), px("20000")))
    ex.apply(C.PlaceOrder(1, HEDGE, SYMBOL, Side.BUY, lots(long), px("20000"), position_side=LONG))
    ex.apply(C.PlaceOrder(1, MAKER, SYMBOL, Side.BUY, lots(short), px("20000")))
    ex.apply(C.PlaceOrder(1, HEDGE, SYMBOL, Side.SELL, lots(short), px("20000"), position_side=SHORT))
    assert legs(ex) == (lots(long), -lots(short)) and ex.state.wallet(HEDGE, "USDT") == int(D(wallet) * U)
    ex.apply(C.PlaceOrder(1, MAKER, SYMBOL, Side.BUY, lots(bid[0]), px(bid[1])))
    return ex


def legs(ex: Exchange) -> tuple[int, int]:
    m = ex.markets[SYMBOL]
    return tuple(0 if (p := m.positions.get(HEDGE * 4 + ps)) is None else p.lots for ps in (LONG, SHORT))


def mark_at(ex: Exchange, ts: int, index: str) -> list:
    spec = ex.markets[SYMBOL].spec
    events = ex.apply(C.SetIndexPrice(ts, SYMBOL, spec.price_to_ticks(index)))
    ex.check_integrity()
    assert ex.markets[SYMBOL].mark == spec.price_to_ticks(index)
    return [e for e in events if isinstance(e, (HedgedPairClosed, Liquidation))]


def test_the_pair_closes_against_itself_and_the_compliant_rest_stays():
    """6 long and 5 short on 4,500 (IM 2,400 + 2,000; the pair's 220,000 is in tier 2, so 50x). At a
    mark P: equity 4,500 + (P − 20,000); MM 6 P × 1.05 % − 240 + 5 P × 1.05 % − 240 = 0.1155 P − 480.
    At 16,990: 1,490 > 1,482.345, not yet; at 16,980: 1,480 ≤ 1,481.19. The 5 BTC pair closes at
    16,980 (long −15,100, short +15,100: the wallet stays 4,500); the 1 BTC long left has equity 1,480
    against tier 1's 16,980 × 0.45 % = 76.41: compliant, liquidation stops, the maker's bid is not
    touched."""
    ex = world("6", "5", "4500", ("6", "16900"))
    assert mark_at(ex, 2, "16990") == []
    assert ex.state.maintenance(HEDGE, "USDT") == 1_482_345 * 10**5
    [pair] = mark_at(ex, 3, "16980")
    assert pair == HedgedPairClosed(SYMBOL, HEDGE, 5_000, 169_800)
    assert legs(ex) == (1_000, 0)
    assert ex.state.wallet(HEDGE, "USDT") == 4_500 * U
    assert ex.state.maintenance(HEDGE, "USDT") == 76_41 * 10**6
    assert ex.markets[SYMBOL].book.best_bid() == 169_000 and ex.markets[SYMBOL].book.open_orders(MAKER)
    assert ex.markets[SYMBOL].positions[MAKER * 4].lots == -1_000  # the maker's side is as it was


def test_a_net_short_pair_on_a_rise():
    """5 long and 6 short on 4,500 (IM 2,000 + 2,400). Equity 4,500 − (P − 20,000); MM 11 P × 1.05 %
    − 480. At 22,380: 2,120 > 2,104.89, not yet; at 22,400: 2,100 ≤ 2,107.2. The 5 BTC pair closes at
    22,400; the 1 BTC short left needs 22,400 × 0.45 % = 100.8: compliant, the wallet stays 4,500."""
    ex = world("5", "6", "4500", ("6", "16900"))
    assert mark_at(ex, 2, "22380") == []
    assert mark_at(ex, 3, "22400") == [HedgedPairClosed(SYMBOL, HEDGE, 5_000, 224_000)]
    assert legs(ex) == (0, -1_000) and ex.state.wallet(HEDGE, "USDT") == 4_500 * U


def test_the_netted_size_is_the_overlap():
    assert (netted_lots(10, -8), netted_lots(6, -7), netted_lots(3, -3)) == (8, 6, 3)
    assert netted_lots(0, -5) == netted_lots(5, 0) == 0


def test_the_rest_still_under_water_is_taken_over():
    """10 long and 1 short on 4,500 (IM 4,000 + 400). The mark falls from 20,000 to 19,600: equity
    4,500 − 9 × 400 = 900; MM 10 P × 1.05 % − 240 + P × 0.45 % = 1,906.2. The 1 BTC pair closes at
    19,600 (wallet 4,500); the 9 BTC long left is in tier 2 (176,400), MM 1,612.2 > 900: a full
    liquidation, taken over by the fund at its bankruptcy price 20,000 − 4,500 / 9 = 19,500
    (risk.okx_takeover): the wallet 4,500 − 9 × 500 = 0, so no fee is left to pay. The fund then
    sells the 9 BTC into the bid of 19,550: 9 × 50 = 450 its own."""
    ex = world("10", "1", "4500", ("9", "19550"))
    ex.apply(C.FundInsurance(1, "USDT", 1_000 * U))
    assert mark_at(ex, 2, "19720") == []  # 1,980 > 1,919.34
    pair, forced = mark_at(ex, 3, "19600")
    assert pair == HedgedPairClosed(SYMBOL, HEDGE, 1_000, 196_000)
    assert (forced.side, forced.qty, forced.bankruptcy_price, forced.filled, forced.taken_by_insurance) == \
        (Side.SELL, 9_000, 195_000, 0, 9_000)
    assert legs(ex) == (0, 0)
    assert ex.state.wallet(HEDGE, "USDT") == 0
    assert ex.state.ledger.insurance("USDT") == 1_450 * U
    assert position_key(IF_ACCOUNT, BOTH) not in ex.markets[SYMBOL].positions


def test_binance_sends_both_legs_to_the_market():
    """Other profiles are unchanged: under binance the same account's legs each get a forced order."""
    ex = world("6", "5", "4500", ("6", "16900"), profile=BINANCE)
    events = mark_at(ex, 3, "16980")
    assert not any(isinstance(e, HedgedPairClosed) for e in events)
    assert {e.side for e in events} == {Side.SELL, Side.BUY} and legs(ex) == (0, 0)


def test_the_plain_twin_nets_alike():
    """The compiled engine and its plain-Python twin (engine/twin.py): the same events and hash."""
    runs = []
    for engine in (Exchange, pure_exchange().Exchange):
        ex = world("10", "1", "4500", ("9", "19550"), engine=engine)
        events = ex.apply(C.SetIndexPrice(3, SYMBOL, 196_000))
        runs.append(([list(e) for e in events], ex.state_hash()))
    assert runs[0] == runs[1]


def test_the_pair_changes_the_wallet_alike_at_any_price():
    """The long bought in two fills, 2 BTC at 20,000 and 4 at 20,000.1 (cost 1,200,004,000 tick-lots),
    the short 5 at 20,000: closing 5 of the long's 6 takes out 5/6 of its cost, 1,000,003,333⅓,
    rounded toward +∞ to 1,000,003,334 (risk.positions). The wallet after the pair is the same
    whichever mark it closes at: 16,980 or 16,900."""
    wallets = []
    for mark in ("16980", "16900"):
        spec = replace(market_under(OKX, default_markets()[SYMBOL]), brackets=TIERS)
        px, lots = spec.price_to_ticks, spec.qty_to_lots
        ex = Exchange({SYMBOL: spec}, {SYMBOL: market_brackets(spec)}, profile=OKX, start_ts=1)
        ex.apply(C.SetIndexPrice(1, SYMBOL, px("20000")))
        ex.apply(C.Deposit(1, MAKER, "USDT", 100_000_000 * U))
        ex.apply(C.Deposit(1, HEDGE, "USDT", 4_560 * U))
        ex.apply(C.SetPositionMode(1, HEDGE, True))
        ex.apply(C.SetLeverage(1, HEDGE, SYMBOL, 50))
        for qty, price in (("2", "20000"), ("4", "20000.1")):
            ex.apply(C.PlaceOrder(1, MAKER, SYMBOL, Side.SELL, lots(qty), px(price)))
            ex.apply(C.PlaceOrder(1, HEDGE, SYMBOL, Side.BUY, lots(qty), px(price), position_side=LONG))
        ex.apply(C.PlaceOrder(1, MAKER, SYMBOL, Side.BUY, lots("5"), px("20000")))
        ex.apply(C.PlaceOrder(1, HEDGE, SYMBOL, Side.SELL, lots("5"), px("20000"), position_side=SHORT))
        m = ex.markets[SYMBOL]
        long_cost, short_cost = m.positions[HEDGE * 4 + LONG].cost, m.positions[HEDGE * 4 + SHORT].cost
        before = ex.state.wallet(HEDGE, "USDT")
        [pair] = mark_at(ex, 3, mark)
        assert (pair.qty, legs(ex)) == (5_000, (1_000, 0))
        # what the pair realizes: −(⌈long cost × 5/6⌉ + short cost), in tick-lots × K
        removed = -(-long_cost * 5_000 // 6_000)
        assert (long_cost, removed) == (1_200_004_000, 1_000_003_334)
        assert ex.state.wallet(HEDGE, "USDT") - before == -(removed + short_cost) * m.K
        wallets.append(ex.state.wallet(HEDGE, "USDT"))
    assert wallets[0] == wallets[1]
