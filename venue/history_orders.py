"""The orders of the account history (venue/history.py): what the history adds to the order
registry's `OrderInfo` of each order (quote sum, times, the conditional order that placed it:
kept on that same object, venue/state.py) and which of them retention keeps.

An order is recorded at its ACCEPTED event and kept after the registry evicted it; per account
at most `HistoryLimits.orders_per_account`, the completed ones going first, in the order they
completed, an open one never. When an order completed is told by its command's own events
(`ended_orders`), not by its `OrderInfo`, which later commands change: the history may fold a
command in after those (venue/history_handoff.py).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

from perpsim.engine import commands as C
from perpsim.engine.events import ConditionalEvent, OrderEvent, OrderPlaced
from perpsim.model.enums import EventKind, TriggerSource
from perpsim.venue.history_records import HistoryLimits, OrderRecord

if TYPE_CHECKING:
    from perpsim.engine.views import ExchangeView
    from perpsim.venue.state import OrderInfo

_FILL, _CANCELED, _EXPIRED = int(EventKind.FILL), int(EventKind.CANCELED), int(EventKind.EXPIRED)
_LAST = int(TriggerSource.LAST)
# placed_by of an order placed directly: (orig_type, stop_price, working_type, price_protect, conditional_id)
_DIRECT = (0, 0, _LAST, False, 0)


def order_record(o: OrderInfo) -> OrderRecord:
    """The record of an order the history keeps (the registry's OrderInfo, with the history's fields)."""
    orig_type, stop_price, working_type, price_protect, conditional_id = o.placed_by or _DIRECT
    return OrderRecord(o.order_id, o.client_order_id, o.account, o.symbol, int(o.side), int(o.position_side),
                       int(o.kind), int(o.tif), o.price, o.qty, o.filled, o.cum_quote, o.status, o.reduce_only,
                       orig_type, stop_price, conditional_id, o.time_ns, o.update_ns, working_type, price_protect)


class HistoryOrders:
    """The order part of `History`, which holds what is declared here."""

    view: ExchangeView
    limits: HistoryLimits
    _orders: dict[int, dict[int, OrderInfo]]  # per account, in placement (= id) order
    _done: dict[int, OrderedDict[int, None]]  # per account, completed orders kept
    _owner: dict[int, int]  # order id -> account
    _by_client: dict[int, dict[str, int]]  # per account: client order id -> order id
    _conditionals: dict[int, tuple[int, int, int, bool]]  # live conditional id -> its terms

    def _add_order(self, o: OrderInfo, ts: int, done: bool) -> None:
        """An order accepted at `ts`; `done`: it ended in the command that placed it."""
        o.time_ns = o.update_ns = ts
        account, oid = o.account, o.order_id
        orders = self._orders.get(account)
        if orders is None:
            orders = self._orders[account] = {}
        orders[oid] = o
        self._owner[oid] = account
        if o.client_order_id:
            by_client = self._by_client.get(account)
            if by_client is None:
                by_client = self._by_client[account] = {}
            by_client[o.client_order_id] = oid
        if done:
            completed = self._done.get(account)
            if completed is None:
                completed = self._done[account] = OrderedDict()
            completed[oid] = None
        if len(orders) > self.limits.orders_per_account:
            self._trim(account)

    def _touch(self, order_id: int, ts: int, quote: int, ended: set) -> None:
        """An event of a recorded order; `ended`: the orders its command ended (an order that
        ended before is among the completed already)."""
        account = self._owner.get(order_id)
        if account is None:
            return
        o = self._orders[account][order_id]
        o.update_ns = ts
        o.cum_quote += quote
        if order_id in ended:
            completed = self._done.get(account)
            if completed is None:
                completed = self._done[account] = OrderedDict()
            elif order_id in completed:
                return
            completed[order_id] = None
            if len(self._orders[account]) > self.limits.orders_per_account:
                self._trim(account)

    def _trim(self, account: int) -> None:
        """Keep the account's orders within its cap: drop the completed ones that completed
        first (an open order is never dropped)."""
        done = self._done.get(account)
        orders = self._orders[account]
        while len(orders) > self.limits.orders_per_account and done:
            old, _ = done.popitem(last=False)
            gone = orders.pop(old)
            del self._owner[old]
            by_client = self._by_client.get(account)
            if by_client is not None and by_client.get(gone.client_order_id) == old:
                del by_client[gone.client_order_id]
                if not by_client:
                    del self._by_client[account]

    def _placed(self, e: OrderPlaced) -> None:
        """An order the venue placed: mark the conditional order that made it."""
        c = self._conditionals.get(e.by)
        account = self._owner.get(e.order_id)
        if c is None or account is None:
            return
        self._orders[account][e.order_id].placed_by = (*c, e.by)

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
            b = e.event
            kind = b.kind
            if kind == _FILL:
                if b.leaves == 0:
                    ended.add(b.order_id)
                if b.counter_leaves == 0:
                    ended.add(b.counter_order_id)
            elif kind == _CANCELED or kind == _EXPIRED:
                ended.add(b.order_id)
    return ended
