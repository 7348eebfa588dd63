"""Unit tests of the order book, run against both implementations (see conftest.py).

The expected events follow the semantics stated in the docstring of
`perpsim.engine.book_ref` and the field meanings documented on `BookEvent`. Every operation
goes through a helper that checks the book's integrity and that the return code agrees with
the events.
"""

from __future__ import annotations

import numpy as np
import pytest

from perpsim.engine.book_types import (
    OP_ADD,
    OP_CANCEL,
    OP_MARKET,
    BookEvent,
    BookLimits,
    OrderView,
    make_book,
)
from perpsim.model.enums import EventKind, ExpireCause, OrderKind, Side, StpMode, TimeInForce
from perpsim.model.reasons import RejectReason as R

BUY, SELL = Side.BUY, Side.SELL
LIMIT, MARKET = OrderKind.LIMIT, OrderKind.MARKET
GTC, IOC, FOK, GTX, GTD = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK, TimeInForce.GTX, TimeInForce.GTD
NONE, E_TAKER, E_MAKER, E_BOTH = StpMode.NONE, StpMode.EXPIRE_TAKER, StpMode.EXPIRE_MAKER, StpMode.EXPIRE_BOTH
INT64_MAX = (1 << 63) - 1
INT64_MIN = -(1 << 63)


# ---------------------------------------------------------------------------- event builders


def accepted(oid, acct, side, price, qty):
    return BookEvent(EventKind.ACCEPTED, oid, acct, side, price, qty, qty)


def fill(taker, taker_acct, taker_side, price, qty, taker_leaves, maker, maker_acct, maker_leaves):
    return BookEvent(
        EventKind.FILL, taker, taker_acct, taker_side, price, qty, taker_leaves, maker, maker_acct, maker_leaves
    )


def expired(oid, acct, side, price, qty, cause):
    return BookEvent(EventKind.EXPIRED, oid, acct, side, price, qty, 0, reason=cause)


def canceled(oid, acct, side, price, qty):
    return BookEvent(EventKind.CANCELED, oid, acct, side, price, qty, 0)


def rejected(oid, acct, side, price, qty, reason):
    return BookEvent(EventKind.REJECTED, oid, acct, side, price, qty, 0, reason=reason)


def amended(oid, acct, side, price, qty, kept_priority):
    return BookEvent(EventKind.AMENDED, oid, acct, side, price, qty, qty, reason=int(kept_priority))


# ---------------------------------------------------------------------------- command helpers


def _done(book, rc: int) -> list[BookEvent]:
    """Check integrity and the return code after an operation; return its events."""
    book.check_integrity()
    events = book.events()
    rejects = [e for e in events if e.kind == EventKind.REJECTED]
    assert len(rejects) <= 1
    assert rc == (rejects[0].reason if rejects else 0)
    return events


def place(book, oid, acct, side, price, qty, tif=GTC, *, kind=LIMIT, stp=NONE, expire_ts=0, ts=None):
    ts = book.last_ts if ts is None else ts
    return _done(book, book.place(oid, acct, side, kind, price, qty, tif, stp, expire_ts, ts))


def market(book, oid, acct, side, qty, protect, tif=IOC, *, stp=NONE, ts=None):
    return place(book, oid, acct, side, protect, qty, tif, kind=MARKET, stp=stp, ts=ts)


def rest(book, oid, acct, side, price, qty, tif=GTC, *, stp=NONE, expire_ts=0, ts=None):
    """Place an order that must rest untouched (arrangement helper)."""
    events = place(book, oid, acct, side, price, qty, tif, stp=stp, expire_ts=expire_ts, ts=ts)
    assert events == [accepted(oid, acct, side, price, qty)]
    assert book.order(oid) == OrderView(oid, acct, side, price, qty, tif, stp, expire_ts)


def cancel(book, oid, ts=None):
    return _done(book, book.cancel(oid, book.last_ts if ts is None else ts))


def cancel_all(book, acct, ts=None):
    return _done(book, book.cancel_all(acct, book.last_ts if ts is None else ts))


def amend(book, oid, price, qty, ts=None):
    return _done(book, book.amend(oid, price, qty, book.last_ts if ts is None else ts))


def advance(book, ts):
    return _done(book, book.advance(ts))


def queue(book, side, price) -> list[int]:
    return [o.order_id for o in book.level_orders(side, price)]


def snapshot(book):
    """Everything observable about the book's state (not its last events)."""
    return (
        book.state_hash(),
        book.orders(),
        book.depth(BUY, 1000),
        book.depth(SELL, 1000),
        book.best_bid(),
        book.best_ask(),
        book.order_count,
        book.trades,
        book.volume,
        book.last_ts,
    )


# ---------------------------------------------------------------------------- queries


class TestQueries:
    def test_empty_book(self, book):
        assert book.best_bid() is None
        assert book.best_ask() is None
        assert book.depth(BUY, 5) == []
        assert book.depth(SELL, 5) == []
        assert book.level_count(BUY) == 0
        assert book.level_count(SELL) == 0
        assert book.order_count == 0
        assert book.orders() == []
        assert book.open_orders(1) == 0
        assert book.events() == []
        assert (book.trades, book.volume, book.last_ts) == (0, 0, 0)
        book.check_integrity()

    def test_depth_is_best_first_with_total_and_count(self, book):
        rest(book, 1, 1, BUY, 100, 3)
        rest(book, 2, 2, BUY, 98, 1)
        rest(book, 3, 3, BUY, 100, 4)
        rest(book, 4, 4, BUY, 99, 5)
        rest(book, 5, 5, SELL, 103, 2)
        rest(book, 6, 6, SELL, 101, 6)
        rest(book, 7, 7, SELL, 103, 1)

        assert book.depth(BUY, 10) == [(100, 7, 2), (99, 5, 1), (98, 1, 1)]
        assert book.depth(BUY, 2) == [(100, 7, 2), (99, 5, 1)]
        assert book.depth(SELL, 10) == [(101, 6, 1), (103, 3, 2)]
        assert book.depth(SELL, 1) == [(101, 6, 1)]
        assert book.depth(SELL, 0) == []
        assert (book.best_bid(), book.best_ask()) == (100, 101)
        assert (book.level_count(BUY), book.level_count(SELL)) == (3, 2)
        assert book.order_count == 7

    def test_level_orders_in_queue_order_and_empty_for_missing_level(self, book):
        rest(book, 1, 1, SELL, 101, 3)
        rest(book, 2, 2, SELL, 101, 4)
        rest(book, 3, 3, BUY, 99, 5)

        assert book.level_orders(SELL, 101) == [
            OrderView(1, 1, SELL, 101, 3, GTC, NONE, 0),
            OrderView(2, 2, SELL, 101, 4, GTC, NONE, 0),
        ]
        assert book.level_orders(SELL, 100) == []
        assert book.level_orders(BUY, 101) == []
        assert book.level_orders(SELL, 99) == []
        # the head of a level only
        assert book.level_orders(SELL, 101, 1) == [OrderView(1, 1, SELL, 101, 3, GTC, NONE, 0)]
        assert book.level_orders(SELL, 101, 5) == book.level_orders(SELL, 101)
        assert book.level_orders(SELL, 101, 0) == [] and book.level_orders(SELL, 100, 1) == []

    def test_order_view_and_unknown_order(self, book):
        rest(book, 7, 42, BUY, 99, 5, GTD, stp=E_MAKER, expire_ts=500)

        assert book.order(7) == OrderView(7, 42, BUY, 99, 5, GTD, E_MAKER, 500)
        assert book.order(8) is None

    def test_orders_lists_bids_best_first_then_asks_best_first(self, book):
        rest(book, 1, 1, SELL, 105, 1)
        rest(book, 2, 1, BUY, 97, 1)
        rest(book, 3, 1, SELL, 102, 1)
        rest(book, 4, 1, BUY, 99, 1)
        rest(book, 5, 1, BUY, 99, 1)

        assert [o.order_id for o in book.orders()] == [4, 5, 2, 3, 1]

    def test_queries_do_not_change_state(self, book):
        rest(book, 1, 1, BUY, 99, 5)
        before = snapshot(book)

        book.depth(BUY, 3)
        book.level_orders(BUY, 99)
        book.order(1)
        book.order(2)
        book.orders()
        book.open_orders(1)
        book.events()

        assert snapshot(book) == before


