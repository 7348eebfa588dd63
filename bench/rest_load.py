#!/usr/bin/env python3
"""REST order entry against gRPC order entry, on one `perpsim serve` build over loopback.

  python bench/rest_load.py [--clients 1 8] [--driver thread aio] [--seconds S] [--warmup W]
                            [--slice T] [--data-dir DIR]

For each client count, one fresh server (bench/venue_server_kit.py's Server: no feed, no liquidity,
no rate limit, no metrics) takes the same "resting" order flow over both protocols — GTC limit
orders of 1 lot on BTCUSDT that never cross, a cancel-all every 180 orders (not counted) — from
C concurrent clients in this process (accounts of their own per protocol), in alternating
slices (--slice, 1 s) until each protocol has had S seconds, after W of warm-up each;
alternating puts the shared machine's noise on both alike. Two client styles (--driver):

  thread  C threads of blocking clients: gRPC stubs (venue_drivers_kit's thread driver) against
          http.client keep-alive connections
  aio     C tasks on one event loop: grpc.aio channels (venue_drivers_kit's aio driver) against
          aiohttp keep-alive sessions

  grpc    TradingService.PlaceOrder, unary
  rest    POST /fapi/v1/order, form-encoded, HMAC-signed as Binance's SIGNED rules say (what
          ccxt does)

Latency is per order as the client sees it (signing and JSON decoding included for REST).
One JSON line per (protocol, clients), then one "rest_vs_grpc" line per client count with the
ratios REST / gRPC of: p50 and p99 latency, wall time per order (1 / throughput) and the
server's CPU time per order (what an order costs the venue; CPU seconds of the server process
over the orders placed, Linux /proc). On a loaded machine the latency ratios move with the
scheduler (a woken process waits for a core), the CPU per order much less. The target
(reported, never asserted): a REST order costs the venue at most twice a gRPC order, and its
p50 latency is at most twice gRPC's.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import http.client
import json
import shutil
import socket
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import aiohttp
import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ is a directory of scripts, not a package
from venue_drivers_kit import Orders, Tally, percentile, phase_aio, phase_thread
from venue_server_kit import ADMIN_MD, DEPOSIT, Server, setup_accounts

from perpsim.v1 import account_pb2, account_pb2_grpc, common_pb2, sandbox_pb2, sandbox_pb2_grpc

TARGET_RATIO = 2.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rest_accounts(address: str, n: int) -> list[tuple[str, str]]:
    """n funded accounts: (api key, api secret) each."""
    with grpc.insecure_channel(address) as ch:
        sandbox = sandbox_pb2_grpc.SandboxServiceStub(ch)
        out = []
        for _ in range(n):
            r = sandbox.CreateAccount(sandbox_pb2.CreateAccountRequest(), metadata=ADMIN_MD)
            out.append((r.api_key, r.api_secret))
    for key, _ in out:
        with grpc.insecure_channel(address) as ch:
            account_pb2_grpc.AccountServiceStub(ch).Deposit(
                account_pb2.DepositRequest(asset="USDT", amount=DEPOSIT),
                metadata=(("authorization", f"Bearer {key}"),))
    return out


class RestOrders:
    """One client's flow, as venue_drivers_kit.Orders makes it for gRPC: (method, path, params, counted)."""

    def __init__(self, client: int) -> None:
        self.grpc = Orders("resting", client)

    def next(self) -> tuple[str, str, dict, bool]:
        method, req, _ = self.grpc.next()
        if method == "CancelAllOrders":
            return "DELETE", "/fapi/v1/allOpenOrders", {"symbol": "BTCUSDT"}, False
        return "POST", "/fapi/v1/order", {
            "symbol": "BTCUSDT", "side": "BUY" if req.side == common_pb2.SIDE_BUY else "SELL", "type": "LIMIT",
            "quantity": "0.001", "price": f"{req.price_ticks / 10:.1f}", "timeInForce": "GTC",
            "newClientOrderId": req.client_order_id}, True


