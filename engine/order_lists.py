"""Order lists: OCO, OTO and bracket orders, and how a conditional order fires.

An order list ties an entry (none for an OCO) to a take-profit and a stop-loss leg. The legs are
armed for what the entry has filled (`_arm`: a live leg grows, a leg not live yet is placed, a
conditional leg past its trigger fires at once); what happens to a list's order (a fill, an order
leaving the book, a conditional leg canceled) is noted during an operation and acted on between
operations (`_run_lists`), never inside one. A conditional order fires here (`_fire`): placed
through order entry's checks, a list's leg first canceling the list's other orders (one cancels
the other). A position that closes or reverses ends the lists whose exits close it and cancels
the lone closing conditional orders against it (`_fit_exits`). The lists' records and their
ending are the standing orders' (engine/standing.py); triggers, expiry and reduce-only trimming
are the conditional orders' stage (engine/conditionals.py), which holds this one.
"""

from __future__ import annotations

import dataclasses
import heapq

from perpsim.engine import commands as C
from perpsim.engine.entry import Entry
from perpsim.engine.events import ConditionalEvent, ListEvent
from perpsim.engine.loss_limits import LossLimits
from perpsim.engine.market import BOTH, LONG, _List, _Market, _Note, position_key
from perpsim.engine.settlement import Settlement
from perpsim.engine.standing import StandingOrders, _exit_side, _legs
from perpsim.engine.state import State
from perpsim.engine.trigger_rules import stop_direction, would_activate, would_trigger
from perpsim.model.causes import ConditionalStatus, ListCause, ListStatus, OrderGone
from perpsim.model.enums import ConditionalKind, LegType, ListKind, OrderKind, Side, StpMode, TimeInForce, TriggerSource
from perpsim.model.reasons import RejectReason as R
from perpsim.risk.positions import Position
from perpsim.risk.units import RATE_SCALE

# Members bound once as module names (reading one off its Enum class costs about ten times more).
_COND_CANCELED = ConditionalStatus.CANCELED
_COND_NEW = ConditionalStatus.NEW
_COND_REJECTED_AT_TRIGGER = ConditionalStatus.REJECTED_AT_TRIGGER
_COND_SUPPRESSED = ConditionalStatus.SUPPRESSED
_COND_TRIGGERED = ConditionalStatus.TRIGGERED
_LIST_ARMED = ListStatus.ARMED
_LIST_CANCELED = ListStatus.CANCELED
_LIST_DONE = ListStatus.DONE
_LIST_ENTRY_CLOSED = ListStatus.ENTRY_CLOSED
_LIST_EXPIRED = ListStatus.EXPIRED
_LIST_LEG_REJECTED = ListStatus.LEG_REJECTED
_LIST_NEW = ListStatus.NEW
_LIST_REDUCED = ListStatus.REDUCED
_WHY_CANCELED = ListCause.CANCELED
_WHY_ENTRY_FILLED = ListCause.ENTRY_FILLED
_WHY_ENTRY_PARTIALLY_FILLED = ListCause.ENTRY_PARTIALLY_FILLED
_WHY_EXIT_FILLED = ListCause.EXIT_FILLED
_WHY_EXIT_REJECTED = ListCause.EXIT_REJECTED
_WHY_EXIT_TRIGGERED = ListCause.EXIT_TRIGGERED
_WHY_EXPIRED = ListCause.EXPIRED
_WHY_LEG_CANCELED = ListCause.LEG_CANCELED
_WHY_LEG_FILLED = ListCause.LEG_FILLED
_WHY_LEG_REJECTED = ListCause.LEG_REJECTED
_WHY_POSITION_CLOSED = ListCause.POSITION_CLOSED
_GONE_EXPIRED = OrderGone.EXPIRED

#: Trailing callback rate bounds (0.1 %..10 %) and price protection (mark vs last), scaled 1e8.
CALLBACK_MIN, CALLBACK_MAX, TRIGGER_PROTECT = 100_000, 10_000_000, 5_000_000
_SIDE_BUY = Side.BUY
_MARKET, _LIMIT = OrderKind.MARKET, OrderKind.LIMIT
_IOC, _GTC, _GTD = TimeInForce.IOC, TimeInForce.GTC, TimeInForce.GTD
_NO_STP = StpMode.NONE
#: The conditional order kind of each conditional leg type of an order list.
_LEG_KIND = {LegType.STOP_MARKET: ConditionalKind.STOP_MARKET, LegType.STOP_LIMIT: ConditionalKind.STOP_LIMIT,
             LegType.TAKE_PROFIT_MARKET: ConditionalKind.TAKE_PROFIT_MARKET,
             LegType.TAKE_PROFIT_LIMIT: ConditionalKind.TAKE_PROFIT_LIMIT,
             LegType.TRAILING_STOP_MARKET: ConditionalKind.TRAILING_STOP_MARKET}
