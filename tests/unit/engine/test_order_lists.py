"""Order lists in the exchange: brackets, OCO and OTO under partial fills, a stop and a
take-profit in the same command, GTD expiry, the algo-order limit, liquidation and ADL while
lists and closing conditional orders rest."""

from __future__ import annotations

import dataclasses

import pytest

from perpsim.engine import commands as C
from perpsim.engine.events import (
    AutoDeleveraged,
    CommandRejected,
    ConditionalEvent,
    Liquidation,
    ListEvent,
    OrderEvent,
    PositionChanged,
)
from perpsim.engine.views import ExchangeView
from perpsim.model.enums import ConditionalKind as K
from perpsim.model.enums import EventKind, LegType, ListKind, PositionSide, Side, TimeInForce
from perpsim.model.enums import TriggerSource as S
from perpsim.model.reasons import RejectReason as R
from tests.unit.engine.test_exchange import SPEC, SYMBOL, Venue, px, qty

SEC = 10**9


def lists(events):
    return [(e.status, e.cause, e.qty) for e in events if isinstance(e, ListEvent)]


def conds(events):
    return [(e.status, e.reason) for e in events if isinstance(e, ConditionalEvent)]


def order_list(v, account, kind, side, size, *, entry=None, tp=None, sl=None, tp_type=LegType.TAKE_PROFIT_MARKET,
               sl_type=LegType.STOP_MARKET, tp_limit=None, sl_limit=None, **kw):
    """Place an order list; `tp` is the take-profit leg's trigger (its price for a LIMIT leg)."""
    tp_fields = {"tp_trigger": 0, "tp_price": px(tp)} if tp_type == LegType.LIMIT else \
        {"tp_trigger": px(tp) if tp else 0, "tp_price": px(tp_limit) if tp_limit else 0}
    return v.do(C.PlaceOrderList(v.ts, account, SYMBOL, kind, side, qty(size), px(entry) if entry else 0,
                                 tp_type=tp_type if tp else LegType.NONE, **tp_fields,
                                 sl_type=sl_type if sl else LegType.NONE, sl_trigger=px(sl) if sl else 0,
                                 sl_price=px(sl_limit) if sl_limit else 0, **kw))


def new_list(events) -> int:
    (new,) = [e for e in events if isinstance(e, ListEvent) and e.status == "NEW"]
    return new.list_id


def legs(v, account):
    """(kind, side, lots) of the account's live conditional orders, by id."""
    return [(c.order.kind, c.order.side, c.order.qty) for c in ExchangeView(v.ex).conditional_orders(account)]


def lots(v, account):
    return v.ex.position(account, SYMBOL).lots


def trade(v, price: str, size: str = "0.01"):
    """Accounts 1 and 2 trade at `price`: the last price moves there."""
    v.order(2, Side.BUY, size, price)
    return v.order(1, Side.SELL, size, price)


@pytest.fixture
def v():
    v = Venue()
    v.index("20000")
    for account in (1, 2, 3, 5):
        v.deposit(account, 100_000)
    trade(v, "20000")
    return v


