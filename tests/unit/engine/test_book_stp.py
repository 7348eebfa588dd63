"""The order book: self-trade prevention."""

from __future__ import annotations

import pytest

from perpsim.engine.book_types import OrderView
from perpsim.model.enums import ExpireCause
from tests.unit.engine.book_kit import (
    BUY,
    E_BOTH,
    E_MAKER,
    E_TAKER,
    FOK,
    GTC,
    GTD,
    IOC,
    NONE,
    SELL,
    accepted,
    expired,
    fill,
    market,
    place,
    queue,
    rest,
    snapshot,
)


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
