"""The orders of the account history (venue/history.py): `OrderInfo`, the record of an order
that the registry (venue/state.py) and the history share, what the history adds to it (quote
sum, times, the conditional order that placed it) and which of them retention keeps.

An order is recorded at its ACCEPTED event and kept after the registry evicted it; per account
at most `HistoryLimits.orders_per_account`, the completed ones going first, in the order they
completed, an open one never. When an order completed is told by its command's own events
(`ended_orders`), not by its `OrderInfo`, which later commands change: the history may fold a
command in after those (venue/history_handoff.py).
"""

from __future__ import annotations

import dataclasses
import operator
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import cython

if cython.compiled:  # a C call
    from cython.cimports.perpsim.venue.history_handoff import event_field
else:
    from perpsim.venue.history_handoff import event_field

from perpsim.engine import commands as C
from perpsim.engine.book_types import BookEvent
from perpsim.engine.events import ConditionalEvent, OrderEvent, OrderPlaced
from perpsim.model.enums import EventKind, TriggerSource
from perpsim.venue.history_handoff import HistoryHandoff
from perpsim.venue.history_records import OrderRecord

if TYPE_CHECKING:
    from perpsim.engine.views import ExchangeView
    from perpsim.venue.history_records import HistoryLimits

_FILL, _CANCELED, _EXPIRED = int(EventKind.FILL), int(EventKind.CANCELED), int(EventKind.EXPIRED)
_EVENT = OrderEvent._fields.index("event")  # (engine events read by position: history_handoff.event_field)
_KIND, _ORDER_ID, _LEAVES, _COUNTER_ORDER_ID, _COUNTER_LEAVES = (
    BookEvent._fields.index(name) for name in ("kind", "order_id", "leaves", "counter_order_id", "counter_leaves"))
_LAST = int(TriggerSource.LAST)
# placed_by of an order placed directly: (orig_type, stop_price, working_type, price_protect, conditional_id)
_DIRECT = (0, 0, _LAST, False, 0)

#: An order's status while it works (venue/state.py has the others).
NEW, PARTIALLY_FILLED = "NEW", "PARTIALLY_FILLED"

#: OrderInfo.held: where the history holds the order (kept on the order itself, not in a map
#: of the history's: one lookup fewer per event, one insert and delete fewer per order)
NOT_HELD, HELD, HELD_DONE = 0, 1, 2


# One per order, kept long (the registry holds 100,000 completed ones). Compiled
# (venue/history_orders.pxd) it is a fixed C struct built in one call, untracked by the cycle
# collector (its fields hold no reference back to it), which otherwise walked every one of
# them at each full pass.
@cython.no_gc
@cython.cclass
@dataclass
class OrderInfo:
    """An order as its owner sees it. Quantities in lots, prices in ticks.

    The registry (venue/state.py) keeps the fields up to `status`. The history keeps the rest
    as it folds the order's events in, on this same object (no second object per order):
    cum_quote (tick-lots, Σ price × qty of its fills), time_ns (accepted) and update_ns (its
    last change), and `placed_by`, the terms of the conditional order that placed it
    (orig_type, stop_price, working_type, price_protect, conditional_id) or None.
    `placement`: the command that placed it, kept while its client order id answers retries.
    `held`: whether the history holds it (NOT_HELD, HELD, or HELD_DONE: among its completed
    orders, which retention drops first)."""

    order_id: int
    account: int
    symbol: str
    client_order_id: str
    side: int
    kind: int
    tif: int
    price: int
    qty: int
    reduce_only: bool
    position_side: int
    filled: int = 0
    status: str = NEW
    cum_quote: int = field(default=0, compare=False)
    time_ns: int = field(default=0, compare=False)
    update_ns: int = field(default=0, compare=False)
    placed_by: tuple | None = field(default=None, compare=False)
    placement: object = field(default=None, compare=False, repr=False)
    held: int = field(default=NOT_HELD, compare=False, repr=False)

    @property
    def open(self) -> bool:
        """Whether the order is open: NEW or PARTIALLY_FILLED."""
        return self.status in (NEW, PARTIALLY_FILLED)

    def __reduce__(self):
        # pickled as its fields in order: the dataclass's own pickling looks its fields up for
        # every object, a third of a snapshot's time with 50,000 orders
        return OrderInfo, _ORDER_FIELDS(self)


_ORDER_FIELDS = operator.attrgetter(*(f.name for f in dataclasses.fields(OrderInfo)))



def client_order_map() -> dict:
    """An empty map for client order ids that keeps each key's hash beside it (CPython's
    general dict layout, kept for good once a key of another type went in): a lookup that
    misses compares stored hashes, where a map of str keys alone reads every key it probes,
    each an object far from the table (these maps hold up to 100,000 ids, mostly cold)."""
    ids: dict = {None: None}
    del ids[None]
    return ids