# ---------------------------------------------------------------------------- matching


class TestPriceTimePriority:
    def test_fifo_within_a_level(self, book):
        rest(book, 1, 11, SELL, 100, 2)
        rest(book, 2, 12, SELL, 100, 2)
        rest(book, 3, 13, SELL, 100, 2)

        events = place(book, 9, 19, BUY, 100, 3)

        assert events == [
            accepted(9, 19, BUY, 100, 3),
            fill(9, 19, BUY, 100, 2, 1, 1, 11, 0),
            fill(9, 19, BUY, 100, 1, 0, 2, 12, 1),
        ]
        assert book.level_orders(SELL, 100) == [
            OrderView(2, 12, SELL, 100, 1, GTC, NONE, 0),
            OrderView(3, 13, SELL, 100, 2, GTC, NONE, 0),
        ]
        assert book.order(1) is None
        assert book.order(9) is None
        assert book.best_bid() is None
        assert book.depth(SELL, 5) == [(100, 3, 2)]

    def test_better_price_first_regardless_of_time(self, book):
        rest(book, 1, 11, SELL, 102, 1)
        rest(book, 2, 12, SELL, 101, 1)

        events = place(book, 9, 19, BUY, 102, 1)

        assert events == [accepted(9, 19, BUY, 102, 1), fill(9, 19, BUY, 101, 1, 0, 2, 12, 0)]
        assert book.depth(SELL, 5) == [(102, 1, 1)]

    def test_buy_taker_fills_at_maker_price(self, book):
        rest(book, 1, 11, SELL, 100, 5)

        events = place(book, 9, 19, BUY, 105, 2)

        assert events == [accepted(9, 19, BUY, 105, 2), fill(9, 19, BUY, 100, 2, 0, 1, 11, 3)]
        assert book.order(1) == OrderView(1, 11, SELL, 100, 3, GTC, NONE, 0)

    def test_sell_taker_fills_at_maker_price_best_bid_first(self, book):
        rest(book, 1, 11, BUY, 98, 5)
        rest(book, 2, 12, BUY, 100, 1)

        events = place(book, 9, 19, SELL, 90, 3)

        assert events == [
            accepted(9, 19, SELL, 90, 3),
            fill(9, 19, SELL, 100, 1, 2, 2, 12, 0),
            fill(9, 19, SELL, 98, 2, 0, 1, 11, 3),
        ]
        assert book.depth(BUY, 5) == [(98, 3, 1)]
        assert book.best_ask() is None

    def test_multi_level_sweep_rests_remainder_at_limit(self, book):
        rest(book, 1, 11, SELL, 100, 2)
        rest(book, 2, 12, SELL, 101, 1)
        rest(book, 3, 13, SELL, 101, 2)
        rest(book, 4, 14, SELL, 102, 5)

        events = place(book, 9, 19, BUY, 101, 6)

        assert events == [
            accepted(9, 19, BUY, 101, 6),
            fill(9, 19, BUY, 100, 2, 4, 1, 11, 0),
            fill(9, 19, BUY, 101, 1, 3, 2, 12, 0),
            fill(9, 19, BUY, 101, 2, 1, 3, 13, 0),
        ]
        assert (book.best_bid(), book.best_ask()) == (101, 102)
        assert book.depth(BUY, 5) == [(101, 1, 1)]
        assert book.depth(SELL, 5) == [(102, 5, 1)]
        assert book.order(9) == OrderView(9, 19, BUY, 101, 1, GTC, NONE, 0)
        assert (book.trades, book.volume) == (3, 5)
        assert book.order_count == 2

    def test_partially_filled_maker_keeps_its_place(self, book):
        rest(book, 1, 11, BUY, 100, 10)
        rest(book, 2, 12, BUY, 100, 10)

        events = place(book, 9, 19, SELL, 100, 4)

        assert events == [accepted(9, 19, SELL, 100, 4), fill(9, 19, SELL, 100, 4, 0, 1, 11, 6)]
        assert queue(book, BUY, 100) == [1, 2]
        assert book.depth(BUY, 1) == [(100, 16, 2)]

    def test_limit_never_trades_through_its_price(self, book):
        rest(book, 1, 11, SELL, 101, 5)

        events = place(book, 9, 19, BUY, 100, 5)

        assert events == [accepted(9, 19, BUY, 100, 5)]
        assert (book.best_bid(), book.best_ask()) == (100, 101)
        assert (book.trades, book.volume) == (0, 0)

    def test_trade_counters_accumulate(self, book):
        rest(book, 1, 11, SELL, 100, 3)
        rest(book, 2, 12, SELL, 101, 3)

        place(book, 8, 18, BUY, 101, 4)
        place(book, 9, 19, BUY, 101, 1)

        assert (book.trades, book.volume) == (3, 5)
        assert book.order(2) == OrderView(2, 12, SELL, 101, 1, GTC, NONE, 0)


# ---------------------------------------------------------------------------- time in force


