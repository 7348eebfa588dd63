#!/usr/bin/env python3
"""What each sequencer listener costs, per batch and per order, in a real venue in process.

  python bench/listener_costs.py [--orders N] [--mix batch unary-16 unary-1]

A venue (RunningVenue: journal on disk, streams, metrics, signals, GC policy; no feed, no
liquidity, no endpoint) takes the crossing mix of venue_load.py as the servicer hands it over,
without gRPC: `batch` as one submit_many of 1,000 orders, `unary-16` as 16 callers each
submitting one order at a time (batches of 1-16), `unary-1` as one such caller. Every
before-apply hook, after-apply hook, listener and batch listener is wrapped in a timer; the
line per mix gives each one's µs per order and per batch, from the median of its calls (the
machine's other processes preempt some calls: a mean takes their time in), the wrappers' own
cost (about 0.1 µs a call) included; the collector's time per order (gc.callbacks) and the
process's CPU per order (every thread: the sequencer's loop, the commit thread).
Figures are reported, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from perpsim.engine import commands as C
from perpsim.model.enums import OrderKind, PositionSide, Side, StpMode, TimeInForce
from perpsim.venue.app import RunningVenue
from perpsim.venue.config import VenueConfig

SYMBOL = "BTCUSDT"


def _timed(name: str, fn, calls: dict):
    clock = time.perf_counter_ns
    took = calls[name]  # each call's ns

    def timed(*args):
        t0 = clock()
        try:
            return fn(*args)
        finally:
            took.append(clock() - t0)

    return timed


def _name(fn) -> str:
    owner = getattr(fn, "__self__", None)
    return f"{type(owner).__name__}.{fn.__name__}" if owner is not None else getattr(fn, "__qualname__", repr(fn))


def _order(account: int, n: int):
    """The crossing mix's n-th order of `account` (sell then buy at 65000.0, 1 lot), as a make."""
    side = Side.SELL if n % 2 else Side.BUY

    def make(ts: int):
        return C.PlaceOrder(ts, account, SYMBOL, side, 1, 650_000, OrderKind.LIMIT, TimeInForce.GTC,
                            StpMode.NONE, False, 0, PositionSide.BOTH, f"c{account}-{n}")

    return make


async def _run(running: RunningVenue, mix: str, orders: int, profile: Path | None = None) -> dict:
    venue = running.venue
    seq = venue.seq
    clients = {"batch": 1, "unary-16": 16, "unary-1": 1}[mix]
    accounts = list(range(1_000 + 100 * len(mix), 1_000 + 100 * len(mix) + clients))
    spec = venue.asset_spec("USDT")
    for a in accounts:
        await venue.run(lambda ts, a=a: C.Deposit(ts, a, "USDT", spec.money_to_units(Decimal(10**9))))
    calls: dict = defaultdict(list)
    hooks = {"before_apply": seq.before_apply, "after_apply": seq.after_apply, "listeners": seq.listeners,
             "batch_listeners": seq.batch_listeners}
    saved = {k: list(v) for k, v in hooks.items()}
    for kind, fns in hooks.items():
        fns[:] = [_timed(f"{kind}:{_name(f)}", f, calls) for f in fns]
    gc_ns = [0, 0, 0]  # the collector's time (ns) on any thread, per generation
    gc_runs = [0, 0, 0]
    gc_start = [0]

    def gc_timer(phase: str, info: dict) -> None:
        if phase == "start":
            gc_start[0] = time.perf_counter_ns()
        else:
            gc_ns[info["generation"]] += time.perf_counter_ns() - gc_start[0]
            gc_runs[info["generation"]] += 1

    gc.callbacks.append(gc_timer)
    profiler = cProfile.Profile() if profile is not None else None
    if profiler is not None:
        profiler.enable()  # (on the venue's loop thread, where the listeners run)
    applied0, t0, cpu0 = seq.applied, time.perf_counter(), time.process_time()
    try:
        if mix == "batch":
            n = 0
            while n < orders:
                await seq.submit_many([_order(accounts[0], n + i) for i in range(1_000)])
                n += 1_000
        else:
            async def caller(account: int, count: int) -> None:
                for i in range(count):
                    await seq.submit(_order(account, i))

            await asyncio.gather(*(caller(a, orders // clients) for a in accounts))
    finally:
        gc.callbacks.remove(gc_timer)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(str(profile))
        for kind, fns in hooks.items():
            fns[:] = saved[kind]
    took, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    done = seq.applied - applied0
    batches = len(calls.get("batch_listeners:" + _name(saved["batch_listeners"][0]), ())) \
        if saved["batch_listeners"] else 0
    # per hook: its calls' median (robust against the other processes taking the core midway)
    # times its calls, per order and per batch; and the plain mean per order
    median = {k: statistics.median(v) * len(v) for k, v in sorted(calls.items())}
    return {"bench": "listener_costs", "mix": mix, "orders": done, "batches": batches, "seconds": round(took, 3),
            "orders_per_batch": round(done / batches, 2) if batches else None,
            "process_cpu_us_per_order": round(cpu / done * 1e6, 2),
            "us_per_order": {k: round(v / done / 1e3, 3) for k, v in median.items()},
            "us_per_batch": {k: round(v / batches / 1e3, 2) for k, v in median.items()} if batches else {},
            "total_us_per_order": round(sum(median.values()) / done / 1e3, 3),
            "mean_total_us_per_order": round(sum(map(sum, calls.values())) / done / 1e3, 3),
            "gc_us_per_order": round(sum(gc_ns) / done / 1e3, 3),
            "gc_us_per_collection": [round(t / n / 1e3, 1) if n else None for t, n in zip(gc_ns, gc_runs, strict=True)],
            "gc_collections": gc_runs,
            "gc_threshold": gc.get_threshold()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=20_000)
    ap.add_argument("--mix", nargs="*", default=["batch", "unary-16", "unary-1"])
    ap.add_argument("--gc-threshold", type=int, nargs="*", help="gc.set_threshold(...) once the venue started")
    ap.add_argument("--profile", type=Path, help="cProfile the venue's loop thread per mix into DIR/MIX.prof")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="perpsim-listener-costs-") as tmp:
        running = RunningVenue(VenueConfig(listen="127.0.0.1:0", data_dir=Path(tmp), feed=False, liquidity=False,
                                           metrics_listen="", rest_listen="off")).start_in_thread()
        try:
            assert running._loop is not None
            if a.gc_threshold:
                gc.set_threshold(*a.gc_threshold)
            for mix in a.mix:
                orders = a.orders if mix != "unary-1" else a.orders // 4
                prof = None
                if a.profile is not None:
                    a.profile.mkdir(parents=True, exist_ok=True)
                    prof = a.profile / f"{mix}.prof"
                r = asyncio.run_coroutine_threadsafe(_run(running, mix, orders, prof), running._loop).result()
                print(json.dumps(r), flush=True)
        finally:
            running.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