def rest_phase(base: str, accounts: list[tuple[str, str]], flows: list[RestOrders], seconds: float) -> Tally:
    end = time.perf_counter() + seconds

    async def worker(tally: Tally, key: str, secret: str, flow: RestOrders) -> None:
        async with aiohttp.ClientSession(base, headers={"X-MBX-APIKEY": key}) as http:
            while time.perf_counter() < end:
                method, path, params, counted = flow.next()
                tally.sent += counted
                t0 = time.perf_counter()
                params = {**params, "timestamp": int(time.time() * 1000), "recvWindow": 10_000}
                body = urllib.parse.urlencode(params)
                body += "&signature=" + hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
                if method == "POST":
                    call = http.post(path, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
                else:
                    call = http.request(method, f"{path}?{body}")
                async with call as r:
                    answer = await r.json()
                if r.status != 200:
                    tally.errors += 1
                    tally.first_error = tally.first_error or str(answer)
                elif counted:
                    tally.latencies.append(time.perf_counter() - t0)
                else:
                    tally.uncounted += 1

    async def main() -> Tally:
        tally = Tally()
        await asyncio.gather(*(worker(tally, k, s, f) for (k, s), f in zip(accounts, flows, strict=True)))
        return tally

    return asyncio.run(main())


def rest_phase_thread(port: int, accounts: list[tuple[str, str]], flows: list[RestOrders], seconds: float
                      ) -> Tally:
    """Blocking clients, one thread and one keep-alive http.client connection each."""
    tally, lock = Tally(), threading.Lock()
    end = time.perf_counter() + seconds

    def worker(key: str, secret: str, flow: RestOrders) -> None:
        mine, uncounted, errors = [], 0, []
        conn = http.client.HTTPConnection("127.0.0.1", port)
        try:
            while time.perf_counter() < end:
                method, path, params, counted = flow.next()
                t0 = time.perf_counter()
                body = urllib.parse.urlencode({**params, "timestamp": int(time.time() * 1000), "recvWindow": 10_000})
                body += "&signature=" + hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
                headers = {"X-MBX-APIKEY": key}
                if method == "POST":
                    headers["Content-Type"] = "application/x-www-form-urlencoded"
                    conn.request(method, path, body=body, headers=headers)
                else:
                    conn.request(method, f"{path}?{body}", headers=headers)
                r = conn.getresponse()
                answer = r.read()
                if r.status != 200:
                    errors.append(answer.decode())
                elif counted:
                    mine.append(time.perf_counter() - t0)
                else:
                    uncounted += 1
        finally:
            conn.close()
        with lock:
            tally.latencies += mine
            tally.uncounted += uncounted
            tally.errors += len(errors)
            tally.first_error = tally.first_error or (errors[0] if errors else "")

    threads = [threading.Thread(target=worker, args=(k, s, f), daemon=True)
               for (k, s), f in zip(accounts, flows, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tally


def summary(protocol: str, clients: int, tally: Tally, elapsed: float, server_cpu: float, driver: str) -> dict:
    lat = sorted(tally.latencies)
    out = {"bench": "order_entry", "protocol": protocol, "driver": driver, "clients": clients, "orders": len(lat),
           "errors": tally.errors, "seconds": round(elapsed, 3), "orders_per_s": round(len(lat) / elapsed, 1),
           "p50_ms": round(percentile(lat, 0.50) * 1e3, 3), "p99_ms": round(percentile(lat, 0.99) * 1e3, 3),
           "server_cpu": round(server_cpu / elapsed, 2),
           "server_cpu_ms_per_order": round(server_cpu * 1e3 / len(lat), 3) if lat else None}
    if tally.first_error:
        out["first_error"] = tally.first_error
    return out


def compare(clients: int, seconds: float, warmup: float, slice_s: float, root: Path, driver: str
            ) -> dict[str, dict]:
    """Both protocols on one server, in alternating slices of `slice_s` seconds until each has
    had `seconds`: the machine's noise (other processes, fsync times) falls on both alike."""
    root.mkdir(parents=True)
    port = free_port()
    with Server(root, 100_000, rest_listen=f"127.0.0.1:{port}") as server:
        keys = setup_accounts(server.address, clients)
        flows = [Orders("resting", i) for i in range(clients)]
        accounts = rest_accounts(server.address, clients)
        rest_flows = [RestOrders(i) for i in range(clients)]
        if driver == "aio":
            runs = {"grpc": lambda s: phase_aio(server.address, keys, flows, s, 0),
                    "rest": lambda s: rest_phase(f"http://127.0.0.1:{port}", accounts, rest_flows, s)}
        else:
            runs = {"grpc": lambda s: phase_thread(server.address, keys, flows, s, 0),
                    "rest": lambda s: rest_phase_thread(port, accounts, rest_flows, s)}
        for run in runs.values():
            if warmup > 0:
                run(warmup)
        totals = {p: (Tally(), [0.0, 0.0]) for p in runs}  # tally, [wall seconds, server cpu seconds]
        while min(t[1][0] for t in totals.values()) < seconds:
            for protocol, run in runs.items():
                cpu0, t0 = server.cpu(), time.perf_counter()
                tally = run(slice_s)
                total, (wall, cpu) = totals[protocol]
                totals[protocol][1][:] = [wall + time.perf_counter() - t0, cpu + server.cpu() - cpu0]
                total.latencies += tally.latencies
                total.errors += tally.errors
                total.first_error = total.first_error or tally.first_error
    return {p: summary(p, clients, t, wall, cpu, driver) for p, (t, (wall, cpu)) in totals.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--seconds", type=float, default=5.0, help="measured seconds per scenario")
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--slice", type=float, default=1.0, help="seconds per alternating slice")
    ap.add_argument("--driver", nargs="+", choices=("aio", "thread"), default=["thread", "aio"],
                    help="client style of both protocols")
    ap.add_argument("--data-dir", type=Path, help="where the data directories go (default: a temporary one)")
    a = ap.parse_args(argv)
    base = a.data_dir or Path(tempfile.mkdtemp(prefix="perpsim-rest-load-"))
    try:
        for driver, clients in ((d, c) for d in a.driver for c in a.clients):
            root = base / f"{driver}-{clients}"
            shutil.rmtree(root, ignore_errors=True)
            results = compare(clients, a.seconds, a.warmup, a.slice, root, driver)
            for r in results.values():
                print(json.dumps(r), flush=True)
            g, r = results["grpc"], results["rest"]
            wall = g["orders_per_s"] / r["orders_per_s"] if r["orders_per_s"] else float("inf")
            cpu = r["server_cpu_ms_per_order"] / g["server_cpu_ms_per_order"]
            p50 = r["p50_ms"] / g["p50_ms"]
            print(json.dumps({"bench": "rest_vs_grpc", "driver": driver, "clients": clients, "p50_ratio": round(p50, 2),
                              "p99_ratio": round(r["p99_ms"] / g["p99_ms"], 2), "wall_per_order_ratio": round(wall, 2),
                              "server_cpu_per_order_ratio": round(cpu, 2),
                              "meets_target": cpu <= TARGET_RATIO and p50 <= TARGET_RATIO}), flush=True)
    finally:
        if a.data_dir is None:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