class TestTimeInForce:
    def test_gtc_rests(self, book):
        events = place(book, 1, 11, BUY, 100, 5, GTC)

        assert events == [accepted(1, 11, BUY, 100, 5)]
        assert book.order(1) == OrderView(1, 11, BUY, 100, 5, GTC, NONE, 0)
        assert book.open_orders(11) == 1

    def test_ioc_remainder_expires_unfilled(self, book):
        rest(book, 1, 11, SELL, 100, 2)

        events = place(book, 9, 19, BUY, 100, 5, IOC)

        assert events == [
            accepted(9, 19, BUY, 100, 5),
            fill(9, 19, BUY, 100, 2, 3, 1, 11, 0),
            expired(9, 19, BUY, 100, 3, ExpireCause.UNFILLED),
        ]
        assert book.order(9) is None
        assert book.order_count == 0
        assert book.open_orders(19) == 0

    def test_ioc_without_liquidity_expires_whole(self, book):
        rest(book, 1, 11, SELL, 101, 2)
        hash_before = book.state_hash()

        events = place(book, 9, 19, BUY, 100, 5, IOC)

        assert events == [accepted(9, 19, BUY, 100, 5), expired(9, 19, BUY, 100, 5, ExpireCause.UNFILLED)]
        assert book.state_hash() == hash_before

    def test_ioc_fully_filled_emits_no_expiry(self, book):
        rest(book, 1, 11, SELL, 100, 5)

        events = place(book, 9, 19, BUY, 100, 5, IOC)

        assert events == [accepted(9, 19, BUY, 100, 5), fill(9, 19, BUY, 100, 5, 0, 1, 11, 0)]

    def test_fok_fully_fillable_trades_across_levels(self, book):
        rest(book, 1, 11, SELL, 100, 2)
        rest(book, 2, 12, SELL, 101, 3)
        rest(book, 3, 13, SELL, 102, 9)

        events = place(book, 9, 19, BUY, 101, 5, FOK)

        assert events == [
            accepted(9, 19, BUY, 101, 5),
            fill(9, 19, BUY, 100, 2, 3, 1, 11, 0),
            fill(9, 19, BUY, 101, 3, 0, 2, 12, 0),
        ]
        assert book.depth(SELL, 5) == [(102, 9, 1)]
        assert book.order(9) is None

    @pytest.mark.parametrize("side", [BUY, SELL])
    def test_fok_not_fillable_is_rejected_and_changes_nothing(self, book, side):
        other = SELL if side == BUY else BUY
        near, far = (100, 102) if side == BUY else (102, 100)
        rest(book, 1, 11, other, near, 2)
        rest(book, 2, 12, other, far, 9)  # beyond the FOK's limit: does not count
        before = snapshot(book)

        events = place(book, 9, 19, side, 101, 3, FOK)

        assert events == [rejected(9, 19, side, 101, 3, R.FOK_NOT_FILLABLE)]
        assert snapshot(book) == before

    def test_gtx_that_would_take_is_rejected(self, book):
        rest(book, 1, 11, SELL, 100, 2)
        before = snapshot(book)

        events = place(book, 9, 19, BUY, 100, 5, GTX)

        assert events == [rejected(9, 19, BUY, 100, 5, R.POST_ONLY_WOULD_TAKE)]
        assert snapshot(book) == before

    def test_gtx_that_does_not_cross_rests(self, book):
        rest(book, 1, 11, BUY, 100, 2)

        events = place(book, 9, 19, SELL, 101, 5, GTX)

        assert events == [accepted(9, 19, SELL, 101, 5)]
        assert book.order(9) == OrderView(9, 19, SELL, 101, 5, GTX, NONE, 0)
        assert (book.best_bid(), book.best_ask()) == (100, 101)


class TestGoodTillDate:
    def test_gtd_rests_until_expiry(self, book):
        rest(book, 1, 11, BUY, 100, 5, GTD, expire_ts=50, ts=10)

        assert advance(book, 49) == []
        assert book.order(1) == OrderView(1, 11, BUY, 100, 5, GTD, NONE, 50)

        events = advance(book, 50)

        assert events == [expired(1, 11, BUY, 100, 5, ExpireCause.GTD)]
        assert book.order(1) is None
        assert book.best_bid() is None
        assert book.open_orders(11) == 0
        assert book.last_ts == 50

    def test_partially_filled_gtd_expires_its_remainder(self, book):
        rest(book, 1, 11, SELL, 100, 5, GTD, expire_ts=50)
        place(book, 9, 19, BUY, 100, 2, IOC)

        events = advance(book, 60)

        assert events == [expired(1, 11, SELL, 100, 3, ExpireCause.GTD)]

    def test_expiries_ordered_by_expire_ts_then_order_id(self, book):
        rest(book, 5, 11, BUY, 100, 1, GTD, expire_ts=30)
        rest(book, 3, 12, SELL, 110, 2, GTD, expire_ts=30)
        rest(book, 4, 13, BUY, 99, 3, GTD, expire_ts=20)
        rest(book, 9, 14, SELL, 111, 4, GTD, expire_ts=50)
        rest(book, 8, 15, BUY, 98, 5, GTC)

        events = advance(book, 40)

        assert events == [
            expired(4, 13, BUY, 99, 3, ExpireCause.GTD),
            expired(3, 12, SELL, 110, 2, ExpireCause.GTD),
            expired(5, 11, BUY, 100, 1, ExpireCause.GTD),
        ]
        assert [o.order_id for o in book.orders()] == [8, 9]

    def test_expiry_precedes_a_place_and_can_change_its_outcome(self, book):
        rest(book, 1, 11, SELL, 100, 5, GTD, expire_ts=50)

        events = place(book, 9, 19, BUY, 100, 2, ts=50)

        assert events == [expired(1, 11, SELL, 100, 5, ExpireCause.GTD), accepted(9, 19, BUY, 100, 2)]
        assert book.best_ask() is None
        assert book.best_bid() == 100
        assert book.trades == 0

    def test_expiry_precedes_a_cancel(self, book):
        rest(book, 1, 11, SELL, 100, 5, GTD, expire_ts=50)
        rest(book, 2, 12, BUY, 90, 1)

        events = cancel(book, 2, ts=70)

        assert events == [expired(1, 11, SELL, 100, 5, ExpireCause.GTD), canceled(2, 12, BUY, 90, 1)]
        assert book.order_count == 0

    def test_cancel_of_an_expired_gtd_is_unknown(self, book):
        rest(book, 1, 11, SELL, 100, 5, GTD, expire_ts=50)

        events = cancel(book, 1, ts=50)

        assert events == [
            expired(1, 11, SELL, 100, 5, ExpireCause.GTD),
            rejected(1, 0, 0, 0, 0, R.UNKNOWN_ORDER),
        ]

    def test_expiry_precedes_an_amend(self, book):
        rest(book, 1, 11, SELL, 100, 5, GTD, expire_ts=50)
        rest(book, 2, 12, BUY, 90, 4)

        events = amend(book, 2, 90, 3, ts=51)

        assert events == [expired(1, 11, SELL, 100, 5, ExpireCause.GTD), amended(2, 12, BUY, 90, 3, True)]

    def test_expiry_precedes_a_rejected_place(self, book):
        rest(book, 1, 11, SELL, 100, 5, GTD, expire_ts=50)

        events = place(book, 9, 19, BUY, 100, 0, ts=50)

        assert events == [
            expired(1, 11, SELL, 100, 5, ExpireCause.GTD),
            rejected(9, 19, BUY, 100, 0, R.INVALID_QUANTITY),
        ]
        assert book.order_count == 0
        assert book.last_ts == 50  # the clock moved although the order was rejected

    def test_expiry_on_cancel_all(self, book):
        rest(book, 1, 11, SELL, 100, 5, GTD, expire_ts=50)
        rest(book, 2, 12, SELL, 101, 1)

        events = cancel_all(book, 12, ts=55)

        assert events == [expired(1, 11, SELL, 100, 5, ExpireCause.GTD), canceled(2, 12, SELL, 101, 1)]

    def test_canceled_gtd_id_reused_is_not_expired_by_the_old_deadline(self, book):
        rest(book, 1, 11, BUY, 100, 5, GTD, expire_ts=50)
        cancel(book, 1)
        rest(book, 1, 11, BUY, 100, 5, GTC)
        rest(book, 2, 12, BUY, 99, 5, GTD, expire_ts=30)
        cancel(book, 2)
        rest(book, 2, 12, BUY, 99, 5, GTD, expire_ts=80)

        assert advance(book, 60) == []
        assert [o.order_id for o in book.orders()] == [1, 2]
        assert advance(book, 80) == [expired(2, 12, BUY, 99, 5, ExpireCause.GTD)]

    @pytest.mark.parametrize("expire_ts", [100, 99, 0])
    def test_gtd_expiring_at_or_before_now_is_invalid(self, book, expire_ts):
        advance(book, 100)
        before = snapshot(book)

        events = place(book, 9, 19, BUY, 100, 5, GTD, expire_ts=expire_ts, ts=100)

        assert events == [rejected(9, 19, BUY, 100, 5, R.INVALID_GTD_TIME)]
        assert snapshot(book) == before

    @pytest.mark.parametrize("tif", [GTC, IOC, FOK, GTX])
    def test_non_gtd_with_expire_ts_is_invalid(self, book, tif):
        rest(book, 1, 11, SELL, 100, 9)
        before = snapshot(book)

        events = place(book, 9, 19, BUY, 100, 5, tif, expire_ts=1000)

        assert events == [rejected(9, 19, BUY, 100, 5, R.INVALID_GTD_TIME)]
        assert snapshot(book) == before


