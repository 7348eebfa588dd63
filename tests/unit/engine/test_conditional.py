"""Conditional orders in the exchange: stops, take-profits, trailing stops, close-position,
rejection at trigger, price protection, liquidation."""

from __future__ import annotations

import random

import pytest

from perpsim.engine import commands as C
from perpsim.engine.events import CommandRejected, ConditionalEvent, Liquidation
from perpsim.engine.views import ExchangeView
from perpsim.model.enums import ConditionalKind as K
from perpsim.model.enums import OrderKind, Side
from perpsim.model.enums import TriggerSource as S
from perpsim.model.reasons import RejectReason as R
from tests.unit.engine.test_exchange import SYMBOL, Venue, px, qty


def statuses(events):
    return [(e.status, e.reason) for e in events if isinstance(e, ConditionalEvent)]


@pytest.fixture
def v():
    v = Venue()
    v.index("20000")
    for account in (1, 2, 3):
        v.deposit(account, 100_000)
    # account 3 long 1 BTC at 20,000 from account 1
    v.order(1, Side.SELL, "1", "20000")
    v.order(3, Side.BUY, "1", "20000")
    return v


def cond(v, account, side, size, kind=K.STOP_MARKET, trigger=None, **kw):
    return v.do(C.PlaceConditional(v.ts, account, SYMBOL, side, qty(size) if size else 0, kind,
                                   px(trigger) if trigger else 0, **kw))


def trade(v, price: str, size: str = "0.1"):
    """Accounts 1 and 2 trade at `price`, moving the last price there."""
    v.order(2, Side.BUY, size, price)
    return v.order(1, Side.SELL, size, price)


class TestStops:
    def test_stop_loss_on_last_price_closes_at_market(self, v):
        (new,) = cond(v, 3, Side.SELL, "1", trigger="19500", source=S.LAST, reduce_only=True)
        assert new.status == "NEW"
        v.order(2, Side.BUY, "1", "19450")  # the liquidity the stop will sell into
        assert statuses(trade(v, "19600")) == []  # above the trigger: nothing
        events = trade(v, "19450", "0.01")  # through it: fires and sells into the bid
        assert statuses(events) == [("TRIGGERED", 0)]
        assert v.ex.position(3, SYMBOL).lots == 0

    def test_exactly_at_the_trigger_fires(self, v):
        cond(v, 3, Side.SELL, "1", trigger="19500", source=S.LAST, reduce_only=True)
        v.order(2, Side.BUY, "2", "19500")
        events = trade(v, "19500", "0.01")
        assert ("TRIGGERED", 0) in statuses(events)

    def test_would_immediately_trigger_is_rejected(self, v):
        (rej,) = cond(v, 3, Side.SELL, "1", trigger="20100", source=S.LAST)  # last 20,000 ≤ 20,100
        assert isinstance(rej, CommandRejected) and rej.reason == R.WOULD_IMMEDIATELY_TRIGGER
        (rej,) = cond(v, 3, Side.BUY, "1", kind=K.TAKE_PROFIT_MARKET, trigger="20100")  # TP buy: ≤
        assert rej.reason == R.WOULD_IMMEDIATELY_TRIGGER

    def test_take_profit_limit_on_mark_rests_its_order(self, v):
        cond(v, 3, Side.SELL, "1", kind=K.TAKE_PROFIT_LIMIT, trigger="20500", price=px("20600"), source=S.MARK,
             reduce_only=True)
        events = v.index("20550", dt=10**9)
        (fired,) = [e for e in events if isinstance(e, ConditionalEvent)]
        assert fired.status == "TRIGGERED"
        order = ExchangeView(v.ex).open_order(SYMBOL, fired.order_id)
        assert (order.side, order.price, order.leaves) == (Side.SELL, px("20600"), qty("1"))

    def test_close_position_closes_the_size_at_firing_time(self, v):
        cond(v, 3, Side.SELL, 0, trigger="19500", source=S.MARK, close_position=True)
        v.order(1, Side.SELL, "0.5", "20000")
        v.order(3, Side.BUY, "0.5", "20000")  # the position grew to 1.5 after placement
        v.order(2, Side.BUY, "2", "19400")
        assert ("TRIGGERED", 0) in statuses(v.index("19450", dt=10**9))
        assert v.ex.position(3, SYMBOL).lots == 0

    def test_an_unaffordable_order_is_rejected_at_trigger_with_its_reason(self, v):
        v.deposit(4, 10)
        cond(v, 4, Side.BUY, "1", trigger="20500", source=S.MARK)  # 1 BTC at 20x needs ~1,000 USDT
        events = v.index("20600", dt=10**9)
        assert statuses(events) == [("REJECTED_AT_TRIGGER", R.MARGIN_INSUFFICIENT)]
        assert not ExchangeView(v.ex).conditional_orders(None)

    def test_cancel_and_no_peeking_at_others(self, v):
        (new,) = cond(v, 3, Side.SELL, "1", trigger="19500")
        (rej,) = v.do(C.CancelConditional(v.ts, 2, SYMBOL, new.conditional_id))
        assert rej.reason == R.UNKNOWN_ORDER
        (gone,) = v.do(C.CancelConditional(v.ts, 3, SYMBOL, new.conditional_id))
        assert gone.status == "CANCELED" and not ExchangeView(v.ex).conditional_orders(None)


