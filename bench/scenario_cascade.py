#!/usr/bin/env python3
"""A cascade of N leveraged accounts and a shock through the scenario layer, in-process: one JSON line.

  python bench/scenario_cascade.py [--accounts N] [--seed S] [--no-event-hash] [--signals]

The long-squeeze scenario with N crowded 20-50x longs (every other one isolated by chance,
no stops, exits or adders: one fill each), three makers with a thin book quoted once, and a
-8 % jump of the index at t = 2 s; three 1-s steps in all. Reported (wall seconds):

  setup_s        the population, its counterparties and the makers, built through commands
                 (resting buys at the opening price swept by a few large counterparty orders)
  cascade_s      the steps: the shock, the liquidations it sets off and the metrics
  end_to_end_s   setup + cascade (building the engine and the final integrity check excluded)
  engine_s       of which inside Exchange.apply; sim_overhead_s = end_to_end_s - engine_s
  signals_s      of which feeding the risk signals and reading them once a step (0 without --signals)
  check_s        the final check_integrity() and ledger identity (outside end_to_end_s)

--signals runs with the risk signals' listener and their per-step samples (perpsim.sim.risk_series),
as `perpsim scenario run` does; the default leaves them off, so the figures stay those of the
cascade itself (run both to see what the signals cost). Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

from perpsim.sim import runner, scenario


def cascade_scenario(accounts: int) -> scenario.Scenario:
    """The long squeeze described above with `accounts` crowded longs."""
    return scenario.load("long-squeeze").with_params({
        "duration_s": 3, "feed.BTCUSDT.sigma": 0.0, "feed.BTCUSDT.shocks": [{"at_s": 2, "pct": -8}],
        "feed.BTCUSDT.impact_coupling": 0.0, "agents.crowd.count": accounts, "agents.crowd.long_fraction": 1.0,
        "agents.crowd.isolated_fraction": 0.5, "agents.crowd.stop_fraction": 0.0,
        "agents.crowd.exit_per_hour": 0.0, "agents.crowd.adder_fraction": 0.0,
        "agents.mm.levels": 5, "agents.mm.requote_s": 60,
        "agents.noise.count": 1, "agents.noise.orders_per_min": 0.0})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-event-hash", action="store_true", help="skip hashing the event stream")
    ap.add_argument("--signals", action="store_true", help="run with the risk signals")
    a = ap.parse_args(argv)
    sc = cascade_scenario(a.accounts)
    t0 = time.perf_counter()
    run = runner.Run(sc, a.seed, hash_events=not a.no_event_hash, signals=a.signals)
    build_s = time.perf_counter() - t0
    result = run.run()
    t = result.timings
    m = result.summary["markets"]["BTCUSDT"]
    end_to_end = t["setup_s"] + t["steps_s"]
    print(json.dumps({
        "bench": "scenario_cascade", "accounts": a.accounts, "signals": a.signals,
        "liquidations": m["liquidations"],
        "filled_in_book_lots": m["filled_in_book_lots"], "taken_by_insurance_lots": m["taken_by_insurance_lots"],
        "deleveraged_lots": m["deleveraged_lots"], "events": result.events,
        "setup_s": round(t["setup_s"], 2), "cascade_s": round(t["steps_s"], 2), "end_to_end_s": round(end_to_end, 2),
        "engine_s": round(t["engine_s"], 2), "sim_overhead_s": round(end_to_end - t["engine_s"], 2),
        "signals_s": round(t["signals_s"], 2),
        "check_s": round(t["check_s"], 2), "build_engine_s": round(build_s, 3),
        "event_hash": result.event_hash,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
