"""The conditional orders and order lists standing in the markets: keeping and ending them.

A conditional order is kept in its market's records (by id, per account, among the closing
orders against its position when it only closes; GTD: in the expiry queue) and in the trigger
index of its source; dropping it takes it out of all of them with its event. Ending an order
list cancels (expires) its live legs and its entry's unfilled rest, then reports the list. These
are what every stage that cancels on an account's behalf uses (a liquidation, ADL, a daily loss
limit's flatten, a position that closed); placing, firing and arming them is the conditional
orders' stage. `_check_lists` checks the records against each other (Exchange.check_integrity).
"""

from __future__ import annotations

import heapq

from perpsim.engine import commands as C
from perpsim.engine.events import ConditionalEvent, ListEvent
from perpsim.engine.market import BOTH, LONG, _List, _Market, _Note
from perpsim.engine.settlement import Settlement
from perpsim.engine.state import State
from perpsim.model.causes import ConditionalStatus, ListCause, ListStatus, OrderGone
from perpsim.model.enums import ListKind, Side

# Members bound once as module names (reading one off its Enum class costs about ten times more).
_COND_CANCELED = ConditionalStatus.CANCELED
_COND_EXPIRED = ConditionalStatus.EXPIRED
_LIST_CANCELED = ListStatus.CANCELED
_LIST_EXPIRED = ListStatus.EXPIRED
_GONE_CANCELED = OrderGone.CANCELED
_GONE_EXPIRED = OrderGone.EXPIRED

_SIDE_BUY = Side.BUY


def _legs(c: C.PlaceOrderList) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """(type, trigger, price) of the take-profit and the stop-loss leg (type NONE: absent; a
    trailing stop's trigger is its activation price, 0 = none)."""
    return (c.tp_type, c.tp_trigger, c.tp_price), (c.sl_type, c.sl_trigger, c.sl_price)


def _exit_side(c: C.PlaceOrderList) -> int:
    """The side of a list's exits: an OCO's own side, the opposite of an entry's."""
    return c.side if c.kind == ListKind.OCO else 1 - c.side


def _closing(c: C.PlaceConditional) -> bool:
    """True if a conditional order only closes its position: reduce-only, close-position, or
    in hedge mode a SELL on LONG / BUY on SHORT."""
    hedge_close = c.position_side != BOTH and (c.position_side == LONG) != (c.side == _SIDE_BUY)
    return c.reduce_only or c.close_position or hedge_close


