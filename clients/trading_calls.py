"""The client's trading calls (TradingService), shared by `Client` and `AsyncClient`: orders
one at a time, in batches and over a stream; amends and cancels; conditional orders and order
lists. PlaceOrder and PlaceOrderList are retried on UNAVAILABLE only with a client order id (the
venue is idempotent on it); no other write retries. Per order of a batch or stream, the result
is its Order or the typed error it was rejected with (returned, not raised).
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from typing import Any

from perpsim.clients.arguments import (
    Number,
    decimal_text,
    enum_value,
    new_client_order_id,
    order_request,
    position_side_enum,
    side_enum,
    tif_enum,
    timestamp_ns,
)
from perpsim.clients.calls import Call, CallSite
from perpsim.clients.errors import PerpsimError, from_status_pb
from perpsim.clients.order_models import Order, OrderList
from perpsim.v1 import common_pb2, trading_pb2


class TradingCalls(CallSite):
    """Mixin of the SDK's API class (`CallSite`): the trading calls and the order stream."""

    def place_order(self, symbol: str, side: str | int, quantity: Number, price: Number | None = None, *,
                    type: str | int | None = None, time_in_force: str | int | None = None,
                    reduce_only: bool = False, position_side: str | int | None = None,
                    stp: str | int | None = None, client_order_id: str | None = None, good_till_ns: int = 0,
                    idempotent: bool = False) -> Order:
        """Place an order; the Order (with the fills it took while placed in `.fills`).

        A limit order when `price` is given (GTC unless time_in_force says IOC, FOK, GTX =
        post-only, or GTD with good_till_ns), else a market order. Retried on UNAVAILABLE only
        with a client order id (`idempotent=True` generates one).
        """
        if idempotent and not client_order_id:
            client_order_id = new_client_order_id()
        request = order_request(symbol, side, quantity, price, type=type, time_in_force=time_in_force,
                                reduce_only=reduce_only, position_side=position_side, stp=stp,
                                client_order_id=client_order_id, good_till_ns=good_till_ns)
        return self._invoke(Call("trading", "PlaceOrder", request,
                                 lambda r: Order.from_pb(r.order, r.fills, r.warnings),
                                 kind="write", retry=bool(client_order_id)))

    def place_orders(self, orders: list[dict]) -> list[Order | PerpsimError]:
        """Place up to 1,000 orders in one call (each a dict of `place_order`'s arguments).

        They are sequenced back to back and made durable together; the result for each, in
        order, is its Order or the typed error it was rejected with (not raised)."""
        request = trading_pb2.PlaceOrdersRequest(orders=[order_request(**o) for o in orders])
        return self._invoke(Call("trading", "PlaceOrders", request, lambda r: [_order_result(x) for x in r.results],
                                 kind="write"))

    def stream_orders(self, orders: Iterable[dict], *, timeout: float | None = None):
        """Place orders over one bidirectional stream (each a dict of `place_order`'s arguments;
        a generator is read as the venue takes them). An iterator (async iterator on the async
        client) of results in order: each its Order or the typed error it was rejected with."""
        requests = (trading_pb2.StreamOrdersRequest(order=order_request(**o)) for o in orders)
        return self._stream_on("trading", "StreamOrders", requests, lambda r: _order_result(r.result), timeout)

    def stream_order_batches(self, batches: Iterable[list[dict]], *, timeout: float | None = None):
        """Place orders over one bidirectional stream, several per message: each batch (a list of
        up to 1,000 dicts of `place_order`'s arguments) is one message, which saves the stream's
        per-message cost. An iterator (async iterator on the async client) of one list per
        batch, in order: per order its Order or the typed error it was rejected with. A batch
        the venue refuses whole (more than 1,000 orders) has that error for each of its orders.
        An empty batch is not sent (and has no list)."""
        sizes: collections.deque[int] = collections.deque()  # of the batches sent, not yet answered

        def requests():
            for batch in batches:
                if not batch:
                    continue
                request = trading_pb2.StreamOrdersRequest(orders=[order_request(**o) for o in batch])
                sizes.append(len(batch))
                yield request

        return self._stream_on("trading", "StreamOrders", requests(), lambda r: _batch_results(r, sizes.popleft()),
                               timeout)

    def place_conditional(self, symbol: str, side: str | int, quantity: Number | None, *, type: str = "stop_market",
                          trigger_price: Number | None = None, price: Number | None = None, source: str = "last",
                          reduce_only: bool = False, close_position: bool = False, price_protect: bool = False,
                          callback_rate: Number | None = None, activation_price: Number | None = None,
                          client_order_id: str | None = None, good_till_ns: int = 0) -> int:
        """Rest a stop / take-profit / trailing stop; its conditional id. `type`: stop_market,
        stop_limit, take_profit_market, take_profit_limit, trailing_stop_market; `source`: mark,
        last or index; `callback_rate` a fraction (e.g. "0.01"); good_till_ns: GTD expiry (ns
        since the epoch, venue time)."""
        types = {"stop_market": common_pb2.CONDITIONAL_TYPE_STOP_MARKET,
                 "stop_limit": common_pb2.CONDITIONAL_TYPE_STOP_LIMIT,
                 "take_profit_market": common_pb2.CONDITIONAL_TYPE_TAKE_PROFIT_MARKET,
                 "take_profit_limit": common_pb2.CONDITIONAL_TYPE_TAKE_PROFIT_LIMIT,
                 "trailing_stop_market": common_pb2.CONDITIONAL_TYPE_TRAILING_STOP_MARKET}
        sources = {"mark": common_pb2.TRIGGER_SOURCE_MARK, "last": common_pb2.TRIGGER_SOURCE_LAST,
                   "index": common_pb2.TRIGGER_SOURCE_INDEX}
        if type not in types or source not in sources:
            raise ValueError(f"type must be one of {sorted(types)}, source one of {sorted(sources)}")
        request = trading_pb2.PlaceConditionalOrderRequest(
            symbol=symbol, side=order_request(symbol, side, "1").side, type=types[type],
            quantity="" if quantity is None else decimal_text(quantity, "quantity"),
            trigger_price="" if trigger_price is None else decimal_text(trigger_price, "trigger_price"),
            price="" if price is None else decimal_text(price, "price"), trigger_source=sources[source],
            reduce_only=reduce_only, close_position=close_position, price_protect=price_protect,
            callback_rate="" if callback_rate is None else decimal_text(callback_rate, "callback_rate"),
            activation_price="" if activation_price is None else decimal_text(activation_price, "activation_price"),
            client_order_id=client_order_id or "", good_till_time_ns=timestamp_ns(good_till_ns))
        return self._invoke(Call("trading", "PlaceConditionalOrder", request, lambda r: r.order.conditional_id,
                                 kind="write"))

    def place_order_list(self, symbol: str, type: str | int, side: str | int, quantity: Number,
                         price: Number | None = None, *, take_profit: Number | None = None,
                         take_profit_limit: Number | None = None, stop_loss: Number | None = None,
                         stop_loss_limit: Number | None = None, trailing_stop: Number | None = None,
                         source: str | int = "last", reduce_only: bool = False,
                         time_in_force: str | int | None = None, position_side: str | int | None = None,
                         good_till_ns: int = 0, client_order_id: str | None = None,
                         idempotent: bool = False) -> OrderList:
        """Place an order list (`type`: oco, oto or bracket); the list as placed.

        OTO and bracket: an entry order (a limit at `price`, else a market order) whose fills arm
        the exits, sized to what filled; the exits trade the other side. OCO: no entry, both legs
        trade `side` for `quantity` at once. The take-profit leg: `take_profit` (trigger) alone is
        a take-profit market, with `take_profit_limit` a take-profit limit, `take_profit_limit`
        alone a resting limit order. The stop-loss leg: `stop_loss` (trigger), with
        `stop_loss_limit` a stop limit; or `trailing_stop`, a callback rate (a fraction, e.g.
        "0.01"): a trailing stop that follows the price from the moment it is armed, or from
        `stop_loss` (then its activation price) once reached. good_till_ns: the whole list
        expires then (GTD).

        With a client order id the placement is safe to retry: the same id and payload returns
        the original list (as it is now), another payload is ALREADY_EXISTS; it is then retried
        on UNAVAILABLE (`idempotent=True` generates an id)."""
        if idempotent and not client_order_id:
            client_order_id = new_client_order_id()
        request = trading_pb2.PlaceOrderListRequest(
            symbol=symbol, type=enum_value(common_pb2.OrderListType, type, "type"),  # type: ignore[arg-type]  # an enum's number: protobuf's stubs want the enum type
            side=side_enum(side), quantity=decimal_text(quantity, "quantity"),
            entry_price="" if price is None else decimal_text(price, "price"),
            entry_time_in_force=tif_enum(time_in_force),
            take_profit=_leg(take_profit, take_profit_limit, "take_profit"),
            stop_loss=_leg(stop_loss, stop_loss_limit, "stop_loss", trailing_stop),
            trigger_source=enum_value(common_pb2.TriggerSource, source, "source"),  # type: ignore[arg-type]  # an enum's number: protobuf's stubs want the enum type
            reduce_only=bool(reduce_only), position_side=position_side_enum(position_side),
            good_till_time_ns=timestamp_ns(good_till_ns), client_order_id=client_order_id or "")
        return self._invoke(Call("trading", "PlaceOrderList", request, lambda r: OrderList.from_pb(r.order_list),
                                 kind="write", retry=bool(client_order_id)))

    def place_bracket(self, symbol: str, side: str | int, quantity: Number, price: Number | None = None,
                      **legs: Any) -> OrderList:
        """An entry with a take-profit and a stop-loss (see `place_order_list` for the legs)."""
        return self.place_order_list(symbol, "bracket", side, quantity, price, **legs)

    def place_oco(self, symbol: str, side: str | int, quantity: Number, **legs: Any) -> OrderList:
        """Two legs trading `side`, one cancels the other (see `place_order_list`)."""
        return self.place_order_list(symbol, "oco", side, quantity, **legs)

    def cancel_order_list(self, symbol: str, list_id: int) -> None:
        """Cancel an order list: its entry's unfilled rest and its exits."""
        request = trading_pb2.CancelOrderListRequest(symbol=symbol, list_id=list_id)
        return self._invoke(Call("trading", "CancelOrderList", request, lambda r: None, kind="write"))

    def order_lists(self, symbol: str = "") -> list[OrderList]:
        """The account's working order lists (of one market, or all)."""
        request = trading_pb2.ListOrderListsRequest(symbol=symbol)
        return self._invoke(Call("trading", "ListOrderLists", request,
                                 lambda r: [OrderList.from_pb(o) for o in r.order_lists], retry=True))

    def cancel_conditional(self, symbol: str, conditional_id: int) -> None:
        """Cancel a resting conditional order by its conditional id (UnknownOrder when none rests)."""
        request = trading_pb2.CancelConditionalOrderRequest(symbol=symbol, conditional_id=conditional_id)
        self._invoke(Call("trading", "CancelConditionalOrder", request, lambda r: None, kind="write"))

    def conditional_orders(self, symbol: str = "") -> list:
        """The account's resting conditional orders (protobuf ConditionalOrder messages)."""
        request = trading_pb2.ListConditionalOrdersRequest(symbol=symbol)
        return self._invoke(Call("trading", "ListConditionalOrders", request, lambda r: list(r.orders), kind="read"))

    def amend_order(self, symbol: str, order_id: int | None = None, client_order_id: str | None = None, *,
                    price: Number, quantity: Number) -> Order:
        """Change a resting order's price and remaining quantity (both given; by id or client
        order id); the order as it is after. A smaller quantity at the same price keeps its
        place in the queue; any other change re-queues it, and it may trade at once."""
        if not order_id and not client_order_id:
            raise ValueError("amend_order needs order_id or client_order_id")
        request = trading_pb2.AmendOrderRequest(symbol=symbol, order_id=order_id or 0,
                                                client_order_id=client_order_id or "",
                                                price=decimal_text(price, "price"),
                                                quantity=decimal_text(quantity, "quantity"))
        return self._invoke(Call("trading", "AmendOrder", request, lambda r: Order.from_pb(r.order), kind="write"))

    def cancel_order(self, symbol: str, order_id: int | None = None, client_order_id: str | None = None) -> Order:
        """Cancel one order by id or client order id; the order as it is now."""
        if not order_id and not client_order_id:
            raise ValueError("cancel_order needs order_id or client_order_id")
        request = trading_pb2.CancelOrderRequest(symbol=symbol, order_id=order_id or 0,
                                                 client_order_id=client_order_id or "")
        return self._invoke(Call("trading", "CancelOrder", request, lambda r: Order.from_pb(r.order), kind="write"))

    def cancel_all(self, symbol: str) -> int:
        """Cancel every open order of the account in a market; how many were canceled."""
        return self._invoke(Call("trading", "CancelAllOrders", trading_pb2.CancelAllOrdersRequest(symbol=symbol),
                                 lambda r: r.canceled_count, kind="write"))

    def open_orders(self, symbol: str = "") -> list[Order]:
        """The account's open orders (of one market, or all)."""
        return self._invoke(Call("trading", "ListOpenOrders", trading_pb2.ListOpenOrdersRequest(symbol=symbol),
                                 lambda r: [Order.from_pb(o) for o in r.orders], retry=True))