# ---------------------------------------------------------------------------- market orders


class TestMarketOrders:
    def test_protection_price_bounds_the_sweep(self, book):
        rest(book, 1, 11, SELL, 100, 2)
        rest(book, 2, 12, SELL, 101, 2)
        rest(book, 3, 13, SELL, 105, 5)

        events = market(book, 9, 19, BUY, 10, protect=101)

        assert events == [
            accepted(9, 19, BUY, 101, 10),
            fill(9, 19, BUY, 100, 2, 8, 1, 11, 0),
            fill(9, 19, BUY, 101, 2, 6, 2, 12, 0),
            expired(9, 19, BUY, 101, 6, ExpireCause.UNFILLED),
        ]
        assert book.depth(SELL, 5) == [(105, 5, 1)]
        assert book.best_bid() is None
        assert book.order(9) is None

    def test_sell_market_protection_price(self, book):
        rest(book, 1, 11, BUY, 100, 2)
        rest(book, 2, 12, BUY, 95, 2)

        events = market(book, 9, 19, SELL, 3, protect=98)

        assert events == [
            accepted(9, 19, SELL, 98, 3),
            fill(9, 19, SELL, 100, 2, 1, 1, 11, 0),
            expired(9, 19, SELL, 98, 1, ExpireCause.UNFILLED),
        ]
        assert book.depth(BUY, 5) == [(95, 2, 1)]

    def test_market_fully_filled_emits_no_expiry(self, book):
        rest(book, 1, 11, SELL, 100, 5)

        events = market(book, 9, 19, BUY, 5, protect=1_000_000)

        assert events == [accepted(9, 19, BUY, 1_000_000, 5), fill(9, 19, BUY, 100, 5, 0, 1, 11, 0)]
        assert book.order_count == 0

    def test_market_on_empty_book_is_accepted_then_expired(self, book):
        events = market(book, 9, 19, SELL, 4, protect=1)

        assert events == [accepted(9, 19, SELL, 1, 4), expired(9, 19, SELL, 1, 4, ExpireCause.UNFILLED)]
        assert book.order_count == 0
        assert (book.trades, book.volume) == (0, 0)

    def test_market_fok_fillable_within_protection_trades(self, book):
        rest(book, 1, 11, SELL, 100, 2)
        rest(book, 2, 12, SELL, 101, 2)

        events = market(book, 9, 19, BUY, 3, protect=101, tif=FOK)

        assert events == [
            accepted(9, 19, BUY, 101, 3),
            fill(9, 19, BUY, 100, 2, 1, 1, 11, 0),
            fill(9, 19, BUY, 101, 1, 0, 2, 12, 1),
        ]

    def test_market_fok_not_fillable_within_protection_is_rejected(self, book):
        rest(book, 1, 11, SELL, 100, 2)
        rest(book, 2, 12, SELL, 102, 2)
        before = snapshot(book)

        events = market(book, 9, 19, BUY, 3, protect=101, tif=FOK)

        assert events == [rejected(9, 19, BUY, 101, 3, R.FOK_NOT_FILLABLE)]
        assert snapshot(book) == before

    @pytest.mark.parametrize("tif", [GTC, GTX, GTD])
    def test_market_needs_ioc_or_fok(self, book, tif):
        rest(book, 1, 11, SELL, 100, 2)
        before = snapshot(book)

        events = market(book, 9, 19, BUY, 3, protect=101, tif=tif)

        assert events == [rejected(9, 19, BUY, 101, 3, R.INVALID_TIME_IN_FORCE)]
        assert snapshot(book) == before


# ---------------------------------------------------------------------------- cancel


class TestCancel:
    def test_cancel_resting_order(self, book):
        rest(book, 1, 11, BUY, 100, 5)
        rest(book, 2, 11, BUY, 99, 5)

        events = cancel(book, 1)

        assert events == [canceled(1, 11, BUY, 100, 5)]
        assert book.order(1) is None
        assert book.best_bid() == 99
        assert book.level_count(BUY) == 1
        assert book.level_orders(BUY, 100) == []
        assert book.open_orders(11) == 1

    def test_cancel_reports_remaining_quantity(self, book):
        rest(book, 1, 11, SELL, 100, 5)
        place(book, 9, 19, BUY, 100, 2)

        events = cancel(book, 1)

        assert events == [canceled(1, 11, SELL, 100, 3)]
        assert book.order_count == 0

    def test_cancel_from_middle_of_queue_keeps_the_others_in_order(self, book):
        rest(book, 1, 11, SELL, 100, 1)
        rest(book, 2, 12, SELL, 100, 2)
        rest(book, 3, 13, SELL, 100, 3)

        cancel(book, 2)

        assert queue(book, SELL, 100) == [1, 3]
        assert book.depth(SELL, 1) == [(100, 4, 2)]

    def test_cancel_unknown_is_rejected(self, book):
        rest(book, 1, 11, SELL, 100, 1)
        before = snapshot(book)

        events = cancel(book, 2)

        assert events == [rejected(2, 0, 0, 0, 0, R.UNKNOWN_ORDER)]
        assert snapshot(book) == before

    def test_cancel_twice_is_unknown_the_second_time(self, book):
        rest(book, 1, 11, SELL, 100, 1)
        cancel(book, 1)

        events = cancel(book, 1)

        assert events == [rejected(1, 0, 0, 0, 0, R.UNKNOWN_ORDER)]

    def test_cancel_of_filled_order_is_unknown(self, book):
        rest(book, 1, 11, SELL, 100, 1)
        place(book, 9, 19, BUY, 100, 1)

        events = cancel(book, 1)

        assert events == [rejected(1, 0, 0, 0, 0, R.UNKNOWN_ORDER)]

    def test_cancel_all_cancels_one_account_oldest_first(self, book):
        rest(book, 1, 11, BUY, 99, 1)
        rest(book, 2, 22, BUY, 99, 2)
        rest(book, 3, 11, SELL, 105, 3)
        rest(book, 4, 22, SELL, 104, 4)
        rest(book, 5, 11, BUY, 100, 5)

        events = cancel_all(book, 11)

        assert events == [
            canceled(1, 11, BUY, 99, 1),
            canceled(3, 11, SELL, 105, 3),
            canceled(5, 11, BUY, 100, 5),
        ]
        assert book.open_orders(11) == 0
        assert book.open_orders(22) == 2
        assert [o.order_id for o in book.orders()] == [2, 4]
        assert (book.best_bid(), book.best_ask()) == (99, 104)

    def test_cancel_all_without_orders_does_nothing(self, book):
        rest(book, 1, 11, BUY, 99, 1)
        before = snapshot(book)

        events = cancel_all(book, 12)

        assert events == []
        assert snapshot(book) == before

    def test_open_orders_counts_resting_orders_only(self, book):
        rest(book, 1, 11, SELL, 100, 1)
        rest(book, 2, 11, SELL, 101, 1)
        rest(book, 3, 11, SELL, 102, 1)
        assert book.open_orders(11) == 3

        place(book, 9, 19, BUY, 100, 1)  # fills order 1
        assert book.open_orders(11) == 2
        assert book.open_orders(19) == 0

        cancel(book, 2)
        assert book.open_orders(11) == 1

        place(book, 10, 11, BUY, 90, 1)
        assert book.open_orders(11) == 2


