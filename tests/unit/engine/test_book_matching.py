"""The order book: its queries and price-time priority."""

from __future__ import annotations

from perpsim.engine.book_types import OrderView
from tests.unit.engine.book_kit import BUY, E_MAKER, GTC, GTD, NONE, SELL, accepted, fill, place, queue, rest, snapshot


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
