#!/usr/bin/env python3
"""Venue load: order-entry throughput and latency against a real `perpsim serve` process.

  python bench/venue_load.py [--clients 1 4 16] [--orders N] [--seconds S] [--mix resting crossing]
                             [--driver aio|thread|batch|stream] [--batch B] [--per-message P] [--warmup W]
                             [--data-dir DIR] [--snapshot-every N] [--profile DIR]

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
B orders each (latency: per call); `stream` keeps one StreamOrders stream per client with up to
B orders unanswered, P orders a message (--per-message, default 100; 1 = the single-order form;
latency: per order, from its message's send to its answer). Use them with the
crossing mix (the resting mix's cancels are unary calls).

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
import asyncio
import collections
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from perpsim.v1 import (
    account_pb2,
    account_pb2_grpc,
    common_pb2,
    sandbox_pb2,
    sandbox_pb2_grpc,
    trading_pb2,
    trading_pb2_grpc,
)

ADMIN_KEY = "venue-load-admin-key"
ADMIN_MD = (("authorization", f"Bearer {ADMIN_KEY}"),)
DEPOSIT = "100000000"
TARGET_ORDERS_PER_S = 5_000
TARGET_P99_MS = 2.0
TARGET_BULK_ORDERS_PER_S = 50_000  # batch or streaming entry
CALL_TIMEOUT = 30.0
#: py-spy samples per second of the server (--profile): native stacks cost the paused server more
#: than Python ones, so fewer
PROFILE_RATE = 50


# ---------------------------------------------------------------------------- the server


def perpsim_command() -> list[str]:
    script = Path(sys.executable).with_name("perpsim")
    return [str(script)] if script.exists() else [sys.executable, "-m", "perpsim.cli"]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc); 0.0 where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def thread_cpu(pid: int) -> tuple[float, float]:
    """(the main thread's CPU seconds, every other thread's) of a process: the server's event
    loop runs on its main thread; the journal's fsyncs and gRPC's pollers on the others."""
    main = other = 0.0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0, 0.0
    for tid in tids:
        try:
            fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        if int(tid) == pid:
            main += cpu
        else:
            other += cpu
    return main, other


def children_cpu(pid: int) -> float:
    """CPU seconds of a process's live child processes and theirs (the snapshot follower)."""
    total = 0.0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0
    for tid in tids:
        try:
            kids = Path(f"/proc/{pid}/task/{tid}/children").read_text().split()
        except OSError:
            continue
        for kid in kids:
            total += cpu_seconds(int(kid)) + children_cpu(int(kid))
    return total


class Server:
    """`perpsim serve` in a subprocess on its own data directory."""

    def __init__(self, root: Path, snapshot_every: int, rest_listen: str = "off") -> None:
        """rest_listen: the Binance-compatible gateway's address ("off": none)."""
        self.data = root / "data"
        self.config = root / "venue.toml"
        self.config.write_text(f'metrics_listen = ""\nrest_listen = "{rest_listen}"\nrate_limit_per_s = 0\n'
                               f'snapshot_every = {snapshot_every}\n')
        self.log = root / "serve.log"
        self.proc: subprocess.Popen | None = None
        self.address = ""

    def __enter__(self) -> Server:
        argv = [*perpsim_command(), "serve", "--config", str(self.config), "--data-dir", str(self.data),
                "--listen", "127.0.0.1:0", "--admin-key", ADMIN_KEY, "--no-feed", "--no-liquidity"]
        env = {k: v for k, v in os.environ.items() if k != "PERPSIM_ADMIN_KEY"}
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                                         env=env, text=True, start_new_session=True)
        line = self.proc.stdout.readline()  # the banner's first line, once the venue is ready
        found = re.match(r"perpsim venue listening on (\S+:\d+)", line)
        if not found:
            self.__exit__()
            raise RuntimeError(f"perpsim serve did not start: {line!r}\n{self.log.read_text(errors='replace')}")
        self.address = found.group(1)
        threading.Thread(target=self._drain, daemon=True).start()
        with grpc.insecure_channel(self.address) as ch:
            health = health_pb2_grpc.HealthStub(ch)
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(grpc.RpcError):
                    if health.Check(health_pb2.HealthCheckRequest(), timeout=1).status == \
                            health_pb2.HealthCheckResponse.SERVING:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("the venue never reported SERVING")
                time.sleep(0.02)
        return self

    def _drain(self) -> None:
        for _ in self.proc.stdout:
            pass

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is not None:  # it died under load: say why
            print(f"perpsim serve exited with {self.proc.returncode}; its log ends:\n"
                  + "\n".join(self.log.read_text(errors="replace").splitlines()[-20:]), file=sys.stderr)
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
            self.proc = None

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid) if self.proc is not None else 0.0