class TestBracket:
    def test_exits_arm_with_each_fill_and_the_take_profit_ends_it(self, v):
        events = order_list(v, 5, ListKind.BRACKET, Side.BUY, "1", entry="20000", tp="20500", sl="19500")
        assert new_list(events)
        assert lists(events) == [("NEW", "", 0)] and legs(v, 5) == []  # nothing armed before a fill
        events = v.order(1, Side.SELL, "0.3", "20000")
        assert lists(events) == [("ARMED", "entry_partially_filled", qty("0.3"))]
        assert legs(v, 5) == [(K.TAKE_PROFIT_MARKET, Side.SELL, qty("0.3")), (K.STOP_MARKET, Side.SELL, qty("0.3"))]
        v.order(1, Side.SELL, "0.2", "20000")
        assert legs(v, 5) == [(K.TAKE_PROFIT_MARKET, Side.SELL, qty("0.5")), (K.STOP_MARKET, Side.SELL, qty("0.5"))]
        v.order(2, Side.BUY, "1", "20400")  # liquidity the take-profit sells into
        events = trade(v, "20500")
        assert lists(events)[-1] == ("DONE", "exit_triggered", qty("0.5"))
        # the take-profit won: the stop is canceled before its order is placed
        assert [s for s, _ in conds(events)] == ["CANCELED", "TRIGGERED"]
        assert lots(v, 5) == 0 and not ExchangeView(v.ex).order_lists(None)
        assert ExchangeView(v.ex).open_orders(5) == ()  # the entry's unfilled rest went with it

    def test_canceling_the_entry_before_a_fill_cancels_the_list(self, v):
        events = order_list(v, 5, ListKind.BRACKET, Side.BUY, "1", entry="19900", tp="20500", sl="19500")
        ((new, *_),) = [[e] for e in events if isinstance(e, ListEvent)]
        events = v.do(C.CancelOrder(v.ts, 5, SYMBOL, new.order_id))
        assert lists(events) == [("CANCELED", "entry_canceled", 0)]
        assert legs(v, 5) == [] and not ExchangeView(v.ex).order_lists(None)

    def test_canceling_the_entry_after_a_fill_keeps_the_exits(self, v):
        events = order_list(v, 5, ListKind.BRACKET, Side.BUY, "1", entry="20000", tp="20500", sl="19500")
        entry = next(e.order_id for e in events if isinstance(e, ListEvent))
        v.order(1, Side.SELL, "0.3", "20000")
        events = v.do(C.CancelOrder(v.ts, 5, SYMBOL, entry))
        assert lists(events) == [("ENTRY_CLOSED", "entry_canceled", qty("0.3"))]
        assert [q for _, _, q in legs(v, 5)] == [qty("0.3"), qty("0.3")]

    def test_cancel_order_list(self, v):
        gid = new_list(order_list(v, 5, ListKind.BRACKET, Side.BUY, "1", entry="20000", tp="20500", sl="19500"))
        v.order(1, Side.SELL, "0.4", "20000")
        (rej,) = v.do(C.CancelOrderList(v.ts, 2, SYMBOL, gid))  # not another account's
        assert rej.reason == R.UNKNOWN_ORDER
        events = v.do(C.CancelOrderList(v.ts, 5, SYMBOL, gid))
        assert lists(events) == [("CANCELED", "canceled", qty("0.4"))]
        assert legs(v, 5) == [] and ExchangeView(v.ex).open_orders(5) == ()
        assert lots(v, 5) == qty("0.4")  # the position stays; only the orders go

    def test_a_market_entry_arms_at_once(self, v):
        v.order(1, Side.SELL, "1", "20010")
        events = order_list(v, 5, ListKind.BRACKET, Side.BUY, "0.5", tp="20500", sl="19500", source=S.MARK)
        assert [s for s, _, _ in lists(events)] == ["NEW", "ARMED"]
        assert lots(v, 5) == qty("0.5") and [q for _, _, q in legs(v, 5)] == [qty("0.5")] * 2

    def test_a_limit_take_profit_grows_with_the_entry(self, v):
        order_list(v, 5, ListKind.BRACKET, Side.BUY, "1", entry="20000", tp="20500", tp_type=LegType.LIMIT,
                   sl="19500")
        v.order(1, Side.SELL, "0.3", "20000")
        v.order(1, Side.SELL, "0.2", "20000")
        (tp,) = [o for o in ExchangeView(v.ex).open_orders(5) if o.side == Side.SELL]
        assert (tp.price, tp.leaves, tp.reduce_only) == (px("20500"), qty("0.5"), True)
        v.order(2, Side.BUY, "0.2", "20500")  # the take-profit fills 0.2: the stop covers 0.3
        assert legs(v, 5) == [(K.STOP_MARKET, Side.SELL, qty("0.3"))]
        assert lots(v, 5) == qty("0.3")

    def test_closing_the_position_by_hand_ends_the_list(self, v):
        order_list(v, 5, ListKind.BRACKET, Side.BUY, "1", entry="20000", tp="20500", sl="19500")
        v.order(1, Side.SELL, "0.5", "20000")
        v.order(2, Side.BUY, "0.5", "20010")
        events = v.order(5, Side.SELL, "0.5", "20010")
        assert lists(events)[-1] == ("CANCELED", "position_closed", qty("0.5"))
        assert legs(v, 5) == [] and ExchangeView(v.ex).open_orders(5) == ()

    def test_a_shrinking_position_shrinks_the_exits(self, v):
        order_list(v, 5, ListKind.BRACKET, Side.BUY, "1", entry="20000", tp="20500", sl="19500")
        v.order(1, Side.SELL, "1", "20000")
        v.order(2, Side.BUY, "0.4", "20010")
        v.order(5, Side.SELL, "0.4", "20010")
        assert [q for _, _, q in legs(v, 5)] == [qty("0.6")] * 2


