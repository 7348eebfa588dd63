"""Orders in the engine's own units for GrpcVenue: a market maker's quotes as one PlaceOrders
call, any other order as one PlaceOrder.

Prices and quantities go as price_ticks and quantity_lots (exact: nothing is formatted here nor
parsed by the venue), and of each answer only what the simulator uses is read: no client-side
order model is built. Imported only over gRPC (it needs the generated messages and the client's
errors, which an in-process run does without).
"""

from __future__ import annotations

from dataclasses import dataclass

from perpsim.clients.errors import PerpsimError, from_status_pb
from perpsim.engine import commands as C
from perpsim.model.enums import OrderKind, Side, TimeInForce
from perpsim.v1 import common_pb2, trading_pb2

_SIDE = {Side.BUY: common_pb2.SIDE_BUY, Side.SELL: common_pb2.SIDE_SELL}
_RESTING = (common_pb2.ORDER_STATUS_NEW, common_pb2.ORDER_STATUS_PARTIALLY_FILLED)


def order_request(c: C.PlaceOrder) -> trading_pb2.PlaceOrderRequest:
    """A limit or market order in the engine's own units (price_ticks, quantity_lots); a market
    order goes without a time in force (the venue's: IOC)."""
    if c.kind == OrderKind.MARKET:
        return trading_pb2.PlaceOrderRequest(symbol=c.symbol, side=_SIDE[Side(c.side)],
                                             type=common_pb2.ORDER_TYPE_MARKET, quantity_lots=c.qty,
                                             reduce_only=c.reduce_only)
    return trading_pb2.PlaceOrderRequest(
        symbol=c.symbol, side=_SIDE[Side(c.side)], type=common_pb2.ORDER_TYPE_LIMIT, quantity_lots=c.qty,
        price_ticks=c.price, time_in_force=common_pb2.TimeInForce.Value(f"TIME_IN_FORCE_{TimeInForce(c.tif).name}"),
        reduce_only=c.reduce_only)


def limit_orders(cmds: list[C.PlaceOrder]) -> trading_pb2.PlaceOrdersRequest:
    """Limit orders as one PlaceOrders request, in the engine's own units (price_ticks,
    quantity_lots: exact, nothing formatted here nor parsed by the venue)."""
    return trading_pb2.PlaceOrdersRequest(orders=[order_request(c) for c in cmds])


@dataclass(frozen=True, slots=True)
class Placed:
    """What the simulator needs of a placed order: where it is and whether some of it rests."""

    symbol: str
    order_id: int
    resting: bool


def placed(response: trading_pb2.PlaceOrdersResponse) -> list[Placed | PerpsimError]:
    """Each result of a PlaceOrders call: the order placed, or the typed error it was refused with."""
    out: list[Placed | PerpsimError] = []
    for x in response.results:
        if x.WhichOneof("result") == "placed":
            o = x.placed.order
            out.append(Placed(o.symbol, o.order_id, o.status in _RESTING))
        else:
            out.append(from_status_pb(x.error))
    return out
