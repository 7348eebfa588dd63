"""Order placements' answers as protobuf wire bytes: one PlaceOrderResult each, then a whole
PlaceOrdersResponse or StreamOrdersResponse parsed from them at once.

Building a message from Python values costs protobuf about a microsecond per nested message; parsing
the same message from bytes costs a fraction of that. A placement's answer is mostly what its
order repeats (market, side, type, price, size, time in force: one cached chunk of bytes per
market and terms), so its bytes are a few joins. The bytes encode exactly the fields
`wire.placed_fields` gives (proto3: a field at its default is left out, as protobuf leaves it
out), and the message parsed from them is equal to the one built from those fields; the field
numbers are read from the messages' descriptors, and the module refuses to load if Order or
Fill has a field it does not encode.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from perpsim.v1 import trading_pb2
from perpsim.venue.services.wire import _KIND_OUT, _PSIDE_OUT, _SIDE_OUT, _STATUS_OUT, _TAKER, _TIF_OUT, formats

#: per market and kind, the distinct keys whose bytes are kept (all forgotten at once past it)
KEPT = 4_096
_U64 = (1 << 64) - 1
_BYTE = [bytes((i,)) for i in range(128)]


def varint(n: int) -> bytes:
    """`n` as a protobuf varint (a negative int64 or enum as its 64-bit two's complement)."""
    if 0 <= n < 16_384:  # the common sizes without a loop: lengths, enums, small amounts
        return _BYTE[n] if n < 128 else bytes((n & 127 | 128, n >> 7))
    if 0 < n < 2_097_152:
        return bytes((n & 127 | 128, n >> 7 & 127 | 128, n >> 14))
    n &= _U64
    out = bytearray()
    while n > 127:
        out.append(n & 127 | 128)
        n >>= 7
    out.append(n)
    return bytes(out)


def _tags(message, wanted: set[str]) -> dict[str, bytes]:
    """Each field's tag (number and wire type) by name; every field of `message` must be wanted."""
    fields = message.DESCRIPTOR.fields_by_name
    if set(fields) != wanted:
        raise ImportError(f"{message.DESCRIPTOR.full_name} has fields {sorted(set(fields) ^ wanted)} "
                          "that venue.services.placed_wire does not encode as wanted")
    return {name: varint(f.number << 3 | (2 if f.type in (f.TYPE_STRING, f.TYPE_MESSAGE) else 0))
            for name, f in fields.items()}


_ORDER = _tags(trading_pb2.Order, {
    "order_id", "client_order_id", "symbol", "side", "type", "status", "price", "price_ticks", "quantity",
    "quantity_lots", "filled_quantity", "filled_quantity_lots", "time_in_force", "reduce_only", "position_side"})
_FILL = _tags(trading_pb2.Fill, {"order_id", "price", "price_ticks", "quantity", "quantity_lots", "liquidity",
                                 "slippage_mid_bps", "slippage_mark_bps"})
_RESPONSE_ORDER = varint(trading_pb2.PlaceOrderResponse.DESCRIPTOR.fields_by_name["order"].number << 3 | 2)
_RESPONSE_FILLS = varint(trading_pb2.PlaceOrderResponse.DESCRIPTOR.fields_by_name["fills"].number << 3 | 2)
_PLACED = varint(trading_pb2.PlaceOrderResult.DESCRIPTOR.fields_by_name["placed"].number << 3 | 2)


def _number(tag: bytes, n: int) -> bytes:
    """A varint field (int, enum, bool); nothing at 0."""
    return tag + varint(n) if n else b""


def _text(tag: bytes, s: str) -> bytes:
    """A string field; nothing when empty."""
    if not s:
        return b""
    b = s.encode()
    return tag + varint(len(b)) + b


def _nested(tag: bytes, body: bytes) -> bytes:
    """A message field, present even when empty."""
    return tag + varint(len(body)) + body


class _Kept(dict):
    """Bytes made by `make(key)` on first use and kept (up to KEPT)."""

    def __init__(self, make: Callable[[Any], bytes]) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, key) -> bytes:
        if len(self) >= KEPT:
            self.clear()
        made = self[key] = self.make(key)
        return made


