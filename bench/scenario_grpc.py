#!/usr/bin/env python3
"""A scenario over gRPC against the same scenario in process, in ONE run.

  python bench/scenario_grpc.py [--scenario long-squeeze] [--set KEY=VALUE ...] [--full]
                                [--repeat R] [--profile DIR] [--data-dir DIR]

The scenario (`--short` unless --full) runs in this process first (perpsim.sim.runner, the
engine in process, the risk signals on), then against a fresh `perpsim serve --no-feed
--no-liquidity` (venue_server_kit.py's Server: rest off, no rate limit, no metrics endpoint,
automatic snapshots off) through perpsim.sim.grpc_venue.GrpcVenue, the signals read from the
venue, the venue clock held for the run (SetClockMode: the venue's time moves only by the run's
AdvanceClock commands; --wall-clock leaves it on the wall clock, where the time between a step's
calls moves it too). Repeated R times, alternating. One JSON line per run, then a
"scenario_grpc" line:

  in_process_s, grpc_s            wall time of each (setup + steps), the median over the repeats
  grpc_vs_in_process              grpc_s / in_process_s                     target <= 3 (issue 18)
  grpc_setup_s, grpc_steps_s      where the gRPC run's time went
  ms_per_step                     a step's wall time in process and over gRPC, and over gRPC the CPU
                                  milliseconds of the venue and of this process per step
  calls                           unary calls the gRPC run made: Apply (a batch of commands, with
                                  the step's sample reads), CreateAccounts, reads made on their own,
                                  SetClockMode (the hold, and its release at the end)
  server_cpu_s, client_cpu_s      CPU seconds of the venue process and of this one over the gRPC run
  liquidations                    per mode (a sanity check: both modes run the same scenario)
  same_liquidations               every gRPC run's liquidations, row by row, are the in-process run's
  same_by_run                     the same, run by run

  per_step                        of an extra gRPC run, not timed (--no-count skips it): the calls
                                  of a step by RPC, the commands its Apply calls carried, and the
                                  fsyncs the venue made per step (strace, where it can attach): a
                                  step's commits; "setup" the same for the setup, in total
  fsync_ms_p50                    an append + fdatasync of 4 KB on the data directory's disk (the
                                  median of 50): what one group commit waits for at least
  fsync_floor_ms_per_step         per_step fsyncs x fsync_ms_p50: a step's wall time over gRPC can
                                  be no less (every Apply is one fsynced commit before its answer)
  fsync_floor_vs_in_process       that floor / the in-process step: the ratio the disk alone sets

  whole                           with --whole R: the whole `perpsim scenario run NAME --short`
                                  command (a fresh process each: start-up, run, report) with and
                                  without --grpc against a venue started beforehand, R times each,
                                  alternating: the median seconds of each and their ratio

--profile DIR profiles the last gRPC run: its client side with cProfile (DIR/client.prof), the
server with py-spy (DIR/server.txt, raw stacks). Figures are reported, never asserted.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from venue_server_kit import ADMIN_KEY, PROFILE_RATE, Server

from perpsim.model.market_files import default_markets
from perpsim.sim import runner, scenario
from perpsim.sim.grpc_venue import GrpcVenue

TARGET = 3.0


def load(name: str, full: bool, sets: list[str]) -> scenario.Scenario:
    sc = scenario.load(name)
    if not full:
        sc = sc.shortened()
    if sets:
        sc = sc.with_params({k: scenario.parse_value(v) for k, v in (s.split("=", 1) for s in sets)})
    return sc


def liquidations(r: runner.RunResult) -> int:
    return sum(m["liquidations"] for m in r.summary["markets"].values())


def in_process(sc: scenario.Scenario) -> dict:
    t0 = time.perf_counter()
    r = runner.run(sc)
    return {"mode": "in_process", "s": round(time.perf_counter() - t0, 3), "setup_s": round(r.timings["setup_s"], 3),
            "steps_s": round(r.timings["steps_s"], 3), "ms_per_step": round(r.timings["steps_s"] / sc.steps * 1e3, 2),
            "liquidations": liquidations(r), "_rows": r.liquidations}


def over_grpc(sc: scenario.Scenario, root: Path, profile: Path | None, hold_clock: bool = True) -> dict:
    root.mkdir(parents=True)
    with Server(root, snapshot_every=0) as server:
        markets = {s: default_markets()[s] for s in sc.data["venue"].get("markets", ["BTCUSDT"])}
        venue = GrpcVenue(server.address, ADMIN_KEY, markets, hold_clock=hold_clock)
        sampler = None
        if profile is not None:  # the server's side, sampled over the run (raw stacks, as venue_load.py)
            profile.mkdir(parents=True, exist_ok=True)
            sampler = subprocess.Popen(
                ["py-spy", "record", "--pid", str(server.proc.pid), "--nonblocking", "--format", "raw",
                 "--rate", str(PROFILE_RATE), "--output", str(profile / "server.txt")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.3)  # attached before the run
        cpu0, me0 = server.cpu(), time.process_time()
        prof = cProfile.Profile() if profile is not None else None
        run = runner.Run(sc, venue=venue)
        after_setup: list[float] = []  # the venue's and this process's CPU seconds once the setup is done
        setup = run.setup

        def setup_then_mark() -> None:
            setup()
            after_setup.extend((server.cpu(), time.process_time()))

        run.setup = setup_then_mark  # type: ignore[method-assign]
        t0 = time.perf_counter()
        try:
            if prof is not None:
                prof.enable()
            r = run.run()
        finally:
            if prof is not None:
                prof.disable()
            venue.close()
        took = time.perf_counter() - t0
        server_cpu, client_cpu = server.cpu() - cpu0, time.process_time() - me0
        steps_cpu = (server.cpu() - after_setup[0], time.process_time() - after_setup[1])
        if sampler is not None:
            sampler.send_signal(signal.SIGINT)  # py-spy writes what it sampled and exits
            sampler.wait(timeout=60)
    if prof is not None and profile is not None:
        prof.dump_stats(profile / "client.prof")
    return {"mode": "grpc", "s": round(took, 3), "setup_s": round(r.timings["setup_s"], 3),
            "steps_s": round(r.timings["steps_s"], 3), "calls": venue.calls, "calls_by_rpc": dict(venue.calls_by_rpc),
            "server_cpu_s": round(server_cpu, 2), "client_cpu_s": round(client_cpu, 2),
            "server_cpu_ms_per_step": round(steps_cpu[0] / sc.steps * 1e3, 2),
            "client_cpu_ms_per_step": round(steps_cpu[1] / sc.steps * 1e3, 2), "liquidations": liquidations(r),
            "_rows": r.liquidations}


def shown(run: dict) -> dict:
    """A run's figures as printed (without its liquidation rows)."""
    return {k: v for k, v in run.items() if not k.startswith("_")}


