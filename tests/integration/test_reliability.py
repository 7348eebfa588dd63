"""What a hostile or unlucky client meets, through the real server: health watchers cannot
starve the venue, a fast reader of a big burst is not dropped as slow, RESOURCE_EXHAUSTED says
when to retry, out-of-range values are INVALID_ARGUMENT naming their field, conditional orders
are idempotent on their client order id, and messages speak in the asset's units."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from perpsim.clients.client import Client

from .conftest import own_venue

WATCHERS = 8


def test_health_watchers_do_not_stall_the_venue(tmp_path: Path) -> None:
    """Eight open Health/Watch streams (more than the default thread pool's workers) leave
    journaled writes, Health/Check and reads answered promptly."""
    with own_venue(tmp_path) as (running, _, trader):
        channel = grpc.insecure_channel(running.address)
        stub = health_pb2_grpc.HealthStub(channel)
        watches = [stub.Watch(health_pb2.HealthCheckRequest(service="")) for _ in range(WATCHERS)]
        try:
            for w in watches:  # every watcher is open and was told the current status
                assert next(w).status == health_pb2.HealthCheckResponse.SERVING
            with Client(running.address, api_key=trader.api_key, timeout=3) as c:
                started = time.monotonic()
                assert c.deposit("USDT", "5") == 1005
                assert stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=3).status == \
                    health_pb2.HealthCheckResponse.SERVING
                assert {b.asset: b.wallet for b in c.account().balances}["USDT"] == 1005
                assert time.monotonic() - started < 3
        finally:
            for w in watches:
                w.cancel()
            channel.close()
