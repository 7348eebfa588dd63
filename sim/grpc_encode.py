"""ApplyRequests as protobuf wire bytes, for GrpcVenue's Apply calls (perpsim.sim.grpc_apply).

A market maker's limit orders are most of a run's commands; building each as a message from
its fields and serializing the request costs several times more than writing its bytes from a
per-market, per-side template with the varying integers (lots, ticks, account, group) spliced
in. The bytes are those of the message the fields build (tests/sim/test_grpc_encode.py parses
them back and compares); any other command is serialized by protobuf itself.
Imported only over gRPC.
"""

from __future__ import annotations

from functools import lru_cache

from perpsim.engine import commands as C
from perpsim.v1 import batch_pb2, common_pb2

_U64 = 1 << 64


@lru_cache(maxsize=8192)
def varint(n: int) -> bytes:
    """The base-128 varint of an integer field; a negative one as its 64-bit two's complement
    (int64's ten bytes)."""
    if n < 0:
        n += _U64
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (string, bytes, message) with its tag and length."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


# tags of the fields written here (field number << 3 | wire type)
_ACCOUNT = b"\x08"  # BatchCommand.account_id = 1, varint
_PLACE_ORDER = b"\x12"  # BatchCommand.place_order = 2, message
_GROUP = b"\x60"  # BatchCommand.group = 12, varint
_QTY_LOTS = b"\x28"  # PlaceOrderRequest.quantity_lots = 5, varint
_PRICE_TICKS = b"\x38"  # PlaceOrderRequest.price_ticks = 7, varint
_COMMAND = b"\x0a"  # ApplyRequest.commands = 1, message
_SPARSE = b"\x18\x01"  # ApplyRequest.sparse_results = 3: true


@lru_cache(maxsize=1024)
def _limit_parts(symbol: str, side: int, tif: int, reduce_only: bool) -> tuple[bytes, bytes]:
    """A limit PlaceOrderRequest's bytes before its quantity_lots and after its price_ticks
    (fields 1-3 and 8, 10: in field order, as protobuf writes them; zeros left out)."""
    head = field(1, symbol.encode())
    if side:
        head += b"\x10" + varint(side)
    head += b"\x18" + varint(common_pb2.ORDER_TYPE_LIMIT)
    tail = (b"\x40" + varint(tif) if tif else b"") + (b"\x50\x01" if reduce_only else b"")
    return head, tail


def limit_order(c: C.PlaceOrder, side: int, tif: int, account_id: int, group: int) -> bytes:
    """The ApplyRequest.commands entry (tag and length included) of a limit order `c` of
    `account_id` in `group` (0: none); `side` and `tif` are the wire's enum numbers."""
    head, tail = _limit_parts(c.symbol, side, tif, c.reduce_only)
    body = head
    if c.qty:
        body += _QTY_LOTS + varint(c.qty)
    if c.price:
        body += _PRICE_TICKS + varint(c.price)
    body += tail
    cmd = (_ACCOUNT + varint(account_id) if account_id else b"") + _PLACE_ORDER + varint(len(body)) + body
    if group:
        cmd += _GROUP + varint(group)
    return _COMMAND + varint(len(cmd)) + cmd


def command(fields: dict) -> bytes:
    """The ApplyRequest.commands entry of a BatchCommand given by its fields (serialized by protobuf)."""
    return field(1, batch_pb2.BatchCommand(**fields).SerializeToString())


def apply_request(commands: list[bytes], reads: batch_pb2.BatchReads | None) -> bytes:
    """An ApplyRequest with sparse results: its commands' entries (`limit_order`, `command`) in
    order, then the reads (if any)."""
    out = b"".join(commands)
    if reads is not None:
        out += field(2, reads.SerializeToString())
    return out + _SPARSE
