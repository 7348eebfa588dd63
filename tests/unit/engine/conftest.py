"""Fixtures for the order-book unit tests: every test runs against both implementations."""

from __future__ import annotations

import pytest

from perpsim.engine.book_types import BookLimits, make_book

#: Wide limits for behaviour tests (price and quantity limits never get in the way).
WIDE_LIMITS = BookLimits(min_price=1, max_price=1_000_000, min_qty=1, max_qty=1_000_000)

#: Tight limits for validation tests, so every boundary is reachable with small numbers.
TIGHT_LIMITS = BookLimits(min_price=100, max_price=200, min_qty=10, max_qty=50)


@pytest.fixture(params=["ref", "cython"])
def impl(request: pytest.FixtureRequest) -> str:
    """The book implementation under test: the Python reference or the Cython book."""
    return request.param


@pytest.fixture
def book(impl: str):
    """An empty book with wide limits."""
    return make_book(impl, WIDE_LIMITS)


@pytest.fixture
def tight_book(impl: str):
    """An empty book with tight limits (prices 100..200, quantities 10..50)."""
    return make_book(impl, TIGHT_LIMITS)