class TestTrailing:
    def test_trailing_sell_follows_the_high_and_fires_on_the_callback(self, v):
        # 1 % callback, active at once from 20,000: fires at floor(high × 0.99) or below
        cond(v, 3, Side.SELL, "1", kind=K.TRAILING_STOP_MARKET, source=S.MARK, callback_rate=1_000_000,
             reduce_only=True)
        v.order(2, Side.BUY, "2", "19000")
        for price in ("20500", "21000", "20900"):
            assert statuses(v.index(price, dt=10**9)) == []
        # high 21,000 → trigger 20,790: 20,800 does not fire, 20,790 does
        assert statuses(v.index("20800", dt=10**9)) == []
        assert statuses(v.index("20790", dt=10**9)) == [("TRIGGERED", 0)]

    def test_activation_price_already_reached_is_rejected(self, v):
        (rej,) = cond(v, 3, Side.SELL, "1", kind=K.TRAILING_STOP_MARKET, callback_rate=1_000_000,
                      activation_price=px("19900"))
        assert rej.reason == R.WOULD_IMMEDIATELY_TRIGGER


def test_price_protection_holds_a_stop_while_mark_and_last_diverge(v):
    cond(v, 3, Side.SELL, "1", trigger="19500", source=S.MARK, price_protect=True, reduce_only=True)
    trade(v, "20000")  # last 20,000
    events = v.index("18000", dt=10**9)  # mark 18,000 vs last 20,000: 10 % apart
    assert ("SUPPRESSED", 0) in statuses(events)
    assert len(ExchangeView(v.ex).conditional_orders(None)) == 1  # still armed


def test_liquidation_cancels_conditional_orders():
    v = Venue()
    v.index("20000")
    v.deposit(1, 100_000)
    v.deposit(4, 1_010)
    v.order(1, Side.SELL, "1", "20000")
    v.order(4, Side.BUY, "1", "20000")
    cond(v, 4, Side.SELL, "1", kind=K.TAKE_PROFIT_MARKET, trigger="21000", source=S.MARK, reduce_only=True)
    v.order(1, Side.BUY, "1", "19000")
    events = v.index("19050", dt=10**9)
    assert any(isinstance(e, Liquidation) for e in events)
    assert ("CANCELED", R.USER_IN_LIQUIDATION) in statuses(events) and not ExchangeView(v.ex).conditional_orders(None)


