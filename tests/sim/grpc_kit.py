"""What the gRPC simulation tests share: a real venue on 127.0.0.1 (port 0; feed, liquidity,
metrics and REST off) and a GrpcVenue trading its BTCUSDT."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from perpsim.model.market_files import default_markets
from perpsim.model.markets import MarketSpec
from perpsim.sim.venues import GrpcVenue
from perpsim.venue.app import RunningVenue
from perpsim.venue.config import VenueConfig

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


def shocked_crowd(name: str, duration_s: int, shock_at_s: int) -> str:
    """A scenario (TOML) of 1-s steps on BTCUSDT at 65,000 with 1,000 USDT of insurance, shocked
    -6 % at `shock_at_s`: six 40-60x longs of 3,000 USDT (half of them isolated, no stops, exits
    or adds), each liquidated by the shock, and a market maker quoting three levels of 0.01."""
    return f"""
name = "{name}"
duration_s = {duration_s}
step_s = 1

[venue]
markets = ["BTCUSDT"]
insurance_fund = {{ USDT = "1000" }}

[feed.BTCUSDT]
kind = "constant"
start = 65000
shocks = [{{ at_s = {shock_at_s}, pct = -6 }}]

[[agents]]
kind = "leveraged"
name = "crowd"
count = 6
leverage = {{ dist = "uniform_int", low = 40, high = 60 }}
long_fraction = 1.0
notional = 3000
isolated_fraction = 0.5
stop_fraction = 0
exit_per_hour = 0
adder_fraction = 0

[[agents]]
kind = "market_maker"
name = "mm"
capital = 200000
levels = 3
size = 0.01
"""


@contextlib.contextmanager
def grpc_venue(data_dir: Path, **remote_kw) -> Iterator[tuple[GrpcVenue, MarketSpec]]:
    """start_grpc_venue as a context: (the GrpcVenue, BTCUSDT's spec), both closed on exit."""
    venue, remote, spec = start_grpc_venue(data_dir, **remote_kw)
    try:
        yield remote, spec
    finally:
        remote.close()
        venue.stop()