@pytest.mark.parametrize("taken", ["1", "0.4"])
def test_stop_and_take_profit_in_the_same_command_end_consistently(v, taken):
    """A mark drop fires account 2's buy (a take-profit buy, trigger 19,750) before the stop
    (19,800, sorted after it): its buy lifts the bracket's resting take-profit, and the stop
    fires in the same command. One exit wins; the position is never over-closed or flipped."""
    order_list(v, 5, ListKind.BRACKET, Side.BUY, "1", entry="20000", tp="20500", tp_type=LegType.LIMIT, sl="19800",
               source=S.MARK)
    v.order(1, Side.SELL, "1", "20000")
    # the bracket's stop, armed by the fill
    (stop_id,) = [c.conditional_id for c in ExchangeView(v.ex).conditional_orders(5)]
    v.order(1, Side.BUY, "2", "19000")  # bids for the stop to sell into
    v.do(C.PlaceConditional(v.ts, 2, SYMBOL, Side.BUY, qty(taken), K.TAKE_PROFIT_MARKET, px("19750"),
                            source=S.MARK))
    events = v.index("19700", dt=SEC)
    path = [e.lots for e in events if isinstance(e, PositionChanged) and e.account == 5]
    assert all(0 <= x <= qty("1") for x in path), path
    assert lots(v, 5) == 0 and not ExchangeView(v.ex).order_lists(None) and legs(v, 5) == []
    done = [e for e in events if isinstance(e, ListEvent)][-1]
    if taken == "1":  # the take-profit filled completely: the stop was canceled before it could fire
        assert (done.status, done.cause) == ("DONE", "exit_filled")
        assert (stop_id, "CANCELED") in [(e.conditional_id, e.status) for e in events
                                         if isinstance(e, ConditionalEvent)]
    else:  # 0.4 taken: the stop covered the 0.6 left and fired for it
        assert ("REDUCED", "leg_filled", qty("0.6")) in lists(events)
        assert (done.status, done.cause) == ("DONE", "exit_triggered")