def test_random_sessions_with_conditionals_are_deterministic_across_book_twins():
    r = random.Random(3)
    cy, ref = Venue("cython"), Venue("ref")
    price = 20_000
    kinds = set()
    for venue in (cy, ref):
        venue.index(str(price))
        for a in range(1, 6):
            venue.deposit(a, 50_000)
    for _ in range(500):
        cy.ts += r.randint(0, 2 * 10**9)
        ref.ts = cy.ts
        a, side = r.randint(1, 5), r.choice(list(Side))
        u = r.random()
        if u < 0.45:
            p = price + r.randint(-50, 50)
            cmd = C.PlaceOrder(cy.ts, a, SYMBOL, side, qty(r.choice(["0.01", "0.1"])), px(str(p)))
        elif u < 0.65:
            kind = r.choice(list(K))
            trig = price + r.randint(-300, 300)
            cmd = C.PlaceConditional(cy.ts, a, SYMBOL, side, qty("0.05"), kind, px(str(trig)),
                                     px(str(trig)) if kind in (K.STOP_LIMIT, K.TAKE_PROFIT_LIMIT) else 0,
                                     r.choice(list(S)), reduce_only=r.random() < 0.3,
                                     callback_rate=r.choice([200_000, 1_000_000]))
        elif u < 0.7:
            cmd = C.PlaceOrder(cy.ts, a, SYMBOL, side, qty("0.05"), 0, kind=OrderKind.MARKET, tif=1)
        else:
            price = max(15_000, price + r.randint(-150, 150))
            cmd = C.SetIndexPrice(cy.ts, SYMBOL, px(str(price)))
        e_cy, e_ref = cy.do(cmd), ref.do(cmd)
        assert e_cy == e_ref
        assert cy.ex.state_hash() == ref.ex.state_hash()
        kinds |= {e.status for e in e_cy if isinstance(e, ConditionalEvent)}
    assert {"NEW", "TRIGGERED"} <= kinds


def test_a_refusal_at_trigger_is_not_the_moving_command_s_rejection(v):
    """The price move that fires an unaffordable stop is itself accepted."""
    v.deposit(4, 10)
    cond(v, 4, Side.BUY, "1", trigger="20500", source=S.MARK)
    events = v.index("20600", dt=10**9)
    assert not any(isinstance(e, CommandRejected) for e in events)
    assert statuses(events) == [("REJECTED_AT_TRIGGER", R.MARGIN_INSUFFICIENT)]


class TestReduceOnlyTrimming:
    def test_a_shrinking_position_trims_its_resting_reduce_only_order_in_place(self, v):
        (acc, *_) = v.order(3, Side.SELL, "1", "21000", reduce_only=True)  # rests: closes the 1 BTC long
        oid = acc.event.order_id
        v.order(2, Side.BUY, "0.6", "20000")
        v.order(3, Side.SELL, "0.6", "20000")  # the long shrinks to 0.4 through another order
        o = ExchangeView(v.ex).open_order(SYMBOL, oid)
        assert (o.leaves, o.price) == (qty("0.4"), px("21000"))  # same order: priority kept

    def test_a_closed_position_knocks_out_its_reduce_only_orders(self, v):
        (acc, *_) = v.order(3, Side.SELL, "0.5", "21000", reduce_only=True)
        v.order(2, Side.BUY, "1", "20000")
        v.order(3, Side.SELL, "1", "20000")  # flat
        assert ExchangeView(v.ex).open_order(SYMBOL, acc.event.order_id) is None


def test_random_sessions_never_leave_a_reduce_only_order_able_to_grow_a_position():
    r = random.Random(11)
    v = Venue()
    v.index("20000")
    for a in range(1, 5):
        v.deposit(a, 50_000)
    for _ in range(600):
        v.ts += r.randint(0, 10**9)
        a, side = r.randint(1, 4), r.choice(list(Side))
        p = 20_000 + r.randint(-30, 30)
        v.do(C.PlaceOrder(v.ts, a, SYMBOL, side, qty(r.choice(["0.01", "0.05", "0.2"])), px(str(p)),
                          reduce_only=r.random() < 0.4))
        for account in range(1, 5):
            lots = v.ex.position(account, SYMBOL).lots
            ro = [o for o in ExchangeView(v.ex).open_orders(account) if o.reduce_only]
            closing = Side.SELL if lots > 0 else Side.BUY
            assert all(lots and o.side == closing for o in ro), "a reduce-only order could open a position"
            assert sum(o.leaves for o in ro) <= abs(lots), "reduce-only orders exceed the position"