# ---------------------------------------------------------------------------- amend


class TestAmend:
    def test_qty_decrease_at_same_price_keeps_priority(self, book):
        rest(book, 1, 11, SELL, 100, 5)
        rest(book, 2, 12, SELL, 100, 5)

        events = amend(book, 1, 100, 3)

        assert events == [amended(1, 11, SELL, 100, 3, kept_priority=True)]
        assert book.level_orders(SELL, 100)[0] == OrderView(1, 11, SELL, 100, 3, GTC, NONE, 0)
        assert queue(book, SELL, 100) == [1, 2]
        assert book.depth(SELL, 1) == [(100, 8, 2)]

    def test_qty_increase_loses_priority(self, book):
        rest(book, 1, 11, SELL, 100, 5)
        rest(book, 2, 12, SELL, 100, 5)

        events = amend(book, 1, 100, 7)

        assert events == [amended(1, 11, SELL, 100, 7, kept_priority=False)]
        assert queue(book, SELL, 100) == [2, 1]
        assert book.depth(SELL, 1) == [(100, 12, 2)]

    def test_price_change_loses_priority(self, book):
        rest(book, 1, 11, BUY, 99, 5)
        rest(book, 2, 12, BUY, 100, 5)

        events = amend(book, 1, 100, 5)

        assert events == [amended(1, 11, BUY, 100, 5, kept_priority=False)]
        assert queue(book, BUY, 100) == [2, 1]
        assert book.level_orders(BUY, 99) == []
        assert book.depth(BUY, 5) == [(100, 10, 2)]

    def test_price_change_with_smaller_qty_also_loses_priority(self, book):
        rest(book, 1, 11, BUY, 100, 5)
        rest(book, 2, 12, BUY, 100, 5)

        amend(book, 1, 99, 4)
        events = amend(book, 1, 100, 3)

        assert events == [amended(1, 11, BUY, 100, 3, kept_priority=False)]
        assert queue(book, BUY, 100) == [2, 1]

    def test_amend_that_crosses_trades_and_rests_remainder(self, book):
        rest(book, 1, 11, BUY, 99, 5)
        rest(book, 2, 22, SELL, 101, 3)
        rest(book, 3, 23, SELL, 102, 3)

        events = amend(book, 1, 101, 5)

        assert events == [
            amended(1, 11, BUY, 101, 5, kept_priority=False),
            fill(1, 11, BUY, 101, 3, 2, 2, 22, 0),
        ]
        assert book.order(1) == OrderView(1, 11, BUY, 101, 2, GTC, NONE, 0)
        assert (book.best_bid(), book.best_ask()) == (101, 102)
        assert (book.trades, book.volume) == (1, 3)

    def test_amend_that_crosses_can_fill_completely(self, book):
        rest(book, 1, 11, SELL, 105, 2)
        rest(book, 2, 22, BUY, 100, 3)

        events = amend(book, 1, 100, 2)

        assert events == [
            amended(1, 11, SELL, 100, 2, kept_priority=False),
            fill(1, 11, SELL, 100, 2, 0, 2, 22, 1),
        ]
        assert book.order(1) is None
        assert book.open_orders(11) == 0
        assert book.best_ask() is None
        assert book.order(2) == OrderView(2, 22, BUY, 100, 1, GTC, NONE, 0)

    def test_same_price_and_qty_is_rejected(self, book):
        rest(book, 1, 11, SELL, 100, 5)
        before = snapshot(book)

        events = amend(book, 1, 100, 5)

        assert events == [rejected(1, 11, SELL, 100, 5, R.SAME_ORDER)]
        assert snapshot(book) == before

    def test_gtx_amend_that_would_cross_is_rejected(self, book):
        rest(book, 1, 11, BUY, 99, 5, GTX)
        rest(book, 2, 22, SELL, 101, 5)
        before = snapshot(book)

        events = amend(book, 1, 101, 5)

        assert events == [rejected(1, 11, BUY, 101, 5, R.POST_ONLY_WOULD_TAKE)]
        assert snapshot(book) == before

    def test_gtx_amend_that_does_not_cross_is_applied(self, book):
        rest(book, 1, 11, BUY, 99, 5, GTX)
        rest(book, 2, 22, SELL, 101, 5)

        events = amend(book, 1, 100, 5)

        assert events == [amended(1, 11, BUY, 100, 5, kept_priority=False)]
        assert book.order(1) == OrderView(1, 11, BUY, 100, 5, GTX, NONE, 0)

    def test_amend_unknown_is_rejected(self, book):
        rest(book, 1, 11, SELL, 100, 5)
        before = snapshot(book)

        events = amend(book, 2, 100, 4)

        assert events == [rejected(2, 0, 0, 100, 4, R.UNKNOWN_ORDER)]
        assert snapshot(book) == before

    @pytest.mark.parametrize(
        ("price", "qty", "reason"),
        [
            (100, 0, R.INVALID_QUANTITY),
            (100, -1, R.INVALID_QUANTITY),
            (100, 51, R.QUANTITY_TOO_LARGE),
            (100, 9, R.QUANTITY_TOO_SMALL),
            (0, 20, R.INVALID_PRICE),
            (99, 20, R.PRICE_TOO_LOW),
            (201, 20, R.PRICE_TOO_HIGH),
            (0, 0, R.INVALID_QUANTITY),  # quantity is checked before price
        ],
    )
    def test_invalid_amend_is_rejected(self, tight_book, price, qty, reason):
        rest(tight_book, 1, 11, SELL, 150, 20)
        before = snapshot(tight_book)

        events = amend(tight_book, 1, price, qty)

        assert events == [rejected(1, 11, SELL, price, qty, reason)]
        assert snapshot(tight_book) == before

    def test_reentering_amend_resets_stp_to_none(self, book):
        rest(book, 1, 11, BUY, 99, 5, stp=E_BOTH)

        amend(book, 1, 98, 5)

        assert book.order(1) == OrderView(1, 11, BUY, 98, 5, GTC, NONE, 0)

    def test_amended_order_self_trades_because_stp_was_reset(self, book):
        rest(book, 1, 11, BUY, 99, 5, stp=E_TAKER)
        rest(book, 2, 11, SELL, 101, 2)

        events = amend(book, 1, 101, 5)

        assert events == [
            amended(1, 11, BUY, 101, 5, kept_priority=False),
            fill(1, 11, BUY, 101, 2, 3, 2, 11, 0),
        ]
        assert book.order(1) == OrderView(1, 11, BUY, 101, 3, GTC, NONE, 0)

    def test_priority_keeping_amend_leaves_stp_alone(self, book):
        # The docstring resets STP only when the order re-enters the book.
        rest(book, 1, 11, BUY, 99, 5, stp=E_MAKER)

        amend(book, 1, 99, 4)

        assert book.order(1) == OrderView(1, 11, BUY, 99, 4, GTC, E_MAKER, 0)

    def test_amend_keeps_tif_and_expiry_of_gtd(self, book):
        rest(book, 1, 11, BUY, 99, 5, GTD, expire_ts=50)

        amend(book, 1, 98, 6)

        assert book.order(1) == OrderView(1, 11, BUY, 98, 6, GTD, NONE, 50)
        assert advance(book, 50) == [expired(1, 11, BUY, 98, 6, ExpireCause.GTD)]