class TestOco:
    def test_a_partial_fill_reduces_the_other_leg_and_a_trigger_ends_it(self, v):
        v.order(3, Side.BUY, "1", "20000")
        v.order(1, Side.SELL, "1", "20000")  # account 3 long 1
        events = order_list(v, 3, ListKind.OCO, Side.SELL, "1", tp="20500", tp_type=LegType.LIMIT, sl="19500",
                            reduce_only=True)
        assert lists(events) == [("NEW", "", qty("1"))]
        events = v.order(2, Side.BUY, "0.4", "20500")
        assert lists(events) == [("REDUCED", "leg_filled", qty("0.6"))]
        assert legs(v, 3) == [(K.STOP_MARKET, Side.SELL, qty("0.6"))]
        v.order(2, Side.BUY, "1", "19400")
        events = trade(v, "19500")
        assert lists(events)[-1] == ("DONE", "exit_triggered", qty("0.6"))
        assert lots(v, 3) == 0 and ExchangeView(v.ex).open_orders(3) == ()

    def test_a_complete_fill_cancels_the_other_leg(self, v):
        v.order(3, Side.BUY, "1", "20000")
        v.order(1, Side.SELL, "1", "20000")
        order_list(v, 3, ListKind.OCO, Side.SELL, "1", tp="20500", tp_type=LegType.LIMIT, sl="19500",
                   reduce_only=True)
        events = v.order(2, Side.BUY, "1", "20500")
        assert lists(events) == [("DONE", "exit_filled", 0)]
        assert conds(events) == [("CANCELED", 0)] and legs(v, 3) == []

    def test_two_conditional_legs_for_an_entry(self, v):
        """Not reduce-only: a breakout buy stop above, a pullback take-profit buy below."""
        order_list(v, 5, ListKind.OCO, Side.BUY, "0.5", tp="19500", sl="20500")
        v.order(1, Side.SELL, "1", "20600")
        events = trade(v, "20500")
        assert [s for s, _ in conds(events)] == ["CANCELED", "TRIGGERED"]
        assert lots(v, 5) == qty("0.5")

    def test_canceling_a_leg_cancels_the_list(self, v):
        order_list(v, 5, ListKind.OCO, Side.BUY, "0.5", tp="19500", sl="20500")
        (cid, *_) = [c.conditional_id for c in ExchangeView(v.ex).conditional_orders(None)]
        events = v.do(C.CancelConditional(v.ts, 5, SYMBOL, cid))
        assert lists(events) == [("CANCELED", "leg_canceled", qty("0.5"))] and legs(v, 5) == []


def test_oto_arms_a_limit_exit_sized_to_the_fills(v):
    order_list(v, 5, ListKind.OTO, Side.BUY, "1", entry="20000", tp="20600", tp_type=LegType.LIMIT)
    v.order(1, Side.SELL, "0.3", "20000")
    (exit_,) = [o for o in ExchangeView(v.ex).open_orders(5) if o.side == Side.SELL]
    assert (exit_.leaves, exit_.reduce_only) == (qty("0.3"), False)
    v.order(1, Side.SELL, "0.7", "20000")
    (exit_,) = [o for o in ExchangeView(v.ex).open_orders(5) if o.side == Side.SELL]
    assert exit_.leaves == qty("1")


def test_an_ioc_entry_that_fills_partly_closes_its_entry(v):
    v.order(1, Side.SELL, "0.3", "20000")
    events = order_list(v, 5, ListKind.BRACKET, Side.BUY, "1", entry="20000", entry_tif=TimeInForce.IOC,
                        tp="20500", sl="19500")
    assert [s for s, _, _ in lists(events)] == ["NEW", "ARMED", "ENTRY_CLOSED"]
    assert [q for _, _, q in legs(v, 5)] == [qty("0.3")] * 2


class TestRejections:
    @pytest.mark.parametrize(("kw", "reason"), [
        ({"kind": ListKind.OCO, "tp": "20500", "sl": "20100"}, R.WOULD_IMMEDIATELY_TRIGGER),  # sell stop above last
        ({"kind": ListKind.BRACKET, "entry": "19000", "tp": "18900", "sl": "18500"}, R.WOULD_IMMEDIATELY_TRIGGER),
        ({"kind": ListKind.OTO, "entry": "19000", "tp": "20500", "sl": "18500"}, R.INVALID_ORDER_TYPE),
        ({"kind": ListKind.BRACKET, "entry": "19000", "tp": "20500"}, R.INVALID_ORDER_TYPE),
        ({"kind": ListKind.OCO, "tp": "20500", "sl": "19500", "tp_type": LegType.STOP_MARKET}, R.INVALID_ORDER_TYPE),
        ({"kind": ListKind.OCO, "tp": "20500", "sl": "19500", "sl_limit": "19400"}, R.INVALID_PRICE),
        ({"kind": ListKind.OCO, "entry": "20000", "tp": "20500", "sl": "19500"}, R.INVALID_VALUE),
        ({"kind": ListKind.BRACKET, "entry": "19000", "tp": "20500", "sl": "18500", "expire_ts": 1},
         R.INVALID_GTD_TIME),
        ({"kind": 9, "tp": "20500", "sl": "19500"}, R.INVALID_ORDER_TYPE),
    ])
    def test_refused_lists_change_nothing(self, v, kw, reason):
        side = Side.SELL if kw["kind"] == ListKind.OCO else Side.BUY
        before = v.ex.state_hash()
        (rej,) = order_list(v, 5, kw.pop("kind"), side, "1", **kw)
        assert isinstance(rej, CommandRejected) and rej.reason == reason
        assert v.ex.state_hash() == before

    def test_an_unaffordable_entry_refuses_the_list(self, v):
        v.deposit(6, 10)
        before = v.ex.state_hash()
        (rej,) = order_list(v, 6, ListKind.BRACKET, Side.BUY, "1", entry="20000", tp="20500", sl="19500")
        assert (rej.command, rej.reason) == ("PlaceOrderList", R.MARGIN_INSUFFICIENT)
        assert v.ex.state_hash() == before


    def test_an_oco_whose_limit_leg_is_refused_leaves_no_stop_behind(self, v):
        v.deposit(6, 10)
        before = v.ex.state_hash()
        (rej,) = order_list(v, 6, ListKind.OCO, Side.BUY, "1", tp="19500", tp_type=LegType.LIMIT, sl="20500")
        assert (rej.command, rej.reason) == ("PlaceOrderList", R.MARGIN_INSUFFICIENT)
        assert v.ex.state_hash() == before and not ExchangeView(v.ex).conditional_orders(None)