def setup_accounts(address: str, n: int) -> list[str]:
    with grpc.insecure_channel(address) as ch:
        sandbox = sandbox_pb2_grpc.SandboxServiceStub(ch)
        accounts = account_pb2_grpc.AccountServiceStub(ch)
        keys = []
        for _ in range(n):
            key = sandbox.CreateAccount(sandbox_pb2.CreateAccountRequest(), metadata=ADMIN_MD).api_key
            accounts.Deposit(account_pb2.DepositRequest(asset="USDT", amount=DEPOSIT),
                             metadata=(("authorization", f"Bearer {key}"),))
            keys.append(key)
        return keys


def journal_seq(address: str) -> int:
    with grpc.insecure_channel(address) as ch:
        return sandbox_pb2_grpc.SandboxServiceStub(ch).GetVenueState(
            sandbox_pb2.GetVenueStateRequest(), metadata=ADMIN_MD, timeout=CALL_TIMEOUT).journal_sequence


# ---------------------------------------------------------------------------- orders


CANCEL_EVERY = 180  # resting orders per client between two CancelAllOrders (the venue allows 200)


class Orders:
    """The request stream of one client: (method, request, counted); unique client order ids."""

    def __init__(self, mix: str, client: int) -> None:
        self.mix, self.client, self.n, self.resting = mix, client, 0, 0

    def next(self) -> tuple[str, object, bool]:
        if self.mix == "read":
            return "ListOpenOrders", trading_pb2.ListOpenOrdersRequest(symbol="BTCUSDT"), True
        if self.mix == "resting" and self.resting >= CANCEL_EVERY:
            self.resting = 0
            return "CancelAllOrders", trading_pb2.CancelAllOrdersRequest(symbol="BTCUSDT"), False
        n = self.n = self.n + 1
        if self.mix == "crossing":  # sell then buy at one price: the buy takes a resting sell
            side = common_pb2.SIDE_SELL if n % 2 else common_pb2.SIDE_BUY
            price = 650_000
        else:  # far apart: nothing crosses
            self.resting += 1
            side = common_pb2.SIDE_BUY if n % 2 else common_pb2.SIDE_SELL
            offset = (n * 7919 + self.client * 104729) % 20_000  # 0 .. 1999.9 in ticks of 0.1
            price = 620_000 + offset if side == common_pb2.SIDE_BUY else 660_000 + offset
        return "PlaceOrder", trading_pb2.PlaceOrderRequest(
            symbol="BTCUSDT", side=side, type=common_pb2.ORDER_TYPE_LIMIT, quantity_lots=1, price_ticks=price,
            time_in_force=common_pb2.TIME_IN_FORCE_GTC, client_order_id=f"c{self.client}-{n}"), True


class Tally:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0
        self.sent = 0
        self.uncounted = 0  # calls outside the measurement (the resting mix's cancels)
        self.first_error = ""

    def error(self, e: grpc.RpcError) -> None:
        self.errors += 1
        self.first_error = self.first_error or f"{e.code().name}: {e.details()}"

    def answer(self, result, latency: float) -> None:
        """One PlaceOrderResult of a batch or stream: its latency, or its error."""
        if result.WhichOneof("result") == "placed":
            self.latencies.append(latency)
        else:
            self.errors += 1
            self.first_error = self.first_error or result.error.message


# ---------------------------------------------------------------------------- drivers


def run_aio(address: str, keys: list[str], work) -> Tally:
    """`await work(tally, i, stub, metadata)` for every client on one event loop, one channel each."""
    async def main() -> Tally:
        tally = Tally()
        channels = [grpc.aio.insecure_channel(address) for _ in keys]
        try:
            await asyncio.gather(*(work(tally, i, trading_pb2_grpc.TradingServiceStub(ch),
                                        (("authorization", f"Bearer {keys[i]}"),)) for i, ch in enumerate(channels)))
        finally:
            for ch in channels:
                await ch.close()
        return tally

    return asyncio.run(main())