# ---------------------------------------------------------------------------- self-trade prevention


class TestSelfTradePrevention:
    @staticmethod
    def arrange(book):
        """Asks: 100 -> [1 (acct 2, qty 1), 2 (acct 1, qty 2)], 101 -> [3 (acct 3, qty 2)]."""
        rest(book, 1, 2, SELL, 100, 1)
        rest(book, 2, 1, SELL, 100, 2)
        rest(book, 3, 3, SELL, 101, 2)

    def test_expire_taker(self, book):
        self.arrange(book)

        events = place(book, 9, 1, BUY, 101, 5, stp=E_TAKER)

        assert events == [
            accepted(9, 1, BUY, 101, 5),
            fill(9, 1, BUY, 100, 1, 4, 1, 2, 0),
            expired(9, 1, BUY, 101, 4, ExpireCause.SELF_TRADE),
        ]
        assert queue(book, SELL, 100) == [2]
        assert book.order(2) == OrderView(2, 1, SELL, 100, 2, GTC, NONE, 0)
        assert book.order(3) is not None
        assert book.order(9) is None

    def test_expire_maker_continues_matching(self, book):
        self.arrange(book)

        events = place(book, 9, 1, BUY, 101, 5, stp=E_MAKER)

        assert events == [
            accepted(9, 1, BUY, 101, 5),
            fill(9, 1, BUY, 100, 1, 4, 1, 2, 0),
            expired(2, 1, SELL, 100, 2, ExpireCause.SELF_TRADE),
            fill(9, 1, BUY, 101, 2, 2, 3, 3, 0),
        ]
        assert book.best_ask() is None
        assert book.order(9) == OrderView(9, 1, BUY, 101, 2, GTC, E_MAKER, 0)
        assert book.open_orders(1) == 1

    def test_expire_both(self, book):
        self.arrange(book)

        events = place(book, 9, 1, BUY, 101, 5, stp=E_BOTH)

        assert events == [
            accepted(9, 1, BUY, 101, 5),
            fill(9, 1, BUY, 100, 1, 4, 1, 2, 0),
            expired(2, 1, SELL, 100, 2, ExpireCause.SELF_TRADE),
            expired(9, 1, BUY, 101, 4, ExpireCause.SELF_TRADE),
        ]
        assert book.depth(SELL, 5) == [(101, 2, 1)]
        assert book.open_orders(1) == 0

    def test_binance_scenario_c_expire_both(self, book):
        rest(book, 1, 1, BUY, 20002, 1)

        events = place(book, 2, 1, SELL, 20000, 3, stp=E_BOTH)

        assert events == [
            accepted(2, 1, SELL, 20000, 3),
            expired(1, 1, BUY, 20002, 1, ExpireCause.SELF_TRADE),
            expired(2, 1, SELL, 20000, 3, ExpireCause.SELF_TRADE),
        ]
        assert book.order_count == 0
        assert book.trades == 0

    def test_binance_scenario_d_expire_taker(self, book):
        rest(book, 1, 1, BUY, 20002, 1)

        events = place(book, 2, 1, SELL, 20000, 3, stp=E_TAKER)

        assert events == [
            accepted(2, 1, SELL, 20000, 3),
            expired(2, 1, SELL, 20000, 3, ExpireCause.SELF_TRADE),
        ]
        assert book.orders() == [OrderView(1, 1, BUY, 20002, 1, GTC, NONE, 0)]

    def test_binance_scenario_e_market_expire_maker(self, book):
        rest(book, 1, 1, BUY, 20002, 1)

        events = market(book, 2, 1, SELL, 3, protect=1, stp=E_MAKER)

        assert events == [
            accepted(2, 1, SELL, 1, 3),
            expired(1, 1, BUY, 20002, 1, ExpireCause.SELF_TRADE),
            expired(2, 1, SELL, 1, 3, ExpireCause.UNFILLED),
        ]
        assert book.order_count == 0

    def test_stp_none_allows_self_trade(self, book):
        rest(book, 1, 1, SELL, 100, 2)

        events = place(book, 9, 1, BUY, 100, 2, stp=NONE)

        assert events == [accepted(9, 1, BUY, 100, 2), fill(9, 1, BUY, 100, 2, 0, 1, 1, 0)]
        assert (book.trades, book.volume) == (1, 2)

    def test_maker_stp_mode_is_ignored(self, book):
        rest(book, 1, 1, SELL, 100, 2, stp=E_BOTH)

        events = place(book, 9, 1, BUY, 100, 2, stp=NONE)

        assert events == [accepted(9, 1, BUY, 100, 2), fill(9, 1, BUY, 100, 2, 0, 1, 1, 0)]

    @pytest.mark.parametrize("stp", [E_TAKER, E_MAKER, E_BOTH])
    def test_fok_is_exempt_and_self_trades(self, book, stp):
        rest(book, 1, 1, SELL, 100, 2)
        rest(book, 2, 2, SELL, 101, 2)

        events = place(book, 9, 1, BUY, 101, 3, FOK, stp=stp)

        assert events == [
            accepted(9, 1, BUY, 101, 3),
            fill(9, 1, BUY, 100, 2, 1, 1, 1, 0),
            fill(9, 1, BUY, 101, 1, 0, 2, 2, 1),
        ]

    def test_market_fok_is_exempt(self, book):
        rest(book, 1, 1, SELL, 100, 2)

        events = market(book, 9, 1, BUY, 2, protect=100, tif=FOK, stp=E_TAKER)

        assert events == [accepted(9, 1, BUY, 100, 2), fill(9, 1, BUY, 100, 2, 0, 1, 1, 0)]

    @pytest.mark.parametrize("tif", [GTC, IOC, GTD])
    def test_applies_to_gtc_ioc_and_gtd_takers(self, book, tif):
        rest(book, 1, 1, SELL, 100, 2)
        before = snapshot(book)
        expire_ts = 1000 if tif == GTD else 0

        events = place(book, 9, 1, BUY, 100, 3, tif, stp=E_TAKER, expire_ts=expire_ts)

        assert events == [accepted(9, 1, BUY, 100, 3), expired(9, 1, BUY, 100, 3, ExpireCause.SELF_TRADE)]
        assert snapshot(book) == before

    def test_market_ioc_expire_taker(self, book):
        rest(book, 1, 1, SELL, 100, 2)

        events = market(book, 9, 1, BUY, 3, protect=500, stp=E_TAKER)

        assert events == [accepted(9, 1, BUY, 500, 3), expired(9, 1, BUY, 500, 3, ExpireCause.SELF_TRADE)]
        assert book.order(1) is not None

    def test_other_accounts_trade_normally(self, book):
        rest(book, 1, 2, SELL, 100, 2)

        events = place(book, 9, 1, BUY, 100, 2, stp=E_BOTH)

        assert events == [accepted(9, 1, BUY, 100, 2), fill(9, 1, BUY, 100, 2, 0, 1, 2, 0)]


# ---------------------------------------------------------------------------- validation


BASE = {
    "order_id": 10,
    "account": 3,
    "side": BUY,
    "kind": LIMIT,
    "price": 155,
    "qty": 20,
    "tif": GTC,
    "stp": NONE,
    "expire_ts": 0,
}