class TestGtd:
    def test_a_gtd_conditional_expires_by_command_time(self, v):
        (new,) = v.do(C.PlaceConditional(v.ts, 5, SYMBOL, Side.BUY, qty("0.1"), K.STOP_MARKET, px("20500"),
                                         tif=TimeInForce.GTD, expire_ts=v.ts + 10 * SEC))
        assert new.status == "NEW"
        assert conds(v.index("20000", dt=9 * SEC)) == []
        events = v.index("20000", dt=SEC)  # a command at expire_ts
        assert conds(events) == [("EXPIRED", 0)] and not ExchangeView(v.ex).conditional_orders(None)

    @pytest.mark.parametrize(("tif", "expire"), [(TimeInForce.GTD, 0), (TimeInForce.GTD, -1),
                                                  (TimeInForce.GTC, 10 * SEC)])
    def test_bad_gtd_is_refused(self, v, tif, expire):
        (rej,) = v.do(C.PlaceConditional(v.ts, 5, SYMBOL, Side.BUY, qty("0.1"), K.STOP_MARKET, px("20500"),
                                         tif=tif, expire_ts=v.ts + expire if expire else 0))
        assert rej.reason == R.INVALID_GTD_TIME

    def test_a_triggered_gtd_stop_limit_rests_until_the_same_time(self, v):
        v.do(C.PlaceConditional(v.ts, 5, SYMBOL, Side.BUY, qty("0.1"), K.STOP_LIMIT, px("20100"), px("20050"),
                                tif=TimeInForce.GTD, expire_ts=v.ts + 10 * SEC))
        events = trade(v, "20100")
        (fired,) = [e for e in events if isinstance(e, ConditionalEvent)]
        assert ExchangeView(v.ex).open_order(SYMBOL, fired.order_id) is not None
        events = v.index("20000", dt=10 * SEC)
        # the book expires it at its next operation
        assert ExchangeView(v.ex).open_order(SYMBOL, fired.order_id) is not None
        events = v.do(C.AdvanceClock(v.ts))
        assert [e.event.kind for e in events if isinstance(e, OrderEvent)] == [EventKind.EXPIRED]

    def test_a_gtd_list_expires_whole(self, v):
        events = order_list(v, 5, ListKind.BRACKET, Side.BUY, "1", entry="20000", tp="20500", sl="19500",
                            expire_ts=v.ts + 10 * SEC)
        v.order(1, Side.SELL, "0.3", "20000")
        events = v.index("20000", dt=10 * SEC)
        assert lists(events) == [("EXPIRED", "expired", qty("0.3"))]
        assert [e.event.kind for e in events if isinstance(e, OrderEvent)] == [EventKind.EXPIRED]  # the entry
        assert conds(events) == [("EXPIRED", 0), ("EXPIRED", 0)]
        assert lots(v, 5) == qty("0.3")


