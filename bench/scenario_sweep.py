#!/usr/bin/env python3
"""A sweep of 8 scenario runs on a process pool of 1 worker, then of 2: both times and the ratio.

  python bench/scenario_sweep.py [--scenario NAME] [--points 8] [--dask]

Each point is the scenario's short version with its own seed (1..points). The two sweeps must
give the same report hashes (checked); with --dask they run on a local Dask cluster of 1, then 2
worker processes instead of a process pool. One JSON line; timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from perpsim.sim import scenario, sweep


def timed(sc, points, workers: int, dask: bool) -> tuple[float, list[str]]:
    t0 = time.perf_counter()
    with sweep.executor(workers, "local" if dask else None) as pool:
        results = sweep.sweep(sc, points, pool, short=True)
    return time.perf_counter() - t0, [r.report_hash for r in results]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="long-squeeze")
    ap.add_argument("--points", type=int, default=8)
    ap.add_argument("--dask", action="store_true", help="a local Dask cluster instead of a process pool")
    a = ap.parse_args(argv)
    sc = scenario.load(a.scenario)
    points = [{"seed": s} for s in range(1, a.points + 1)]
    one, hashes_one = timed(sc, points, 1, a.dask)
    two, hashes_two = timed(sc, points, 2, a.dask)
    if hashes_one != hashes_two:
        raise SystemExit("the two sweeps disagree: a run is not deterministic")
    print(json.dumps({"bench": "scenario_sweep", "scenario": a.scenario, "points": a.points,
                      "executor": "dask-local" if a.dask else "process-pool", "cpus": os.cpu_count(),
                      "one_worker_s": round(one, 2), "two_workers_s": round(two, 2),
                      "speedup": round(one / two, 2)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
