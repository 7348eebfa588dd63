"""The perpsim SDK: `Client` (blocking) and `AsyncClient` (asyncio), with the same methods.

    from decimal import Decimal
    from perpsim.clients.client import Client

    with Client("127.0.0.1:50051", api_key=KEY) as c:
        c.deposit("USDT", "1000")
        order = c.place_order("BTCUSDT", "buy", "0.001", "64000.5")   # a GTC limit order
        c.place_order("BTCUSDT", "sell", Decimal("0.001"))              # a market order
        for trade in c.stream_trades("BTCUSDT"): ...

    async with AsyncClient(address, api_key=KEY) as c:
        book = await c.book("BTCUSDT")
        async for update in c.stream_book("BTCUSDT", depth=10): ...

Numbers: prices, quantities and amounts are accepted as Decimal, str or int and sent as exact
decimal strings; a float raises TypeError (it is not exact). Results are frozen dataclasses
(perpsim.clients.models) with Decimal fields. Enum arguments are short names, case-insensitive
("buy", "limit", "gtc"/"ioc"/"fok"/"gtx"/"gtd", "long", "expire_taker", "isolated"), or the raw
protobuf enum value (an int).

Auth: the account's API key is sent as `authorization: Bearer <key>` (gRPC metadata keys are
lower-case). Sandbox calls use `admin_key` if given, else `api_key`.

Deadlines: every unary call has one: `timeout` seconds (default 5) for reads and account or
order writes, 4 x `timeout` for sandbox controls (a price move may run a liquidation cascade).
Streams have none unless one is passed.

Retries (only where safe): reads retry on UNAVAILABLE (`retries` more attempts, exponential
backoff); PlaceOrder retries only when it carries a client order id, on which the venue is
idempotent (pass one, or `idempotent=True` to have one generated); no other write retries.
Every failure raises a typed exception from perpsim.clients.errors.
"""

from __future__ import annotations

import asyncio
import collections
import random
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import grpc

from perpsim.clients import models as M
from perpsim.clients.account_risk_calls import AccountRiskCalls
from perpsim.clients.errors import PerpsimError, Unavailable, from_rpc_error, from_status_pb
from perpsim.clients.forced_orders import ForcedOrder
from perpsim.clients.history_calls import HistoryCalls
from perpsim.clients.loss_limit_calls import LossLimitCalls
from perpsim.clients.market_risk_calls import MarketRiskCalls
from perpsim.clients.models import (
    Account,
    AccountUpdate,
    Alert,
    Balance,
    BookLevel,
    BookUpdate,
    Fill,
    IndexUpdate,
    Liquidation,
    Mark,
    Market,
    MarkUpdate,
    NewAccount,
    Order,
    OrderBook,
    OrderList,
    Position,
    Preview,
    ShockResult,
    Trade,
    VenueState,
    enum_prefix,
)
from perpsim.clients.profile_calls import ProfileCalls
from perpsim.v1 import (
    account_pb2,
    account_pb2_grpc,
    common_pb2,
    history_pb2_grpc,
    market_pb2,
    market_pb2_grpc,
    profiles_pb2_grpc,
    risk_pb2_grpc,
    sandbox_pb2,
    sandbox_pb2_grpc,
    trading_pb2,
    trading_pb2_grpc,
)

__all__ = [
    "DEFAULT_ADDRESS",
    "Account",
    "AsyncClient",
    "AsyncStream",
    "Balance",
    "BookLevel",
    "BookUpdate",
    "Client",
    "Fill",
    "IndexUpdate",
    "Liquidation",
    "Mark",
    "MarkUpdate",
    "Market",
    "NewAccount",
    "Order",
    "OrderBook",
    "Position",
    "Preview",
    "ShockResult",
    "Stream",
    "Trade",
    "VenueState",
]

DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_TIMEOUT = 5.0
DEFAULT_RETRIES = 2

Number = Decimal | str | int

# Deadline of a call = client timeout x this factor.
_DEADLINE_FACTOR = {"read": 1.0, "write": 1.0, "sandbox": 4.0}


# ---------------------------------------------------------------- the decimal and enum edge