class TestAlgoLimit:
    @pytest.fixture
    def small(self, v):
        v.ex.markets[SYMBOL].spec = dataclasses.replace(SPEC, max_algo_orders=3, max_open_orders=5)
        return v

    def test_the_algo_limit_has_its_own_code(self, small):
        for _ in range(3):
            (new,) = small.do(C.PlaceConditional(small.ts, 5, SYMBOL, Side.BUY, qty("0.1"), K.STOP_MARKET,
                                                 px("20500")))
            assert new.status == "NEW"
        (rej,) = small.do(C.PlaceConditional(small.ts, 5, SYMBOL, Side.BUY, qty("0.1"), K.STOP_MARKET, px("20500")))
        assert rej.reason == R.MAX_ALGO_ORDERS
        assert dict(rej.fields)["limit"] == 3

    def test_lists_reserve_the_legs_they_will_arm(self, small):
        small.do(C.PlaceConditional(small.ts, 5, SYMBOL, Side.BUY, qty("0.1"), K.STOP_MARKET, px("20500")))
        assert new_list(order_list(small, 5, ListKind.BRACKET, Side.BUY, "1", entry="19000", tp="20500",
                                   sl="18500"))
        (rej,) = small.do(C.PlaceConditional(small.ts, 5, SYMBOL, Side.BUY, qty("0.1"), K.STOP_MARKET, px("20500")))
        assert rej.reason == R.MAX_ALGO_ORDERS  # 1 + the bracket's 2 unarmed legs
        # a limit exit is an open order, not an algo order
        assert new_list(order_list(small, 5, ListKind.OTO, Side.BUY, "1", entry="19000", tp="20500",
                                   tp_type=LegType.LIMIT))

    def test_open_orders_count_conditional_orders_too(self, small):
        for _ in range(3):
            small.do(C.PlaceConditional(small.ts, 5, SYMBOL, Side.BUY, qty("0.1"), K.STOP_MARKET, px("20500")))
        small.order(5, Side.BUY, "0.1", "19000")
        small.order(5, Side.BUY, "0.1", "19000")
        (rej,) = small.order(5, Side.BUY, "0.1", "19000")
        assert rej.reason == R.MAX_OPEN_ORDERS


class TestLiquidationAndAdl:
    def test_liquidation_cancels_resting_lists_with_its_cause(self, v):
        v.deposit(4, 1_010)
        v.order(1, Side.SELL, "1", "20000")
        v.order(4, Side.BUY, "1", "20000")
        assert new_list(order_list(v, 4, ListKind.OCO, Side.SELL, "1", tp="21000", sl="18000", reduce_only=True))
        v.order(1, Side.BUY, "1", "19000")
        events = v.index("19050", dt=SEC)
        assert any(isinstance(e, Liquidation) for e in events)
        assert lists(events) == [("CANCELED", "liquidation", qty("1"))]
        assert conds(events) == [("CANCELED", R.USER_IN_LIQUIDATION)] * 2
        view = ExchangeView(v.ex)
        assert not view.order_lists(None) and not view.conditional_orders(None) and view.open_orders(4) == ()

    def test_a_position_closed_by_adl_cancels_its_exits(self, v):
        """Account 4 goes bankrupt with an empty fund and no bids: its whole long is deleveraged
        against account 3's short, whose reduce-only stop and bracket exits go with it."""
        v.deposit(4, 1_010)
        v.order(3, Side.SELL, "1", "20000")
        v.order(4, Side.BUY, "1", "20000")
        v.do(C.PlaceConditional(v.ts, 3, SYMBOL, Side.BUY, qty("1"), K.STOP_MARKET, px("21000"), reduce_only=True))
        order_list(v, 3, ListKind.OCO, Side.BUY, "1", tp="18000", sl="21500", reduce_only=True)
        events = v.index("19050", dt=SEC)
        (adl,) = [e for e in events if isinstance(e, AutoDeleveraged)]
        assert (adl.counterparty, adl.qty) == (3, qty("1")) and lots(v, 3) == 0
        assert ("CANCELED", "position_closed", qty("1")) in lists(events)
        assert ("CANCELED", R.REDUCE_ONLY_REJECTED) in conds(events)
        assert legs(v, 3) == [] and not ExchangeView(v.ex).order_lists(None)

    def test_a_position_shrunk_by_adl_shrinks_its_list_exits(self, v):
        v.deposit(4, 1_010)
        v.order(3, Side.SELL, "1", "20000")
        v.order(4, Side.BUY, "1", "20000")
        order_list(v, 3, ListKind.OCO, Side.BUY, "1", tp="18000", sl="21500", reduce_only=True)
        v.order(2, Side.BUY, "0.6", "19000")  # the book takes 0.6 of the liquidation; 0.4 is deleveraged
        events = v.index("19050", dt=SEC)
        assert any(isinstance(e, AutoDeleveraged) for e in events) and lots(v, 3) == -qty("0.6")
        assert [q for _, _, q in legs(v, 3)] == [qty("0.6")] * 2


