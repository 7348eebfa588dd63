"""What the gRPC simulation tests share: a real venue on 127.0.0.1 (port 0; feed, liquidity,
metrics and REST off) and a GrpcVenue trading its BTCUSDT."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from perpsim.model.markets import MarketSpec, default_markets
from perpsim.sim.venues import GrpcVenue
from perpsim.venue.app import RunningVenue, VenueConfig

ADMIN_KEY = "sim-admin"


def start_grpc_venue(data_dir: Path, **remote_kw) -> tuple[RunningVenue, GrpcVenue, MarketSpec]:
    """(the running venue, a GrpcVenue on it with `remote_kw`, BTCUSDT's spec). The caller closes
    the GrpcVenue and stops the venue."""
    venue = RunningVenue(VenueConfig(listen="127.0.0.1:0", data_dir=data_dir, feed=False, liquidity=False,
                                     metrics_listen="", rest_listen="off", admin_key=ADMIN_KEY))
    venue.start_in_thread()
    spec = default_markets()["BTCUSDT"]
    try:
        return venue, GrpcVenue(venue.address, ADMIN_KEY, {"BTCUSDT": spec}, **remote_kw), spec
    except BaseException:
        venue.stop()
        raise


@contextlib.contextmanager
def grpc_venue(data_dir: Path, **remote_kw) -> Iterator[tuple[GrpcVenue, MarketSpec]]:
    """start_grpc_venue as a context: (the GrpcVenue, BTCUSDT's spec), both closed on exit."""
    venue, remote, spec = start_grpc_venue(data_dir, **remote_kw)
    try:
        yield remote, spec
    finally:
        remote.close()
        venue.stop()