class _MarketWire:
    """One market's kept bytes: an order's fields after its ids (its status, terms and filled
    quantity), a fill's fields after its order id and before its slippage."""

    def __init__(self, spec) -> None:
        self.spec = spec
        price, qty = formats(spec)
        symbol = _text(_ORDER["symbol"], spec.symbol)
        o, f = _ORDER, _FILL

        def order(key: tuple) -> bytes:
            status, side, kind, ticks, lots, tif, reduce_only, pside, filled = key
            return b"".join((_number(o["status"], _STATUS_OUT[status]), symbol, _number(o["side"], _SIDE_OUT[side]),
                             _number(o["type"], _KIND_OUT[kind]), _text(o["price"], price[ticks]),
                             _number(o["price_ticks"], ticks), _text(o["quantity"], qty[lots]),
                             _number(o["quantity_lots"], lots), _number(o["time_in_force"], _TIF_OUT[tif]),
                             _number(o["reduce_only"], reduce_only), _number(o["position_side"], _PSIDE_OUT[pside]),
                             _text(o["filled_quantity"], qty[filled]), _number(o["filled_quantity_lots"], filled)))

        def fill(key: tuple) -> bytes:
            ticks, lots = key
            return b"".join((_text(f["price"], price[ticks]), _number(f["price_ticks"], ticks),
                             _text(f["quantity"], qty[lots]), _number(f["quantity_lots"], lots),
                             _number(f["liquidity"], _TAKER)))

        self.order = _Kept(order)
        self.fill = _Kept(fill)


_MARKETS: dict[str, _MarketWire] = {}
_SLIPPAGE = _Kept(lambda texts: _text(_FILL["slippage_mid_bps"], texts[0]) +
                  _text(_FILL["slippage_mark_bps"], texts[1]))
_ORDER_ID, _CLIENT_ORDER_ID, _FILL_ORDER_ID = _ORDER["order_id"], _ORDER["client_order_id"], _FILL["order_id"]


def placed_result(spec, o, fills: list, bps: Callable[[int, int, int], tuple[str, str]] | None) -> bytes:
    """A PlaceOrderResult whose `placed` is `wire.placed_fields` of the order `o` (a
    venue.state.OrderInfo of the market `spec`) and `fills`, as wire bytes."""
    market = _MARKETS.get(spec.symbol)
    if market is None or market.spec is not spec:
        market = _MARKETS[spec.symbol] = _MarketWire(spec)
    mine, cid = o.order_id, o.client_order_id
    oid = varint(mine) if mine else b""
    order = market.order[(o.status, o.side, o.kind, o.price, o.qty, o.tif, o.reduce_only, o.position_side, o.filled)]
    if cid:
        cid_bytes = cid.encode()
        n = len(cid_bytes)
        order = _CLIENT_ORDER_ID + (_BYTE[n] if n < 128 else varint(n)) + cid_bytes + order
    if mine:
        order = _ORDER_ID + oid + order
    n = len(order)
    body = _RESPONSE_ORDER + (_BYTE[n] if n < 128 else varint(n)) + order
    if fills:
        fill_id = _FILL_ORDER_ID + oid if mine else b""
        kept = market.fill
        for b in fills:
            if b.order_id != mine:
                continue
            ticks = b.price
            fill = fill_id + kept[(ticks, b.qty)]
            if bps is not None:
                fill += _SLIPPAGE[bps(mine, b.side, ticks)]
            n = len(fill)
            body += _RESPONSE_FILLS + (_BYTE[n] if n < 128 else varint(n)) + fill
    n = len(body)
    return _PLACED + (_BYTE[n] if n < 128 else varint(n)) + body


def error_result(status) -> bytes:
    """A PlaceOrderResult whose `error` is `status` (a google.rpc.Status), as wire bytes."""
    return trading_pb2.PlaceOrderResult(error=status).SerializeToString()


def message_of(cls, field: str, results: Iterable[bytes]):
    """A `cls` message whose repeated (or single) PlaceOrderResult `field` holds `results`
    (each PlaceOrderResult wire bytes), in order."""
    tag = varint(cls.DESCRIPTOR.fields_by_name[field].number << 3 | 2)
    return cls.FromString(b"".join([tag + varint(len(r)) + r for r in results]))
