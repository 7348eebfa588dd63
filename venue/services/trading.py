"""The gRPC TradingService: order entry (single, batch, bidirectional stream), cancels, amends,
conditional orders and order lists.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable

import grpc

from perpsim.engine import commands as C
from perpsim.engine.events import ConditionalEvent, ListEvent, OrderEvent
from perpsim.model.enums import (
    ConditionalKind,
    EventKind,
    OrderKind,
    TimeInForce,
)
from perpsim.model.reasons import RejectReason as R
from perpsim.v1 import (
    common_pb2,
    trading_pb2,
    trading_pb2_grpc,
)
from perpsim.venue import convert as cv
from perpsim.venue.auth import bearer
from perpsim.venue.codec import stamped
from perpsim.venue.errors import VenueError, internal_rpc_status, to_rpc_status, to_status
from perpsim.venue.services.common import Venue, order_entry, placed_order, rpc
from perpsim.venue.services.order_stream import MAX_BATCH_ORDERS, answer_stream
from perpsim.venue.services.placed_wire import error_result, message_of, placed_result
from perpsim.venue.services.wire import conditional_out, order_list_out, order_out, placed_fields
from perpsim.venue.state import KnownConditional, KnownList

log = logging.getLogger("perpsim.venue")

# An order's wire enums as the engine's plain ints, not IntEnum members: a command of plain ints
# is its own journal form (venue.codec), so the sequencer applies it as built instead of
# rebuilding it from its journal bytes.
_SIDE, _KIND, _TIF, _STP, _PSIDE = ({k: int(v) for k, v in t.items()}
                                    for t in (cv.SIDE_IN, cv.KIND_IN, cv.TIF_IN, cv.STP_IN, cv.PSIDE_IN))
_MARKET, _IOC = int(OrderKind.MARKET), int(TimeInForce.IOC)
_MARKET_TIF = {0: _IOC, common_pb2.TIME_IN_FORCE_IOC: _IOC, common_pb2.TIME_IN_FORCE_FOK: int(TimeInForce.FOK)}


# C.PlaceOrder(ts, *fields), made once per order in the sequencer, its slots set directly
_stamp_order = stamped(C.PlaceOrder)


def _place_order(fields: tuple, ts: int) -> C.PlaceOrder:
    """The PlaceOrder of `fields` (Trading.order_fields) at `ts`: made once, in the sequencer."""
    return _stamp_order(ts, fields)


def _trigger_order_fields(r) -> tuple[int, int, int]:
    """Side, trigger source and position side of a conditional-order or order-list request."""
    return (cv.enum_in(cv.SIDE_IN, r.side, "side", R.INVALID_SIDE),
            cv.enum_in(cv.SOURCE_IN, r.trigger_source, "trigger_source", R.INVALID_ORDER_TYPE),
            cv.enum_in(cv.PSIDE_IN, r.position_side, "position_side", R.INVALID_POSITION_SIDE))



class Trading(trading_pb2_grpc.TradingServiceServicer):
    """perpsim.v1.TradingService; every call acts on the account of the caller's bearer API key."""

    def __init__(self, venue: Venue) -> None:
        self.venue = venue

    def command(self, account: int, r) -> C.PlaceOrder:
        """The engine command for a PlaceOrderRequest (time stamped later by the sequencer)."""
        return C.PlaceOrder(0, *self.order_fields(account, r))

    def order_fields(self, account: int, r) -> tuple:
        """The fields of the engine command for a PlaceOrderRequest after its time: the command
        is `C.PlaceOrder(ts, *fields)`, made once the sequencer knows its time."""
        spec = self.venue.spec(r.symbol)
        side, kind = _SIDE.get(r.side), _KIND.get(r.type)  # (None: refused below, in field order)
        if side is None:
            cv.enum_in(_SIDE, r.side, "side", R.INVALID_SIDE)
        if kind is None:
            cv.enum_in(_KIND, r.type, "type", R.INVALID_ORDER_TYPE)
        qty = cv.qty_in(spec, r.quantity, r.quantity_lots)
        if kind == _MARKET:
            if r.price or r.price_ticks:
                raise VenueError(R.INVALID_PRICE, field="price", problem="a market order takes no price")
            price, tif = 0, cv.enum_in(_MARKET_TIF, r.time_in_force, "time_in_force", R.INVALID_TIME_IN_FORCE)
        else:
            price = cv.price_in(spec, r.price, r.price_ticks)
            tif = cv.enum_in(_TIF, r.time_in_force, "time_in_force", R.INVALID_TIME_IN_FORCE)
        stp, pside = _STP.get(r.self_trade_prevention), _PSIDE.get(r.position_side)
        if stp is None:
            cv.enum_in(_STP, r.self_trade_prevention, "self_trade_prevention", R.INVALID_STP_MODE)
        if pside is None:
            cv.enum_in(_PSIDE, r.position_side, "position_side", R.INVALID_POSITION_SIDE)
        return (account, spec.symbol, side, qty, price, kind, tif, stp, r.reduce_only, r.good_till_time_ns, pside,
                cv.client_order_id_in(r.client_order_id))

    @order_entry
    async def PlaceOrder(self, request, context):
        """TradingService.PlaceOrder: place one order for the caller; answers it as it stands with its taker fills and
        warnings (a retry with the same client order id and payload: the original; another payload: ALREADY_EXISTS)."""
        return await self._place(self.venue.account(context), request)

    @order_entry
    async def PlaceOrders(self, request, context):
        """TradingService.PlaceOrders: 1 to MAX_BATCH_ORDERS orders as one sequencer unit (one commit), each weighing 1
        on the rate limit; each answered with its order or its own error."""
        account = self.venue.account(context, weight=max(1, min(len(request.orders), MAX_BATCH_ORDERS)))
        if not 0 < len(request.orders) <= MAX_BATCH_ORDERS:
            raise VenueError(R.INVALID_VALUE, field="orders", count=len(request.orders),
                             problem=f"1 to {MAX_BATCH_ORDERS} orders")

        return message_of(trading_pb2.PlaceOrdersResponse, "results", await self._place_many(account, request.orders))

    async def StreamOrders(self, requests, context):
        """Order entry on one bidirectional stream: each request (one order, or up to
        MAX_BATCH_ORDERS) is answered in order, each order by its order or its own error; what
        arrives while earlier orders are sequenced goes to the sequencer as one unit, one commit
        (venue.services.order_stream)."""
        if not self.venue.ready:
            await context.abort(grpc.StatusCode.UNAVAILABLE, self.venue.unavailable)
        try:
            account = self.venue.account(context)
        except VenueError as e:
            await context.abort_with_status(to_status(self.venue.refused(e)))
        key = bearer(context.invocation_metadata())
        async for response in answer_stream(requests, key, self.venue.take,
                                            functools.partial(self._place_many, account), self.venue.refused):
            yield response

    async def _place_many(self, account: int, requests) -> list[bytes]:
        """Place orders as one sequencer unit (in order, one commit); a result each, as a
        PlaceOrderResult's wire bytes (venue.services.placed_wire): the order, or the error of
        that request alone."""
        orders: list = []  # per request: its command's fields, or its error
        sent: list[tuple] = []  # the fields of the orders that go to the sequencer, in order
        fields_of = self.order_fields
        for r in requests:
            try:
                if isinstance(r, VenueError):  # refused before it got here (the stream's rate limit)
                    raise r
                fields = fields_of(account, r)
            except VenueError as e:
                orders.append(e)
                continue
            orders.append(fields)
            sent.append(fields)
        # one make for every order of the unit: the sequencer calls a unit's makes once each, in
        # their order, so each call makes the next order's command (cheaper than a partial each)
        following = iter(sent).__next__
        makes: list[Callable[[int], object]] = [lambda ts: _stamp_order(ts, following())] * len(sent)
        before = self.venue.state.exchange.next_order_id
        try:
            outcomes = iter(await self.venue.seq.submit_many(makes))
        except VenueError as e:  # the unit was shed (overload): each of its orders is answered so
            outcomes = iter([e] * len(makes))
        out = []
        venue = self.venue
        signals = venue.account_signals
        known, markets, placed_order = venue.state.orders, venue.markets, self.placed_order
        bps = signals.slippage.bps_texts if signals is not None else None
        for t in orders:
            outcome = t if isinstance(t, VenueError) else next(outcomes)
            try:
                if isinstance(outcome, BaseException):
                    raise outcome
                mine, fills = placed_order(account, t[1], before, outcome)  # (as _placed, its context read once)
                o = known[mine]
                out.append(placed_result(markets[o.symbol], o, fills, bps))
            except VenueError as e:
                out.append(error_result(to_rpc_status(self.venue.refused(e))))
            except Exception:  # a fault in the core, already undone by the sequencer
                log.exception("order %r failed", t)
                out.append(error_result(internal_rpc_status()))
        return out

    async def _place(self, account: int, request) -> trading_pb2.PlaceOrderResponse:
        venue = self.venue
        fields = self.order_fields(account, request)
        signals = venue.account_signals
        template = _stamp_order(0, fields) if signals is not None else None  # as the signals read it
        warnings = signals.order_warnings(template) if signals is not None else []
        before = venue.state.exchange.next_order_id
        # the command made once, at its time, in the sequencer; its rejection raised by _placed
        events = await venue.seq.submit(functools.partial(_place_order, fields))
        placed = self._placed(account, fields[1], before, events)
        if signals is not None:
            placed["warnings"] = warnings + signals.after_order(template)
        return trading_pb2.PlaceOrderResponse(**placed)

    def _placed(self, account: int, symbol: str, before: int, events: list) -> dict:
        """The response to an order placement from its command's events, as the fields of a
        PlaceOrderResponse; raises its rejection. `before`: the next order id before the command
        was queued (older orders' events are not this order's)."""
        mine, fills = self.placed_order(account, symbol, before, events)
        venue = self.venue
        signals = venue.account_signals
        return placed_fields(venue, venue.state.orders[mine], fills,
                             signals.slippage.bps_texts if signals is not None else None)

    def placed_order(self, account: int, symbol: str, before: int, events: list) -> tuple[int, list]:
        """The placed order's id and the account's fills among its events (common.placed_order)."""
        return placed_order(self.venue.markets, account, symbol, before, events)

    @rpc
    async def CancelOrder(self, request, context):
        """TradingService.CancelOrder: cancel one of the caller's orders in a market by order_id or client_order_id;
        answers the order (one no longer open as it is); NOT_FOUND for an order not the caller's in that market."""
        account = self.venue.account(context)
        spec = self.venue.spec(request.symbol)
        o = self._own_order(account, spec, request)
        if o.open:
            await self.venue.run(lambda ts: C.CancelOrder(ts, account, spec.symbol, o.order_id))
        return trading_pb2.CancelOrderResponse(order=order_out(self.venue, o))

    @rpc
    async def AmendOrder(self, request, context):
        """TradingService.AmendOrder: a new price and remaining quantity for one of the caller's orders (Binance's
        Modify Order); answers the order as amended; NOT_FOUND for an order not the caller's in that market."""
        account = self.venue.account(context)
        spec = self.venue.spec(request.symbol)
        o = self._own_order(account, spec, request)
        price = cv.price_in(spec, request.price, 0)
        qty = cv.qty_in(spec, request.quantity, 0)
        await self.venue.run(lambda ts: C.AmendOrder(ts, account, spec.symbol, o.order_id, price, qty))
        return trading_pb2.AmendOrderResponse(order=order_out(self.venue, o))

    def _own_order(self, account: int, spec, request):
        """The account's order named by order_id or client_order_id in the request's market;
        UNKNOWN_ORDER for anything else (never reveal another account's orders)."""
        order_id = request.order_id
        if request.client_order_id:
            seen = self.venue.state.find_client_order(account, request.client_order_id)
            order_id = seen[1] if seen else 0
        o = self.venue.state.orders.get(order_id)
        if o is None or o.account != account or o.symbol != spec.symbol:
            raise VenueError(R.UNKNOWN_ORDER, field="order_id", order_id=order_id)
        return o

    @rpc
    async def CancelAllOrders(self, request, context):
        """TradingService.CancelAllOrders: cancel the caller's open orders in a market; answers the count canceled."""
        account = self.venue.account(context)
        spec = self.venue.spec(request.symbol)
        events = await self.venue.run(lambda ts: C.CancelAll(ts, account, spec.symbol))
        n = sum(1 for e in events if isinstance(e, OrderEvent) and e.event.kind == EventKind.CANCELED)
        return trading_pb2.CancelAllOrdersResponse(canceled_count=n)

    @rpc
    async def PlaceConditionalOrder(self, request, context):
        """TradingService.PlaceConditionalOrder: place a stop, take-profit or trailing stop for the caller; answers it
        (a retry with the same client order id and payload: the original, with this request's terms)."""
        account = self.venue.account(context)
        r, spec = request, self.venue.spec(request.symbol)
        kind = cv.enum_in(cv.COND_IN, r.type, "type", R.INVALID_ORDER_TYPE)
        side, source, pside = _trigger_order_fields(r)
        trailing = kind == ConditionalKind.TRAILING_STOP_MARKET
        limit = kind in (ConditionalKind.STOP_LIMIT, ConditionalKind.TAKE_PROFIT_LIMIT)
        qty = 0 if r.close_position and not r.quantity else cv.qty_in(spec, r.quantity, 0)
        trigger = 0 if trailing else cv.price_in(spec, r.trigger_price, 0, field="trigger_price")
        price = cv.price_in(spec, r.price, 0) if limit else 0
        tif = cv.tif_in(r.time_in_force, "time_in_force")
        callback = cv.rate_in(r.callback_rate, "callback_rate") if trailing else 0
        activation = cv.price_in(spec, r.activation_price, 0, field="activation_price", required=False)
        cv.client_order_id_in(r.client_order_id)
        if r.good_till_time_ns and r.time_in_force == 0:
            tif = TimeInForce.GTD  # an expiry alone means GTD
        template = C.PlaceConditional(
            0, account, spec.symbol, side, qty, kind, trigger, price, source, r.reduce_only, r.close_position,
            r.price_protect, callback, activation, pside, tif, r.client_order_id, r.good_till_time_ns)
        before = self.venue.state.exchange.next_order_id
        events = await self.venue.run(lambda ts: dataclasses.replace(template, ts=ts))
        known = next((e for e in events if isinstance(e, KnownConditional)), None)
        if known is not None:  # an idempotent retry: the original, whose terms are this request's
            return trading_pb2.PlaceConditionalOrderResponse(order=conditional_out(spec, known.conditional_id,
                                                                                   template))
        new = next(e for e in events if isinstance(e, ConditionalEvent) and e.conditional_id >= before)
        placed = self.venue.view.conditional_order(spec.symbol, new.conditional_id)
        # gone already (it fired on its own command): the request's terms
        c = placed.order if placed is not None else template
        return trading_pb2.PlaceConditionalOrderResponse(order=conditional_out(spec, new.conditional_id, c))

    @rpc
    async def CancelConditionalOrder(self, request, context):
        """TradingService.CancelConditionalOrder: cancel one of the caller's conditional orders in a market by id."""
        account = self.venue.account(context)
        spec = self.venue.spec(request.symbol)
        await self.venue.run(lambda ts: C.CancelConditional(ts, account, spec.symbol, request.conditional_id))
        return trading_pb2.CancelConditionalOrderResponse()

    def _symbol(self, symbol: str) -> str | None:
        """The symbol a list request names (NOT_FOUND if there is no such market), None: all."""
        return self.venue.spec(symbol).symbol if symbol else None

    @rpc
    async def ListConditionalOrders(self, request, context):
        """TradingService.ListConditionalOrders: the caller's live conditional orders, in one market or all."""
        account = self.venue.account(context)
        out = [conditional_out(self.venue.markets[c.order.symbol], c.conditional_id, c.order)
               for c in self.venue.view.conditional_orders(account, self._symbol(request.symbol))]
        return trading_pb2.ListConditionalOrdersResponse(orders=out)

    @rpc
    async def PlaceOrderList(self, request, context):
        """TradingService.PlaceOrderList: place an OCO, OTO or bracket for the caller; answers the list (WORKING while
        it lives; a retry with the same client order id and payload: the original list as it is now)."""
        account = self.venue.account(context)
        r, spec = request, self.venue.spec(request.symbol)
        kind = cv.enum_in(cv.LIST_IN, r.type, "type", R.INVALID_ORDER_TYPE)
        side, source, pside = _trigger_order_fields(r)
        tif = cv.tif_in(r.entry_time_in_force, "entry_time_in_force")
        qty = cv.qty_in(spec, r.quantity, 0)
        entry = cv.price_in(spec, r.entry_price, 0, field="entry_price", required=False)
        legs = []  # (type, trigger ticks, price ticks) of the take-profit leg, then the stop-loss leg
        for name, leg in (("take_profit", r.take_profit), ("stop_loss", r.stop_loss)):
            t = cv.enum_in(cv.LEG_IN, leg.type, f"{name}.type", R.INVALID_ORDER_TYPE)
            legs.append((t, cv.price_in(spec, leg.trigger_price, 0, field=f"{name}.trigger_price", required=False),
                         cv.price_in(spec, leg.price, 0, field=f"{name}.price", required=False)))
        (tp_type, tp_trigger, tp_price), (sl_type, sl_trigger, sl_price) = legs
        trailing = r.stop_loss.type == common_pb2.LEG_TYPE_TRAILING_STOP_MARKET
        callback = cv.rate_in(r.stop_loss.callback_rate, "stop_loss.callback_rate") if trailing else 0
        cv.client_order_id_in(r.client_order_id)
        template = C.PlaceOrderList(0, account, spec.symbol, kind, side, qty, entry, tif, tp_type, tp_trigger, tp_price,
                                    sl_type, sl_trigger, sl_price, source, r.reduce_only, pside, r.good_till_time_ns,
                                    r.client_order_id, callback)
        before = self.venue.state.exchange.next_order_id
        events = await self.venue.run(lambda ts: dataclasses.replace(template, ts=ts))
        view = self.venue.view
        known = next((e for e in events if isinstance(e, KnownList)), None)
        if known is not None:  # an idempotent retry: the original list, as it is now
            live = view.order_list(spec.symbol, known.list_id)
            return trading_pb2.PlaceOrderListResponse(order_list=order_list_out(
                spec, known.list_id, live.order if live is not None else template, live, known.status))
        mine = [e for e in events if isinstance(e, ListEvent) and e.list_id >= before]  # this list's
        live = view.order_list(spec.symbol, mine[0].list_id)
        return trading_pb2.PlaceOrderListResponse(order_list=order_list_out(
            spec, mine[0].list_id, template, live, "WORKING" if live is not None else mine[-1].status))

    @rpc
    async def CancelOrderList(self, request, context):
        """TradingService.CancelOrderList: cancel one of the caller's order lists in a market by its id."""
        account = self.venue.account(context)
        spec = self.venue.spec(request.symbol)
        await self.venue.run(lambda ts: C.CancelOrderList(ts, account, spec.symbol, request.list_id))
        return trading_pb2.CancelOrderListResponse()

    @rpc
    async def ListOrderLists(self, request, context):
        """TradingService.ListOrderLists: the caller's live order lists, in one market or all."""
        account = self.venue.account(context)
        out = [order_list_out(self.venue.markets[g.order.symbol], g.list_id, g.order, g)
               for g in self.venue.view.order_lists(account, self._symbol(request.symbol))]
        return trading_pb2.ListOrderListsResponse(order_lists=out)

    @rpc
    async def ListOpenOrders(self, request, context):
        """TradingService.ListOpenOrders: the caller's open orders, in one market (NOT_FOUND for an unknown one) or all,
        oldest first."""
        account = self.venue.account(context)
        if request.symbol:
            self.venue.spec(request.symbol)
        orders = self.venue.state.open_orders(account, request.symbol)
        return trading_pb2.ListOpenOrdersResponse(orders=[order_out(self.venue, o) for o in orders])