def decimal_text(value: Number, name: str = "value") -> str:
    """An exact decimal string for the wire; floats (inexact) raise TypeError."""
    if isinstance(value, bool) or not isinstance(value, Decimal | str | int):
        raise TypeError(f"{name}: expected Decimal, str or int, got {type(value).__name__}"
                        + (" (floats are not exact: pass a str or Decimal)" if isinstance(value, float) else ""))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{name}: {value!r} is not a decimal number") from None
    if not value.is_finite():
        raise ValueError(f"{name}: {value} is not a finite number")
    return format(value, "f")


def _enum_in(enum_type, value: str | int | None, name: str,
             aliases: dict[str, str] | None = None, default: int = 0) -> int:
    """An enum value from its lower-case name (without the type's prefix) or its number."""
    prefix = enum_prefix(enum_type)
    if value is None:
        return default
    if isinstance(value, bool):
        raise TypeError(f"{name}: expected a name or an int, got bool")
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected a name or an int, got {type(value).__name__}")
    key = value.strip().upper().replace("-", "_")
    key = (aliases or {}).get(key, key)
    try:
        return enum_type.Value(prefix + key)
    except ValueError:
        choices = [n[len(prefix):].lower() for n in enum_type.keys() if not n.endswith("UNSPECIFIED")]
        raise ValueError(f"{name}: {value!r} is not one of {', '.join(choices)}") from None


def _side(v):
    return _enum_in(common_pb2.Side, v, "side", {"B": "BUY", "S": "SELL", "LONG": "BUY", "SHORT": "SELL"})


def _order_type(v):
    return _enum_in(common_pb2.OrderType, v, "type")


def _tif(v):
    return _enum_in(common_pb2.TimeInForce, v, "time_in_force",
                    {"POST_ONLY": "GTX", "POSTONLY": "GTX"})


def _pside(v):
    return _enum_in(common_pb2.PositionSide, v, "position_side")


def _stp(v):
    return _enum_in(common_pb2.SelfTradePrevention, v, "stp")


def _margin_mode(v):
    return _enum_in(common_pb2.MarginMode, v, "margin_mode")


