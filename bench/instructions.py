#!/usr/bin/env python3
"""Machine instructions of the mark tick, the shock and the scenario, under callgrind: one JSON line each.

  python bench/instructions.py [--only tick shock scenario] [--tick-positions N] [--ticks T]
                               [--shock-positions N] [--scenario-accounts N] [--seed S] [--one-process]

Wall time on a shared machine moves by more than the 5 % two builds are compared at; the
instructions a workload executes do not (two runs of the same build agree to about 0.1 %). Each
workload runs in its own process under `valgrind --tool=callgrind` with collection off
(--collect-atstart=no) except inside ``sys.call_tracing``, through which the measured part alone
is called (--toggle-collect=sys_call_tracing, CPython's C function behind it). The workloads are
the benches' own, built by their functions:

  tick      bench/exchange_tick.py's command tick: T ``Exchange.apply(SetIndexPrice)`` index moves
            within ±0.5 % of the mark, each one a new mark and none liquidating, on a market of N
            open isolated positions (``build``, ``index_moves``);
  shock     bench/exchange_cascade.py's shock: the one ``SetIndexPrice`` that liquidates N longs
            through the book, the insurance fund and ADL (``build``, ``outcome``);
  scenario  bench/scenario_cascade.py's end to end part: the run's setup and its steps with N crowd
            accounts, the cyclic collector off as the runner has it (``cascade_scenario``; building
            the engine and the final integrity check are outside, as in that bench).

Building, the checks that the market is as the bench wants it and the checks of the outcome run
outside the collection; ``gc.collect()`` runs just before the measured part. The measured process
runs with PYTHONHASHSEED=0, so that string hashes and set orders, hence the counts, repeat.
Reported per workload: ``instructions`` (the measured part's total), per unit (``per_tick``,
``per_liquidation``, ``per_account``), the outcome (events, liquidations, lots, the scenario's
event hash: they must be equal for two builds to be compared), the collector's runs by generation
during the measured part, the exchange module imported and the git state of its tree, and the
valgrind wall time (at the defaults some 5 to 15 minutes a workload: building 100,000 positions
under valgrind is most of it). --one-process runs them all in one process, one callgrind dump per
measured part (--dump-after): quicker to start, for the smoke run; the counts then also depend
on the heap the workloads before left.

The build measured is the one ``import perpsim`` finds: choose it with PYTHONPATH, e.g. a tree of
symlinks perpsim/{engine,risk,model,sim,...} -> a worktree of another commit built in place, and
perpsim/v1 -> its build/proto-gen/perpsim/v1. Results are kept in bench/results/. Without valgrind
on PATH this prints a message and exits 0, so that the bench smoke run passes where it is absent.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORKLOADS = ("tick", "shock", "scenario")
TOGGLE = "sys_call_tracing"  # CPython's C function behind sys.call_tracing(func, args)


def _measure(fn) -> tuple:
    """fn() with callgrind collecting only while it runs (sys.call_tracing calls it plainly: no
    trace function is installed, so nothing else changes); its result and the cyclic collector's
    runs by generation meanwhile (a full one scans the whole heap: it can explain a difference)."""
    gc.collect()
    before = [g["collections"] for g in gc.get_stats()]
    result = sys.call_tracing(fn, ())
    return result, [g["collections"] - b for g, b in zip(gc.get_stats(), before, strict=True)]


def _tick(n: int, ticks: int, seed: int) -> dict:
    import exchange_tick as bench

    from perpsim.engine import commands as C
    from perpsim.engine.events import Liquidation, MarkPriceChanged
    from perpsim.engine.views import ExchangeView

    ex, _ = bench.build(n, seed)
    view = ExchangeView(ex)
    mark = view.mark(bench.SYMBOL)
    if view.liquidation_probe(bench.SYMBOL)(mark) or view.liquidation(bench.SYMBOL).indexed < n:
        raise RuntimeError("the built market is not quiet at its mark")
    cmds = [C.SetIndexPrice(ex.ts + i, bench.SYMBOL, p) for i, p in enumerate(bench.index_moves(mark, ticks, seed), 1)]
    apply = ex.apply
    results, collections = _measure(lambda: [apply(cmd) for cmd in cmds])
    if any(isinstance(e, Liquidation) for events in results for e in events):
        raise RuntimeError("an index move liquidated something; the tick must be quiet")
    moves = sum(any(isinstance(e, MarkPriceChanged) for e in events) for events in results)
    if moves != ticks:
        raise RuntimeError(f"only {moves} of {ticks} index moves changed the mark")
    return {"positions": n, "ticks": ticks, "events": sum(map(len, results)), "gc_collections": collections,
            "units": ticks, "per": "per_tick"}


def _shock(n: int, seed: int) -> dict:
    import exchange_cascade as bench

    from perpsim.engine import commands as C
    from perpsim.engine.views import ExchangeView

    ex, longs, _ = bench.build(n, seed)
    spec = ExchangeView(ex).spec(bench.SYMBOL)
    shock = C.SetIndexPrice(ex.ts + 1, bench.SYMBOL, spec.price_to_ticks(bench.SHOCK_PRICE))
    events, collections = _measure(lambda: ex.apply(shock))
    out = bench.outcome(ex, longs, events)
    return {"positions": n, "events": len(events), **out, "gc_collections": collections,
            "units": out["liquidated"], "per": "per_liquidation"}


def _scenario(n: int, seed: int) -> dict:
    import scenario_cascade as bench

    from perpsim.sim import runner

    sc = bench.cascade_scenario(n)
    if sc.data.get("check_every", 0):
        raise RuntimeError("the scenario checks integrity during its steps; the measured part leaves that out")
    run = runner.Run(sc, seed, hash_events=True, signals=False)

    def setup_and_steps() -> None:
        run.setup()
        for step in range(1, run.steps + 1):
            run.step(step)

    gc.disable()  # as Run.run does for its setup and steps
    try:
        _measure(setup_and_steps)
    finally:
        gc.enable()
    run.check()
    m = run.metrics.summary()["markets"]["BTCUSDT"]
    return {"accounts": n, "steps": run.steps, "events": run.n_events, "liquidations": m["liquidations"],
            "filled_in_book_lots": m["filled_in_book_lots"], "taken_by_insurance_lots": m["taken_by_insurance_lots"],
            "deleveraged_lots": m["deleveraged_lots"], "event_hash": run._hash.hexdigest(),
            "units": n, "per": "per_account"}


def _child(workloads: list[str], a: argparse.Namespace) -> None:
    """Runs inside valgrind: the workloads in order, each one's outcome as a line of stdout."""
    import perpsim.engine.exchange as exchange_module

    for workload in workloads:
        if workload == "tick":
            out = _tick(a.tick_positions, a.ticks, a.seed)
        elif workload == "shock":
            out = _shock(a.shock_positions, a.seed)
        else:
            out = _scenario(a.scenario_accounts, a.seed)
        out["module"] = exchange_module.__file__
        print(json.dumps(out), flush=True)


