#!/usr/bin/env python3
"""What the risk signals cost the sequencer: the same work with the listener off and on.

  python bench/signals_overhead.py [--positions N] [--accounts N] [--repeat R] [--seed S]

Two measurements, each run R times per mode in a fresh process (medians reported):

* shock: bench/exchange_cascade.py's world (N leveraged longs, a -7.5 % index shock that
  liquidates them all). "on": a `Signals` read model is attached to the built exchange (one walk
  over its positions, outside the timing) and the shock is `Exchange.apply` followed by
  `Signals.observe` of its events, as the sequencer's listener would; "off": `apply` alone.
  `first_read_s` is the first `market_risk` read after the shock (the map folds in the changed
  positions then), outside the ratio: reads are served by the RPC, not by the sequencer.
* scenario: bench/scenario_cascade.py's long-squeeze with N accounts (setup through commands,
  then three 1-s steps with the -8 % jump), in process; "on" wraps the venue's submit so each
  command's events go to `Signals.observe` right after it applies. Wall time end to end.

* tick: quiet mark ticks over N positions (nothing liquidated), per tick in microseconds.

One JSON line per measurement: the medians of the process's CPU time off and on (ticks: per
tick, in us), ratio = on / off (CPU time: on a machine shared with other work, wall time swings
with the load, so each run's wall time is listed beside it); first_read_s: the first
`market_risk` read after the run (outside the ratio). Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # exchange_cascade, beside this file


def shock(n: int, seed: int, on: bool) -> dict:
    import exchange_cascade as xc

    from perpsim.engine import commands as C
    from perpsim.engine.views import ExchangeView
    from perpsim.venue.signals import Signals

    ex, _, _ = xc.build(n, seed)
    sig = Signals(lambda: ex) if on else None
    spec = ExchangeView(ex).spec(xc.SYMBOL)
    cmd = C.SetIndexPrice(ex.ts + 1, xc.SYMBOL, spec.price_to_ticks(xc.SHOCK_PRICE))
    t0, c0 = time.perf_counter(), time.process_time()
    events = ex.apply(cmd)
    if sig is not None:
        sig.observe(cmd, events)
    out = {"s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0, "events": len(events)}
    if sig is not None:
        t1 = time.perf_counter()
        risk = sig.market_risk(xc.SYMBOL)
        out["first_read_s"] = time.perf_counter() - t1
        out["open_interest_lots"] = risk.open_interest_lots
    return out


def scenario(accounts: int, seed: int, on: bool) -> dict:
    from perpsim.sim import runner
    from perpsim.sim import scenario as scn
    from perpsim.venue.signals import Signals

    sc = scn.load("long-squeeze").with_params({
        "duration_s": 3, "feed.BTCUSDT.sigma": 0.0, "feed.BTCUSDT.shocks": [{"at_s": 2, "pct": -8}],
        "feed.BTCUSDT.impact_coupling": 0.0, "agents.crowd.count": accounts, "agents.crowd.long_fraction": 1.0,
        "agents.crowd.isolated_fraction": 0.5, "agents.crowd.stop_fraction": 0.0,
        "agents.crowd.exit_per_hour": 0.0, "agents.crowd.adder_fraction": 0.0,
        "agents.mm.levels": 5, "agents.mm.requote_s": 60,
        "agents.noise.count": 1, "agents.noise.orders_per_min": 0.0})
    run = runner.Run(sc, seed, hash_events=False, signals=False)  # the listener: only the one below
    if on:
        ex = run.exchange
        sig = Signals(lambda: ex)
        inner = run.venue.submit

        def submit(cmd, inner=inner, observe=sig.observe):
            events = inner(cmd)
            observe(cmd, events)
            return events

        run.venue.submit = submit
    t0, c0 = time.perf_counter(), time.process_time()
    result = run.run()
    out = {"s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
           "liquidations": result.summary["markets"]["BTCUSDT"]["liquidations"]}
    if on:
        t1 = time.perf_counter()
        sig.market_risk("BTCUSDT")
        out["first_read_s"] = time.perf_counter() - t1
    return out


def tick(n: int, seed: int, on: bool, ticks: int = 20_000) -> dict:
    """Quiet mark ticks (the index wobbles by a few ticks, nothing is liquidated) over the shock
    world's N positions, 100 per second of venue time; per tick, after a warm-up (two seconds of
    ticks and one read: the listener's first step and first read take in every position it was
    attached to, once)."""
    import exchange_cascade as xc

    from perpsim.engine import commands as C
    from perpsim.engine.views import ExchangeView
    from perpsim.venue.signals import Signals

    ex, _, _ = xc.build(n, seed)
    sig = Signals(lambda: ex) if on else None
    p0 = ExchangeView(ex).spec(xc.SYMBOL).price_to_ticks(xc.FIRST_PRICE)
    ts = ex.ts + 1
    cmds = []
    for i in range(ticks + 200):
        ts += 10**7
        cmds.append(C.SetIndexPrice(ts, xc.SYMBOL, p0 + (i % 7) - 3))
    for cmd in cmds[:200]:
        events = ex.apply(cmd)
        if sig is not None:
            sig.observe(cmd, events)
    if sig is not None:
        sig.market_risk(xc.SYMBOL)  # the map of the positions it was attached to, built once
    t0, c0 = time.perf_counter(), time.process_time()
    if sig is None:
        for cmd in cmds[200:]:
            ex.apply(cmd)
    else:
        for cmd in cmds[200:]:
            sig.observe(cmd, ex.apply(cmd))
    return {"s": (time.perf_counter() - t0) / ticks, "cpu_s": (time.process_time() - c0) / ticks}


def _child(kind: str, size: int, seed: int, on: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, "--size", str(size), "--seed", str(seed)]
    if on:
        cmd.append("--on")
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd[2:])} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--positions", type=int, default=20_000, help="longs liquidated by the shock")
    ap.add_argument("--accounts", type=int, default=20_000, help="crowd of the scenario")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ticks-positions", type=int, default=20_000, help="positions under the quiet ticks")
    ap.add_argument("--only", choices=("shock", "scenario", "tick"))
    ap.add_argument("--child", choices=("shock", "scenario", "tick"), help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--on", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        fn = {"shock": shock, "scenario": scenario, "tick": tick}[a.child]
        print(json.dumps(fn(a.size, a.seed, a.on)), flush=True)
        return 0
    for kind, size in (("shock", a.positions), ("scenario", a.accounts), ("tick", a.ticks_positions)):
        if a.only and a.only != kind:
            continue
        runs = {False: [], True: []}
        for _ in range(a.repeat):
            for on in (False, True):  # interleaved: a slow phase of the machine hits both modes
                runs[on].append(_child(kind, size, a.seed, on))
        off = statistics.median(r["cpu_s"] for r in runs[False])
        on = statistics.median(r["cpu_s"] for r in runs[True])
        scale, unit = (1e6, "us") if kind == "tick" else (1, "s")
        line = {"bench": f"signals_overhead_{kind}", "size": size, "repeat": a.repeat,
                f"off_cpu_{unit}": round(off * scale, 3), f"on_cpu_{unit}": round(on * scale, 3),
                "ratio": round(on / off, 3),
                f"off_wall_{unit}": [round(r["s"] * scale, 3) for r in runs[False]],
                f"on_wall_{unit}": [round(r["s"] * scale, 3) for r in runs[True]]}
        if kind != "tick":
            line["first_read_s"] = round(statistics.median(r["first_read_s"] for r in runs[True]), 3)
        print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