def _ns(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("good_till_ns: expected an int (nanoseconds since the epoch)")
    return value


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


def new_client_order_id() -> str:
    """A fresh client order id (32 hex digits; the venue allows 36 characters)."""
    return uuid.uuid4().hex


def order_request(symbol: str, side: str | int, quantity: Number, price: Number | None = None, *,
                  type: str | int | None = None, time_in_force: str | int | None = None,
                  reduce_only: bool = False, position_side: str | int | None = None, stp: str | int | None = None,
                  client_order_id: str | None = None, good_till_ns: int = 0) -> trading_pb2.PlaceOrderRequest:
    """The PlaceOrderRequest of `place_order` / `preview_order` arguments.

    type defaults to limit when a price is given, else market; time_in_force defaults to GTD
    when good_till_ns is set, else GTC for a limit order and the venue's IOC for a market order.
    """
    kind = _order_type(type if type is not None else ("limit" if price is not None else "market"))
    if time_in_force is None:
        tif = (common_pb2.TIME_IN_FORCE_GTD if good_till_ns else
               common_pb2.TIME_IN_FORCE_GTC if kind == common_pb2.ORDER_TYPE_LIMIT else
               common_pb2.TIME_IN_FORCE_UNSPECIFIED)
    else:
        tif = _tif(time_in_force)
    return trading_pb2.PlaceOrderRequest(
        symbol=symbol, side=_side(side), type=kind, quantity=decimal_text(quantity, "quantity"),
        price="" if price is None else decimal_text(price, "price"), time_in_force=tif,
        self_trade_prevention=_stp(stp), reduce_only=bool(reduce_only), position_side=_pside(position_side),
        client_order_id=client_order_id or "", good_till_time_ns=_ns(good_till_ns))


# ---------------------------------------------------------------- calls


@dataclass(frozen=True, slots=True)
class _Call:
    """One unary call: which RPC, its request, how to convert the answer, and its policy."""

    service: str  # market | trading | account | sandbox | history
    method: str
    request: Any
    convert: Callable[[Any], Any]
    kind: str = "read"  # read | write | sandbox: the deadline
    retry: bool = False  # retried on UNAVAILABLE (safe calls only)
    admin: bool = False  # authenticated with the admin key


def _stubs(channel) -> dict[str, Any]:
    return {
        "market": market_pb2_grpc.MarketDataServiceStub(channel),
        "trading": trading_pb2_grpc.TradingServiceStub(channel),
        "account": account_pb2_grpc.AccountServiceStub(channel),
        "sandbox": sandbox_pb2_grpc.SandboxServiceStub(channel),
        "history": history_pb2_grpc.HistoryServiceStub(channel),
        "risk": risk_pb2_grpc.RiskServiceStub(channel),
        "profiles": profiles_pb2_grpc.ProfileServiceStub(channel),
    }


def _backoff(attempt: int) -> float:
    return min(1.0, 0.05 * 2**attempt) * (0.5 + random.random() / 2)


def _wallet(r) -> Decimal:
    return M.dec0(r.wallet.amount)


class _Api(HistoryCalls, AccountRiskCalls, MarketRiskCalls, LossLimitCalls, ProfileCalls):
    """The methods of both clients. Each builds a `_Call` and hands it to `_invoke`, which is a
    blocking call in `Client` and a coroutine in `AsyncClient`; streams go through `_stream`."""

    api_key: str | None
    admin_key: str | None

    def _invoke(self, call: _Call) -> Any:
        raise NotImplementedError

    def _stream(self, method: str, request: Any, convert: Callable[[Any], Any], timeout: float | None) -> Any:
        return self._stream_on("market", method, request, convert, timeout)

    def _stream_on(self, service: str, method: str, request: Any, convert: Callable[[Any], Any],
                   timeout: float | None) -> Any:
        raise NotImplementedError

    def _history(self, method: str, request: Any, convert: Callable[[Any], Any]) -> Any:
        return self._invoke(_Call("history", method, request, convert, retry=True))

    def _risk(self, method: str, request: Any, convert: Callable[[Any], Any], write: bool = False) -> Any:
        return self._invoke(_Call("risk", method, request, convert, kind="write" if write else "read",
                                  retry=not write))

    def _read(self, service: str, method: str, request: Any, convert: Callable[[Any], Any]) -> Any:
        return self._invoke(_Call(service, method, request, convert, retry=True))

    def _account(self, method: str, request: Any, convert: Callable[[Any], Any], write: bool = False) -> Any:
        return self._invoke(_Call("account", method, request, convert, kind="write" if write else "read",
                                  retry=not write))

    def _metadata(self, admin: bool = False) -> tuple[tuple[str, str], ...]:
        key = (self.admin_key or self.api_key) if admin else self.api_key
        return (("authorization", f"Bearer {key}"),) if key else ()

    # ------------------------------------------------------------ market data

    def markets(self) -> list[Market]:
        """Every market with its rules (tick, lot, limits, fees, price band)."""
        return self._invoke(_Call("market", "ListMarkets", market_pb2.ListMarketsRequest(),
                                  lambda r: [Market.from_pb(m) for m in r.markets], retry=True))

    def book(self, symbol: str, depth: int = 20) -> OrderBook:
        """The order book, `depth` levels per side, best first."""
        return self._invoke(_Call("market", "GetOrderBook", market_pb2.GetOrderBookRequest(symbol=symbol, depth=depth),
                                  OrderBook.from_pb, retry=True))

    def mark(self, symbol: str) -> Mark:
        """Mark, index and last price, and the funding rate."""
        return self._invoke(_Call("market", "GetMarkPrice", market_pb2.GetMarkPriceRequest(symbol=symbol),
                                  Mark.from_pb, retry=True))

    def insurance_fund(self, asset: str = "") -> dict[str, Decimal]:
        """The insurance fund of `asset`, or of every settlement asset ("" ): asset -> amount."""
        return self._invoke(_Call("market", "GetInsuranceFund", market_pb2.GetInsuranceFundRequest(asset=asset),
                                  lambda r: {f.asset: M.dec0(f.amount) for f in r.funds}, retry=True))

    # ------------------------------------------------------------ trading

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
        return self._invoke(_Call("trading", "PlaceOrder", request,
                                  lambda r: Order.from_pb(r.order, r.fills, r.warnings),
                                  kind="write", retry=bool(client_order_id)))

    def place_orders(self, orders: list[dict]) -> list[Order | PerpsimError]:
        """Place up to 1,000 orders in one call (each a dict of `place_order`'s arguments).

        They are sequenced back to back and made durable together; the result for each, in
        order, is its Order or the typed error it was rejected with (not raised)."""
        request = trading_pb2.PlaceOrdersRequest(orders=[order_request(**o) for o in orders])
        return self._invoke(_Call("trading", "PlaceOrders", request, lambda r: [_order_result(x) for x in r.results],
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
            client_order_id=client_order_id or "", good_till_time_ns=_ns(good_till_ns))
        return self._invoke(_Call("trading", "PlaceConditionalOrder", request, lambda r: r.order.conditional_id,
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
            symbol=symbol, type=_enum_in(common_pb2.OrderListType, type, "type"),  # type: ignore[arg-type]  # an enum's number: protobuf's stubs want the enum type
            side=_side(side), quantity=decimal_text(quantity, "quantity"),
            entry_price="" if price is None else decimal_text(price, "price"),
            entry_time_in_force=_tif(time_in_force),
            take_profit=_leg(take_profit, take_profit_limit, "take_profit"),
            stop_loss=_leg(stop_loss, stop_loss_limit, "stop_loss", trailing_stop),
            trigger_source=_enum_in(common_pb2.TriggerSource, source, "source"),  # type: ignore[arg-type]  # an enum's number: protobuf's stubs want the enum type
            reduce_only=bool(reduce_only), position_side=_pside(position_side), good_till_time_ns=_ns(good_till_ns),
            client_order_id=client_order_id or "")
        return self._invoke(_Call("trading", "PlaceOrderList", request, lambda r: OrderList.from_pb(r.order_list),
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
        return self._invoke(_Call("trading", "CancelOrderList", request, lambda r: None, kind="write"))

    def order_lists(self, symbol: str = "") -> list[OrderList]:
        """The account's working order lists (of one market, or all)."""
        request = trading_pb2.ListOrderListsRequest(symbol=symbol)
        return self._invoke(_Call("trading", "ListOrderLists", request,
                                  lambda r: [OrderList.from_pb(o) for o in r.order_lists], retry=True))

    def cancel_conditional(self, symbol: str, conditional_id: int) -> None:
        request = trading_pb2.CancelConditionalOrderRequest(symbol=symbol, conditional_id=conditional_id)
        self._invoke(_Call("trading", "CancelConditionalOrder", request, lambda r: None, kind="write"))

    def conditional_orders(self, symbol: str = "") -> list:
        """The account's resting conditional orders (protobuf ConditionalOrder messages)."""
        request = trading_pb2.ListConditionalOrdersRequest(symbol=symbol)
        return self._invoke(_Call("trading", "ListConditionalOrders", request, lambda r: list(r.orders), kind="read"))

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
        return self._invoke(_Call("trading", "AmendOrder", request, lambda r: Order.from_pb(r.order), kind="write"))

    def cancel_order(self, symbol: str, order_id: int | None = None, client_order_id: str | None = None) -> Order:
        """Cancel one order by id or client order id; the order as it is now."""
        if not order_id and not client_order_id:
            raise ValueError("cancel_order needs order_id or client_order_id")
        request = trading_pb2.CancelOrderRequest(symbol=symbol, order_id=order_id or 0,
                                                 client_order_id=client_order_id or "")
        return self._invoke(_Call("trading", "CancelOrder", request, lambda r: Order.from_pb(r.order), kind="write"))

    def cancel_all(self, symbol: str) -> int:
        """Cancel every open order of the account in a market; how many were canceled."""
        return self._invoke(_Call("trading", "CancelAllOrders", trading_pb2.CancelAllOrdersRequest(symbol=symbol),
                                  lambda r: r.canceled_count, kind="write"))

    def open_orders(self, symbol: str = "") -> list[Order]:
        """The account's open orders (of one market, or all)."""
        return self._invoke(_Call("trading", "ListOpenOrders", trading_pb2.ListOpenOrdersRequest(symbol=symbol),
                                  lambda r: [Order.from_pb(o) for o in r.orders], retry=True))

    # ------------------------------------------------------------ account

    def account(self) -> Account:
        """Account id, balances per settlement asset, position mode."""
        return self._invoke(_Call("account", "GetAccount", account_pb2.GetAccountRequest(), Account.from_pb,
                                  retry=True))

    def positions(self, symbol: str = "") -> list[Position]:
        """Open positions (of one market, or all)."""
        return self._invoke(_Call("account", "ListPositions", account_pb2.ListPositionsRequest(symbol=symbol),
                                  lambda r: [Position.from_pb(p) for p in r.positions], retry=True))

    def set_leverage(self, symbol: str, leverage: int) -> int:
        if isinstance(leverage, bool) or not isinstance(leverage, int):
            raise TypeError("leverage: expected an int")
        return self._invoke(_Call("account", "SetLeverage",
                                  account_pb2.SetLeverageRequest(symbol=symbol, leverage=leverage),
                                  lambda r: r.leverage, kind="write"))

    def set_margin_mode(self, symbol: str, mode: str | int) -> None:
        """"cross" or "isolated"; refused while a position or an order exists in the market."""
        request = account_pb2.SetMarginModeRequest(symbol=symbol, margin_mode=_margin_mode(mode))
        return self._invoke(_Call("account", "SetMarginMode", request, lambda r: None, kind="write"))

    def set_position_mode(self, hedge: bool) -> None:
        """Hedge mode (True: a LONG and a SHORT leg per market) or one-way (False)."""
        return self._invoke(_Call("account", "SetPositionMode", account_pb2.SetPositionModeRequest(hedge_mode=hedge),
                                  lambda r: None, kind="write"))

    def set_multi_assets_mode(self, on: bool) -> bool:
        """Multi-Assets mode (True: USDT, USDC and BTC one cross collateral for USDⓈ markets) or
        Single-Asset mode (False); refused with positions or open orders. The mode now."""
        request = account_pb2.SetMultiAssetsModeRequest(multi_assets=on)
        return self._invoke(_Call("account", "SetMultiAssetsMode", request, lambda r: r.multi_assets, kind="write"))

    def adjust_isolated_margin(self, symbol: str, amount: Number, position_side: str | int | None = None) -> Decimal:
        """Add (amount > 0) or remove (< 0) margin of an isolated position; the margin now."""
        request = account_pb2.AdjustIsolatedMarginRequest(symbol=symbol, position_side=_pside(position_side),
                                                          amount=decimal_text(amount, "amount"))
        return self._invoke(_Call("account", "AdjustIsolatedMargin", request,
                                  lambda r: M.dec0(r.isolated_margin.amount), kind="write"))

    def preview_order(self, symbol: str, side: str | int, quantity: Number, price: Number | None = None, *,
                      type: str | int | None = None, time_in_force: str | int | None = None,
                      reduce_only: bool = False, position_side: str | int | None = None,
                      stp: str | int | None = None, client_order_id: str | None = None,
                      good_till_ns: int = 0) -> Preview:
        """What the order would cost and where the position would be liquidated (nothing placed)."""
        request = order_request(symbol, side, quantity, price, type=type, time_in_force=time_in_force,
                                reduce_only=reduce_only, position_side=position_side, stp=stp,
                                client_order_id=client_order_id, good_till_ns=good_till_ns)
        return self._invoke(_Call("account", "PreviewOrder", account_pb2.PreviewOrderRequest(order=request),
                                  Preview.from_pb, retry=True))

    def deposit(self, asset: str, amount: Number) -> Decimal:
        """Credit the wallet; the wallet balance after."""
        return self._invoke(_Call("account", "Deposit",
                                  account_pb2.DepositRequest(asset=asset, amount=decimal_text(amount, "amount")),
                                  _wallet, kind="write"))

    def withdraw(self, asset: str, amount: Number) -> Decimal:
        """Debit the wallet (at most the withdrawable amount); the wallet balance after."""
        return self._invoke(_Call("account", "Withdraw",
                                  account_pb2.WithdrawRequest(asset=asset, amount=decimal_text(amount, "amount")),
                                  _wallet, kind="write"))

    def transfer(self, to_account: int, asset: str, amount: Number) -> Decimal:
        """Move free collateral to another account; this account's wallet balance after."""
        request = account_pb2.TransferRequest(to_account_id=to_account, asset=asset,
                                              amount=decimal_text(amount, "amount"))
        return self._invoke(_Call("account", "Transfer", request, _wallet, kind="write"))

    # ------------------------------------------------------------ sandbox (admin key)

    def create_account(self, label: str = "", api_key: str | None = None,
                       api_secret: str | None = None) -> NewAccount:
        """A new account with its API key and secret: `account_id, api_key, api_secret =
        c.create_account()`. Pass `api_key` and `api_secret` to choose them (a bot's saved
        configuration); the same pair again returns the same account."""
        request = sandbox_pb2.CreateAccountRequest(label=label, api_key=api_key or "", api_secret=api_secret or "")
        return self._invoke(_Call("sandbox", "CreateAccount", request,
                                  lambda r: NewAccount(r.account_id, r.api_key, r.api_secret), kind="sandbox",
                                  admin=True))

    def set_index_price(self, symbol: str, price: Number) -> IndexUpdate:
        """Set the index (the mark follows; liquidations run); the mark and how many were liquidated."""
        request = sandbox_pb2.SetIndexPriceRequest(symbol=symbol, price=decimal_text(price, "price"))
        return self._invoke(_Call("sandbox", "SetIndexPrice", request,
                                  lambda r: IndexUpdate(M.dec(r.mark_price), r.liquidations),
                                  kind="sandbox", admin=True))

    def set_price_path(self, symbol: str, points: list[tuple[int, Number]]) -> int:
        """Drive the index along [(offset_ms, price), ...] from now (wall clock); [] stops it."""
        request = sandbox_pb2.SetPricePathRequest(symbol=symbol, points=[
            sandbox_pb2.PricePoint(offset_ms=ms, price=decimal_text(p, "price")) for ms, p in points])
        return self._invoke(_Call("sandbox", "SetPricePath", request, lambda r: r.points, kind="sandbox",
                                  admin=True))

    def reset_venue(self) -> str:
        """A fresh world (the old journal is archived, accounts and keys stay); where it went."""
        return self._invoke(_Call("sandbox", "Reset", sandbox_pb2.ResetRequest(), lambda r: r.archived_to,
                                  kind="sandbox", admin=True))

    def shock_price(self, symbol: str, percent: Number) -> ShockResult:
        """Move the index by `percent` (e.g. "-8") in one step."""
        request = sandbox_pb2.ShockPriceRequest(symbol=symbol, percent=decimal_text(percent, "percent"))
        return self._invoke(_Call("sandbox", "ShockPrice", request,
                                  lambda r: ShockResult(M.dec(r.index_price), M.dec(r.mark_price), r.liquidations,
                                                        tuple(ForcedOrder.from_pb(f) for f in r.forced_orders)),
                                  kind="sandbox", admin=True))

    def advance_clock(self, ns: int) -> int:
        """Move the venue clock forward (funding, GTD expiry happen); the venue time after (ns)."""
        if isinstance(ns, bool) or not isinstance(ns, int):
            raise TypeError("ns: expected an int")
        return self._invoke(_Call("sandbox", "AdvanceClock", sandbox_pb2.AdvanceClockRequest(advance_ns=ns),
                                  lambda r: r.now_ns, kind="sandbox", admin=True))

    def fund_insurance(self, asset: str, amount: Number) -> Decimal:
        """Add money to the insurance fund; the fund after."""
        request = sandbox_pb2.FundInsuranceRequest(asset=asset, amount=decimal_text(amount, "amount"))
        return self._invoke(_Call("sandbox", "FundInsurance", request,
                                  lambda r: M.dec0(r.insurance_fund.amount), kind="sandbox", admin=True))

    def venue_state(self) -> VenueState:
        """Venue time, state hash, journal sequence, insurance funds."""
        return self._invoke(_Call("sandbox", "GetVenueState", sandbox_pb2.GetVenueStateRequest(),
                                  VenueState.from_pb, kind="sandbox", retry=True, admin=True))

    # ------------------------------------------------------------ streams

    def stream_trades(self, symbol: str, *, timeout: float | None = None):
        """Public trades from now on (sequence numbers 1, 2, … without gaps)."""
        return self._stream("StreamTrades", market_pb2.StreamTradesRequest(symbol=symbol), Trade.from_pb, timeout)

    def stream_book(self, symbol: str, depth: int = 20, *, timeout: float | None = None):
        """A snapshot of the book (snapshot=True), then the levels that change."""
        return self._stream("StreamOrderBook", market_pb2.StreamOrderBookRequest(symbol=symbol, depth=depth),
                            BookUpdate.from_pb, timeout)

    def stream_mark(self, symbol: str, *, timeout: float | None = None):
        """Mark price updates."""
        return self._stream("StreamMarkPrice", market_pb2.StreamMarkPriceRequest(symbol=symbol),
                            MarkUpdate.from_pb, timeout)

    def stream_liquidations(self, symbol: str, *, timeout: float | None = None):
        """Public liquidation orders (like Binance <symbol>@forceOrder)."""
        return self._stream("StreamLiquidations", market_pb2.StreamLiquidationsRequest(symbol=symbol),
                            Liquidation.from_pb, timeout)

    def stream_account(self, *, timeout: float | None = None):
        """This account's updates from now on (AccountUpdate): orders and fills, positions,
        balances, margin warnings, liquidations, conditional orders and order lists."""
        return self._stream_on("account", "StreamAccount", account_pb2.StreamAccountRequest(), AccountUpdate.from_pb,
                               timeout)

    def stream_alerts(self, symbol: str, *, timeout: float | None = None):
        """Market-risk alerts of a market (Alert): raised when the spread is wide and the
        predicted funding rate extreme together, cleared when either relents."""
        return self._stream("StreamAlerts", market_pb2.StreamAlertsRequest(symbol=symbol), Alert.from_pb, timeout)


# ---------------------------------------------------------------- blocking client


class _StreamCall:
    """What both stream iterators hold: the gRPC call, the message conversion, and whether the
    caller cancelled it (its CANCELLED status then ends the iteration instead of raising)."""

    def __init__(self, call, convert: Callable[[Any], Any]) -> None:
        self._call, self._convert = call, convert
        self._cancelled = False

    def _ended_by_cancel(self, e: grpc.RpcError) -> bool:
        return self._cancelled and e.code() == grpc.StatusCode.CANCELLED

    def cancel(self) -> None:
        self._cancelled = True
        self._call.cancel()


class Stream(_StreamCall):
    """A server stream as an iterator of converted messages; `cancel()` (or `with`) ends it."""

    def __iter__(self) -> Stream:
        return self

    def __next__(self):
        try:
            msg = next(self._call)
        except grpc.RpcError as e:
            if self._ended_by_cancel(e):
                raise StopIteration from None
            raise from_rpc_error(e) from e
        return self._convert(msg)

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc) -> None:
        self.cancel()


class Client(_Api):
    """A blocking client of one venue (one gRPC channel). Use as a context manager or `close()`."""

    def __init__(self, address: str = DEFAULT_ADDRESS, api_key: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                 *, admin_key: str | None = None, retries: int = DEFAULT_RETRIES,
                 channel: grpc.Channel | None = None) -> None:
        self.address, self.api_key, self.admin_key = address, api_key, admin_key
        self.timeout, self.retries = timeout, retries
        self._owns_channel = channel is None
        self._channel = channel if channel is not None else grpc.insecure_channel(address)
        self._stubs = _stubs(self._channel)

    def with_key(self, api_key: str | None, admin_key: str | None = None) -> Client:
        """A client of another account on the same channel (closing it leaves the channel open).

        The new client holds only the keys given here (not this client's admin key)."""
        return Client(self.address, api_key, self.timeout, admin_key=admin_key, retries=self.retries,
                      channel=self._channel)

    def wait_ready(self, timeout: float | None = None) -> None:
        """Block until the channel is connected; Unavailable after `timeout` (default: the client's)."""
        try:
            grpc.channel_ready_future(self._channel).result(timeout=self.timeout if timeout is None else timeout)
        except grpc.FutureTimeoutError:
            raise Unavailable(f"venue at {self.address} not reachable") from None

    def close(self) -> None:
        if self._owns_channel:
            self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _invoke(self, call: _Call) -> Any:
        fn = getattr(self._stubs[call.service], call.method)
        metadata = self._metadata(call.admin)
        timeout = self.timeout * _DEADLINE_FACTOR[call.kind] if self.timeout is not None else None
        attempt = 0
        while True:
            try:
                response = fn(call.request, timeout=timeout, metadata=metadata)
            except grpc.RpcError as e:
                if call.retry and attempt < self.retries and e.code() == grpc.StatusCode.UNAVAILABLE:
                    time.sleep(_backoff(attempt))
                    attempt += 1
                    continue
                raise from_rpc_error(e) from e
            return call.convert(response)

    def _stream_on(self, service: str, method: str, request: Any, convert, timeout: float | None) -> Stream:
        fn = getattr(self._stubs[service], method)
        return Stream(fn(request, timeout=timeout, metadata=self._metadata()), convert)


# ---------------------------------------------------------------- asyncio client


class AsyncStream(_StreamCall):
    """A server stream as an async iterator of converted messages; `cancel()` ends it."""

    def __aiter__(self) -> AsyncStream:
        return self

    async def __anext__(self):
        try:
            msg = await self._call.read()
        except grpc.aio.AioRpcError as e:
            if self._ended_by_cancel(e):
                raise StopAsyncIteration from None
            raise from_rpc_error(e) from e
        except asyncio.CancelledError:
            if self._cancelled:
                raise StopAsyncIteration from None
            raise
        if msg is grpc.aio.EOF:
            raise StopAsyncIteration
        return self._convert(msg)

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(self, *exc) -> None:
        self.cancel()


class AsyncClient(_Api):
    """The asyncio client: the methods of `Client`, as coroutines (streams: async iterators).

    The channel is opened on first use, inside the running event loop."""

    def __init__(self, address: str = DEFAULT_ADDRESS, api_key: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                 *, admin_key: str | None = None, retries: int = DEFAULT_RETRIES,
                 channel: grpc.aio.Channel | None = None) -> None:
        self.address, self.api_key, self.admin_key = address, api_key, admin_key
        self.timeout, self.retries = timeout, retries
        self._owns_channel = channel is None
        self._channel = channel
        self._stubs_: dict[str, Any] | None = None

    @property
    def _stubs(self) -> dict[str, Any]:
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(self.address)
        if self._stubs_ is None:
            self._stubs_ = _stubs(self._channel)
        return self._stubs_

    def with_key(self, api_key: str | None, admin_key: str | None = None) -> AsyncClient:
        """A client of another account on the same channel (closing it leaves the channel open).

        The new client holds only the keys given here (not this client's admin key)."""
        self._stubs  # noqa: B018 - opens the channel to share it
        return AsyncClient(self.address, api_key, self.timeout, admin_key=admin_key, retries=self.retries,
                           channel=self._channel)

    async def wait_ready(self, timeout: float | None = None) -> None:
        self._stubs  # noqa: B018 - opens the channel
        assert self._channel is not None
        try:
            await asyncio.wait_for(self._channel.channel_ready(), self.timeout if timeout is None else timeout)
        except TimeoutError:
            raise Unavailable(f"venue at {self.address} not reachable") from None

    async def close(self) -> None:
        if self._owns_channel and self._channel is not None:
            await self._channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def _invoke(self, call: _Call) -> Any:
        fn = getattr(self._stubs[call.service], call.method)
        metadata = self._metadata(call.admin)
        timeout = self.timeout * _DEADLINE_FACTOR[call.kind] if self.timeout is not None else None
        attempt = 0
        while True:
            try:
                response = await fn(call.request, timeout=timeout, metadata=metadata)
            except grpc.aio.AioRpcError as e:
                if call.retry and attempt < self.retries and e.code() == grpc.StatusCode.UNAVAILABLE:
                    await asyncio.sleep(_backoff(attempt))
                    attempt += 1
                    continue
                raise from_rpc_error(e) from e
            return call.convert(response)

    def _stream_on(self, service: str, method: str, request: Any, convert, timeout: float | None) -> AsyncStream:
        fn = getattr(self._stubs[service], method)
        return AsyncStream(fn(request, timeout=timeout, metadata=self._metadata()), convert)


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


# Keep PerpsimError importable from here: `from perpsim.clients.client import PerpsimError`.
__all__ += ["PerpsimError"]
