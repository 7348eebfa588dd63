"""The order-book tests' vocabulary: the expected events, and operations that check the book.

Every operation goes through `_done`, which checks the book's integrity and that the return
code agrees with the events (a rejection's reason, or 0).
"""

from __future__ import annotations

from perpsim.engine.book_types import BookEvent, OrderView
from perpsim.model.enums import EventKind, OrderKind, Side, StpMode, TimeInForce

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
