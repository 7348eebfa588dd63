"""Orders and stops as the venue's requests, for the Apply calls of GrpcVenue
(perpsim.sim.grpc_apply).

Prices and quantities of orders go as price_ticks and quantity_lots (exact: nothing is
formatted here nor parsed by the venue); a stop's quantity and trigger, which its request takes
only as decimals, as exact decimal strings made from the engine integers by the market spec (no
rounding). Imported only over gRPC.
"""

from __future__ import annotations

from perpsim.engine import commands as C
from perpsim.model.enums import ConditionalKind, OrderKind, Side, TimeInForce, TriggerSource
from perpsim.model.markets import MarketSpec
from perpsim.v1 import common_pb2

_SIDE: dict[int, int] = {Side.BUY: common_pb2.SIDE_BUY, Side.SELL: common_pb2.SIDE_SELL}
_TIF: dict[int, int] = {}  # the engine's time in force -> the wire's, as met
_CONDITIONAL = {ConditionalKind.STOP_MARKET: common_pb2.CONDITIONAL_TYPE_STOP_MARKET,
                ConditionalKind.TAKE_PROFIT_MARKET: common_pb2.CONDITIONAL_TYPE_TAKE_PROFIT_MARKET}


def order_request(c: C.PlaceOrder) -> dict:
    """A limit or market order in the engine's own units (price_ticks, quantity_lots), as the
    fields of a PlaceOrderRequest (a nested message is made in its parent's constructor call,
    in a third of the time); a market order goes without a time in force (the venue's: IOC)."""
    if c.kind == OrderKind.MARKET:
        return {"symbol": c.symbol, "side": _SIDE[c.side], "type": common_pb2.ORDER_TYPE_MARKET,
                "quantity_lots": c.qty, "reduce_only": c.reduce_only}
    tif = _TIF.get(c.tif)
    if tif is None:
        tif = _TIF[c.tif] = common_pb2.TimeInForce.Value(f"TIME_IN_FORCE_{TimeInForce(c.tif).name}")
    return {"symbol": c.symbol, "side": _SIDE[c.side], "type": common_pb2.ORDER_TYPE_LIMIT, "quantity_lots": c.qty,
            "price_ticks": c.price, "time_in_force": tif, "reduce_only": c.reduce_only}


def conditional_request(spec: MarketSpec, cmd: C.PlaceConditional) -> dict:
    """A stop or take-profit market order (`cmd.kind`), quantity and trigger as exact decimals,
    as the fields of a PlaceConditionalOrderRequest."""
    kind = ConditionalKind(cmd.kind)
    if kind not in _CONDITIONAL:
        raise NotImplementedError(f"{kind.name} is not sent over gRPC by the simulator")
    source = common_pb2.TriggerSource.Value(f"TRIGGER_SOURCE_{TriggerSource(cmd.source).name}")
    return {"symbol": cmd.symbol, "side": _SIDE[cmd.side], "type": _CONDITIONAL[kind],
            "quantity": "" if cmd.close_position else format(spec.lots_to_qty(cmd.qty), "f"),
            "trigger_price": format(spec.ticks_to_price(cmd.trigger_price), "f"), "trigger_source": source,
            "reduce_only": cmd.reduce_only, "close_position": cmd.close_position}