def test_a_reduce_only_market_order_knocks_resting_reduce_only_orders_out(v):
    (acc, *_) = v.order(3, Side.SELL, "1", "21000", reduce_only=True)  # covers the whole 1 BTC long
    v.order(2, Side.BUY, "1", "19900")
    v.order(3, Side.SELL, "0.3", reduce_only=True)  # market: takes 0.3 of the room
    o = ExchangeView(v.ex).open_order(SYMBOL, acc.event.order_id)
    assert o.leaves == qty("0.7") and v.ex.position(3, SYMBOL).lots == qty("0.7")


def move(v, source, price: str):
    """Move one trigger source to `price`: the index (mark follows it one to one here) or, for
    the last price, a trade between accounts 1 and 2."""
    if source == S.LAST:
        return trade(v, price, "0.01")
    return v.index(price, dt=10**9)


# kind, side, trigger; one tick short of it, one tick past it, and a gap through it (the limit
# kinds place their limit at the trigger)
TRIGGER_CASES = [
    (kind, side, trigger, before, past, gap)
    for market, limit in ((K.STOP_MARKET, K.STOP_LIMIT), (K.TAKE_PROFIT_MARKET, K.TAKE_PROFIT_LIMIT))
    for kind in (market, limit)
    for side, trigger, before, past, gap in (
        [(Side.SELL, "19900", "19900.1", "19899.9", "19850"), (Side.BUY, "20100", "20099.9", "20100.1", "20150")]
        if market == K.STOP_MARKET else
        [(Side.SELL, "20100", "20099.9", "20100.1", "20150"), (Side.BUY, "19900", "19900.1", "19899.9", "19850")])
]


@pytest.mark.parametrize("source", list(S), ids=lambda s: s.name)
@pytest.mark.parametrize(("kind", "side", "trigger", "before", "past", "beyond"), TRIGGER_CASES,
                         ids=lambda x: getattr(x, "name", x))
@pytest.mark.parametrize("path", ["tick_before_then_exact", "tick_before_then_tick_past", "gap_through"])
def test_each_trigger_at_beside_and_through_its_price_for_each_source(v, source, kind, side, trigger, before,
                                                                      past, beyond, path):
    v.order(1, Side.BUY, "1", "19100")  # liquidity for the triggered market orders
    v.order(1, Side.SELL, "1", "20900")
    limit = px(trigger) if kind in (K.STOP_LIMIT, K.TAKE_PROFIT_LIMIT) else 0
    (new,) = cond(v, 3, side, "0.01", kind=kind, trigger=trigger, source=source, price=limit)
    assert new.status == "NEW"
    if path != "gap_through":
        assert statuses(move(v, source, before)) == []  # one tick short of the trigger
    target = {"tick_before_then_exact": trigger, "tick_before_then_tick_past": past, "gap_through": beyond}[path]
    assert statuses(move(v, source, target)) == [("TRIGGERED", 0)]


@pytest.mark.parametrize("source", list(S), ids=lambda s: s.name)
@pytest.mark.parametrize(("last_step", "fires"), [("20790.1", False), ("20790", True), ("20789.9", True),
                                                  ("20500", True)], ids=["tick_short", "exact", "tick_past", "gap"])
def test_trailing_stop_at_beside_and_through_its_callback_for_each_source(v, source, last_step, fires):
    """1 % callback, active at once: after a high of 21,000 it fires at ⌊21,000 × 0.99⌋ = 20,790."""
    v.order(1, Side.BUY, "1", "19100")
    (new,) = cond(v, 3, Side.SELL, "0.01", kind=K.TRAILING_STOP_MARKET, source=source, callback_rate=1_000_000)
    assert new.status == "NEW"
    v.order(1, Side.SELL, "1", "21100")  # asks above the path, so the trades below move the last price
    for price in ("20500", "21000", "20900"):
        assert statuses(move(v, source, price)) == []
    assert statuses(move(v, source, last_step)) == ([("TRIGGERED", 0)] if fires else [])
