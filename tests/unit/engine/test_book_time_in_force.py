"""The order book: time in force (IOC, FOK, GTX, GTD) and market orders."""

from __future__ import annotations

import pytest

from perpsim.engine.book_types import OrderView
from perpsim.model.enums import ExpireCause
from perpsim.model.reasons import RejectReason as R
from tests.unit.engine.book_kit import (
    BUY,
    FOK,
    GTC,
    GTD,
    GTX,
    IOC,
    NONE,
    SELL,
    accepted,
    advance,
    amend,
    amended,
    cancel,
    cancel_all,
    canceled,
    expired,
    fill,
    market,
    place,
    rejected,
    rest,
    snapshot,
)


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
