#!/usr/bin/env python3
"""Venue load: order-entry throughput and latency against a real `perpsim serve` process.

  python bench/venue_load.py [--clients 1 4 16] [--orders N] [--seconds S] [--mix resting crossing]
                             [--driver aio|thread|batch|stream] [--batch B] [--per-message P] [--warmup W]
                             [--in-flight K] [--data-dir DIR] [--snapshot-every N] [--profile DIR]

For every (mix, clients) scenario a fresh server is started as a subprocess on a fresh data
directory — no index feed, no liquidity provider, no rate limit (a TOML config with
rate_limit_per_s = 0), no metrics endpoint — and one account per client is created (admin key)
and funded. Then C concurrent clients place GTC limit orders with a client order id each, for
S seconds (or N orders in all, whichever comes first) after W seconds of warm-up:

  resting    non-crossing: buys 62000..64000, sells 66000..68000 on BTCUSDT; the book grows up to
             the venue's limit of 200 open orders per account and market, so every 180 orders
             a client cancels its orders (CancelAllOrders: counted in "cancels", not in the
             order count nor in the latencies, but in the journal records)
  crossing   each client alternates a sell and a buy of 1 lot at 65000: every buy trades
  read       ListOpenOrders on an empty account: the gRPC + servicer floor, no sequencer, no
             journal (a baseline, not run unless asked for)

Drivers: `aio` runs C grpc.aio tasks (one channel each) on one event loop; `thread` runs C
threads with blocking stubs (one channel each). Latency is per call, as the client sees it.
Batch and streaming entry (grpc.aio, one channel per client): `batch` sends PlaceOrders calls of
B orders each, K calls in flight per client (--in-flight, default 1; latency: per call); `stream`
keeps one StreamOrders stream per client with up to B orders unanswered, P orders a message
(--per-message, default 100; 1 = the single-order form; latency: per order, from its message's
send to its answer). Use them with the crossing mix (the resting mix's cancels are unary calls).

The journal is measured from the server's side: GetVenueState.journal_sequence (the last durable
journal record) before and after the run, over the run's wall time = durable commands/s (every
acknowledged order is one fsynced journal record; group commit batches them).

One JSON line per scenario:

  {"bench": "venue_unary", "mix", "driver", "clients", "orders", "cancels", "errors", "seconds",
   "orders_per_s", "p50_ms", "p90_ms", "p99_ms", "max_ms", "journal_records", "durable_cmds_per_s",
   "server_cpu", "client_cpu"}

server_cpu / client_cpu: CPU seconds per wall second of the server process and of this process
(1.0 = one core busy), so that a client-bound run can be told from a server-bound one;
server_cpu_us_per_order: the server's CPU per order (what orders/s would be with a free core,
however busy the machine), split into loop_cpu_us_per_order (the event loop's thread) and
other_threads_cpu_us_per_order (the journal's fsyncs, gRPC's pollers); children_cpu_us_per_order:
the server's child processes (the snapshot follower), not in server_cpu. snapshots_on_disk,
and from the server's log checkpoints, checkpoint_fork_ms_max (the sequencer's pause: the
fork) and checkpoint_write_ms_max (the snapshot written off the sequencer). --profile DIR
samples the server with py-spy over the measured phase (native stacks, so the compiled engine
and registry show as themselves; each sample pauses the server a moment, so a profiled run is a
little slower) and adds the per-stage breakdown (bench/stage_profile.py) to each line.
bench/venue_ratios.py runs the engine in process and the venue scenarios in one go and prints
the ratios. Targets (reported against, never asserted): ≥ 5,000 orders/s unary, p99 ≤ 2 ms on
loopback.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from venue_drivers_kit import DRIVER_SETTINGS, DRIVERS, Orders, percentile
from venue_server_kit import PROFILE_RATE, Server, children_cpu, journal_seq, setup_accounts, thread_cpu

TARGET_ORDERS_PER_S = 5_000
TARGET_P99_MS = 2.0
TARGET_BULK_ORDERS_PER_S = 50_000  # batch or streaming entry


def scenario(mix: str, clients: int, driver: str, seconds: float, limit: int, warmup: float, root: Path,
             snapshot_every: int, profile: Path | None = None) -> dict:
    """One scenario on a fresh server; `profile`: where py-spy writes the server's sampled
    stacks (raw) over the measured phase (see stage_profile.py)."""
    root.mkdir(parents=True)
    with Server(root, snapshot_every) as server:
        keys = setup_accounts(server.address, clients)
        streams = [Orders(mix, i) for i in range(clients)]
        run = DRIVERS[driver]
        if warmup > 0:
            run(server.address, keys, streams, warmup, 0)
        sampler = None
        if profile is not None:
            sampler = subprocess.Popen(
                ["py-spy", "record", "--pid", str(server.proc.pid), "--native", "--threads", "--format", "raw",
                 "--rate", str(PROFILE_RATE), "--duration", str(max(1, round(seconds))), "--output", str(profile)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.3)  # attached before the measured phase
        pid = server.proc.pid
        threads0, kids0 = thread_cpu(pid), children_cpu(pid)
        seq0, cpu0, me0, t0 = journal_seq(server.address), server.cpu(), time.process_time(), time.perf_counter()
        tally = run(server.address, keys, streams, seconds, limit)
        elapsed = time.perf_counter() - t0
        server_cpu, client_cpu = server.cpu() - cpu0, time.process_time() - me0
        threads1, kids1 = thread_cpu(pid), children_cpu(pid)
        seq1 = journal_seq(server.address)
        if sampler is not None:
            sampler.wait(timeout=seconds + 60)
        snapshots = len(list((server.data / "snapshots").glob("*.snap")))
    lat = sorted(tally.latencies)
    ms = 1e3
    out = {
        "bench": "venue_" + (driver if driver in ("batch", "stream") else "unary"), "mix": mix,
        "driver": driver, "clients": clients,
        **({"in_flight": DRIVER_SETTINGS["in_flight"]} if driver == "batch" else {}), "orders": len(lat),
        "cancels": tally.uncounted, "errors": tally.errors, "seconds": round(elapsed, 3),
        "orders_per_s": round(len(lat) / elapsed, 1),
        "p50_ms": round(percentile(lat, 0.50) * ms, 3), "p90_ms": round(percentile(lat, 0.90) * ms, 3),
        "p99_ms": round(percentile(lat, 0.99) * ms, 3), "max_ms": round(lat[-1] * ms, 3) if lat else None,
        "journal_records": seq1 - seq0, "durable_cmds_per_s": round((seq1 - seq0) / elapsed, 1),
        "snapshots_on_disk": snapshots,
        "server_cpu": round(server_cpu / elapsed, 2), "client_cpu": round(client_cpu / elapsed, 2),
        # the server's CPU per order: unlike orders/s, not inflated when other processes take the cores
        "server_cpu_us_per_order": round(server_cpu / len(lat) * 1e6, 2) if lat else None,
        # ... split: the event loop's thread, the server's other threads (journal fsyncs, gRPC
        # pollers), and its child processes (the snapshot follower replaying the journal)
        "loop_cpu_us_per_order": round((threads1[0] - threads0[0]) / len(lat) * 1e6, 2) if lat else None,
        "other_threads_cpu_us_per_order": round((threads1[1] - threads0[1]) / len(lat) * 1e6, 2) if lat else None,
        # (None when a child ended during the run: its CPU is no longer counted)
        "children_cpu_us_per_order": round((kids1 - kids0) / len(lat) * 1e6, 2) if lat and kids1 >= kids0 else None,
        "meets_target": bool(lat) and (len(lat) / elapsed >= TARGET_BULK_ORDERS_PER_S if driver in ("batch", "stream")
                                       else len(lat) / elapsed >= TARGET_ORDERS_PER_S
                                       and percentile(lat, 0.99) * ms <= TARGET_P99_MS),
    }
    # checkpoints, from the server's log: the sequencer's pause (the fork) and the write off it
    log = server.log.read_text(errors="replace")
    forks = [float(x) for x in re.findall(r"(?:forked|asked of follower \d+) in ([0-9.]+) ms", log)]
    writes = [float(x) for x in re.findall(r"written in ([0-9.]+) ms, off the sequencer", log)]
    if forks:
        out.update(checkpoints=len(forks), checkpoint_fork_ms_max=max(forks),
                   checkpoint_write_ms_max=max(writes) if writes else None)
    if tally.first_error:
        out["first_error"] = tally.first_error
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16], help="concurrent clients per scenario")
    ap.add_argument("--orders", type=int, default=0, help="stop a scenario after N orders in all (0: no limit)")
    ap.add_argument("--seconds", type=float, default=10.0, help="measured seconds per scenario")
    ap.add_argument("--warmup", type=float, default=1.0, help="seconds of load before measuring")
    ap.add_argument("--mix", nargs="+", choices=("resting", "crossing", "read"), default=["resting", "crossing"])
    ap.add_argument("--driver", choices=sorted(DRIVERS), default="aio")
    ap.add_argument("--batch", type=int, default=DRIVER_SETTINGS["batch"],
                    help="orders per PlaceOrders call / unanswered per stream (default %(default)s)")
    ap.add_argument("--per-message", type=int, default=DRIVER_SETTINGS["per_message"],
                    help="stream: orders per StreamOrders message (1: the single-order form; default %(default)s)")
    ap.add_argument("--in-flight", type=int, default=DRIVER_SETTINGS["in_flight"],
                    help="batch: PlaceOrders calls each client keeps in flight (default %(default)s)")
    ap.add_argument("--snapshot-every", type=int, default=100_000, help="the venue's snapshot_every setting")
    ap.add_argument("--data-dir", type=Path, help="where the data directories go (default: a temporary one)")
    ap.add_argument("--profile", type=Path, help="sample the server with py-spy; its raw stacks go to this folder "
                                                 "and the stage breakdown (stage_profile.py) into each JSON line")
    a = ap.parse_args(argv)
    if a.driver in ("batch", "stream") and set(a.mix) != {"crossing"}:
        # a batch of resting orders fills the venue's 200 open orders an account at once, and the
        # resting mix's cancels are a unary call of their own
        ap.error(f"--driver {a.driver} places crossing orders only: give --mix crossing")
    DRIVER_SETTINGS["batch"] = a.batch
    DRIVER_SETTINGS["per_message"] = a.per_message
    DRIVER_SETTINGS["in_flight"] = max(1, a.in_flight)
    base = a.data_dir or Path(tempfile.mkdtemp(prefix="perpsim-venue-load-"))
    try:
        for mix in a.mix:
            for clients in a.clients:
                root = base / f"{mix}-{a.driver}-{clients}"
                shutil.rmtree(root, ignore_errors=True)
                prof = None
                if a.profile is not None:
                    a.profile.mkdir(parents=True, exist_ok=True)
                    prof = a.profile / f"{mix}-{a.driver}-{clients}.txt"
                result = scenario(mix, clients, a.driver, a.seconds, a.orders, a.warmup, root, a.snapshot_every,
                                  prof)
                if prof is not None and prof.exists():
                    from stage_profile import report  # beside this file
                    sampled = max(1, round(a.seconds))
                    result["profile"] = report(prof, round(result["orders_per_s"] * sampled), PROFILE_RATE, sampled,
                                               result["server_cpu_us_per_order"])
                print(json.dumps(result), flush=True)
    finally:
        if a.data_dir is None:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