def _fsyncs_at(trace: Path) -> list[float]:
    """When each fsync / fdatasync of a `strace -ttt` trace started (wall-clock seconds)."""
    out = []
    for line in trace.read_text(errors="replace").splitlines():
        parts = line.split(maxsplit=2)  # pid, time, call (strace -f)
        if len(parts) == 3 and parts[2].startswith(("fsync(", "fdatasync(")):
            out.append(float(parts[1]))
    return out


def counted(sc: scenario.Scenario, root: Path, hold_clock: bool = True) -> dict:
    """One more gRPC run, not timed: its calls by RPC and the venue's fsyncs, in the setup and
    per step (fsyncs counted with strace attached to the venue, when it can attach)."""
    root.mkdir(parents=True)
    with Server(root, snapshot_every=0) as server:
        markets = {s: default_markets()[s] for s in sc.data["venue"].get("markets", ["BTCUSDT"])}
        venue = GrpcVenue(server.address, ADMIN_KEY, markets, hold_clock=hold_clock)
        trace, tracer = root / "fsyncs.txt", None
        if shutil.which("strace"):
            tracer = subprocess.Popen(["strace", "-f", "-ttt", "-e", "trace=fsync,fdatasync", "-o", str(trace),
                                       "-p", str(server.proc.pid)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)  # attached to the venue's threads
        try:
            run = runner.Run(sc, venue=venue)
            t0 = time.time()
            run.setup()
            t1, setup_calls, setup_commands = time.time(), collections.Counter(venue.calls_by_rpc), venue.commands_sent
            for step in range(1, run.steps + 1):
                run.step(step)
            t2 = time.time()
        finally:
            venue.close()
            if tracer is not None:
                tracer.send_signal(signal.SIGINT)
                tracer.wait(timeout=30)
    steps = run.steps
    per_step = {k: round(n / steps, 2) for k, n in sorted((venue.calls_by_rpc - setup_calls).items())}
    out = {"setup": {"calls": dict(sorted(setup_calls.items())), "calls_total": sum(setup_calls.values()),
                     "commands": setup_commands},
           "per_step": {"calls": per_step, "calls_total": round(sum(per_step.values()), 2),
                        "commands": round((venue.commands_sent - setup_commands) / steps, 2)}}
    if tracer is not None and trace.exists() and os.path.getsize(trace):
        at = _fsyncs_at(trace)
        out["setup"]["fsyncs"] = sum(t0 <= t < t1 for t in at)
        out["per_step"]["fsyncs"] = round(sum(t1 <= t < t2 for t in at) / steps, 2)
    return out


def fsync_ms(folder: Path, n: int = 50) -> float:
    """The median milliseconds of a 4 KB append and its fdatasync in `folder` (its disk's commit latency)."""
    sync = getattr(os, "fdatasync", os.fsync)
    path = folder / "fsync-probe.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    took = []
    try:
        for _ in range(n):
            os.write(fd, b"\0" * 4096)
            t0 = time.perf_counter()
            sync(fd)
            took.append(time.perf_counter() - t0)
    finally:
        os.close(fd)
        path.unlink()
    return round(statistics.median(took) * 1e3, 2)


def whole(name: str, full: bool, sets: list[str], root: Path, repeat: int) -> dict:
    """The whole CLI command, in process and over gRPC (a venue started beforehand, one for each
    gRPC run): wall seconds of each, alternating."""
    argv = ["perpsim", "scenario", "run", name, *([] if full else ["--short"])]
    for kv in sets:
        argv += ["--set", kv]
    times: dict[str, list[float]] = {"in_process": [], "grpc": []}
    for i in range(repeat):
        out = root / f"whole-{i}"
        t0 = time.perf_counter()
        subprocess.run([*argv, "--out", str(out / "in-process")], check=True, stdout=subprocess.DEVNULL)
        times["in_process"].append(time.perf_counter() - t0)
        (out / "venue").mkdir(parents=True)
        with Server(out / "venue", snapshot_every=0) as server:
            t0 = time.perf_counter()
            subprocess.run([*argv, "--out", str(out / "grpc"), "--grpc", server.address, "--admin-key", ADMIN_KEY],
                           check=True, stdout=subprocess.DEVNULL)
            times["grpc"].append(time.perf_counter() - t0)
    medians = {m: round(statistics.median(t), 3) for m, t in times.items()}
    return {"in_process_s": medians["in_process"], "grpc_s": medians["grpc"],
            "grpc_vs_in_process": round(medians["grpc"] / medians["in_process"], 2),
            "ratios": [round(g / p, 2) for p, g in zip(times["in_process"], times["grpc"], strict=True)]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="long-squeeze", help="a built-in name or a TOML file")
    ap.add_argument("--full", action="store_true", help="the whole scenario, not its [short] version")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a scenario parameter")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each mode, alternating")
    ap.add_argument("--profile", type=Path, help="profile the last gRPC run (client and server) into this folder")
    ap.add_argument("--whole", type=int, default=0, metavar="R",
                    help="also time the whole CLI command with and without --grpc, R times each")
    ap.add_argument("--no-count", action="store_true", help="skip the untimed run that counts calls and fsyncs")
    ap.add_argument("--wall-clock", action="store_true",
                    help="leave the venue clock on the wall clock (not held for the run): the time between "
                         "a step's calls moves the venue's time too, as before the held clock")
    ap.add_argument("--data-dir", type=Path, help="where the venue's data directory goes (default: a temporary "
                                                  "folder; on a tmpfs such as /dev/shm its fsyncs cost nothing)")
    a = ap.parse_args(argv)
    sc = load(a.scenario, a.full, a.set)
    base = Path(tempfile.mkdtemp(prefix="perpsim-scenario-grpc-", dir=a.data_dir))
    runs: dict[str, list[dict]] = {"in_process": [], "grpc": []}
    try:
        for i in range(a.repeat):
            r = in_process(sc)
            print(json.dumps(shown(r)), flush=True)
            runs["in_process"].append(r)
            r = over_grpc(sc, base / f"grpc-{i}", a.profile if i == a.repeat - 1 else None, not a.wall_clock)
            print(json.dumps(shown(r)), flush=True)
            runs["grpc"].append(r)
        count = None if a.no_count else counted(sc, base / "counted", not a.wall_clock)
        probe = fsync_ms(base)
        whole_run = whole(a.scenario, a.full, a.set, base, a.whole) if a.whole else None
    finally:
        shutil.rmtree(base, ignore_errors=True)

    def median(mode: str, key: str) -> float:
        return round(statistics.median(r[key] for r in runs[mode]), 3)

    out = {"bench": "scenario_grpc", "scenario": sc.name, "short": not a.full, "repeat": a.repeat,
           "clock": "wall" if a.wall_clock else "held",
           "in_process_s": median("in_process", "s"), "grpc_s": median("grpc", "s"),
           "grpc_vs_in_process": round(median("grpc", "s") / median("in_process", "s"), 2),
           "ratios": [round(g["s"] / p["s"], 2) for p, g in zip(runs["in_process"], runs["grpc"], strict=True)],
           "grpc_setup_s": median("grpc", "setup_s"), "grpc_steps_s": median("grpc", "steps_s"),
           "in_process_setup_s": median("in_process", "setup_s"), "in_process_steps_s": median("in_process", "steps_s"),
           "calls": runs["grpc"][-1]["calls"], "server_cpu_s": median("grpc", "server_cpu_s"),
           "client_cpu_s": median("grpc", "client_cpu_s"),
           # a step: in process, its wall time; over gRPC, the wall time and the CPU of each side
           "ms_per_step": {"in_process": median("in_process", "ms_per_step"),
                           "grpc": round(median("grpc", "steps_s") / sc.steps * 1e3, 2),
                           "grpc_server_cpu": median("grpc", "server_cpu_ms_per_step"),
                           "grpc_client_cpu": median("grpc", "client_cpu_ms_per_step")},
           "liquidations": {m: runs[m][-1]["liquidations"] for m in runs},
           # every liquidation (step, market, account, side, lots, price, round, leverage) alike in both modes
           "same_liquidations": all(g["_rows"] == runs["in_process"][0]["_rows"] for g in runs["grpc"]),
           "same_by_run": [g["_rows"] == runs["in_process"][0]["_rows"] for g in runs["grpc"]]}
    if count is not None:
        out.update(count)
    out["fsync_ms_p50"] = probe
    fsyncs = (count or {}).get("per_step", {}).get("fsyncs")
    if fsyncs is not None:
        out["fsync_floor_ms_per_step"] = round(fsyncs * probe, 2)
        out["fsync_floor_vs_in_process"] = round(fsyncs * probe / out["ms_per_step"]["in_process"], 2)
    if whole_run is not None:
        out["whole"] = whole_run
    out["meets"] = out["grpc_vs_in_process"] <= TARGET
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
