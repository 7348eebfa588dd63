#!/usr/bin/env python3
"""The venue's throughput as a fraction of the engine's, measured in ONE run.

  python bench/venue_ratios.py [--seconds S] [--engine-orders N] [--profile DIR] [--skip ...]

First the engine in process on the order mix the venue is sent (the crossing mix of
venue_load.py: 1-lot GTC limit sells and buys at 65000 alternating, each with a client order
id, every buy trading against the sell before it): `Exchange.apply` alone, then
`VenueState.apply` (the engine plus the venue's order registry and history, the history's
folds included), on commands built the way the servicer builds them. Then the venue over
gRPC on 127.0.0.1, each scenario on a fresh `perpsim serve` (venue_server_kit.py's Server: no feed,
no liquidity, no rate limit, no metrics endpoint). Right before each scenario compared to the
engine (batch, batch-2, stream, stream-1) `Exchange.apply` is measured again (a line with
"before": the scenario), and that scenario's ratios are taken against it: this machine's speed
drifts within a run.

  batch       PlaceOrders, 1,000 orders a call, 1 client, one call at a time
  batch-2     the same with two calls in flight: the venue works on one while the client builds
              and sends the next (one at a time, the venue waits for the client between calls)
  stream      StreamOrders, 1 client, up to 1,000 orders unanswered, 100 orders a message
  stream-1    the same, one order a message (the single-order form)
  unary-1     PlaceOrder, 1 client (its p99)
  unary-16    PlaceOrder, 16 clients
  read-16     ListOpenOrders at 16 clients: the read-only unary floor
  turn-about  the two on ONE server and one set of channels, alternating --slice-seconds slices
              (16 clients placing orders, then the same 16 reading, and so on): both see the
              same phases of a machine whose speed drifts, and the same venue state
  checkpoint  PlaceOrder, 1 client, a snapshot every --checkpoint-every commands (its max)

One JSON line per scenario (venue_load.py's fields), then one "venue_ratios" line:

  batch_vs_engine      batch orders/s / engine orders/s        target >= 0.50 (not done < 0.33)
  batch2_vs_engine     batch-2 orders/s / engine orders/s      (reported: the venue kept busy)
  stream_vs_engine     stream orders/s / engine orders/s       target >= 0.40
  stream1_vs_engine    stream-1 orders/s / engine orders/s     (reported)
  unary16_vs_read16    unary-16 orders/s / read-16 calls/s     target >= 0.80
  unary16_vs_read16_turn_about  the same from the turn-about pair  (reported: the reads there run
                       on a venue that has traded, and may fold in what the orders left to fold)
  p99_1_client_ms      unary-1 p99                             target <= 2 ms
  checkpoint_max_vs_p99  checkpoint max / unary-1 p99          target <= 2

and the engine's CPU per order over the server's (batch_vs_engine_cpu, batch2_vs_engine_cpu,
stream_vs_engine_cpu, stream1_vs_engine_cpu), and a read's server CPU over an order's
(unary16_vs_read16_cpu): the ratios a machine with a free core for each would show, whatever
else runs on this one.

With --profile DIR the server is sampled with py-spy over every scenario but the checkpoint
one and the turn-about pair, and their lines carry the per-stage breakdown
(bench/stage_profile.py) and loop_stages_us: the event loop thread's CPU per order by stage, its idle samples left out.
Figures are reported, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import shutil
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc
import venue_load as vl
from stage_profile import STAGES, stacks, stage_of
from stage_profile import report as stage_report
from venue_drivers_kit import DRIVER_SETTINGS, Orders, percentile, phase_aio, run_aio
from venue_server_kit import CALL_TIMEOUT, DEPOSIT, PROFILE_RATE, Server, setup_accounts

from perpsim.engine import commands as C
from perpsim.engine.views import ExchangeView
from perpsim.venue import convert as cv
from perpsim.venue.config import VenueConfig
from perpsim.venue.initial_state import make_state
from perpsim.venue.state import VenueState

TARGETS = {"batch_vs_engine": 0.50, "stream_vs_engine": 0.40, "unary16_vs_read16": 0.80, "p99_1_client_ms": 2.0,
           "checkpoint_max_vs_p99": 2.0}


def engine_commands(n: int, account: int = 1) -> list:
    """The crossing mix as engine commands, converted field by field as Trading.command does."""
    orders = Orders("crossing", 0)
    out = []
    for _ in range(n):
        _, r, _ = orders.next()
        out.append(C.PlaceOrder(0, account, r.symbol, cv.SIDE_IN[r.side], r.quantity_lots, r.price_ticks,
                                cv.KIND_IN[r.type], cv.TIF_IN[r.time_in_force], cv.STP_IN[r.self_trade_prevention],
                                r.reduce_only, r.good_till_time_ns, cv.PSIDE_IN[r.position_side],
                                r.client_order_id))
    return out


#: the scenarios whose rate is compared to the engine's: the engine is measured again right before
#: each (this machine's speed drifts during a run), and its ratio is taken against that measurement
AGAINST_ENGINE = ("batch", "batch-2", "stream", "stream-1")


def fresh_state() -> VenueState:
    """A state seeded as the venue seeds it: the start index prices, one funded account (1)."""
    cfg = VenueConfig(data_dir=Path(tempfile.gettempdir()) / "perpsim-venue-ratios-absent")
    state = make_state(cfg)
    ts = 1
    specs = ExchangeView(state.exchange).specs()
    for symbol, spec in specs.items():
        state.apply(C.SetIndexPrice(ts, symbol, spec.price_to_ticks(cfg.start_prices.get(symbol, "100"))))
    spec = next(s for s in specs.values() if s.settle == "USDT")
    state.apply(C.Deposit(ts, 1, "USDT", spec.money_to_units(Decimal(DEPOSIT))))
    return state


def engine_rate(n: int, whole_state: bool) -> dict:
    """Orders/s of Exchange.apply (or VenueState.apply) over `n` crossing-mix commands."""
    state = fresh_state()
    commands = engine_commands(n)
    apply = state.apply if whole_state else state.exchange.apply
    ts0 = state.exchange.ts + 1
    stamped = [C.PlaceOrder(ts0 + i, *(getattr(c, f) for f in c.__dataclass_fields__ if f != "ts"))
               for i, c in enumerate(commands)]
    t0, cpu0 = time.perf_counter(), time.thread_time()
    for cmd in stamped:
        apply(cmd)
    if whole_state:
        state.catch_up()  # the history's fold of what is still handed over counts too
    took, cpu = time.perf_counter() - t0, time.thread_time() - cpu0
    return {"bench": "engine_in_process", "what": "VenueState.apply" if whole_state else "Exchange.apply",
            "mix": "crossing", "orders": n, "seconds": round(took, 3), "orders_per_s": round(n / took, 1),
            "us_per_order": round(took / n * 1e6, 2), "cpu_us_per_order": round(cpu / n * 1e6, 2)}


def loop_stages(path: Path, loop_cpu_us: float | None) -> dict | None:
    """The event loop thread's CPU per order by stage (µs): its samples outside the wait in
    epoll (the loop idle, which stage_profile counts as grpc) charged as stage_profile charges
    them, scaled to the thread's measured CPU per order. None without samples or a CPU figure."""
    if not loop_cpu_us:
        return None
    counts: collections.Counter = collections.Counter()
    for thread, frames, n in stacks(path):
        if thread and not thread.endswith("MainThread"):  # the journal's and gRPC's threads
            continue
        if frames and frames[-1].startswith("EpollSelector.select"):
            continue  # waiting for the network or a thread: idle
        counts[stage_of(frames)] += n
    busy = sum(counts.values())
    return {s: round(counts[s] / busy * loop_cpu_us, 1) for s in STAGES} if busy else None


