"""The venue's state: the exchange plus what the API needs to answer about orders.

`VenueState.apply(command)` is the only writer: it applies the command to the exchange and
derives the order registry (status, filled quantity, client order ids) from the events, so a
replay of the journal rebuilds the registry exactly as it rebuilds the exchange. It hands the
command to the history, which folds it in later (`catch_up`, venue/history_handoff.py).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import operator
from collections import deque
from typing import NamedTuple

import cython

if cython.compiled:  # a C call
    from cython.cimports.perpsim.venue.history_handoff import event_field
else:
    from perpsim.venue.history_handoff import event_field

from perpsim.engine import commands as C
from perpsim.engine.book_types import BookEvent
from perpsim.engine.commands import PlaceConditional, PlaceOrder, PlaceOrderList
from perpsim.engine.events import CommandRejected, ConditionalEvent, ListEvent, OrderEvent, OrderPlaced
from perpsim.engine.exchange import Exchange
from perpsim.engine.views import ExchangeView
from perpsim.model.enums import EventKind
from perpsim.model.reasons import RejectReason as R
from perpsim.venue.history import History
from perpsim.venue.history_orders import NEW, PARTIALLY_FILLED, OrderInfo, client_order_map
from perpsim.venue.history_records import HistoryLimits

#: ListEvent statuses of a list that still works (the others end it).
_LIVE_LIST = frozenset({"NEW", "ARMED", "REDUCED", "ENTRY_CLOSED", "LEG_REJECTED"})

#: Completed orders kept for queries and idempotent retries, oldest evicted first.
COMPLETED_KEPT = 100_000

# the book's event kinds as plain ints: compared per event on the sequencer's path
_ACCEPTED, _FILL, _CANCELED, _EXPIRED, _AMENDED = (int(EventKind.ACCEPTED), int(EventKind.FILL),
                                                  int(EventKind.CANCELED), int(EventKind.EXPIRED),
                                                  int(EventKind.AMENDED))

FILLED, CANCELED, EXPIRED, REJECTED = "FILLED", "CANCELED", "EXPIRED", "REJECTED"

# The engine's events are NamedTuples: read here by position (history_handoff.event_field).
_EVENT = OrderEvent._fields.index("event")
_KIND, _ORDER_ID, _PRICE, _QTY, _LEAVES, _COUNTER_ORDER_ID, _COUNTER_LEAVES = (
    BookEvent._fields.index(name) for name in ("kind", "order_id", "price", "qty", "leaves", "counter_order_id",
                                               "counter_leaves"))



class KnownOrder(NamedTuple):
    """A retried placement (same client order id and payload): the original order's id."""

    order_id: int


class KnownConditional(NamedTuple):
    """A retried conditional-order placement (same client order id and payload): the original's id."""

    conditional_id: int


class KnownList(NamedTuple):
    """A retried order-list placement (same client order id and payload): the original list's
    id and its latest status (WORKING while it lives)."""

    list_id: int
    status: str


def fingerprint(cmd: C.PlaceOrder | C.PlaceOrderList | C.PlaceConditional) -> tuple:
    """What makes two placements with one client order id "the same order": all but the time."""
    return _identity(type(cmd))(cmd)  # type: ignore[arg-type]  # a class is hashable (mypy reads its instances' __hash__ = None)


def stamped(cmd, ts: int):
    """A copy of a command (a dataclass whose first field is `ts`) at time `ts` (ns): what
    dataclasses.replace(cmd, ts=ts) gives, in half the time (built per order on the hot path)."""
    cls: type = type(cmd)
    return cls(ts, *_identity(cls)(cmd)) if _ts_first(cls) else dataclasses.replace(cmd, ts=ts)


@functools.cache
def _ts_first(cls: type) -> bool:
    names = [f.name for f in dataclasses.fields(cls)]
    return names[0] == "ts" and len(names) > 2  # (attrgetter of one name returns a bare value)


@functools.cache
def _identity(cls: type) -> operator.attrgetter:
    """The getter of a command class's fields but its time, as one tuple."""
    return operator.attrgetter(*(f.name for f in dataclasses.fields(cls) if f.name != "ts"))