#: The leg types allowed as an order list's take-profit (index 0) and stop-loss (index 1) leg.
_LEG_TYPES = ({LegType.NONE, LegType.LIMIT, LegType.TAKE_PROFIT_MARKET, LegType.TAKE_PROFIT_LIMIT},
              {LegType.NONE, LegType.STOP_MARKET, LegType.STOP_LIMIT, LegType.TRAILING_STOP_MARKET})


class OrderLists:
    """Order lists' commands, notes, legs and exits, and the firing of conditional orders."""

    def __init__(self, state: State, settlement: Settlement, standing: StandingOrders, loss_limits: LossLimits,
                 entry: Entry) -> None:
        self.state = state
        self.settlement = settlement
        self.standing = standing
        self.loss_limits = loss_limits
        self.entry = entry

    def _PlaceOrderList(self, cmd: C.PlaceOrderList) -> None:
        if (m := self.entry._order_market(cmd)) is None:
            return None
        # only an OCO of exits that close can add no exposure (an entry always can)
        closes = cmd.kind == ListKind.OCO and (cmd.reduce_only or (
            cmd.position_side != BOTH and (cmd.position_side == LONG) != (cmd.side == _SIDE_BUY)))
        if self.state._loss_limits and not closes and self.loss_limits._loss_refused(cmd, m.asset):
            return None
        legs = _legs(cmd)
        if cmd.kind not in set(ListKind) or any(t not in allowed for (t, _, _), allowed in zip(legs, _LEG_TYPES,
                                                                                               strict=True)):
            return self.state._reject(cmd, R.INVALID_ORDER_TYPE, kind=cmd.kind, tp_type=cmd.tp_type,
                                      sl_type=cmd.sl_type)
        if sum(t != LegType.NONE for t, _, _ in legs) != (1 if cmd.kind == ListKind.OTO else 2):
            return self.state._reject(cmd, R.INVALID_ORDER_TYPE, problem="OCO and BRACKET take both legs, OTO one")
        if cmd.source not in set(TriggerSource):
            return self.state._reject(cmd, R.INVALID_ORDER_TYPE, source=cmd.source)
        lo, hi, _, max_qty = m.spec.book_limits()
        if not 0 < cmd.qty <= max_qty:
            return self.state._reject(cmd, R.INVALID_QUANTITY, qty=cmd.qty)
        entry = cmd.kind != ListKind.OCO
        if entry and cmd.entry_price and not lo <= cmd.entry_price <= hi:
            return self.state._reject(cmd, R.INVALID_PRICE, entry_price=cmd.entry_price)
        if not entry and (cmd.entry_price or cmd.entry_tif != _GTC):
            return self.state._reject(cmd, R.INVALID_VALUE, problem="an OCO list has no entry order")
        if ((cmd.expire_ts and (cmd.expire_ts <= cmd.ts or cmd.entry_tif not in (_GTC, _GTD)))
                or (not cmd.expire_ts and cmd.entry_tif == _GTD)):
            return self.state._reject(cmd, R.INVALID_GTD_TIME, expire_ts=cmd.expire_ts, entry_tif=cmd.entry_tif)
        trailing = cmd.sl_type == LegType.TRAILING_STOP_MARKET
        if (not CALLBACK_MIN <= cmd.sl_callback_rate <= CALLBACK_MAX) if trailing else cmd.sl_callback_rate:
            return self.state._reject(cmd, R.INVALID_VALUE, field="stop_loss_callback_rate", value=cmd.sl_callback_rate)
        if trailing and cmd.sl_trigger and not lo <= cmd.sl_trigger <= hi:
            return self.state._reject(cmd, R.INVALID_PRICE, field="stop_loss_trigger", value=cmd.sl_trigger)
        for name, (t, trigger, price) in zip(("take_profit", "stop_loss"), legs, strict=True):
            # a LIMIT leg has only a price, market kinds only a trigger, limit kinds both; a
            # trailing stop's activation price (its trigger) is optional, checked above
            if t == LegType.TRAILING_STOP_MARKET:
                trigger = 0
            for value, needed, what in ((trigger, t not in (LegType.NONE, LegType.LIMIT,
                                                            LegType.TRAILING_STOP_MARKET), "trigger"),
                                        (price, t in (LegType.LIMIT, LegType.STOP_LIMIT, LegType.TAKE_PROFIT_LIMIT),
                                         "price")):
                if (not lo <= value <= hi) if needed else value:
                    return self.state._reject(cmd, R.INVALID_PRICE, field=f"{name}_{what}", value=value)
        now = m.source_price(self.state.ts, cmd.source)
        if now is None and any(t not in (LegType.NONE, LegType.LIMIT) for t, _, _ in legs):
            return self.state._reject(cmd, R.INVALID_PRICE, problem="the trigger source has no price yet")
        # exits sit on either side of the entry's limit price (of the source price for a market
        # entry or an OCO): none may be due at once (-2021)
        ref = cmd.entry_price if entry and cmd.entry_price else now
        for i, (t, trigger, price) in enumerate(legs):
            level = price if t == LegType.LIMIT else trigger
            if t == LegType.TRAILING_STOP_MARKET:  # its activation price may not be reached yet
                if trigger and ref is not None and would_activate(_exit_side(cmd), trigger, ref):
                    return self.state._reject(cmd, R.WOULD_IMMEDIATELY_TRIGGER, leg="stop_loss",
                                              activation_price=trigger, price=ref)
            elif t != LegType.NONE and ref is not None and \
                    would_trigger(stop_direction(Side(_exit_side(cmd)), i == 0), level, ref):
                return self.state._reject(cmd, R.WOULD_IMMEDIATELY_TRIGGER, leg=("take_profit", "stop_loss")[i],
                                          trigger=level, price=ref)
        g = _List(cmd, armed=0 if entry else cmd.qty)
        # every conditional leg counts: an OCO's are placed now, the others' once the entry fills
        if not self._room_for_algo(cmd, m, self._unarmed_algo(_List(cmd))):
            return None
        gid = self.state.next_order_id
        self.state.next_order_id += 1
        before = len(self.state._events)
        m.lists[gid] = g
        m.lists_of.setdefault(cmd.account, set()).add(gid)
        if entry:
            g.entry = self.state.next_order_id
            m.list_of[g.entry] = gid
            self.state._events.append(ListEvent(m.symbol, gid, cmd.account, _LIST_NEW, order_id=g.entry))
            gtd = _GTD if cmd.expire_ts else cmd.entry_tif
            _, reason = self.entry._place_for(m, gid, C.PlaceOrder(
                self.state.ts, cmd.account, cmd.symbol, cmd.side, cmd.qty, cmd.entry_price,
                _LIMIT if cmd.entry_price else _MARKET,
                gtd if cmd.entry_price else _IOC, _NO_STP, False,
                cmd.expire_ts if cmd.entry_price else 0, cmd.position_side, cmd.client_order_id))
        else:
            self.state._events.append(ListEvent(m.symbol, gid, cmd.account, _LIST_NEW, qty=cmd.qty))
            reason = self._arm(m, gid, g, cmd.qty)
        if reason:  # an order of the list was refused: undo the list, its legs and its ids
            for lid in (g.entry, *g.legs):
                m.list_of.pop(lid, None)
                if lid in m.conditionals:
                    self.standing._pop_conditional(m, lid)
                    m.triggers[cmd.source].remove(lid)
            del m.lists[gid]
            self.standing._end_list_index(m, cmd.account, gid)
            self.state.next_order_id = gid
            self.state._events[before:] = [e for e in self.state._events[before:] if not (
                (isinstance(e, ListEvent) and e.list_id == gid)
                or (isinstance(e, ConditionalEvent) and e.conditional_id > gid))]
            return self.state._reject(cmd, R(reason), problem="an order of the list was refused")
        if cmd.expire_ts:
            heapq.heappush(self.state._expiries, (cmd.expire_ts, m.symbol, gid))

    def _CancelOrderList(self, cmd: C.CancelOrderList) -> None:
        if (m := self.state._market(cmd)) is None:
            return None
        g = m.lists.get(cmd.list_id)
        if g is None or g.cmd.account != cmd.account:  # never reveal another account's list
            return self.state._reject(cmd, R.UNKNOWN_ORDER, list_id=cmd.list_id)
        self.standing._end_list(m, cmd.list_id, _LIST_CANCELED, _WHY_CANCELED)

    def _room_for_algo(self, cmd, m: _Market, algo: int) -> bool:
        """Whether the account may add `algo` conditional orders (MAX_NUM_ALGO_ORDERS, counting
        the legs its order lists have yet to arm) and as many orders in all (MAX_NUM_ORDERS,
        open and conditional together); rejects the command if not."""
        used = len(m.conditionals_of.get(cmd.account, ())) + sum(
            self._unarmed_algo(m.lists[gid]) for gid in m.lists_of.get(cmd.account, ()))
        if used + algo > m.spec.max_algo_orders:
            self.state._reject(cmd, R.MAX_ALGO_ORDERS, limit=m.spec.max_algo_orders)
            return False
        if m.book.open_orders(cmd.account) + used + algo > m.spec.max_open_orders:
            self.state._reject(cmd, R.MAX_OPEN_ORDERS, limit=m.spec.max_open_orders)
            return False
        return True

    @staticmethod
    def _unarmed_algo(g: _List) -> int:
        """Conditional legs an order list will arm once its entry fills (0 once armed)."""
        return 0 if g.armed else sum(t not in (LegType.NONE, LegType.LIMIT) for t, _, _ in _legs(g.cmd))

    def _fire(self, m: _Market, cid: int, price: int) -> None:
        """A conditional order fired: place its order (with the usual checks) or say why not."""
        c = self.standing._pop_conditional(m, cid)
        if c.price_protect and m.mark and m.last and abs(m.mark - m.last) * RATE_SCALE > m.mark * TRIGGER_PROTECT:
            self.standing._keep_conditional(m, cid, c)  # held back while mark and last diverge; stays armed
            if c.kind == ConditionalKind.TRAILING_STOP_MARKET:
                m.triggers[c.source].add_trailing(cid, Side(c.side), c.callback_rate, None, price)
            else:
                take_profit = c.kind in (ConditionalKind.TAKE_PROFIT_MARKET, ConditionalKind.TAKE_PROFIT_LIMIT)
                m.triggers[c.source].add_stop(cid, stop_direction(Side(c.side), take_profit), c.trigger_price)
            self.state._events.append(ConditionalEvent(m.symbol, cid, c.account, _COND_SUPPRESSED))
            return
        gid = m.list_of.pop(cid, None)
        if gid is not None:  # one-cancels-the-other: the list's other orders go before this one is placed
            g = m.lists[gid]
            g.legs[g.legs.index(cid)] = 0
            self.standing._cancel_list_orders(m, g, _COND_CANCELED)
        qty = c.qty
        if c.close_position:
            pos = m.positions.get(position_key(c.account, c.position_side), Position())
            qty = abs(pos.closing_qty((1 if c.side == _SIDE_BUY else -1) * abs(pos.lots)))
        market = c.kind in (ConditionalKind.STOP_MARKET, ConditionalKind.TAKE_PROFIT_MARKET,
                            ConditionalKind.TRAILING_STOP_MARKET)
        if qty == 0:
            oid, reason = 0, int(R.REDUCE_ONLY_REJECTED)
        else:
            gtd = not market and c.tif == _GTD
            oid, reason = self.entry._place_for(m, cid, C.PlaceOrder(
                self.state.ts, c.account, c.symbol, c.side, qty, 0 if market else c.price,
                _MARKET if market else _LIMIT, _IOC if market else c.tif, _NO_STP,
                # hedge mode closes through the position side, never reduce_only
                (c.reduce_only or c.close_position) and c.account not in self.state.hedge, c.expire_ts if gtd else 0,
                c.position_side, c.client_order_id))
        status = _COND_REJECTED_AT_TRIGGER if reason else _COND_TRIGGERED
        self.state._events.append(ConditionalEvent(m.symbol, cid, c.account, status, order_id=oid, reason=reason))
        if gid is not None:
            self.standing._end_list(m, gid, _LIST_DONE,
                                    _WHY_EXIT_REJECTED if reason else _WHY_EXIT_TRIGGERED, oid, reason)

    def _run_lists(self) -> bool:
        """Carry out, in order, what happened to order lists' orders since the last call (fills,
        orders gone, legs fired) and fire legs that were armed past their trigger. Runs between
        operations, never inside one. True if anything was done."""
        did = False
        while self.state._notes or self.state._due:
            if not self.state._notes:  # what already happened first, then legs armed past their trigger
                symbol, cid, price = self.state._due.pop(0)
                m = self.state.markets[symbol]
                if cid in m.conditionals:
                    did = True
                    self._fire(m, cid, price)
                continue
            n = self.state._notes.popleft()
            m = self.state.markets[n.symbol]
            gid = m.list_of.get(n.order_id)
            if gid is None:
                continue  # the list ended meanwhile
            did = True
            g = m.lists[gid]
            if n.order_id == g.entry:
                self._entry_note(m, gid, g, n)
            else:
                self._leg_note(m, gid, g, n)
        return did

    def _entry_note(self, m: _Market, gid: int, g: _List, n: _Note) -> None:
        account = g.cmd.account
        if n.what == "fill":
            g.armed += n.qty
            if not n.leaves:
                del m.list_of[g.entry]
                g.entry = 0
            cause = _WHY_ENTRY_PARTIALLY_FILLED if n.leaves else _WHY_ENTRY_FILLED
            self.state._events.append(ListEvent(m.symbol, gid, account, _LIST_ARMED, cause, g.armed - g.closed))
            reason = self._arm(m, gid, g, n.qty)
            if reason:
                self.state._events.append(ListEvent(m.symbol, gid, account, _LIST_LEG_REJECTED,
                                                    _WHY_LEG_REJECTED, g.armed - g.closed, reason=reason))
                if not g.entry and not any(g.legs):  # nothing left to arm it again
                    self.standing._end_list(m, gid, _LIST_CANCELED, _WHY_LEG_REJECTED, reason=reason)
            return
        del m.list_of[g.entry]
        g.entry = 0
        if n.cause == _GONE_EXPIRED:
            self.standing._end_list(m, gid, _LIST_EXPIRED, _WHY_EXPIRED)
        elif not any(g.legs):
            self.standing._end_list(m, gid, _LIST_CANCELED, ListCause.entry_gone(n.cause))
        else:
            self.state._events.append(ListEvent(m.symbol, gid, account, _LIST_ENTRY_CLOSED,
                                                ListCause.entry_gone(n.cause), g.armed - g.closed))

    def _leg_note(self, m: _Market, gid: int, g: _List, n: _Note) -> None:
        i = g.legs.index(n.order_id)
        if n.what == "fill" and n.leaves:  # a limit leg filled partly: the other covers less
            g.closed += n.qty
            if g.legs[1 - i]:
                self._grow_leg(m, g, 1 - i, -n.qty)
            self.state._events.append(ListEvent(m.symbol, gid, g.cmd.account, _LIST_REDUCED, _WHY_LEG_FILLED,
                                                g.armed - g.closed))
            return
        del m.list_of[n.order_id]
        g.legs[i] = 0
        if n.what == "fill":
            g.closed += n.qty
            self.standing._end_list(m, gid, _LIST_DONE, _WHY_EXIT_FILLED)
        elif n.cause == _GONE_EXPIRED:
            self.standing._end_list(m, gid, _LIST_EXPIRED, _WHY_EXPIRED)
        else:
            self.standing._end_list(m, gid, _LIST_CANCELED, _WHY_LEG_CANCELED, reason=n.reason)

    def _arm(self, m: _Market, gid: int, g: _List, qty: int) -> int:
        """Put the list's exits in force for `qty` more lots: a live leg grows by qty, a leg not
        live yet is placed for all the list covers. 0, or the RejectReason of a leg that could
        not be placed (the others are in force)."""
        refused = 0
        for i, (t, _, _) in enumerate(_legs(g.cmd)):
            if t == LegType.NONE:
                continue
            if g.legs[i]:
                self._grow_leg(m, g, i, qty)
            else:
                refused = self._open_leg(m, gid, g, i, g.armed - g.closed) or refused
        return refused

    def _open_leg(self, m: _Market, gid: int, g: _List, i: int, qty: int) -> int:
        """Place leg i (0 take-profit, 1 stop-loss) for qty lots; 0 or the RejectReason. A
        conditional leg whose trigger the source has already crossed fires at once."""
        c, (t, trigger, price) = g.cmd, _legs(g.cmd)[i]
        side, tif = _exit_side(c), _GTD if c.expire_ts else _GTC
        reduce_only = (c.reduce_only or c.kind == ListKind.BRACKET) and c.account not in self.state.hedge
        now = m.source_price(self.state.ts, c.source)
        if t == LegType.TRAILING_STOP_MARKET and now is None:
            return int(R.INVALID_PRICE)  # no source price to trail from (a stale index)
        lid = g.legs[i] = self.state.next_order_id
        m.list_of[lid] = gid
        if t == LegType.LIMIT:
            _, reason = self.entry._place_for(m, gid, C.PlaceOrder(self.state.ts, c.account, c.symbol, side, qty, price,
                                                             _LIMIT, tif, _NO_STP, reduce_only, c.expire_ts,
                                                             c.position_side))
            if reason:
                del m.list_of[lid]
                g.legs[i] = 0
            return reason
        self.state.next_order_id += 1
        kind = _LEG_KIND[t]
        trailing = kind == ConditionalKind.TRAILING_STOP_MARKET
        # a trailing stop's trigger field is its activation price
        self.standing._keep_conditional(m, lid, C.PlaceConditional(
            self.state.ts, c.account, c.symbol, side, qty, kind, 0 if trailing else trigger,
            price if kind in (ConditionalKind.STOP_LIMIT, ConditionalKind.TAKE_PROFIT_LIMIT) else 0, c.source,
            reduce_only, callback_rate=c.sl_callback_rate if trailing else 0,
            activation_price=trigger if trailing else 0, position_side=c.position_side, tif=tif,
            expire_ts=c.expire_ts))
        self.state._events.append(ConditionalEvent(m.symbol, lid, c.account, _COND_NEW))
        if trailing:  # trails from the source price at arming (or from its activation price once reached)
            m.triggers[c.source].add_trailing(lid, Side(side), c.sl_callback_rate, trigger or None, now)
            return 0
        direction = stop_direction(Side(side), i == 0)
        if now is not None and would_trigger(direction, trigger, now):
            self.state._due.append((m.symbol, lid, now))
        else:
            m.triggers[c.source].add_stop(lid, direction, trigger)
        return 0

    def _grow_leg(self, m: _Market, g: _List, i: int, delta: int) -> None:
        """Resize leg i by delta lots (a leg brought to nothing is canceled; the list goes on)."""
        lid = g.legs[i]
        c, o = m.conditionals.get(lid), m.orders.get(lid)
        size = c.qty if c is not None else o.leaves if o is not None else 0
        if not size:
            return  # filled or gone within this command: its own note follows
        if size + delta <= 0:
            del m.list_of[lid]
            g.legs[i] = 0
            if c is not None:
                self.standing._drop_conditional(m, lid, _COND_CANCELED)
            else:
                m.book.cancel(lid, self.state.ts)
                self.settlement._book_events(m)
        elif c is not None:
            m.conditionals[lid] = dataclasses.replace(c, qty=size + delta)
        else:
            m.book.amend(lid, o.price, size + delta, self.state.ts)
            self.settlement._book_events(m)

    def _fit_exits(self, m: _Market, account: int, pside: int, lots: int, closing: int) -> None:
        """A position moved: order lists whose armed exits close it end when it is closed or
        reversed, else their conditional legs shrink to its size; lone closing conditional
        orders (reduce-only, close-position) against it are canceled when it closed or reversed."""
        for gid in sorted(m.lists_of.get(account, ())):
            g = m.lists.get(gid)
            c = g.cmd if g is not None else None
            if c is None or c.position_side != pside or g.armed == g.closed or not (
                    (c.reduce_only or c.kind == ListKind.BRACKET) if pside == BOTH
                    else (pside == LONG) != (_exit_side(c) == _SIDE_BUY)):
                continue
            if not lots or _exit_side(c) != closing:
                self.standing._end_list(m, gid, _LIST_CANCELED, _WHY_POSITION_CLOSED)
                continue
            for lid in g.legs:
                leg = m.conditionals.get(lid)
                if leg is not None and leg.qty > abs(lots):
                    m.conditionals[lid] = dataclasses.replace(leg, qty=abs(lots))
        for cid in sorted(m.exit_conditionals.get((account, pside), ())):
            if cid not in m.list_of and (not lots or m.conditionals[cid].side != closing):
                self.standing._drop_conditional(m, cid, _COND_CANCELED, R.REDUCE_ONLY_REJECTED)