def _tree(module: str) -> str:
    """`git describe --always --dirty` of the checkout the module's real file is in."""
    done = subprocess.run(["git", "-C", str(Path(module).resolve().parent), "describe", "--always", "--dirty"],
                          capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else "unknown"


def _total(profile: Path) -> int:
    """The collected Ir of a callgrind output file (its `summary:` line, else `totals:`)."""
    found = {}
    for line in profile.read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("summary", "totals") and value.strip():
            found[key] = int(value.split()[0])
    if not found:
        raise RuntimeError(f"{profile}: no summary or totals line")
    return found.get("summary", found.get("totals"))


def measure(workloads: list[str], a: argparse.Namespace, valgrind: str, version: str) -> list[dict]:
    """The workloads run in one process under callgrind: one record each, in order. Callgrind dumps
    and zeroes its counters as each measured part returns (--dump-after), into <out>.1, <out>.2, ..."""
    with tempfile.TemporaryDirectory(prefix="perpsim-callgrind-") as tmp:
        profile, log = Path(tmp, "callgrind.out"), Path(tmp, "valgrind.log")
        cmd = [valgrind, "--tool=callgrind", "--collect-atstart=no", f"--toggle-collect={TOGGLE}",
               f"--dump-after={TOGGLE}", f"--callgrind-out-file={profile}", f"--log-file={log}",
               sys.executable, str(Path(__file__).resolve()), "--child", *workloads,
               "--tick-positions", str(a.tick_positions), "--ticks", str(a.ticks),
               "--shock-positions", str(a.shock_positions), "--scenario-accounts", str(a.scenario_accounts),
               "--seed", str(a.seed)]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
        wall = time.perf_counter() - t0
        if done.returncode != 0:
            tail = log.read_text().splitlines()[-20:] if log.exists() else []
            raise RuntimeError(f"{' '.join(workloads)} exited {done.returncode} under valgrind\n" + "\n".join(tail))
        outs = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        totals = [_total(Path(f"{profile}.{i}")) for i in range(1, len(workloads) + 1)]
    records = []
    for workload, out, total in zip(workloads, outs, totals, strict=True):
        if total == 0:
            raise RuntimeError(f"nothing collected: is {TOGGLE} in the interpreter's symbol table?")
        units, per, module = out.pop("units"), out.pop("per"), out.pop("module")
        records.append({"bench": "instructions", "workload": workload, **out, "instructions": total,
                        per: round(total / max(units, 1)), "module": module, "compiled": module.endswith(".so"),
                        "tree": _tree(module), "valgrind": version, "valgrind_s": round(wall, 1),
                        "one_process": len(workloads) > 1})
    return records


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="+", choices=WORKLOADS, default=list(WORKLOADS), help="run only these")
    ap.add_argument("--tick-positions", type=int, default=100_000, help="open isolated positions (100,000)")
    ap.add_argument("--ticks", type=int, default=200, help="SetIndexPrice commands measured (200)")
    ap.add_argument("--shock-positions", type=int, default=100_000, help="longs the shock liquidates (100,000)")
    ap.add_argument("--scenario-accounts", type=int, default=100_000, help="the scenario's crowd (100,000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--one-process", action="store_true",
                    help="all workloads in one valgrind process (quicker to start; each one's count then"
                         " also depends on the heap the ones before it left)")
    ap.add_argument("--child", nargs="+", choices=WORKLOADS, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if min(a.tick_positions, a.ticks, a.shock_positions, a.scenario_accounts) < 1:
        ap.error("sizes must be at least 1")
    if a.child:
        _child(a.child, a)
        return 0
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        print("instructions: valgrind is not on PATH; nothing measured", file=sys.stderr, flush=True)
        return 0
    version = subprocess.run([valgrind, "--version"], capture_output=True, text=True).stdout.strip()
    for group in [a.only] if a.one_process else [[w] for w in a.only]:
        for record in measure(group, a, valgrind, version):
            print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