class VenueState:
    """Exchange + order registry; deterministic like the exchange itself.

    Compiled (venue/state.pxd): its attributes are C slots and its per-order steps C calls,
    since `apply` runs on the sequencer for every command."""

    def __init__(self, exchange: Exchange, history_limits: HistoryLimits | None = None) -> None:
        self.exchange = exchange
        self.orders: dict[int, OrderInfo] = {}
        self._completed: deque[int] = deque()  # ids of the completed orders kept, first completed first
        # per account: client order id -> the order (its `placement` is what a retry must match);
        # nested rather than keyed by (account, id) pairs: no tuple kept per order
        self.by_client: dict[int, dict[str, OrderInfo]] = {}
        # per account: its open orders' ids (a set left empty stays: made once per account)
        self.open_of: dict[int, set[int]] = {}
        # order lists by (account, client order id): (fingerprint, list id); and the latest
        # status of each such list, for answering a retry after it ended
        self.lists_by_client: dict[tuple[int, str], tuple[tuple, int]] = {}
        self.list_status: dict[int, str] = {}
        # conditional orders by (account, client order id): (fingerprint, conditional id)
        self.conditionals_by_client: dict[tuple[int, str], tuple[tuple, int]] = {}
        # account and market history, fed below: pickled with the state, rebuilt by replay
        self.history = History(exchange, self.orders, history_limits)

    def apply(self, cmd) -> list:
        """Apply one command; returns the exchange's events.

        A PlaceOrder whose client order id is already known is decided here, in sequence, so
        concurrent retries cannot both place it: the same payload yields KnownOrder (nothing
        placed), another payload a DUPLICATE_ORDER_ID rejection."""
        if isinstance(cmd, PlaceOrder):
            cid = cmd.client_order_id
            if cid:
                known = self.by_client.get(cmd.account)
                order = known.get(cid) if known is not None else None
                if order is not None:
                    if fingerprint(order.placement) != fingerprint(cmd):  # type: ignore[arg-type]
                        return [CommandRejected(type(cmd).__name__, cmd.account, int(R.DUPLICATE_ORDER_ID),
                                                (("client_order_id", cid),))]
                    return [KnownOrder(order.order_id)]
        elif isinstance(cmd, PlaceConditional) and cmd.client_order_id:  # the same, for conditional orders
            seen = self.conditionals_by_client.get((cmd.account, cmd.client_order_id))
            if seen is not None:
                if seen[0] != fingerprint(cmd):
                    return [CommandRejected(type(cmd).__name__, cmd.account, int(R.DUPLICATE_ORDER_ID),
                                            (("client_order_id", cmd.client_order_id),))]
                return [KnownConditional(seen[1])]
        elif isinstance(cmd, PlaceOrderList) and cmd.client_order_id:
            seen = self.lists_by_client.get((cmd.account, cmd.client_order_id))
            if seen is not None:
                if seen[0] != fingerprint(cmd):
                    return [CommandRejected(type(cmd).__name__, cmd.account, int(R.DUPLICATE_ORDER_ID),
                                            (("client_order_id", cmd.client_order_id),))]
                return [KnownList(seen[1], self.list_status[seen[1]])]
        exchange = self.exchange
        next_id = exchange.next_order_id
        events: list = exchange.apply(cmd)
        if type(cmd) is PlaceOrder:
            self._register(cmd, next_id, events, 0)
        for e in events:  # orders the venue placed for an account (conditional orders, order lists)
            if type(e) is OrderPlaced:
                self._register_placed(events)
                break
        for e in events:
            t = type(e)  # (the event types are final NamedTuples: exact type checks, cheaper)
            if t is OrderEvent:
                b = event_field(e, _EVENT)
                kind = event_field(b, _KIND)
                if kind == _ACCEPTED:  # (registered above: nothing to track)
                    continue
                if kind == _FILL:
                    qty = event_field(b, _QTY)
                    self._filled(event_field(b, _ORDER_ID), qty, event_field(b, _LEAVES))
                    self._filled(event_field(b, _COUNTER_ORDER_ID), qty, event_field(b, _COUNTER_LEAVES))
                else:
                    self._track(b)
            elif t is ListEvent:
                self._track_list(cmd, e)
            elif t is ConditionalEvent and e.status == "NEW" and isinstance(cmd, PlaceConditional) \
                    and cmd.client_order_id and e.account == cmd.account:
                self.conditionals_by_client.setdefault((cmd.account, cmd.client_order_id),
                                                       (fingerprint(cmd), e.conditional_id))
        self.history.handoff(cmd, events, exchange.ts)
        return events

    def __reduce__(self):
        """Pickled with the history folded in first: its fold writes on the registry's OrderInfo
        objects, which the pickle would otherwise hold as they were before (pickled ahead of it)."""
        self.history.catch_up()
        return _restored, ({name: getattr(self, name) for name in _STATE_FIELDS},)

    def catch_up(self, budget: int | None = None) -> bool:
        """Fold what the read models were handed in (with `budget`: about that many events);
        whether nothing is left. Reads catch up by themselves: this only moves the work to
        when the caller has nothing better to do."""
        return self.history.catch_up(budget)

    def _register_placed(self, events: list) -> None:
        """Register the orders placed for accounts, each from its first book event (which
        comes before its OrderPlaced): one pass over the events for all of them."""
        placed = [e for e in events if type(e) is OrderPlaced]
        wanted = {p.order_id for p in placed}
        first: dict[int, int] = {}
        for i, e in enumerate(events):
            if type(e) is OrderEvent and e.event.order_id in wanted and e.event.order_id not in first:
                first[e.event.order_id] = i
        for p in placed:
            at = first.get(p.order_id)
            if at is not None:
                self._register(p.order, p.order_id, events, at)

    def _track_list(self, cmd, e: ListEvent) -> None:
        """Register a list placed with a client order id, and keep its latest status (what a
        retry is answered with)."""
        if e.status == "NEW" and isinstance(cmd, PlaceOrderList) and cmd.client_order_id \
                and e.account == cmd.account:
            self.lists_by_client.setdefault((cmd.account, cmd.client_order_id), (fingerprint(cmd), e.list_id))
            self.list_status[e.list_id] = "WORKING"
        elif e.list_id in self.list_status:
            self.list_status[e.list_id] = "WORKING" if e.status in _LIVE_LIST else e.status

    def state_hash(self) -> str:
        """The exchange's hash extended with the order registry (what replay must rebuild)."""
        h = hashlib.blake2b(self.exchange.state_hash().encode(), digest_size=16)
        for oid in sorted(self.orders):
            o = self.orders[oid]
            h.update(f"{oid}:{o.account}:{o.client_order_id}:{o.filled}:{o.status};".encode())
        for (account, cid), (_, gid) in sorted(self.lists_by_client.items()):
            h.update(f"list:{account}:{cid}:{gid}:{self.list_status[gid]};".encode())
        for (account, cid), (_, conditional) in sorted(self.conditionals_by_client.items()):
            h.update(f"conditional:{account}:{cid}:{conditional};".encode())
        return h.hexdigest()

    def check_integrity(self) -> None:
        """Check the exchange's integrity and the order registry against it; AssertionError when an order rests in a
        book but is recorded closed, or the per-account index of open orders is stale."""
        self.exchange.check_integrity()
        resting = {o.order_id for o in ExchangeView(self.exchange).open_orders(None)}
        for oid in resting:
            o = self.orders.get(oid)
            if o is not None and not o.open:
                raise AssertionError(f"order {oid} rests in a book but is recorded {o.status}")
        open_of: dict[int, set[int]] = {}
        for o in self.orders.values():
            if o.open:
                open_of.setdefault(o.account, set()).add(o.order_id)
        if open_of != {account: ids for account, ids in self.open_of.items() if ids}:
            raise AssertionError("the per-account index of open orders is stale")

    def find_client_order(self, account: int, client_order_id: str) -> tuple[tuple, int] | None:
        """(fingerprint of its placement, order id) of the account's order with this client
        order id, while the registry keeps it; None otherwise."""
        known = self.by_client.get(account)
        seen = known.get(client_order_id) if known is not None else None
        return None if seen is None else (fingerprint(seen.placement), seen.order_id)  # type: ignore[arg-type]

    def open_orders(self, account: int, symbol: str = "") -> list[OrderInfo]:
        """The account's open orders (in `symbol`, or all), oldest first: O(its open orders)."""
        orders = (self.orders[oid] for oid in sorted(self.open_of.get(account, ())))
        return [o for o in orders if not symbol or o.symbol == symbol]

    def _register(self, cmd: C.PlaceOrder, order_id: int, events: list, start: int) -> bool:
        """Record an order the book accepted, with the price and size of its first book event
        (at or after `start`); whether it was."""
        book_event = None
        for i in range(start, len(events)):  # usually ending at once: the order's ACCEPTED
            e = events[i]
            if type(e) is OrderEvent:
                b = event_field(e, _EVENT)
                if event_field(b, _ORDER_ID) == order_id:
                    if book_event is None:
                        book_event = b
                    if event_field(b, _KIND) == _ACCEPTED:
                        break
        else:
            return False
        account, cid = cmd.account, cmd.client_order_id
        info = OrderInfo(order_id, account, cmd.symbol, cid, cmd.side, cmd.kind, cmd.tif,
                         event_field(book_event, _PRICE), event_field(book_event, _QTY), cmd.reduce_only,
                         cmd.position_side, 0, NEW, 0, 0, 0, None, cmd if cid else None)
        self.orders[order_id] = info
        open_ids = self.open_of.get(account)
        if open_ids is None:
            open_ids = self.open_of[account] = set()
        open_ids.add(order_id)
        if cid:
            known = self.by_client.get(account)
            if known is None:
                known = self.by_client[account] = client_order_map()
            known[cid] = info
        return True

    def _track(self, e) -> None:
        """A book event of an order other than its acceptance or a fill."""
        kind = e.kind
        if kind == _CANCELED or kind == _EXPIRED:
            o = self.orders.get(e.order_id)
            if o is not None and o.open:
                o.status = CANCELED if kind == _CANCELED else EXPIRED
                self._complete(o)
        elif kind == _AMENDED:
            o = self.orders.get(e.order_id)
            if o is not None:
                o.price, o.qty = e.price, o.filled + e.qty

    def _filled(self, order_id: int, qty: int, leaves: int) -> None:
        o = self.orders.get(order_id)
        if o is None:
            return
        o.filled += qty
        if leaves == 0:
            o.status = FILLED
            self._complete(o)
        else:
            o.status = PARTIALLY_FILLED

    def _complete(self, o: OrderInfo) -> None:
        ids = self.open_of[o.account]
        ids.discard(o.order_id)
        completed = self._completed
        completed.append(o.order_id)  # (once: only an open order completes)
        while len(completed) > COMPLETED_KEPT:
            gone = self.orders.pop(completed.popleft())  # the first completed
            if gone.client_order_id:
                known = self.by_client.get(gone.account)
                if known is not None:
                    known.pop(gone.client_order_id, None)
                    if not known:
                        del self.by_client[gone.account]


#: VenueState's attributes, pickled by name.
_STATE_FIELDS = ("exchange", "orders", "_completed", "by_client", "open_of", "lists_by_client", "list_status",
                 "conditionals_by_client", "history")


def _restored(state: dict) -> VenueState:
    """A VenueState from its pickled attributes (VenueState.__reduce__)."""
    restored = VenueState.__new__(VenueState)
    for name, value in state.items():
        setattr(restored, name, value)
    return restored


def __getattr__(name: str):
    """`OrderInfo` is defined with the history's orders (venue/history_orders.py); compiled,
    this module holds it as a C type only, so it is handed out from here by name."""
    if name == "OrderInfo":
        return OrderInfo
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def rejection(events: list) -> CommandRejected | None:
    """The command's rejection, if the exchange refused it."""
    return next((e for e in events if isinstance(e, CommandRejected)), None)
