"""OKX's forced partial liquidation (venue-mechanics §4.5), through Exchange.apply.

Source: OKX help, "V. Forced Partial or Full Liquidation",
https://supdljgzdhc.okx.com/hc/en-us/articles/360020411711-V-Forced-Partial-or-Full-Liquidation
[C-copy]: "For position at Tier 3 or above (Number of Swaps>=12,001, e.g. 15,000), Forced Partial
Liquidation occurs when the Margin Ratio is lower than the required Maintenance Margin Ratio (2%).
The relevant position will be liquidated until it is at Tier 1. In the above example, the Number
of Swaps to be closed = Number of Swaps held – max Number of Swaps acceptable for Tier 1 =
15,000-2,000=13,000 swaps." ... "About a minute later, if the orders are filled and the Margin
Ratio of the remaining position reach the Maintenance Margin Ratio+ Forced-Liquidation Fee Rate
required by the relevant tier, then the remaining liquidation orders will be canceled ... If the
liquidation orders are unfilled or the Margin Ratio of the remaining position does not reach the
required Maintenance Margin Ratio+ Forced-Liquidation Fee Rate, then the unfilled liquidation
orders will be canceled. The liquidation procedure will start over again." Tier 2 or below: full
liquidation (§4.5), a takeover at the bankruptcy price (risk.okx_takeover).

The world: the okx profile on BTCUSDT with the example's tiers. A swap is a lot (0.001 BTC); OKX
tiers by swaps, the engine by notional, so the caps are the example's sizes at 20,000: tier 1 up
to 2,000 swaps (40,000 USDT, MMR 0.4 % + the 0.05 % taker fee), tier 2 up to 12,000 (240,000,
1 % + 0.05 %), tier 3 beyond (2 % + 0.05 %); maintenance amounts by the cum recursion (tier 3:
240 + 2,400 = 2,640). LONG holds 15,000 swaps from 21,000 at 20x on 18,500 USDT. At the mark
20,000 its equity is 18,500 − 15,000 = 3,500 ≤ MM 6,150 − 2,640 = 3,510: liquidatable, in tier 3;
its bankruptcy price 21,000 − 18,500 / 15 = 19,766.7 (rounded up, against a long).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from perpsim.engine import commands as C
from perpsim.engine.events import Liquidation
from perpsim.engine.exchange import Exchange
from perpsim.engine.twin import pure_exchange
from perpsim.model.enums import EventKind, Side
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import market_brackets
from perpsim.risk.profiles import OKX, market_under

U = 10**8
SEC = 10**9
SYMBOL = "BTCUSDT"
LONG, MAKER = 1, 3
TIERS = ((D(40_000), 100, D("0.0045")), (D(240_000), 50, D("0.0105")), (D(10_000_000), 20, D("0.0205")))


def world(swaps: int = 15_000, wallet: str = "18500", bid: tuple[str, str] | None = ("13", "19990"),
          engine: type = Exchange) -> Exchange:
    spec = replace(market_under(OKX, default_markets()[SYMBOL]), brackets=TIERS)
    px, lots = spec.price_to_ticks, spec.qty_to_lots
    ex = engine({SYMBOL: spec}, {SYMBOL: market_brackets(spec)}, profile=OKX, start_ts=1)
    size = D(swaps) / 1000
    ex.apply(C.SetIndexPrice(1, SYMBOL, px("21000")))
    ex.apply(C.Deposit(1, MAKER, "USDT", 100_000_000 * U))
    ex.apply(C.Deposit(1, LONG, "USDT", int((D(wallet) + size * 21_000 * spec.taker_fee) * U)))  # + opening fee
    ex.apply(C.SetLeverage(1, LONG, SYMBOL, 20))
    ex.apply(C.PlaceOrder(1, MAKER, SYMBOL, Side.SELL, swaps, px("21000")))
    ex.apply(C.PlaceOrder(1, LONG, SYMBOL, Side.BUY, swaps, px("21000")))
    assert held(ex) == swaps and ex.state.wallet(LONG, "USDT") == int(D(wallet) * U)
    if bid is not None:
        ex.apply(C.PlaceOrder(1, MAKER, SYMBOL, Side.BUY, lots(bid[0]), px(bid[1])))
    return ex


def mark_at(ex: Exchange, ts: int, index: str) -> list[Liquidation]:
    spec = ex.markets[SYMBOL].spec
    events = ex.apply(C.SetIndexPrice(ts, SYMBOL, spec.price_to_ticks(index)))
    ex.check_integrity()
    assert ex.markets[SYMBOL].mark == spec.price_to_ticks(index)
    return [e for e in events if isinstance(e, Liquidation)]


def held(ex: Exchange) -> int:
    p = ex.markets[SYMBOL].positions.get(LONG * 4)
    return 0 if p is None else p.lots


def test_15000_swaps_in_tier_3_lose_13000_and_keep_tier_1s_2000():
    ex = world()
    assert mark_at(ex, 1, "20010") == []  # 3,650 > 3,513.1: not yet
    [step] = mark_at(ex, 2, "20000")
    assert (step.qty, step.filled, step.taken_by_insurance, step.bankruptcy_price) == (13_000, 13_000, 0, 197_667)
    assert held(ex) == 2_000
    # 18,500 − 13 × 1,010 − the 0.05 % fee on 13 × 19,766.7 (128.48355) = 5,241.51645; the 2,000
    # left are compliant (3,241.5 against tier 1's 180), so no more goes, now or after the minute
    assert ex.state.wallet(LONG, "USDT") == 5_241_51645_000
    assert mark_at(ex, 2 + 61 * SEC, "20000") == [] and held(ex) == 2_000


def test_an_unfilled_step_waits_a_minute_then_starts_over():
    """No bid near the market: the step's order rests (at 20,000 × 0.999 = 19,980, risk.okx_orders)
    and fills nothing, and the position waits, however far the mark goes, until the re-check 60 s
    later: the rest of the order is canceled and the position cut to tier 1 again (at 19,900 tier
    1's 40,000 hold 2,010 swaps, rounded down: 12,990 go), its order at 19,900 × 0.999 = 19,880.1,
    where the bid at 19,889 now stands: all of it fills there."""
    ex = world(bid=("13", "19700"))
    [step] = mark_at(ex, 2, "20000")
    assert (step.qty, step.filled) == (13_000, 0) and held(ex) == 15_000
    assert mark_at(ex, 2 + 30 * SEC, "19900") == []  # frozen inside the minute
    ex.apply(C.PlaceOrder(2 + 59 * SEC, MAKER, SYMBOL, Side.BUY, 13_000, 198_890))
    assert held(ex) == 15_000  # under the resting order's 19,980
    assert mark_at(ex, 2 + 60 * SEC - 1, "19900") == []
    [again] = mark_at(ex, 2 + 60 * SEC, "19900")
    assert (again.qty, again.filled) == (12_990, 12_990) and held(ex) == 2_010


def test_the_re_check_comes_with_venue_time_alone():
    """The minute's end needs no mark move: the first command at or after it (here the clock
    advancing) cancels what is left of the step's order and runs the re-check, which steps again:
    a new order for the 13,000 at 19,980, resting for the next minute."""
    ex = world(bid=("13", "19700"))
    mark_at(ex, 2, "20000")
    [first] = ex.state._forced
    assert ex.state._forced[first] == (SYMBOL, LONG, 0, 2 + 60 * SEC)
    events = ex.apply(C.AdvanceClock(2 + 60 * SEC))
    ex.check_integrity()
    assert [(e.qty, e.filled) for e in events if isinstance(e, Liquidation)] == [(13_000, 0)]
    gone = [e.event for e in events if getattr(e, "liquidation", False) and e.event.kind == EventKind.CANCELED]
    assert [(e.order_id, e.qty) for e in gone] == [(first, 13_000)]
    [second] = ex.state._forced
    assert second != first and ex.state._forced[second] == (SYMBOL, LONG, 0, 2 + 120 * SEC)
    assert ex.markets[SYMBOL].orders[second].price == 199_800 and held(ex) == 15_000


def test_tier_2_is_taken_over_whole():
    """10,000 swaps are tier 2 (200,000 at 20,000): no partial step, a full liquidation: the fund
    takes the whole position at its bankruptcy price (risk.okx_takeover), 21,000 − 11,800 / 10 =
    19,820, no order to the book. 10 × 21,000 at 20x on W: liquidatable at 20,000 when
    W − 10,000 ≤ 2,100 − 240. The fund then sells it into the bid: 10 × (19,990 − 19,820) = 1,700."""
    ex = world(swaps=10_000, wallet="11800", bid=("10", "19990"))
    ex.apply(C.FundInsurance(1, "USDT", 1_000 * U))
    [full] = mark_at(ex, 2, "20000")
    assert (full.qty, full.filled, full.taken_by_insurance, full.bankruptcy_price) == (10_000, 0, 10_000, 198_200)
    assert held(ex) == 0 and ex.state.wallet(LONG, "USDT") == 0
    assert ex.state.ledger.insurance("USDT") == 2_700 * U


def test_the_state_hash_covers_the_wait():
    ex, other = world(bid=("13", "19700")), world(bid=("13", "19700"))
    mark_at(ex, 2, "20000")
    mark_at(other, 2, "20000")
    assert ex.state_hash() == other.state_hash()
    other.liquidation._paced.clear()
    assert ex.state_hash() != other.state_hash()


def test_the_plain_twin_steps_alike():
    """The compiled engine and its plain-Python twin (engine/twin.py): the same events and hash. At
    19,950 the step's order rests at 19,930 (199,500 × 0.999 = 199,300.5 ticks, rounded down), over the
    bid at 19,890; re-stepped at 60 s; a buyer at 19,935 at 70 s takes its 12,995 at 19,930 as a
    maker's fill (40,000 / 19.95 = 2,005.01: 2,005 kept)."""
    runs = []
    for engine in (Exchange, pure_exchange().Exchange):
        ex = world(bid=("13", "19700"), engine=engine)
        ex.apply(C.PlaceOrder(2, MAKER, SYMBOL, Side.BUY, 13_000, 198_900))
        steps = [ex.apply(C.SetIndexPrice(ts, SYMBOL, 199_500)) for ts in (2, 2 + 30 * SEC, 2 + 60 * SEC)]
        steps.append(ex.apply(C.PlaceOrder(2 + 70 * SEC, MAKER, SYMBOL, Side.BUY, 13_000, 199_350)))
        ex.check_integrity()
        runs.append(([list(e) for e in steps], ex.state_hash(), held(ex)))
    assert runs[0] == runs[1] and runs[0][2] == 2_005
