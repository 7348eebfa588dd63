"""Conditional orders: placing them, their triggers, expiry, and keeping exits within positions.

A conditional order (stop, take-profit, trailing stop; on the mark, last or index price) rests in
its source's trigger index and is placed as an order, through order entry's checks, when its
source crosses its trigger (`_fire_triggers`: every moved source, in market, source and firing
order, until nothing more fires, the order lists acting between firings and the liquidation
cascade after each round). GTD conditional orders and order lists expire when a command at or
after their time arrives (`_expire`). After a position moved, `_trim_reduce_only` fits what
closes it: order lists' exits and closing conditional orders (OrderLists._fit_exits), and resting
reduce-only orders, which may never increase or flip it. Firing itself, and everything about
order lists, is engine/order_lists.py; the records are the standing orders' (engine/standing.py).
"""

from __future__ import annotations

import heapq

from perpsim.engine import commands as C
from perpsim.engine.entry import Entry
from perpsim.engine.events import ConditionalEvent
from perpsim.engine.liquidation import Liquidation
from perpsim.engine.loss_limits import LossLimits
from perpsim.engine.market import _has_exits, position_key
from perpsim.engine.order_lists import CALLBACK_MAX, CALLBACK_MIN, OrderLists
from perpsim.engine.settlement import Settlement
from perpsim.engine.standing import StandingOrders, _closing
from perpsim.engine.state import State
from perpsim.engine.trigger_rules import stop_direction, would_activate, would_trigger
from perpsim.model.causes import ConditionalStatus, ListCause, ListStatus
from perpsim.model.enums import ConditionalKind, Side, TimeInForce, TriggerSource
from perpsim.model.reasons import RejectReason as R

# Members bound once as module names (reading one off its Enum class costs about ten times more).
_COND_CANCELED = ConditionalStatus.CANCELED
_COND_EXPIRED = ConditionalStatus.EXPIRED
_COND_NEW = ConditionalStatus.NEW
_LIST_EXPIRED = ListStatus.EXPIRED
_WHY_EXPIRED = ListCause.EXPIRED

_SIDE_BUY, _SIDE_SELL = Side.BUY, Side.SELL
_GTD = TimeInForce.GTD
# the trigger sources in MARK, LAST, INDEX order, and the kinds: iterating an Enum class builds
# a generator over its member names each time (done for every command while a market holds a
# conditional order)
_SOURCES = tuple(TriggerSource)
_SOURCE_SET = frozenset(TriggerSource)
_KIND_SET = frozenset(ConditionalKind)


