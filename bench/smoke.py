#!/usr/bin/env python3
"""Every benchmark at a tiny size, so that none can rot.

  python bench/smoke.py [--only NAME ...] [--timeout SECONDS]

Runs each script in bench/ as its own process at the smallest sizes it takes (its numbers mean
nothing at these sizes and are not shown; its output is printed only when it fails), then the
pytest-benchmark files with timing off (`pytest bench --benchmark-disable`: each benchmarked
function runs once, its assertions checked). Prints each one's wall time; exits 1 if any exits
nonzero or runs past its timeout, and also when a script in bench/ has no entry here, so a new
benchmark cannot be left out.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent

#: script -> arguments at a tiny size (see each script's --help)
RUNS: dict[str, list[str]] = {
    "book_stream": ["--n", "2000", "--repeat", "1"],
    "checkpoint_stall": ["--seed-orders", "200", "--seconds", "1", "--gap", "0.3", "--warmup", "0"],
    "create_accounts": ["--accounts", "20", "--concurrency", "1", "4"],
    "exchange_cascade": ["--positions", "1000"],
    "exchange_tick": ["--positions", "1000", "--repeat", "3"],
    "instructions": ["--one-process", "--tick-positions", "100", "--ticks", "2", "--shock-positions", "100",
                     "--scenario-accounts", "100"],
    "journal": ["--records", "2000", "--apply-records", "500", "--batches", "64"],
    "journal_prealloc": ["--commits", "20", "--rounds", "2"],
    "journal_prune": ["--segment-mb", "1", "--segments", "2"],
    "liqindex_tick": ["--entries", "1000"],
    "listener_costs": ["--orders", "200"],
    "rest_load": ["--clients", "1", "--seconds", "0.5", "--warmup", "0", "--slice", "0.25", "--driver", "aio"],
    "scenario_cascade": ["--accounts", "1000"],
    "scenario_grpc": ["--set", "duration_s=5", "--set", "agents.crowd.count=20"],
    "scenario_sweep": ["--points", "2"],
    "signals_overhead": ["--positions", "500", "--accounts", "500", "--ticks-positions", "500", "--repeat", "1"],
    "stage_profile": ["{profile}", "--orders", "10", "--seconds", "1"],
    "venue_load": ["--clients", "1", "--seconds", "0.5", "--warmup", "0"],
    "venue_ratios": ["--seconds", "0.5", "--warmup", "0", "--engine-orders", "1000",
                     "--skip", "unary-16", "read-16"],
}

#: a few samples of py-spy's raw format (root first, `;`-separated frames, then the count), for
#: stage_profile.py, which reads a profile rather than making one
PROFILE = """\
thread (0x1);main (/lib/perpsim/venue/server.py:10);apply (/lib/perpsim/engine/exchange.py:30) 5
thread (0x1);main (/lib/perpsim/venue/server.py:10);_commit (/lib/perpsim/venue/journal.py:40) 2
thread (0x1);main (/lib/perpsim/venue/server.py:10);command (/lib/perpsim/venue/convert.py:50) 1
"""


def _scripts() -> list[str]:
    """The benchmark scripts: bench/*.py but this one, the pytest-benchmark files and the kits
    (`*_kit.py`: helpers the scripts import, run with them)."""
    return sorted(p.stem for p in BENCH.glob("*.py")
                  if p.stem != "smoke" and not p.stem.startswith("test_") and not p.stem.endswith("_kit"))


def _run(name: str, cmd: list[str], timeout: float) -> tuple[bool, float]:
    t0 = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=BENCH.parent)
        ok, out = done.returncode == 0, f"exit {done.returncode}\n{done.stdout}{done.stderr}"
    except subprocess.TimeoutExpired as e:
        ok, out = False, f"timed out after {timeout:g} s\n{e.stdout or ''}{e.stderr or ''}"
    took = time.perf_counter() - t0
    print(f"{'ok  ' if ok else 'FAIL'} {took:7.2f} s  {name}", flush=True)
    if not ok:
        print("\n".join("    " + line for line in out.splitlines()[-40:]), flush=True)
    return ok, took


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="+", choices=[*sorted(RUNS), "pytest"], help="run only these")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds one benchmark may take")
    a = ap.parse_args(argv)
    failed = []
    missing = sorted(set(_scripts()) - set(RUNS))
    if missing:
        print(f"FAIL bench scripts without a smoke entry in bench/smoke.py: {', '.join(missing)}", flush=True)
        failed += missing
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="perpsim-bench-smoke-") as tmp:
        profile = Path(tmp, "profile.txt")
        profile.write_text(PROFILE)
        for name, args in RUNS.items():
            if a.only and name not in a.only:
                continue
            cmd = [sys.executable, str(BENCH / f"{name}.py"), *(x.format(profile=profile) for x in args)]
            if not _run(name, cmd, a.timeout)[0]:
                failed.append(name)
    if not a.only or "pytest" in a.only:
        cmd = [sys.executable, "-m", "pytest", "bench", "-q", "--benchmark-disable", "-p", "no:cacheprovider"]
        if not _run("pytest bench --benchmark-disable", cmd, a.timeout)[0]:
            failed.append("pytest")
    print(f"{'FAILED: ' + ', '.join(failed) if failed else 'all ok'} in {time.perf_counter() - t0:.1f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