REJECT_CASES = [
    ({"side": 2}, R.INVALID_SIDE),
    ({"side": -1}, R.INVALID_SIDE),
    ({"kind": 2}, R.INVALID_ORDER_TYPE),
    ({"kind": -1}, R.INVALID_ORDER_TYPE),
    ({"tif": 5}, R.INVALID_TIME_IN_FORCE),
    ({"tif": -1}, R.INVALID_TIME_IN_FORCE),
    ({"kind": MARKET, "tif": GTC}, R.INVALID_TIME_IN_FORCE),
    ({"stp": 4}, R.INVALID_STP_MODE),
    ({"stp": -1}, R.INVALID_STP_MODE),
    ({"qty": 0}, R.INVALID_QUANTITY),
    ({"qty": -20}, R.INVALID_QUANTITY),
    ({"qty": 9}, R.QUANTITY_TOO_SMALL),
    ({"qty": 51}, R.QUANTITY_TOO_LARGE),
    ({"price": 0}, R.INVALID_PRICE),
    ({"price": -155}, R.INVALID_PRICE),
    ({"price": 99}, R.PRICE_TOO_LOW),
    ({"price": 201}, R.PRICE_TOO_HIGH),
    ({"tif": GTD, "expire_ts": 1000}, R.INVALID_GTD_TIME),
    ({"tif": GTC, "expire_ts": 2000}, R.INVALID_GTD_TIME),
    ({"order_id": 1}, R.DUPLICATE_ORDER_ID),
    ({"order_id": 2, "side": SELL, "price": 170}, R.DUPLICATE_ORDER_ID),
    ({"tif": GTX, "price": 160}, R.POST_ONLY_WOULD_TAKE),
    ({"tif": FOK, "price": 160, "qty": 21}, R.FOK_NOT_FILLABLE),
    ({"tif": FOK, "price": 159, "qty": 10}, R.FOK_NOT_FILLABLE),
    # precedence: side, kind, tif, stp, qty, price, GTD time, duplicate id, post-only, FOK
    ({"side": 2, "kind": 2}, R.INVALID_SIDE),
    ({"kind": 2, "tif": 9}, R.INVALID_ORDER_TYPE),
    ({"tif": 9, "stp": 9}, R.INVALID_TIME_IN_FORCE),
    ({"kind": MARKET, "tif": GTX, "stp": 9}, R.INVALID_TIME_IN_FORCE),
    ({"stp": 9, "qty": 0}, R.INVALID_STP_MODE),
    ({"qty": 0, "price": 0}, R.INVALID_QUANTITY),
    ({"qty": 51, "price": 201}, R.QUANTITY_TOO_LARGE),
    ({"price": 0, "tif": GTD, "expire_ts": 0}, R.INVALID_PRICE),
    ({"tif": GTD, "expire_ts": 5, "order_id": 1}, R.INVALID_GTD_TIME),
    ({"order_id": 1, "tif": GTX, "price": 160}, R.DUPLICATE_ORDER_ID),
    ({"order_id": 1, "tif": FOK, "qty": 50}, R.DUPLICATE_ORDER_ID),
]


class TestValidation:
    NOW = 1000

    @pytest.fixture
    def vbook(self, tight_book):
        """Tight limits, clock at NOW, bid 150 (order 1, acct 1) and ask 160 (order 2, acct 2)."""
        advance(tight_book, self.NOW)
        rest(tight_book, 1, 1, BUY, 150, 20)
        rest(tight_book, 2, 2, SELL, 160, 20)
        return tight_book

    @pytest.mark.parametrize(("overrides", "reason"), REJECT_CASES, ids=lambda v: str(v))
    def test_place_rejected_with_one_event_and_no_change(self, vbook, overrides, reason):
        args = {**BASE, **overrides}
        before = snapshot(vbook)

        events = _done(vbook, vbook.place(**args, ts=self.NOW))

        assert events == [rejected(args["order_id"], args["account"], args["side"], args["price"], args["qty"], reason)]
        assert snapshot(vbook) == before

    @pytest.mark.parametrize("qty", [10, 50])
    def test_quantity_limits_are_inclusive(self, vbook, qty):
        events = place(vbook, 10, 3, BUY, 155, qty)

        assert events == [accepted(10, 3, BUY, 155, qty)]
        assert vbook.order(10).leaves == qty

    @pytest.mark.parametrize(("side", "price"), [(BUY, 100), (SELL, 200)])
    def test_price_limits_are_inclusive(self, vbook, side, price):
        events = place(vbook, 10, 3, side, price, 20)

        assert events == [accepted(10, 3, side, price, 20)]
        assert vbook.order(10).price == price

    def test_max_price_buy_trades_with_the_ask(self, vbook):
        events = place(vbook, 10, 3, BUY, 200, 20)

        assert events == [accepted(10, 3, BUY, 200, 20), fill(10, 3, BUY, 160, 20, 0, 2, 2, 0)]

    def test_id_reusable_after_fill_cancel_and_expiry(self, vbook):
        place(vbook, 10, 3, SELL, 150, 20)  # fills order 1 completely
        cancel(vbook, 2)
        rest(vbook, 3, 4, BUY, 120, 10, GTD, expire_ts=self.NOW + 5)
        advance(vbook, self.NOW + 5)
        assert vbook.order_count == 0

        for oid in (1, 2, 3, 10):
            rest(vbook, oid, 9, BUY, 110, 10)

        assert vbook.open_orders(9) == 4

    def test_id_of_an_ioc_remainder_is_reusable(self, vbook):
        place(vbook, 10, 3, BUY, 155, 20, IOC)

        events = place(vbook, 10, 3, BUY, 155, 20)

        assert events == [accepted(10, 3, BUY, 155, 20)]

    def test_equal_timestamp_is_not_stale(self, vbook):
        events = place(vbook, 10, 3, BUY, 155, 20, ts=self.NOW)

        assert events == [accepted(10, 3, BUY, 155, 20)]

    @pytest.mark.parametrize(
        ("command", "expected"),
        [
            (
                lambda b, ts: b.place(10, 3, BUY, LIMIT, 155, 20, GTC, NONE, 0, ts),
                rejected(10, 3, BUY, 155, 20, R.STALE_TIMESTAMP),
            ),
            (lambda b, ts: b.place(10, 3, 7, 7, -5, 0, 9, 9, 3, ts), rejected(10, 3, 7, -5, 0, R.STALE_TIMESTAMP)),
            (lambda b, ts: b.cancel(1, ts), rejected(1, 0, 0, 0, 0, R.STALE_TIMESTAMP)),
            (lambda b, ts: b.amend(1, 151, 5, ts), rejected(1, 0, 0, 151, 5, R.STALE_TIMESTAMP)),
            (lambda b, ts: b.cancel_all(1, ts), rejected(0, 1, 0, 0, 0, R.STALE_TIMESTAMP)),
            (lambda b, ts: b.advance(ts), rejected(0, 0, 0, 0, 0, R.STALE_TIMESTAMP)),
        ],
        ids=["place", "place-invalid", "cancel", "amend", "cancel_all", "advance"],
    )
    def test_stale_timestamp_is_rejected(self, vbook, command, expected):
        before = snapshot(vbook)

        events = _done(vbook, command(vbook, self.NOW - 1))

        assert events == [expected]
        assert snapshot(vbook) == before
        assert vbook.last_ts == self.NOW

    @pytest.mark.parametrize(
        "command",
        [
            lambda b: b.place(1 << 63, 3, BUY, LIMIT, 155, 20, GTC, NONE, 0, 1000),
            lambda b: b.place(10, INT64_MIN - 1, BUY, LIMIT, 155, 20, GTC, NONE, 0, 1000),
            lambda b: b.place(10, 3, 1 << 64, LIMIT, 155, 20, GTC, NONE, 0, 1000),
            lambda b: b.place(10, 3, BUY, LIMIT, 1 << 63, 20, GTC, NONE, 0, 1000),
            lambda b: b.place(10, 3, BUY, LIMIT, 155, -(1 << 70), GTC, NONE, 0, 1000),
            lambda b: b.place(10, 3, BUY, LIMIT, 155, 20, GTD, NONE, 1 << 63, 1000),
            lambda b: b.place(10, 3, BUY, LIMIT, 155, 20, GTC, NONE, 0, 1 << 63),
            lambda b: b.cancel(1 << 63, 1000),
            lambda b: b.cancel(1, 1 << 63),
            lambda b: b.amend(1, 1 << 63, 5, 1000),
            lambda b: b.amend(1, 151, INT64_MIN - 1, 1000),
            lambda b: b.cancel_all(1 << 63, 1000),
            lambda b: b.advance(1 << 63),
        ],
    )
    def test_values_beyond_int64_raise_overflow_error(self, vbook, command):
        events_before = vbook.events()
        before = snapshot(vbook)

        with pytest.raises(OverflowError):
            command(vbook)

        vbook.check_integrity()
        assert snapshot(vbook) == before
        assert vbook.events() == events_before

    def test_int64_extremes_are_accepted(self, vbook):
        rest(vbook, INT64_MAX, INT64_MIN, BUY, 140, 10)
        rest(vbook, INT64_MIN, INT64_MAX, BUY, 140, 10)

        assert queue(vbook, BUY, 140) == [INT64_MAX, INT64_MIN]
        assert advance(vbook, INT64_MAX) == []
        assert cancel(vbook, INT64_MIN) == [canceled(INT64_MIN, INT64_MAX, BUY, 140, 10)]
        assert cancel_all(vbook, INT64_MIN) == [canceled(INT64_MAX, INT64_MIN, BUY, 140, 10)]
        assert vbook.last_ts == INT64_MAX


