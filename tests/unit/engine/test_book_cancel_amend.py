"""The order book: cancels and amends."""

from __future__ import annotations

import pytest

from perpsim.engine.book_types import OrderView
from perpsim.model.enums import ExpireCause
from perpsim.model.reasons import RejectReason as R
from tests.unit.engine.book_kit import (
    BUY,
    E_BOTH,
    E_MAKER,
    E_TAKER,
    GTC,
    GTD,
    GTX,
    NONE,
    SELL,
    advance,
    amend,
    amended,
    cancel,
    cancel_all,
    canceled,
    expired,
    fill,
    place,
    queue,
    rejected,
    rest,
    snapshot,
)


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