def test_a_hedge_mode_bracket_closes_through_its_position_side(v):
    v.do(C.SetPositionMode(v.ts, 6, True))
    v.deposit(6, 100_000)
    order_list(v, 6, ListKind.BRACKET, Side.BUY, "1", entry="20000", tp="20500", sl="19500",
               position_side=PositionSide.LONG)
    v.order(1, Side.SELL, "1", "20000")
    exits = [c.order for c in ExchangeView(v.ex).conditional_orders(6)]
    assert [(c.side, c.position_side, c.reduce_only) for c in exits] == [(Side.SELL, PositionSide.LONG, False)] * 2
    v.order(2, Side.BUY, "1", "19400")
    events = trade(v, "19500")
    assert lists(events)[-1] == ("DONE", "exit_triggered", qty("1"))
    assert v.ex.position(6, SYMBOL, PositionSide.LONG).lots == 0
    assert v.ex.position(6, SYMBOL, PositionSide.SHORT).lots == 0  # closed, never a short opened


def test_an_exit_armed_past_its_trigger_fires_at_once(v):
    """A sell sweeps the bracket's entry bid and then a lower one: the last price is below the
    stop when the entry's fill arms it, so the stop fires in the same command."""
    order_list(v, 5, ListKind.BRACKET, Side.BUY, "0.5", entry="20000", tp="20500", sl="19900")
    v.order(2, Side.BUY, "1", "19850")
    events = v.order(1, Side.SELL, "0.6", "19850")  # 0.5 from the entry at 20,000, 0.1 at 19,850
    assert ExchangeView(v.ex).last(SYMBOL) == px("19850")
    assert [s for s, _, _ in lists(events)] == ["ARMED", "DONE"]
    assert conds(events) == [("NEW", 0), ("NEW", 0), ("CANCELED", 0), ("TRIGGERED", 0)]
    assert lots(v, 5) == 0


def test_an_unaffordable_leg_is_rejected_at_trigger_and_ends_its_list(v):
    v.deposit(6, 10)
    order_list(v, 6, ListKind.OCO, Side.BUY, "1", tp="19500", sl="20500", source=S.MARK)
    events = v.index("20600", dt=SEC)
    assert conds(events) == [("CANCELED", 0), ("REJECTED_AT_TRIGGER", R.MARGIN_INSUFFICIENT)]
    (done,) = [e for e in events if isinstance(e, ListEvent)]
    assert (done.status, done.cause, done.reason) == ("DONE", "exit_rejected", R.MARGIN_INSUFFICIENT)
    assert not any(isinstance(e, CommandRejected) for e in events)  # the price move itself is accepted
    assert legs(v, 6) == [] and not ExchangeView(v.ex).order_lists(None)