class Conditionals:
    """Conditional orders' commands, triggers and expiry; reduce-only trimming."""

    def __init__(self, state: State, settlement: Settlement, standing: StandingOrders, liquidation: Liquidation,
                 loss_limits: LossLimits, entry: Entry, lists: OrderLists) -> None:
        self.state = state
        self.settlement = settlement
        self.standing = standing
        self.liquidation = liquidation
        self.loss_limits = loss_limits
        self.entry = entry
        self.lists = lists

    def _PlaceConditional(self, cmd: C.PlaceConditional) -> None:
        if (m := self.entry._order_market(cmd)) is None:
            return None
        if self.state._loss_limits and not _closing(cmd) and self.loss_limits._loss_refused(cmd, m.asset):
            return None
        if cmd.kind not in _KIND_SET or cmd.source not in _SOURCE_SET:
            return self.state._reject(cmd, R.INVALID_ORDER_TYPE, kind=cmd.kind, source=cmd.source)
        market_kind = cmd.kind in (ConditionalKind.STOP_MARKET, ConditionalKind.TAKE_PROFIT_MARKET,
                                   ConditionalKind.TRAILING_STOP_MARKET)
        if cmd.close_position and (cmd.qty or cmd.reduce_only or not market_kind):
            return self.state._reject(cmd, R.INVALID_QUANTITY, problem="close_position: a market kind, no quantity")
        if not cmd.close_position and cmd.qty <= 0:
            return self.state._reject(cmd, R.INVALID_QUANTITY, qty=cmd.qty)
        lo, hi, _, max_qty = m.spec.book_limits()
        if cmd.qty > max_qty:
            return self.state._reject(cmd, R.QUANTITY_TOO_LARGE, qty=cmd.qty)
        if not market_kind and not lo <= cmd.price <= hi:
            return self.state._reject(cmd, R.INVALID_PRICE, price=cmd.price)
        if (cmd.tif == _GTD) != bool(cmd.expire_ts) or (cmd.expire_ts and cmd.expire_ts <= cmd.ts):
            return self.state._reject(cmd, R.INVALID_GTD_TIME, tif=cmd.tif, expire_ts=cmd.expire_ts, ts=cmd.ts)
        now = m.source_price(self.state.ts, cmd.source)
        if now is None:
            return self.state._reject(cmd, R.INVALID_PRICE, problem="the trigger source has no price yet")
        if not self.lists._room_for_algo(cmd, m, 1):
            return None
        index, cid = m.triggers[cmd.source], self.state.next_order_id
        if cmd.kind == ConditionalKind.TRAILING_STOP_MARKET:
            if not CALLBACK_MIN <= cmd.callback_rate <= CALLBACK_MAX:
                return self.state._reject(cmd, R.INVALID_VALUE, callback_rate=cmd.callback_rate)
            activation = cmd.activation_price or None
            if activation is not None and (not lo <= activation <= hi or would_activate(cmd.side, activation, now)):
                return self.state._reject(cmd, R.WOULD_IMMEDIATELY_TRIGGER, activation_price=activation, price=now)
            index.add_trailing(cid, Side(cmd.side), cmd.callback_rate, activation, now)
        else:
            take_profit = cmd.kind in (ConditionalKind.TAKE_PROFIT_MARKET, ConditionalKind.TAKE_PROFIT_LIMIT)
            direction = stop_direction(Side(cmd.side), take_profit)
            if not lo <= cmd.trigger_price <= hi:
                return self.state._reject(cmd, R.INVALID_PRICE, trigger_price=cmd.trigger_price)
            if would_trigger(direction, cmd.trigger_price, now):
                return self.state._reject(cmd, R.WOULD_IMMEDIATELY_TRIGGER, trigger_price=cmd.trigger_price, price=now)
            index.add_stop(cid, direction, cmd.trigger_price)
        self.state.next_order_id += 1
        self.standing._keep_conditional(m, cid, cmd)
        m.observed[cmd.source] = now
        self.state._events.append(ConditionalEvent(m.symbol, cid, cmd.account, _COND_NEW))

    def _CancelConditional(self, cmd: C.CancelConditional) -> None:
        if (m := self.state._market(cmd)) is None:
            return None
        c = m.conditionals.get(cmd.order_id)
        if c is None or c.account != cmd.account:  # never reveal another account's order
            return self.state._reject(cmd, R.UNKNOWN_ORDER, order_id=cmd.order_id)
        self.standing._drop_conditional(m, cmd.order_id, _COND_CANCELED)

    def _expire(self) -> None:
        """GTD conditional orders and order lists whose time has come (expire_ts ≤ now) expire,
        in expiry, market, id order; a list's orders in the book expire there (book.advance)."""
        while self.state._expiries and self.state._expiries[0][0] <= self.state.ts:
            at, symbol, oid = heapq.heappop(self.state._expiries)
            m = self.state.markets[symbol]
            c = m.conditionals.get(oid)
            if c is not None and c.expire_ts == at:
                self.standing._drop_conditional(m, oid, _COND_EXPIRED)
            elif oid in m.lists:
                m.book.advance(self.state.ts)
                self.settlement._book_events(m)
                self.standing._end_list(m, oid, _LIST_EXPIRED, _WHY_EXPIRED)

    def _fire_triggers(self) -> None:
        """Feed every moved trigger source to its index and place what fires, until nothing more
        fires (a triggered order's trade moves the last price). Markets in name order, sources in
        MARK, LAST, INDEX order, each index's firing order within (deterministic). Order lists
        act on what happened before each firing, so a leg another leg's fill ended never fires."""
        moved = True
        while moved:
            moved = self.lists._run_lists() if self.state._notes or self.state._due else False
            for m in self.state.markets.values():
                if not m.conditionals:
                    continue
                for source in _SOURCES:
                    price = m.source_price(self.state.ts, source)
                    if price is None or m.observed.get(source) == price:
                        continue
                    m.observed[source] = price
                    for cid in m.triggers[source].on_price(price):
                        if cid not in m.conditionals:
                            continue  # ended with its order list by an earlier one
                        moved = True
                        self.lists._fire(m, cid, price)
                        self.lists._run_lists()
            if moved:
                self.liquidation.cascade()

    def _trim_reduce_only(self) -> None:
        """Resting reduce-only (and hedge-mode closing) orders may never increase or flip a
        position: after a position moved, its closing orders beyond its size are knocked out and
        any on the opening side are canceled."""
        if not self.state._positions_moved:
            return
        moved, self.state._positions_moved = self.state._positions_moved, set()
        # only positions something closing rests against have anything to fit (fitting never
        # adds such orders, so the rest can be left out before sorting)
        markets = self.state.markets
        fitted = []
        for k in moved:
            if _has_exits(markets[k[0]], k[1], k[2]):
                fitted.append(k)
        for symbol, account, pside in sorted(fitted):
            m = markets[symbol]
            p = m.positions.get(position_key(account, pside))
            lots = 0 if p is None else p.lots
            closing = _SIDE_SELL if lots > 0 else _SIDE_BUY
            self.lists._fit_exits(m, account, pside, lots, closing)
            for oid in self.entry._reduce_only_ids(m, account, pside):
                if not lots or m.orders[oid].side != closing:
                    m.book.cancel(oid, self.state.ts)
                    self.settlement._book_events(m)
            if lots:
                resting = self.entry._reduce_only_resting(m, account, pside, closing)
                if resting > abs(lots):
                    self.entry._knock_out(m, account, pside, closing, resting - abs(lots))
