"""The same agents against a real venue over gRPC (127.0.0.1, port 0, feed and liquidity off)."""

from __future__ import annotations

from perpsim.model.markets import default_markets
from perpsim.sim import runner, scenario
from perpsim.sim.venues import GrpcVenue
from perpsim.venue.app import RunningVenue, VenueConfig

SCENARIO = """
name = "grpc-small"
duration_s = 6
step_s = 1

[venue]
markets = ["BTCUSDT"]
insurance_fund = { USDT = "1000" }

[feed.BTCUSDT]
kind = "constant"
start = 65000
shocks = [{ at_s = 3, pct = -6 }]

[[agents]]
kind = "leveraged"
name = "crowd"
count = 6
leverage = { dist = "uniform_int", low = 40, high = 60 }
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

[[agents]]
kind = "noise"
name = "noise"
count = 2
orders_per_min = 60
"""


def test_scenario_runs_over_grpc(tmp_path):
    venue = RunningVenue(VenueConfig(listen="127.0.0.1:0", data_dir=tmp_path, feed=False, liquidity=False,
                                     metrics_listen="", rest_listen="off", admin_key="sim-admin"))
    venue.start_in_thread()
    try:
        sc = scenario.loads(SCENARIO)
        remote = GrpcVenue(venue.address, "sim-admin", {"BTCUSDT": default_markets()["BTCUSDT"]})
        try:
            result = runner.run(sc, venue=remote)
        finally:
            remote.close()
        in_process = runner.run(sc)
    finally:
        venue.stop()
    got = result.summary["markets"]["BTCUSDT"]
    want = in_process.summary["markets"]["BTCUSDT"]
    # a -6 % shock liquidates every 40-60x long in both modes; the venue reported each one
    assert want["liquidations"] == 6
    assert got["liquidations"] == 6
    assert got["mark_start"] == 65000.0 and got["mark_end"] == want["mark_end"] == 61100.0
    # open interest is the venue's own (GetOpenInterest), step by step the in-process count
    oi = result.series["BTCUSDT"]["open_interest"]
    assert oi == in_process.series["BTCUSDT"]["open_interest"] and min(oi) > 0
    # the risk signals are the venue's (GetMarketRisk): the crowd's 40-60x opening is flagged,
    # by the end of the first step (the venue's clock runs on wall time too, so possibly sooner)
    for flags in (result.series["BTCUSDT"]["flags"], in_process.series["BTCUSDT"]["flags"]):
        assert all("leverage_spike" in f for f in flags[1:])
    assert "leverage_spike" not in in_process.series["BTCUSDT"]["flags"][0]
    assert result.state_hash == "" and in_process.state_hash