def trailing(v, account, size, *, entry="20000", callback=1_000_000, activation=None, **kw):
    """A bracket: a take-profit market at 21,000 and a trailing stop-loss (callback scaled 1e8:
    1_000_000 = 1 %), its activation price optional (a price, or raw ticks as an int)."""
    if isinstance(activation, str):
        activation = px(activation)
    return v.do(C.PlaceOrderList(v.ts, account, SYMBOL, ListKind.BRACKET, Side.BUY, qty(size), px(entry),
                                 tp_type=LegType.TAKE_PROFIT_MARKET, tp_trigger=px("21000"),
                                 sl_type=LegType.TRAILING_STOP_MARKET, sl_trigger=activation or 0,
                                 sl_callback_rate=callback, **kw))


class TestTrailingStopLeg:
    def test_trails_the_high_from_arming_and_fires_a_callback_below_it(self, v):
        gid = new_list(trailing(v, 5, "1"))
        v.order(1, Side.SELL, "0.4", "20000")
        (_, sl) = [c.order for c in ExchangeView(v.ex).conditional_orders(5)]
        assert (sl.kind, sl.side, sl.qty, sl.callback_rate, sl.reduce_only) == \
            (K.TRAILING_STOP_MARKET, Side.SELL, qty("0.4"), 1_000_000, True)
        v.order(1, Side.SELL, "0.6", "20000")  # the trailing leg grows with the entry
        assert [q for _, _, q in legs(v, 5)] == [qty("1")] * 2
        trade(v, "20400")  # a new high: the stop now sits 1 % under it, at 20,196.0
        v.order(2, Side.BUY, "2", "20100")  # bids the stop's market sell fills against
        events = trade(v, "20196.1")
        assert lists(events) == [] and legs(v, 5) != []
        events = trade(v, "20196")
        assert lists(events)[-1] == ("DONE", "exit_triggered", qty("1"))
        assert [s for s, _ in conds(events)] == ["CANCELED", "TRIGGERED"]  # the take-profit goes first
        assert lots(v, 5) == 0 and ExchangeView(v.ex).order_list(SYMBOL, gid) is None

    def test_with_an_activation_price_it_trails_only_once_reached(self, v):
        trailing(v, 5, "1", activation="20500")
        v.order(1, Side.SELL, "1", "20000")
        v.order(2, Side.BUY, "2", "19000")
        events = trade(v, "19500")  # far below the would-be trigger: not active, nothing fires
        assert lists(events) == [] and len(legs(v, 5)) == 2
        trade(v, "20500")  # activated: trailing from 20,500, trigger 20,295.0
        events = trade(v, "20295.1")
        assert lists(events) == []
        events = trade(v, "20295")
        assert lists(events)[-1] == ("DONE", "exit_triggered", qty("1")) and lots(v, 5) == 0

    @pytest.mark.parametrize(("fields", "reason"), [
        ({"callback": 99_999}, R.INVALID_VALUE),  # under 0.1 %
        ({"callback": 10_000_001}, R.INVALID_VALUE),  # over 10 %
        ({"activation": "20000"}, R.WOULD_IMMEDIATELY_TRIGGER),  # a sell exit activates at >= 20,000: now
        ({"sl_price": px("19000")}, R.INVALID_PRICE),  # a trailing stop has no limit price
        ({"activation": 10**12}, R.INVALID_PRICE),  # ticks beyond the market's price limits
    ])
    def test_bad_trailing_legs_are_refused_and_change_nothing(self, v, fields, reason):
        before = v.ex.state_hash()
        (rej,) = trailing(v, 5, "1", **fields)
        assert rej.reason == reason and v.ex.state_hash() == before

    def test_a_callback_on_another_leg_type_and_a_trailing_take_profit_are_refused(self, v):
        (rej,) = order_list(v, 5, ListKind.BRACKET, Side.BUY, "1", entry="20000", tp="20500", sl="19500",
                            sl_callback_rate=1_000_000)
        assert rej.reason == R.INVALID_VALUE
        (rej,) = order_list(v, 5, ListKind.BRACKET, Side.BUY, "1", entry="20000", tp="20500", sl="19500",
                            tp_type=LegType.TRAILING_STOP_MARKET)
        assert rej.reason == R.INVALID_ORDER_TYPE