class StandingOrders:
    """Conditional orders and order lists at rest: their records, their events when they end."""

    def __init__(self, state: State, settlement: Settlement) -> None:
        self.state = state
        self.settlement = settlement

    def _keep_conditional(self, m: _Market, cid: int, c: C.PlaceConditional) -> None:
        m.conditionals[cid] = c
        m.conditionals_of.setdefault(c.account, set()).add(cid)
        if _closing(c):
            m.exit_conditionals.setdefault((c.account, c.position_side), set()).add(cid)
        if c.expire_ts:
            heapq.heappush(self.state._expiries, (c.expire_ts, m.symbol, cid))

    def _pop_conditional(self, m: _Market, cid: int) -> C.PlaceConditional:
        c = m.conditionals.pop(cid)
        ids = m.conditionals_of[c.account]
        ids.discard(cid)
        if not ids:
            del m.conditionals_of[c.account]
        if _closing(c):
            ids = m.exit_conditionals[(c.account, c.position_side)]
            ids.discard(cid)
            if not ids:
                del m.exit_conditionals[(c.account, c.position_side)]
        return c

    def _drop_conditional(self, m: _Market, cid: int, status: ConditionalStatus, reason: int = 0) -> None:
        c = self._pop_conditional(m, cid)
        m.triggers[c.source].remove(cid)
        self.state._events.append(ConditionalEvent(m.symbol, cid, c.account, status, reason=int(reason)))
        if cid in m.list_of:
            cause = _GONE_EXPIRED if status == _COND_EXPIRED else _GONE_CANCELED
            self.state._notes.append(_Note(m.symbol, cid, "gone", cause=cause, reason=int(reason)))

    def _end_list(self, m: _Market, gid: int, status: ListStatus, cause: ListCause, order_id: int = 0,
                  reason: int = 0) -> None:
        """End an order list: its live legs and the entry's unfilled rest are canceled (expired),
        with `reason` on the legs' events; then the list's event (order_id: the order a fired
        leg placed)."""
        g = m.lists.pop(gid)
        self._end_list_index(m, g.cmd.account, gid)
        expired = status == _LIST_EXPIRED
        self._cancel_list_orders(m, g, _COND_EXPIRED if expired else _COND_CANCELED, reason)
        self.state._events.append(ListEvent(m.symbol, gid, g.cmd.account, status, cause, g.armed - g.closed,
                                            order_id, int(reason)))

    def _cancel_list_orders(self, m: _Market, g: _List, status: ConditionalStatus, reason: int = 0) -> None:
        """Cancel a list's live legs and its entry's unfilled rest (unlinked first, so that
        their own events do not come back to the list)."""
        for lid in (*g.legs, g.entry):
            if not lid:
                continue
            del m.list_of[lid]
            if lid in m.conditionals:
                self._drop_conditional(m, lid, status, reason)
            elif lid in m.orders:
                m.book.cancel(lid, self.state.ts)
                self.settlement._book_events(m)
        g.legs, g.entry = [0, 0], 0

    @staticmethod
    def _end_list_index(m: _Market, account: int, gid: int) -> None:
        ids = m.lists_of[account]
        ids.discard(gid)
        if not ids:
            del m.lists_of[account]

    def _end_lists_of(self, m: _Market, account: int, cause: ListCause, reason: int = 0, booked: bool = False) -> None:
        """Cancel the account's order lists in m (booked: only those with an order in the book)."""
        gids = m.lists_of.get(account)
        if not gids:  # most accounts have none (a liquidation asks for every one it closes)
            return
        for gid in sorted(gids):
            g = m.lists[gid]
            if not booked or not m.orders.keys().isdisjoint((g.entry, *g.legs)):  # one of its orders rests
                self._end_list(m, gid, _LIST_CANCELED, cause, reason=reason)

    def _check_lists(self, m: _Market) -> None:
        """Order lists and closing conditional orders agree with their indexes and the books."""
        exits: dict[tuple[int, int], set[int]] = {}
        for cid, c in m.conditionals.items():
            if _closing(c):
                exits.setdefault((c.account, c.position_side), set()).add(cid)
        links, owners = {}, {}
        due = set(self.state._expiries)
        for gid, g in m.lists.items():
            owners.setdefault(g.cmd.account, set()).add(gid)
            # a list whose exits closed all they cover has ended; an OCO covers its quantity
            if g.closed < 0 or (g.armed and g.closed >= g.armed) or \
                    (g.cmd.kind == ListKind.OCO and (g.entry or g.armed != g.cmd.qty)):
                raise AssertionError(f"{m.symbol}: order list {gid} covers {g.armed} and closed {g.closed}")
            if g.cmd.expire_ts and (g.cmd.expire_ts, m.symbol, gid) not in due:
                raise AssertionError(f"{m.symbol}: order list {gid} has no expiry")
            for lid in (g.entry, *g.legs):
                if lid:
                    links[lid] = gid
                    if lid not in m.orders and lid not in m.conditionals:
                        raise AssertionError(f"{m.symbol}: order {lid} of list {gid} is not live")
        for cid, c in m.conditionals.items():
            if c.expire_ts and (c.expire_ts, m.symbol, cid) not in due:
                raise AssertionError(f"{m.symbol}: GTD conditional order {cid} has no expiry")
        if exits != m.exit_conditionals or links != m.list_of or owners != m.lists_of:
            raise AssertionError(f"{m.symbol}: order-list or closing-order index is stale")
