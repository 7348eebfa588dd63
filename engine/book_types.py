"""What both order-book implementations share: events, views, limits, hashing, the factory.

Units: prices are integer ticks, quantities integer lots, timestamps integer nanoseconds.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from typing import NamedTuple

from perpsim.model.enums import EventKind, ExpireCause, OrderKind, Side, StpMode, TimeInForce
from perpsim.model.markets import MAX_PRICE_TICKS, MAX_QTY_LOTS

__all__ = [
    "BookEvent",
    "BookIntegrityError",
    "BookLimits",
    "EventKind",
    "ExpireCause",
    "OrderKind",
    "OrderView",
    "Side",
    "StpMode",
    "TimeInForce",
    "make_book",
    "state_digest",
]

#: Batch operation codes (the `op` column of the reference workload).
OP_ADD, OP_CANCEL, OP_MARKET = 0, 1, 2


class BookEvent(NamedTuple):
    """One thing that happened in the book, in the order it happened.

    kind            EventKind
    order_id        the order the event is about (for FILL: the taker)
    account         its account
    side            its side (Side)
    price           ACCEPTED/REJECTED/AMENDED: the order's price (ticks); FILL: the maker's
                    price, i.e. the trade price; CANCELED/EXPIRED: the resting or limit price
    qty             ACCEPTED/REJECTED/AMENDED: the order quantity; FILL: the quantity traded;
                    CANCELED/EXPIRED: the quantity removed (lots)
    leaves          the order's remaining quantity after the event
    counter_order_id, counter_account, counter_leaves
                    FILL only: the maker order, its account and its remaining quantity
    reason          REJECTED: RejectReason; EXPIRED: ExpireCause; AMENDED: 1 if the order
                    kept its queue priority, else 0; otherwise 0
    """

    kind: int
    order_id: int
    account: int
    side: int
    price: int
    qty: int
    leaves: int
    counter_order_id: int = 0
    counter_account: int = 0
    counter_leaves: int = 0
    reason: int = 0


class OrderView(NamedTuple):
    """A resting order as seen from outside (L3)."""

    order_id: int
    account: int
    side: int
    price: int
    leaves: int
    tif: int
    stp: int
    expire_ts: int


class BookLimits(NamedTuple):
    """Inclusive integer limits the book enforces on every order (ticks and lots)."""

    min_price: int = 1
    max_price: int = MAX_PRICE_TICKS
    min_qty: int = 1
    max_qty: int = MAX_QTY_LOTS

    def validate(self) -> None:
        """Raise ValueError unless the limits make every product fit in int64."""
        if not (1 <= self.min_price <= self.max_price and 1 <= self.min_qty <= self.max_qty):
            raise ValueError(f"inconsistent book limits {self}")
        # bounded so that no price x quantity product, nor a level total of up to 2**22 such
        # orders, overflows int64
        if self.max_qty > MAX_QTY_LOTS or self.max_price > MAX_PRICE_TICKS:
            raise ValueError(f"book limits {self} allow int64 overflow")


class BookIntegrityError(AssertionError):
    """The book's internal structures disagree with each other (a bug, never input)."""


_ORDER = struct.Struct("<8q")
_TAIL = struct.Struct("<3q")


def state_digest(orders: Iterable[OrderView], last_ts: int, trades: int, volume: int) -> str:
    """Canonical hash of a book: resting orders in priority order (bids best first, then
    asks best first, FIFO within a level) plus the clock and the trade counters."""
    h = hashlib.blake2b(digest_size=16)
    for o in orders:
        h.update(_ORDER.pack(*o))
    h.update(_TAIL.pack(last_ts, trades, volume))
    return h.hexdigest()


def make_book(impl: str, limits: BookLimits | None = None):
    """Create an order book; `impl` is "cython" or "ref", chosen explicitly (no fallback)."""
    limits = limits or BookLimits()
    limits.validate()
    if impl == "cython":
        from perpsim.engine.book import Book
    elif impl == "ref":
        from perpsim.engine.book_ref import Book
    else:
        raise ValueError(f"unknown book implementation {impl!r} (expected 'cython' or 'ref')")
    return Book(*limits)