def order_record(o: OrderInfo) -> OrderRecord:
    """The record of an order the history keeps (the registry's OrderInfo, with the history's fields)."""
    orig_type, stop_price, working_type, price_protect, conditional_id = o.placed_by or _DIRECT
    return OrderRecord(o.order_id, o.client_order_id, o.account, o.symbol, int(o.side), int(o.position_side),
                       int(o.kind), int(o.tif), o.price, o.qty, o.filled, o.cum_quote, o.status, o.reduce_only,
                       orig_type, stop_price, conditional_id, o.time_ns, o.update_ns, working_type, price_protect)


class HistoryOrders(HistoryHandoff):
    """The order part of `History` (its attributes: venue/history_orders.pxd, set by
    History.__init__): per account, in placement (= id) order, the registry's OrderInfo
    (`_orders`); per account the completed ones kept, in the order they completed (`_done`:
    each enters once, marked HELD_DONE, and leaves only by trimming, from the front); per
    account client order id -> order id (`_by_client`); live conditional id -> its terms
    (`_conditionals`); the registry's orders by id (`_registry`, VenueState.orders). An event
    names its order's account: the order is found in that account's map, no map of owners."""

    if TYPE_CHECKING:  # the C slots (venue/history_orders.pxd), set by History.__init__
        view: ExchangeView
        limits: HistoryLimits
        _registry: dict[int, OrderInfo]
        _orders: dict[int, dict[int, OrderInfo]]
        _done: dict[int, deque[OrderInfo]]
        _by_client: dict[int, dict[str, int]]
        _conditionals: dict[int, tuple[int, int, int, bool]]

    def _add_order(self, o: OrderInfo, ts: int, done: bool) -> None:
        """An order accepted at `ts` (nothing if held already); `done`: it ended in the
        command that placed it."""
        if o.held != NOT_HELD:
            return
        o.time_ns = o.update_ns = ts
        account, oid = o.account, o.order_id
        orders = self._orders.get(account)
        if orders is None:
            orders = self._orders[account] = {}
        orders[oid] = o
        o.held = HELD
        if o.client_order_id:
            by_client = self._by_client.get(account)
            if by_client is None:
                by_client = self._by_client[account] = client_order_map()
            by_client[o.client_order_id] = oid
        if done:
            self._completed(o)
        if len(orders) > self.limits.orders_per_account:
            self._trim(account)

    def _completed(self, o: OrderInfo) -> None:
        """Queue a held order among its account's completed ones (the last to be trimmed)."""
        o.held = HELD_DONE
        completed = self._done.get(o.account)
        if completed is None:
            completed = self._done[o.account] = deque()
        completed.append(o)

    def _touch(self, account: int, order_id: int, ts: int, quote: int, ended: set) -> None:
        """An event of the account's order, if recorded; `ended`: the orders its command ended
        (an order that ended before is among the completed already)."""
        orders = self._orders.get(account)
        if orders is None:
            return
        o = orders.get(order_id)
        if o is None:
            return
        o.update_ns = ts
        o.cum_quote += quote
        if o.held != HELD_DONE and order_id in ended:
            self._completed(o)
            if len(orders) > self.limits.orders_per_account:
                self._trim(account)

    def _trim(self, account: int) -> None:
        """Keep the account's orders within its cap: drop the completed ones that completed
        first (an open order is never dropped)."""
        done = self._done.get(account)
        orders = self._orders[account]
        cap = self.limits.orders_per_account
        by_client = self._by_client.get(account)
        while len(orders) > cap and done:
            gone = done.popleft()  # the first completed
            old = gone.order_id
            del orders[old]
            gone.held = NOT_HELD
            if by_client is not None and by_client.get(gone.client_order_id) == old:
                del by_client[gone.client_order_id]
                if not by_client:
                    del self._by_client[account]
                    by_client = None

    def _placed(self, e: OrderPlaced) -> None:
        """An order the venue placed: mark the conditional order that made it."""
        c = self._conditionals.get(e.by)
        if c is None:
            return
        orders = self._orders.get(e.order.account)
        o = orders.get(e.order_id) if orders is not None else None
        if o is not None:
            o.placed_by = (*c, e.by)

    def _conditional(self, cmd, e: ConditionalEvent) -> None:
        live = self.view.conditional_order(e.symbol, e.conditional_id)
        c = live.order if live is not None else cmd if isinstance(cmd, C.PlaceConditional) else None
        # (not live: it fired within its own command)
        if c is not None:
            self._conditionals[e.conditional_id] = (int(c.kind), c.trigger_price, int(c.source), c.price_protect)


def ended_orders(events: list) -> set[int]:
    """The orders a command's events end (filled, canceled, expired): what the registry marks
    completed while applying the command, told apart from its OrderInfo, which later commands
    change (the history may fold a command in after those)."""
    ended = set()
    for e in events:
        if type(e) is OrderEvent:
            b = event_field(e, _EVENT)
            kind = event_field(b, _KIND)
            if kind == _FILL:
                if event_field(b, _LEAVES) == 0:
                    ended.add(event_field(b, _ORDER_ID))
                if event_field(b, _COUNTER_LEAVES) == 0:
                    ended.add(event_field(b, _COUNTER_ORDER_ID))
            elif kind == _CANCELED or kind == _EXPIRED:
                ended.add(event_field(b, _ORDER_ID))
    return ended