def _leg(trigger: Number | None, limit: Number | None, name: str,
         callback_rate: Number | None = None) -> trading_pb2.OrderListLeg:
    """An order-list leg from its trigger and limit price (see `place_order_list`); none: no leg.
    With a callback rate, a trailing stop whose trigger is its activation price (optional)."""
    if callback_rate is not None:
        if limit is not None:
            raise ValueError("a trailing stop-loss has no limit price")
        return trading_pb2.OrderListLeg(type=common_pb2.LEG_TYPE_TRAILING_STOP_MARKET,
                                        trigger_price="" if trigger is None else decimal_text(trigger, name),
                                        callback_rate=decimal_text(callback_rate, "trailing_stop"))
    if trigger is None and limit is None:
        return trading_pb2.OrderListLeg()
    take_profit = name == "take_profit"
    if trigger is None and not take_profit:
        raise ValueError("stop_loss_limit needs stop_loss (its trigger price)")
    kind = ("LIMIT" if trigger is None else "TAKE_PROFIT" if take_profit else "STOP") + \
        ("" if trigger is None else "_LIMIT" if limit is not None else "_MARKET")
    return trading_pb2.OrderListLeg(type=common_pb2.LegType.Value("LEG_TYPE_" + kind),
                                    trigger_price="" if trigger is None else decimal_text(trigger, name),
                                    price="" if limit is None else decimal_text(limit, name + "_limit"))


def _batch_results(r, size: int) -> list[Order | PerpsimError]:
    """The results of a multi-order StreamOrdersResponse answering `size` orders: one each, or
    the message's own error (refused whole) for each of them."""
    if r.results:
        return [_order_result(x) for x in r.results]
    return [_order_result(r.result)] * size


def _order_result(x) -> Order | PerpsimError:
    """One PlaceOrderResult: the Order, or the typed error of that order."""
    return Order.from_pb(x.placed.order, x.placed.fills) if x.WhichOneof("result") == "placed" \
        else from_status_pb(x.error)
