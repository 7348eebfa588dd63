"""Micro benches for the book kernels: add (rest), cancel, and a taker matching one maker.

  pytest bench --benchmark-enable
"""

import itertools

import pytest

from perpsim.engine.book_types import BookLimits, make_book
from perpsim.model.enums import OrderKind, Side, StpMode, TimeInForce

LIMITS = BookLimits(min_price=1, max_price=1_000_000, min_qty=1, max_qty=1_000_000)
LIMIT, GTC, NONE = int(OrderKind.LIMIT), int(TimeInForce.GTC), int(StpMode.NONE)
BUY, SELL = int(Side.BUY), int(Side.SELL)
IMPLS = ["cython", "ref"]


def _seeded_book(impl: str, levels: int = 200, per_level: int = 5):
    """A book with resting bids 19,800..19,999 and asks 20,001..20,200, ids from 1."""
    book = make_book(impl, LIMITS)
    oid = itertools.count(1)
    for i in range(levels):
        for _ in range(per_level):
            book.place(next(oid), 1, BUY, LIMIT, 19_999 - i, 10, GTC, NONE, 0, 0)
            book.place(next(oid), 2, SELL, LIMIT, 20_001 + i, 10, GTC, NONE, 0, 0)
    return book, oid


@pytest.mark.benchmark(group="book-add")
@pytest.mark.parametrize("impl", IMPLS)
def test_add_resting(benchmark, impl):
    book, _ = _seeded_book(impl)
    ids = itertools.count(10_000_000)

    def add():
        book.place(next(ids), 3, BUY, LIMIT, 19_900, 1, GTC, NONE, 0, 0)

    benchmark(add)


@pytest.mark.benchmark(group="book-cancel")
@pytest.mark.parametrize("impl", IMPLS)
def test_add_then_cancel(benchmark, impl):
    book, _ = _seeded_book(impl)
    ids = itertools.count(10_000_000)

    def add_cancel():
        i = next(ids)
        book.place(i, 3, BUY, LIMIT, 19_950, 1, GTC, NONE, 0, 0)
        book.cancel(i, 0)

    benchmark(add_cancel)


@pytest.mark.benchmark(group="book-match")
@pytest.mark.parametrize("impl", IMPLS)
def test_match_one_maker(benchmark, impl):
    book, _ = _seeded_book(impl)
    ids = itertools.count(10_000_000)

    def maker_then_taker():
        # a fresh maker at the touch, then a taker that fills exactly it
        m, t = next(ids), next(ids)
        book.place(m, 4, SELL, LIMIT, 20_000, 1, GTC, NONE, 0, 0)
        book.place(t, 5, BUY, LIMIT, 20_000, 1, GTC, NONE, 0, 0)

    benchmark(maker_then_taker)
    assert book.best_ask() == 20_001


@pytest.mark.benchmark(group="book-sweep")
@pytest.mark.parametrize("resting", [10_000, 100_000])
def test_sweep_a_deep_level_from_its_head(benchmark, resting):
    """One taker eating 1,000 of `resting` one-lot orders of consecutive ids and accounts at one
    price, oldest first: the cost must stay per fill, not grow with the orders left behind."""
    def setup():
        book = make_book("cython", LIMITS)
        for i in range(resting):
            book.place(i + 1, 100 + i, BUY, LIMIT, 20_000, 1, GTC, NONE, 0, 0)
        book.events()
        return (book,), {}

    def sweep(book):
        book.place(10_000_000, 1, SELL, LIMIT, 20_000, 1_000, int(TimeInForce.IOC), NONE, 0, 0)

    benchmark.pedantic(sweep, setup=setup, rounds=5)
