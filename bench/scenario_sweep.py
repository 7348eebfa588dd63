#!/usr/bin/env python3
"""A sweep of 8 scenario runs on a process pool of 1 worker, then of 2: both times and the ratio.

  python bench/scenario_sweep.py [--scenario NAME] [--points 8] [--dask]

Each point is the scenario's short version with its own seed (1..points). The two sweeps must
give the same report hashes (checked); with --dask they run on a local Dask cluster of 1, then 2
worker processes instead of a process pool. One JSON line; timings are reported, never asserted:

  one_worker_s, two_workers_s   the sweep on an executor that is up (as a cluster given by its
                                address is), and speedup = their ratio;
  start_s                       starting the executor of 1 and of 2 workers (for --dask, the
                                LocalCluster and its workers loading the simulator: about half
                                a second, against runs of a fifth of a second);
  end_to_end_speedup            the ratio with the starts included.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from perpsim.sim import scenario, sweep


def timed(sc, points, workers: int, dask: bool) -> tuple[float, float, list[str]]:
    """(start, sweep) wall seconds and the report hashes of one sweep on a fresh executor."""
    t0 = time.perf_counter()
    with sweep.executor(workers, "local" if dask else None) as pool:
        t1 = time.perf_counter()
        results = sweep.sweep(sc, points, pool, short=True)
        t2 = time.perf_counter()
    return t1 - t0, t2 - t1, [r.report_hash for r in results]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="long-squeeze")
    ap.add_argument("--points", type=int, default=8)
    ap.add_argument("--dask", action="store_true", help="a local Dask cluster instead of a process pool")
    a = ap.parse_args(argv)
    sc = scenario.load(a.scenario)
    points = [{"seed": s} for s in range(1, a.points + 1)]
    start_one, one, hashes_one = timed(sc, points, 1, a.dask)
    start_two, two, hashes_two = timed(sc, points, 2, a.dask)
    if hashes_one != hashes_two:
        raise SystemExit("the two sweeps disagree: a run is not deterministic")
    print(json.dumps({"bench": "scenario_sweep", "scenario": a.scenario, "points": a.points,
                      "executor": "dask-local" if a.dask else "process-pool", "cpus": os.cpu_count(),
                      "one_worker_s": round(one, 2), "two_workers_s": round(two, 2),
                      "speedup": round(one / two, 2), "start_s": [round(start_one, 2), round(start_two, 2)],
                      "end_to_end_speedup": round((start_one + one) / (start_two + two), 2)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
