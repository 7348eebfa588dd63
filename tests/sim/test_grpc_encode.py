"""ApplyRequests written as wire bytes (perpsim.sim.grpc_encode) are the messages GrpcVenue's
fields build: protobuf's own serialization of them, byte for byte, and parsed back equal; and
the incremental quiet scan (perpsim.sim.grpc_quiet.QuietScan) answers as `quiet` does."""

from __future__ import annotations

import random

import pytest

from perpsim.engine import commands as C
from perpsim.model.enums import OrderKind, Side, TimeInForce
from perpsim.model.markets import default_markets
from perpsim.sim.grpc_apply import Pending, advance_pb, command_pb
from perpsim.sim.grpc_encode import apply_request, command, varint
from perpsim.sim.grpc_quiet import QuietScan, quiet
from perpsim.sim.grpc_requests import limit_entry
from perpsim.v1 import batch_pb2, trading_pb2

MARKETS = default_markets()


def _built(cmds: list[tuple[C.Command, int, int]], reads: batch_pb2.BatchReads | None) -> batch_pb2.ApplyRequest:
    """The request as GrpcVenue built it from fields: (command, venue account, group) each."""
    fields = []
    for cmd, account_id, group in cmds:
        pb = command_pb(cmd, account_id, MARKETS)
        if group:
            pb["group"] = group
        fields.append(pb)
    return batch_pb2.ApplyRequest(commands=fields, reads=reads, sparse_results=True)


@pytest.mark.parametrize("seed", range(5))
def test_limit_orders_as_bytes_are_the_built_request(seed):
    rng = random.Random(seed)
    cmds = []
    for _ in range(60):
        symbol = rng.choice(sorted(MARKETS))
        order = C.PlaceOrder(rng.randrange(10**12), rng.randrange(1, 50), symbol, rng.choice([Side.BUY, Side.SELL]),
                             rng.choice([1, 127, 128, 16383, 16384, rng.randrange(1, 1 << 40)]),
                             rng.choice([1, rng.randrange(1, 1 << 24), rng.randrange(1, 1 << 50)]),
                             tif=rng.choice([TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK, TimeInForce.GTX]),
                             reduce_only=rng.random() < 0.3)
        cmds.append((order, rng.choice([0, 1, 200, 1 << 33]), rng.choice([0, 1, 127, 128, (1 << 30) - 1])))
    reads = rng.choice([None, batch_pb2.BatchReads(),
                        batch_pb2.BatchReads(marks=["BTCUSDT"], books=[batch_pb2.BookRead(symbol="BTCUSDT", depth=50,
                                                                                          packed=True)],
                                             insurance=True)])
    built = _built(cmds, reads)
    wire = apply_request([limit_entry(c, a, g) for c, a, g in cmds], reads)
    assert wire == built.SerializeToString()
    assert batch_pb2.ApplyRequest.FromString(wire) == built


def test_other_commands_mix_with_limit_orders_in_order():
    spec = MARKETS["BTCUSDT"]
    cmds = [(C.SetIndexPrice(5, "BTCUSDT", 6_500_000), 0, 0), (C.CancelAll(5, 3, "BTCUSDT"), 9, 0),
            (C.PlaceOrder(5, 3, "BTCUSDT", Side.SELL, 4, 6_500_100), 9, 7),
            (C.Deposit(5, 3, spec.settle, 10**12), 9, 0),
            (C.PlaceOrder(5, 3, "BTCUSDT", Side.BUY, 2, 0, kind=OrderKind.MARKET), 9, 0)]
    entries = []
    for cmd, account_id, group in cmds:
        if type(cmd) is C.PlaceOrder and cmd.kind == OrderKind.LIMIT:
            entries.append(limit_entry(cmd, account_id, group))
        else:
            entries.append(command(command_pb(cmd, account_id, MARKETS)))
    entries.append(command(advance_pb(10**9)))
    built = _built(cmds, None)
    built.commands.add(advance_clock={"advance_ns": 10**9})
    assert batch_pb2.ApplyRequest.FromString(apply_request(entries, None)) == built


def test_varints_are_protobufs_for_any_int64():
    values = [0, 1, 127, 128, 300, 16383, 16384, 2**21 - 1, 2**21, 2**28, 2**35 + 3, 2**63 - 1, -1, -2**63, -300]
    for v in values:
        assert b"\x28" + varint(v) == trading_pb2.PlaceOrderRequest(quantity_lots=v).SerializeToString() or v == 0
    assert varint(0) == b"\x00"


def test_the_quiet_scan_answers_as_quiet_while_the_list_grows():
    rng = random.Random(3)

    class Top:  # a BookTop's fields quiet reads
        def __init__(self, bid, ask, reads_book=False):
            self.bid_ticks, self.ask_ticks, self.mark_reads_book = bid, ask, reads_book

    for trial in range(200):
        tops = {"BTCUSDT": Top(100, 0 if trial % 7 == 0 else 110, trial % 11 == 0)}
        exact = trial % 5 != 0
        scan, pending = QuietScan(), []
        for _ in range(rng.randrange(1, 30)):
            kind = rng.random()
            if kind < 0.7:
                cmd = C.PlaceOrder(0, 1, "BTCUSDT", rng.choice([Side.BUY, Side.SELL]), 1, rng.randrange(90, 120))
            elif kind < 0.8:
                cmd = C.CancelAll(0, 1, "BTCUSDT")
            elif kind < 0.9:
                cmd = C.SetLeverage(0, 1, "BTCUSDT", 10)
            else:
                cmd = C.PlaceOrder(0, 1, "BTCUSDT", Side.BUY, 1, 0, kind=OrderKind.MARKET)
            pending.append(Pending(cmd, None))
            if rng.random() < 0.5:
                assert scan.all_quiet(pending, tops, exact) == all(quiet(pending, tops, exact))
        assert scan.all_quiet(pending, tops, exact) == all(quiet(pending, tops, exact))
        fresh = list(pending[:3])  # a new list (an Apply sent the rest) starts a new scan
        assert scan.all_quiet(fresh, tops, exact) == all(quiet(fresh, tops, exact))
