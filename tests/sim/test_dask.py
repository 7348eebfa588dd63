"""A sweep on a local Dask cluster (two worker processes) gives the bytes of in-process runs."""

from __future__ import annotations

from perpsim.sim import sweep
from perpsim.sim.runner import run


def test_sweep_on_a_local_dask_cluster(small):
    tiny = small.with_params({"duration_s": 30, "agents.crowd.count": 60, "feed.BTCUSDT.shocks.0.at_s": 10})
    points = sweep.grid({"seed": [1, 2], "feed.BTCUSDT.shocks.0.pct": [-6, -10]})
    with sweep.executor(workers=2, dask="local") as pool:
        results = sweep.sweep(tiny, points, pool)
    assert [r.params for r in results] == points
    for point, result in zip(points, results, strict=True):
        alone = run(tiny.with_params({"feed.BTCUSDT.shocks.0.pct": point["feed.BTCUSDT.shocks.0.pct"]}),
                    point["seed"])
        assert (result.event_hash, result.report_hash) == (alone.event_hash, alone.report_hash)
    deeper = {r.params["seed"]: r for r in results if r.params["feed.BTCUSDT.shocks.0.pct"] == -10}
    shallower = {r.params["seed"]: r for r in results if r.params["feed.BTCUSDT.shocks.0.pct"] == -6}
    for seed in (1, 2):
        assert (deeper[seed].summary["markets"]["BTCUSDT"]["liquidations"]
                >= shallower[seed].summary["markets"]["BTCUSDT"]["liquidations"])