def turn_about(clients: int, seconds: float, slice_s: float, warmup: float, root: Path) -> dict[str, dict]:
    """The turn-about pair: unary-16 and read-16 on one server and one set of channels, in
    alternating `slice_s` slices until each kind has had `seconds`: a call is of the kind of the
    slice it starts in and counts for it. Per kind the scenario line venue_load.py prints
    (calls/s over its slices, latencies, the server's CPU over its slices)."""
    root.mkdir(parents=True)
    kinds = ("unary-16", "read-16")
    mixes = {"unary-16": "crossing", "read-16": "read"}
    with Server(root, 100_000) as server:
        keys = setup_accounts(server.address, clients)
        streams = {k: [Orders(mixes[k], i) for i in range(clients)] for k in kinds}
        for k in kinds:
            phase_aio(server.address, keys, streams[k], warmup, 0)
        got = {k: {"lat": [], "errors": 0, "cpu": 0.0} for k in kinds}
        slices = 2 * max(1, round(seconds / slice_s))
        t0 = time.perf_counter() + 0.2  # every channel connected first
        end = t0 + slices * slice_s

        def kind_at(t: float) -> str:
            return kinds[int((t - t0) / slice_s) % 2]

        async def clock() -> None:  # the server's CPU over each slice, charged to its kind
            cpu = server.cpu()
            for i in range(slices):
                await asyncio.sleep(max(0.0, t0 + (i + 1) * slice_s - time.perf_counter()))
                now = server.cpu()
                got[kinds[i % 2]]["cpu"] += now - cpu
                cpu = now

        async def worker(tally, i: int, stub, md) -> None:
            if i == 0:
                asyncio.get_running_loop().create_task(clock())
            await asyncio.sleep(max(0.0, t0 - time.perf_counter()))
            while (start := time.perf_counter()) < end:
                kind = kind_at(start)
                method, req, _ = streams[kind][i].next()
                try:
                    await getattr(stub, method)(req, metadata=md, timeout=CALL_TIMEOUT)
                except grpc.aio.AioRpcError:
                    got[kind]["errors"] += 1
                    continue
                got[kind]["lat"].append(time.perf_counter() - start)

        run_aio(server.address, keys, worker)
    out = {}
    each = slices // 2 * slice_s
    for k in kinds:
        g = got[k]
        lat, n = sorted(g["lat"]), len(g["lat"])
        out[k] = {"bench": "venue_unary", "mix": mixes[k], "driver": "aio", "clients": clients, "orders": n,
                  "errors": g["errors"], "seconds": each, "orders_per_s": round(n / each, 1),
                  "p50_ms": round(percentile(lat, 0.50) * 1e3, 3),
                  "p99_ms": round(percentile(lat, 0.99) * 1e3, 3), "server_cpu": round(g["cpu"] / each, 2),
                  "server_cpu_us_per_order": round(g["cpu"] / n * 1e6, 2) if n else None,
                  "turn_about_slice_s": slice_s, "scenario": k + "-turn-about"}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0, help="measured seconds per venue scenario")
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--engine-orders", type=int, default=100_000)
    ap.add_argument("--checkpoint-every", type=int, default=1_000, help="snapshot_every of the checkpoint scenario")
    ap.add_argument("--slice-seconds", type=float, default=0.5, help="unary-16 / read-16 turn about: a slice's length")
    ap.add_argument("--profile", type=Path, help="py-spy the batch and stream scenarios; raw stacks go here")
    ap.add_argument("--skip", nargs="*", default=[],
                    choices=("batch", "batch-2", "stream", "stream-1", "unary-1", "unary-16", "read-16", "turn-about",
                             "checkpoint"))
    a = ap.parse_args(argv)
    engine = engine_rate(a.engine_orders, whole_state=False)
    print(json.dumps(engine), flush=True)
    print(json.dumps(engine_rate(a.engine_orders, whole_state=True)), flush=True)
    base = Path(tempfile.mkdtemp(prefix="perpsim-venue-ratios-"))
    # (scenario, mix, driver, clients, orders per call / unanswered, orders per stream message, snapshot_every)
    plan = [("batch", "crossing", "batch", 1, 1_000, 0, 100_000),
            ("batch-2", "crossing", "batch", 1, 1_000, 0, 100_000),
            ("stream", "crossing", "stream", 1, 1_000, 100, 100_000),
            ("stream-1", "crossing", "stream", 1, 1_000, 1, 100_000),
            ("unary-1", "crossing", "aio", 1, 0, 0, 100_000), ("unary-16", "crossing", "aio", 16, 0, 0, 100_000),
            ("read-16", "read", "aio", 16, 0, 0, 100_000), ("turn-about", "", "aio", 16, 0, 0, 100_000),
            ("checkpoint", "crossing", "aio", 1, 0, 0, a.checkpoint_every)]
    got: dict[str, dict] = {}
    engine_at: dict[str, dict] = {}  # the engine measured again right before each scenario compared to it
    try:
        for name, mix, driver, clients, batch, per_message, snapshot_every in plan:
            if name in a.skip:
                continue
            if name in AGAINST_ENGINE:
                engine_at[name] = {**engine_rate(a.engine_orders, whole_state=False), "before": name}
                print(json.dumps(engine_at[name]), flush=True)
            if name == "turn-about":
                for r in turn_about(clients, a.seconds, a.slice_seconds, a.warmup, base / name).values():
                    got[r["scenario"]] = r
                    print(json.dumps(r), flush=True)
                continue
            if batch:
                DRIVER_SETTINGS["batch"] = batch
            DRIVER_SETTINGS["in_flight"] = 2 if name == "batch-2" else 1
            if per_message:
                DRIVER_SETTINGS["per_message"] = per_message
            prof = None
            if a.profile is not None and name != "checkpoint":
                a.profile.mkdir(parents=True, exist_ok=True)
                prof = a.profile / f"{name}.txt"
            r = vl.scenario(mix, clients, driver, a.seconds, 0, a.warmup, base / name, snapshot_every, prof)
            if prof is not None and prof.exists():
                sampled = max(1, round(a.seconds))
                r["loop_stages_us"] = loop_stages(prof, r.get("loop_cpu_us_per_order"))
                r["profile"] = stage_report(prof, round(r["orders_per_s"] * sampled), PROFILE_RATE, sampled,
                                            r["server_cpu_us_per_order"])
            r["scenario"] = name
            got[name] = r
            print(json.dumps(r), flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)

    def ratio(x, y):
        return round(x / y, 3) if x is not None and y else None

    rate = {k: v["orders_per_s"] for k, v in got.items()}

    def vs_engine(name: str) -> float | None:
        return ratio(rate.get(name), engine_at.get(name, engine)["orders_per_s"])

    def vs_engine_cpu(name: str) -> float | None:
        return ratio(engine_at.get(name, engine)["cpu_us_per_order"], got.get(name, {}).get("server_cpu_us_per_order"))

    p99 = got.get("unary-1", {}).get("p99_ms")
    out = {"bench": "venue_ratios", "engine_orders_per_s": engine["orders_per_s"],
           "engine_orders_per_s_before": {k: v["orders_per_s"] for k, v in engine_at.items()},
           "engine_cpu_us_per_order_before": {k: v["cpu_us_per_order"] for k, v in engine_at.items()},
           "batch_vs_engine": vs_engine("batch"),
           "batch2_vs_engine": vs_engine("batch-2"),
           "stream_vs_engine": vs_engine("stream"),
           "stream1_vs_engine": vs_engine("stream-1"),
           "unary16_vs_read16": ratio(rate.get("unary-16"), rate.get("read-16")),
           "unary16_vs_read16_turn_about": ratio(rate.get("unary-16-turn-about"), rate.get("read-16-turn-about")),
           "p99_1_client_ms": p99,
           "checkpoint_max_ms": got.get("checkpoint", {}).get("max_ms"),
           "checkpoint_max_vs_p99": ratio(got.get("checkpoint", {}).get("max_ms"), p99),
           "checkpoints_on_disk": got.get("checkpoint", {}).get("snapshots_on_disk"),
           "checkpoints": got.get("checkpoint", {}).get("checkpoints"),
           "checkpoint_fork_ms_max": got.get("checkpoint", {}).get("checkpoint_fork_ms_max"),
           "checkpoint_write_ms_max": got.get("checkpoint", {}).get("checkpoint_write_ms_max"),
           # the same ratios by CPU per order (engine thread CPU / server process CPU): what they
           # would be with a core each, however busy the machine is
           "engine_cpu_us_per_order": engine["cpu_us_per_order"],
           "batch_vs_engine_cpu": vs_engine_cpu("batch"),
           "batch2_vs_engine_cpu": vs_engine_cpu("batch-2"),
           "stream_vs_engine_cpu": vs_engine_cpu("stream"),
           "stream1_vs_engine_cpu": vs_engine_cpu("stream-1"),
           # a read's server CPU over an order's: the unary ratio with a free core
           "unary16_vs_read16_cpu": ratio(got.get("read-16", {}).get("server_cpu_us_per_order"),
                                          got.get("unary-16", {}).get("server_cpu_us_per_order")),
           "unary16_vs_read16_turn_about_cpu": ratio(got.get("read-16-turn-about", {}).get("server_cpu_us_per_order"),
                                                     got.get("unary-16-turn-about", {}).get("server_cpu_us_per_order"))}
    out["meets"] = {k: (out[k] is not None and (out[k] <= t if k in ("p99_1_client_ms", "checkpoint_max_vs_p99")
                                                else out[k] >= t)) for k, t in TARGETS.items()}
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