# ---------------------------------------------------------------------------- batch


def _col(values):
    return np.array(values, dtype=np.int64)


# op, side, price, qty, order_id
BATCH_STREAM = (
    (OP_ADD, SELL, 100, 3, 1),
    (OP_ADD, SELL, 101, 2, 2),
    (OP_ADD, BUY, 99, 4, 3),
    (OP_MARKET, BUY, 0, 4, 4),  # protection 0: bounded only by the book's max price
    (OP_CANCEL, 0, 0, 0, 3),
    (OP_ADD, BUY, 101, 2, 5),
    (OP_MARKET, SELL, 100, 5, 6),
    (OP_ADD, SELL, 102, 7, 7),
    (OP_CANCEL, 0, 0, 0, 99),  # unknown: rejected, no effect
    (OP_MARKET, BUY, 101, 1, 8),  # the ask at 102 is beyond protection
)


class TestRunBatch:
    @staticmethod
    def columns(rows):
        return [_col(c) for c in zip(*rows, strict=True)]

    def test_fills_and_totals(self, book):
        out = book.run_batch(*self.columns(BATCH_STREAM))
        book.check_integrity()

        assert out["taker_order_id"].tolist() == [4, 4, 5, 6]
        assert out["maker_order_id"].tolist() == [1, 2, 2, 5]
        assert out["price"].tolist() == [100, 101, 101, 101]
        assert out["qty"].tolist() == [3, 1, 1, 1]
        assert all(out[k].dtype == np.int64 for k in ("taker_order_id", "maker_order_id", "price", "qty"))
        assert (out["trades"], out["volume"], out["resting_orders"]) == (4, 6, 1)
        assert book.orders() == [OrderView(7, 7, SELL, 102, 7, GTC, NONE, 0)]

    def test_matches_per_call_operations(self, impl, book):
        per_call = make_book(impl, BookLimits(book.min_price, book.max_price, book.min_qty, book.max_qty))
        fills = []
        for op, side, price, qty, oid in BATCH_STREAM:
            if op == OP_ADD:
                events = place(per_call, oid, oid, side, price, qty)
            elif op == OP_CANCEL:
                events = cancel(per_call, oid)
            else:
                protect = price or (per_call.max_price if side == BUY else per_call.min_price)
                events = market(per_call, oid, oid, side, qty, protect)
            fills += [(e.order_id, e.counter_order_id, e.price, e.qty) for e in events if e.kind == EventKind.FILL]

        out = book.run_batch(*self.columns(BATCH_STREAM))

        batch_fills = list(
            zip(*(out[k].tolist() for k in ("taker_order_id", "maker_order_id", "price", "qty")), strict=True)
        )
        assert batch_fills == fills
        assert (out["trades"], out["volume"], out["resting_orders"]) == (
            per_call.trades,
            per_call.volume,
            per_call.order_count,
        )
        assert book.state_hash() == per_call.state_hash()

    def test_runs_at_the_current_time_and_honours_accounts(self, book):
        advance(book, 500)
        op, side, price, qty, oid = self.columns([(OP_ADD, SELL, 100, 2, 1), (OP_ADD, BUY, 100, 1, 2)])

        out = book.run_batch(op, side, price, qty, oid, _col([7, 7]))
        book.check_integrity()

        assert out["maker_order_id"].tolist() == [1]  # same account, STP NONE: self-trade allowed
        assert book.order(1) == OrderView(1, 7, SELL, 100, 1, GTC, NONE, 0)
        assert book.last_ts == 500

    def test_market_price_zero_is_protected_only_by_the_book_limits(self, tight_book):
        rows = [
            (OP_ADD, SELL, 200, 10, 1),
            (OP_ADD, BUY, 100, 10, 2),
            (OP_MARKET, BUY, 0, 10, 3),
            (OP_MARKET, SELL, 0, 10, 4),
        ]

        out = tight_book.run_batch(*self.columns(rows))
        tight_book.check_integrity()

        assert out["taker_order_id"].tolist() == [3, 4]
        assert out["maker_order_id"].tolist() == [1, 2]
        assert out["price"].tolist() == [200, 100]
        assert (out["trades"], out["volume"], out["resting_orders"]) == (2, 20, 0)

    def test_empty_batch(self, book):
        out = book.run_batch(*(_col([]) for _ in range(5)))

        assert [out[k].tolist() for k in ("taker_order_id", "maker_order_id", "price", "qty")] == [[]] * 4
        assert (out["trades"], out["volume"], out["resting_orders"]) == (0, 0, 0)

    def test_unknown_op_raises(self, book):
        with pytest.raises(ValueError):
            book.run_batch(*self.columns([(7, BUY, 100, 1, 1)]))

    def test_columns_of_different_length_raise(self, book):
        with pytest.raises(ValueError):
            book.run_batch(_col([OP_ADD]), _col([BUY]), _col([100]), _col([1]), _col([1, 2]))


# ---------------------------------------------------------------------------- constants


def test_cython_constants_match_model_enums():
    from perpsim.engine.book import CONSTANTS

    expected = {
        **{m.name: m.value for m in Side},
        **{m.name: m.value for m in OrderKind},
        **{m.name: m.value for m in TimeInForce},
        **{("STP_NONE" if m is StpMode.NONE else m.name): m.value for m in StpMode},
        **{f"EV_{m.name}": m.value for m in EventKind},
        **{f"X_{m.name}": m.value for m in ExpireCause},
    }
    assert CONSTANTS == expected
