"""A core fault whose rebuild fails too (here: the journal it rebuilds from is corrupt) must not
leave a venue that hangs: the caller is answered, the venue stops taking commands (health
NOT_SERVING, calls UNAVAILABLE), and a restart recovers only what was acknowledged."""

from __future__ import annotations

import os
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from perpsim.clients.errors import PerpsimError
from perpsim.venue.journal_format import HEADER_SIZE

from .conftest import fault_once_in_book, own_venue


def _corrupt_first_record(segment: Path) -> bytes:
    """Flip a byte inside the first record's payload (its CRC no longer matches); the old bytes."""
    with open(segment, "r+b") as f:
        f.seek(HEADER_SIZE + 20)
        old = f.read(1)
        f.seek(HEADER_SIZE + 20)
        f.write(bytes([old[0] ^ 0xFF]))
    return old


def test_a_failed_rebuild_halts_the_venue_instead_of_hanging(tmp_path: Path) -> None:
    with own_venue(tmp_path, rest_listen="off") as (running, _, trader):
        kept = trader.place_order("BTCUSDT", "buy", "0.001", "60000")
        key = trader.api_key
        seq = running.venue.seq
        (segment,) = seq.journal.segment_paths()
        old = _corrupt_first_record(segment)

        fault_once_in_book(running)
        # one call, two commands: the faulting one and one after it that the halt leaves
        # unapplied; both are answered (the call fails), neither hangs
        with pytest.raises(PerpsimError) as failed:
            trader.place_orders([
                {"symbol": "BTCUSDT", "side": "buy", "quantity": "0.002", "price": "60001"},
                {"symbol": "BTCUSDT", "side": "buy", "quantity": "0.003", "price": "60002"},
            ])
        assert failed.value.status == grpc.StatusCode.INTERNAL
        assert seq.halted is not None and not running.venue.ready

        with pytest.raises(PerpsimError) as refused:
            trader.place_order("BTCUSDT", "buy", "0.004", "60003")
        assert refused.value.status == grpc.StatusCode.UNAVAILABLE
        assert "halted" in str(refused.value) and "restart" in str(refused.value)  # not "retry shortly"
        with grpc.insecure_channel(running.address) as channel:
            health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
        assert health.status == health_pb2.HealthCheckResponse.NOT_SERVING

        with open(segment, "r+b") as f:  # the disk repaired, as an operator would before a restart
            f.seek(HEADER_SIZE + 20)
            f.write(old)

    # restarted: exactly the acknowledged order stands
    with own_venue(tmp_path, rest_listen="off") as (_, _, other):
        with other.with_key(key) as trader:
            assert [o.order_id for o in trader.open_orders("BTCUSDT")] == [kept.order_id]


def test_a_journal_that_refuses_a_commit_halts_the_venue(tmp_path: Path) -> None:
    with own_venue(tmp_path, rest_listen="off") as (running, _, trader):
        kept = trader.place_order("BTCUSDT", "buy", "0.001", "60000")
        key = trader.api_key
        journal = running.venue.seq.journal
        # the segment's descriptor turned read-only under the journal: its next write fails
        # (EBADF), as a failing disk's would, and the order in that commit is never acknowledged
        (segment,) = journal.segment_paths()
        read_only = os.open(segment, os.O_RDONLY)
        os.dup2(read_only, journal._fd)
        os.close(read_only)
        with pytest.raises(PerpsimError) as failed:
            trader.place_order("BTCUSDT", "buy", "0.002", "60001")
        assert failed.value.status == grpc.StatusCode.INTERNAL
        assert running.venue.seq.halted is not None
        with pytest.raises(PerpsimError) as refused:
            trader.place_order("BTCUSDT", "buy", "0.003", "60002")
        assert refused.value.status == grpc.StatusCode.UNAVAILABLE

    with own_venue(tmp_path, rest_listen="off") as (_, _, other):
        with other.with_key(key) as trader:
            assert [o.order_id for o in trader.open_orders("BTCUSDT")] == [kept.order_id]
