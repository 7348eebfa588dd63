"""The client's decimal and enum edge: call arguments as request fields.

Numbers (prices, quantities, amounts) are accepted as Decimal, str or int and sent as exact
decimal strings; a float raises TypeError (it is not exact). Enum arguments are short names,
case-insensitive ("buy", "limit", "gtc"/"ioc"/"fok"/"gtx"/"gtd", "long", "expire_taker",
"isolated"), or the raw protobuf enum value (an int). Nothing is rounded.
"""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation

from perpsim.clients.models import enum_prefix
from perpsim.v1 import common_pb2, trading_pb2

Number = Decimal | str | int


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


def enum_value(enum_type, value: str | int | None, name: str,
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


def side_enum(v):
    """A Side from "buy"/"sell" (or "b"/"s", "long"/"short") or its number."""
    return enum_value(common_pb2.Side, v, "side", {"B": "BUY", "S": "SELL", "LONG": "BUY", "SHORT": "SELL"})


def order_type_enum(v):
    """An OrderType from its name ("limit", "market", ...) or its number."""
    return enum_value(common_pb2.OrderType, v, "type")


def tif_enum(v):
    """A TimeInForce from its name ("gtc", "ioc", "fok", "gtx" = "post_only", "gtd") or its number."""
    return enum_value(common_pb2.TimeInForce, v, "time_in_force",
                      {"POST_ONLY": "GTX", "POSTONLY": "GTX"})


def position_side_enum(v):
    """A PositionSide from its name ("both", "long", "short") or its number; None: unspecified."""
    return enum_value(common_pb2.PositionSide, v, "position_side")


def stp_enum(v):
    """A SelfTradePrevention mode from its name ("expire_taker", ...) or its number."""
    return enum_value(common_pb2.SelfTradePrevention, v, "stp")


def margin_mode_enum(v):
    """A MarginMode from its name ("cross", "isolated") or its number."""
    return enum_value(common_pb2.MarginMode, v, "margin_mode")


def timestamp_ns(value: int) -> int:
    """A good-till time: an int of nanoseconds since the epoch (0: none)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("good_till_ns: expected an int (nanoseconds since the epoch)")
    return value


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
    kind = order_type_enum(type if type is not None else ("limit" if price is not None else "market"))
    if time_in_force is None:
        tif = (common_pb2.TIME_IN_FORCE_GTD if good_till_ns else
               common_pb2.TIME_IN_FORCE_GTC if kind == common_pb2.ORDER_TYPE_LIMIT else
               common_pb2.TIME_IN_FORCE_UNSPECIFIED)
    else:
        tif = tif_enum(time_in_force)
    return trading_pb2.PlaceOrderRequest(
        symbol=symbol, side=side_enum(side), type=kind, quantity=decimal_text(quantity, "quantity"),
        price="" if price is None else decimal_text(price, "price"), time_in_force=tif,
        self_trade_prevention=stp_enum(stp), reduce_only=bool(reduce_only),
        position_side=position_side_enum(position_side), client_order_id=client_order_id or "",
        good_till_time_ns=timestamp_ns(good_till_ns))
