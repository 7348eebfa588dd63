#!/usr/bin/env python3
"""What the risk signals cost: the sequencer's own time with them off and on, and the catch-up.

  python bench/signals_overhead.py [--positions N] [--accounts N] [--ticks-positions N] [--repeat R]

The sequencer hands each applied command to the signals (`Signals.handoff`: an append; a new
step's first command also closes the signals' step of venue time there), and the signals fold
the buffer in later, off the sequencer's path (`Signals.catch_up`: the venue's catch-up task
while the sequencer waits, and every read). So each run reports two figures:

* sequencer: the sequencer's own time, `Exchange.apply` (+ the handoff when on). This is what
  "the signals must not slow the sequencer" is about; `seq_ratio` = on / off.
* total: all the CPU the signals take as well, the catch-up included (reads excluded: served by
  the RPC, not by the sequencer); `total_ratio` = (sequencer + catch-up) / off; `catch_up_*` is
  the catch-up alone.

Measurements (each run R times per mode, in a fresh process; medians):

* shock: bench/exchange_cascade.py's world (N leveraged longs, a -7.5 % index shock that
  liquidates them all). On: a `Signals` is attached to the built exchange (one walk over its
  positions, outside the timing); the shock is `apply` + `handoff` (and, in both modes, the young
  collection the command's allocations set off), then `catch_up` (timed apart). `first_read_s`:
  the first `market_risk` read after it (outside both ratios).
* scenario: bench/scenario_cascade.py's long-squeeze with N accounts (setup through commands,
  then three 1-s steps with the -8 % jump), in process, as `perpsim sim` runs it: on, the
  in-process venue hands every command over and the runner's once-a-step read catches up.
  Sequencer: the run's CPU time less the catch-ups and the reads (so the agents' own time is in
  both modes' figures); `reads_cpu_s`: the runner's reads, in neither ratio.
* tick: quiet mark ticks over N positions (nothing liquidated), 100 per second of venue time,
  per tick in microseconds; on, the buffer is caught up every 10 ticks outside the sequencer's
  time (as the venue's catch-up task does between batches).

One JSON line per measurement: medians, and the spread beside them (each mode's fastest and
slowest run, and the lowest and highest on/off ratio of one interleaved pair of runs). Times are
CPU time of the process where marked cpu (on a machine shared with other work wall time swings
with the load), wall time otherwise. Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import gc
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
    c0 = time.process_time()
    events = ex.apply(cmd)
    # The collector was paused for the command; its first allocation after it sets off a young
    # collection over the shock's million new events. The venue pays that on the sequencer with
    # or without signals (its journal append allocates first): collected here in both modes, so
    # it is not charged to whichever code happens to allocate first.
    gc.collect(0)
    if sig is not None:
        sig.handoff(cmd, events)
    c1 = time.process_time()
    out = {"seq_cpu_s": c1 - c0, "events": len(events)}
    if sig is not None:
        sig.catch_up()
        out["catch_up_cpu_s"] = time.process_time() - c1
        t1 = time.perf_counter()
        risk = sig.market_risk(xc.SYMBOL)
        out["first_read_s"] = time.perf_counter() - t1
        out["open_interest_lots"] = risk.open_interest_lots
    return out


def scenario(accounts: int, seed: int, on: bool) -> dict:
    from scenario_cascade import cascade_scenario  # the same long squeeze as that bench's

    from perpsim.sim import runner

    run = runner.Run(cascade_scenario(accounts), seed, hash_events=False, signals=on)
    venue, spent = run.venue, {"catch_up": 0.0, "reads": 0.0}
    if on:  # CPU time in the catch-ups (HOLD_EVENTS flushes, before reads) and in the reads themselves
        venue.flush = _timed(venue.flush, spent, "catch_up")
        venue.signals.market_risk = _timed(venue.signals.market_risk, spent, "reads")
    c0 = time.process_time()
    result = run.run()
    total = time.process_time() - c0
    out = {"seq_cpu_s": total - spent["catch_up"] - spent["reads"], "cpu_s": total,
           "catch_up_cpu_s": spent["catch_up"], "reads_cpu_s": spent["reads"],
           "liquidations": result.summary["markets"]["BTCUSDT"]["liquidations"]}
    if on:
        t1 = time.perf_counter()
        venue.signals.market_risk("BTCUSDT")
        out["first_read_s"] = time.perf_counter() - t1
    return out


def _timed(fn, spent: dict, key: str):
    def timed(*args, **kwargs):
        c0 = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[key] += time.process_time() - c0

    return timed


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
    apply, seq, catch = ex.apply, 0.0, 0.0
    clock = time.process_time
    if sig is None:
        c0 = clock()
        for cmd in cmds[200:]:
            apply(cmd)
        seq = clock() - c0
    else:
        handoff, catch_up = sig.handoff, sig.catch_up
        work = cmds[200:]
        for k in range(0, len(work), 10):
            c0 = clock()
            for cmd in work[k:k + 10]:
                handoff(cmd, apply(cmd))
            c1 = clock()
            catch_up()
            seq += c1 - c0
            catch += clock() - c1
    return {"seq_cpu_s": seq / ticks, "catch_up_cpu_s": catch / ticks}


def _child(kind: str, size: int, seed: int, on: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, "--size", str(size), "--seed", str(seed)]
    if on:
        cmd.append("--on")
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd[2:])} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _line(kind: str, size: int, repeat: int, runs: dict[bool, list[dict]]) -> dict:
    """The measurement's JSON line from its runs off and on (medians)."""

    def med(on: bool, key: str) -> float:
        return statistics.median(r.get(key, 0.0) for r in runs[on])

    scale, unit = (1e6, "us") if kind == "tick" else (1.0, "s")
    line: dict = {"bench": f"signals_overhead_{kind}", "size": size, "repeat": repeat}
    off, on, catch = med(False, "seq_cpu_s"), med(True, "seq_cpu_s"), med(True, "catch_up_cpu_s")
    line.update({f"off_seq_cpu_{unit}": round(off * scale, 3), f"on_seq_cpu_{unit}": round(on * scale, 3),
                 "seq_ratio": round(on / off, 3), f"catch_up_cpu_{unit}": round(catch * scale, 3),
                 "total_ratio": round((on + catch) / off, 3)})
    # the spread: each mode's runs (min, max) and the ratio of each interleaved pair (min, max)
    pairs = [b["seq_cpu_s"] / a["seq_cpu_s"] for a, b in zip(runs[False], runs[True], strict=True)]
    for name, on_ in (("off", False), ("on", True)):
        seqs = [r["seq_cpu_s"] * scale for r in runs[on_]]
        line[f"{name}_seq_range_{unit}"] = [round(min(seqs), 3), round(max(seqs), 3)]
    line["pair_ratio_range"] = [round(min(pairs), 3), round(max(pairs), 3)]
    if kind == "scenario":  # the runner's reads once a step, beside
        line["reads_cpu_s"] = round(med(True, "reads_cpu_s"), 3)
    if kind != "tick":
        line["first_read_s"] = round(med(True, "first_read_s"), 3)
    return line


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
        runs: dict[bool, list[dict]] = {False: [], True: []}
        for _ in range(a.repeat):
            for on in (False, True):  # interleaved: a slow phase of the machine hits both modes
                runs[on].append(_child(kind, size, a.seed, on))
        print(json.dumps(_line(kind, size, a.repeat, runs)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