def phase_aio(address: str, keys: list[str], streams: list[Orders], seconds: float, limit: int) -> Tally:
    end = time.perf_counter() + seconds

    async def worker(tally: Tally, i: int, stub, md) -> None:
        orders = streams[i]
        while time.perf_counter() < end and (not limit or tally.sent < limit):
            method, req, counted = orders.next()
            tally.sent += counted
            t0 = time.perf_counter()
            try:
                await getattr(stub, method)(req, metadata=md, timeout=CALL_TIMEOUT)
            except grpc.aio.AioRpcError as e:
                tally.error(e)
                continue
            if counted:
                tally.latencies.append(time.perf_counter() - t0)
            else:
                tally.uncounted += 1

    return run_aio(address, keys, worker)


def phase_thread(address: str, keys: list[str], streams: list[Orders], seconds: float, limit: int) -> Tally:
    tally = Tally()
    lock = threading.Lock()
    end = time.perf_counter() + seconds

    def worker(i: int) -> None:
        md = (("authorization", f"Bearer {keys[i]}"),)
        mine, errors, uncounted = Tally(), [], 0
        with grpc.insecure_channel(address) as ch:
            stub = trading_pb2_grpc.TradingServiceStub(ch)
            while time.perf_counter() < end:
                method, req, counted = streams[i].next()
                with lock:
                    if limit and counted and tally.sent >= limit:
                        break
                    tally.sent += counted
                t0 = time.perf_counter()
                try:
                    getattr(stub, method)(req, metadata=md, timeout=CALL_TIMEOUT)
                except grpc.RpcError as e:
                    errors.append(e)
                    continue
                if counted:
                    mine.latencies.append(time.perf_counter() - t0)
                else:
                    uncounted += 1
        with lock:
            tally.latencies += mine.latencies
            tally.uncounted += uncounted
            for e in errors:
                tally.error(e)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(len(keys))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tally


def phase_batch(address: str, keys: list[str], streams: list[Orders], seconds: float, limit: int) -> Tally:
    end = time.perf_counter() + seconds

    async def worker(tally: Tally, i: int, stub, md) -> None:
        while time.perf_counter() < end and (not limit or tally.sent < limit):
            batch = [streams[i].next()[1] for _ in range(DRIVER_SETTINGS["batch"])]
            tally.sent += len(batch)
            t0 = time.perf_counter()
            try:
                r = await stub.PlaceOrders(trading_pb2.PlaceOrdersRequest(orders=batch), metadata=md,
                                           timeout=CALL_TIMEOUT)
            except grpc.aio.AioRpcError as e:
                tally.error(e)
                continue
            took = time.perf_counter() - t0
            for x in r.results:
                tally.answer(x, took)

    return run_aio(address, keys, worker)


def phase_stream(address: str, keys: list[str], streams: list[Orders], seconds: float, limit: int) -> Tally:
    end = time.perf_counter() + seconds
    per_message = max(1, min(DRIVER_SETTINGS["per_message"], DRIVER_SETTINGS["batch"]))

    async def worker(tally: Tally, i: int, stub, md) -> None:
        window = asyncio.Semaphore(DRIVER_SETTINGS["batch"])
        sent: collections.deque[float] = collections.deque()  # per message: when it was sent

        async def requests():
            while time.perf_counter() < end and (not limit or tally.sent < limit):
                for _ in range(per_message):
                    await window.acquire()
                tally.sent += per_message
                sent.append(time.perf_counter())
                if per_message == 1:  # the single-order form
                    yield trading_pb2.StreamOrdersRequest(order=streams[i].next()[1])
                else:
                    yield trading_pb2.StreamOrdersRequest(orders=[streams[i].next()[1] for _ in range(per_message)])

        try:
            async for r in stub.StreamOrders(requests(), metadata=md, timeout=seconds + CALL_TIMEOUT):
                took = time.perf_counter() - sent.popleft()
                for x in (r.results if per_message > 1 else (r.result,)):
                    window.release()
                    tally.answer(x, took)
        except grpc.aio.AioRpcError as e:
            tally.error(e)

    return run_aio(address, keys, worker)


DRIVERS = {"aio": phase_aio, "thread": phase_thread, "batch": phase_batch, "stream": phase_stream}
# orders per PlaceOrders call, or unanswered orders per stream (--batch); orders per StreamOrders
# message (--per-message; 1: the single-order form)
DRIVER_SETTINGS = {"batch": 500, "per_message": 100}


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, max(0, round(q * len(sorted_values)) - 1))]


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
        "driver": driver, "clients": clients, "orders": len(lat),
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
