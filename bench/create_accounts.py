#!/usr/bin/env python3
"""Account creation: N CreateAccount calls, C at a time, against a real `perpsim serve` process.

  python bench/create_accounts.py [--accounts N] [--concurrency C ...] [--data-dir DIR]

For every concurrency a fresh server (venue_server_kit.py's Server: no feed, no liquidity, no rate
limit) on a fresh data directory receives N SandboxService.CreateAccount calls (admin key,
generated keys) from C grpc.aio tasks on one channel. Every answered call is an account whose key
is durable in keys.json (fsynced), so the data directory should be on the disk the venue will use
(the default temporary folder; on a tmpfs fsyncs cost nothing). One JSON line per concurrency:

  {"bench": "create_accounts", "accounts", "concurrency", "seconds", "accounts_per_s",
   "p50_ms", "p99_ms", "max_ms", "key_store_bytes"}

key_store_bytes: keys.json and keys.log (where there is one) together.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from venue_drivers_kit import percentile
from venue_server_kit import ADMIN_MD, Server

from perpsim.v1 import sandbox_pb2, sandbox_pb2_grpc


async def create(address: str, n: int, concurrency: int) -> list[float]:
    """Latencies (s) of n CreateAccount calls made by `concurrency` tasks."""
    latencies: list[float] = []
    left = iter(range(n))
    async with grpc.aio.insecure_channel(address) as ch:
        sandbox = sandbox_pb2_grpc.SandboxServiceStub(ch)

        async def worker() -> None:
            for _ in left:
                t0 = time.perf_counter()
                made = await sandbox.CreateAccount(sandbox_pb2.CreateAccountRequest(), metadata=ADMIN_MD)
                latencies.append(time.perf_counter() - t0)
                assert made.api_key and made.account_id > 0

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def run(n: int, concurrency: int, root: Path) -> dict:
    with Server(root, snapshot_every=0) as server:
        t0 = time.perf_counter()
        lat = sorted(asyncio.run(create(server.address, n, concurrency)))
        seconds = time.perf_counter() - t0
    return {"bench": "create_accounts", "accounts": n, "concurrency": concurrency, "seconds": round(seconds, 3),
            "accounts_per_s": round(n / seconds, 1), "p50_ms": round(percentile(lat, 0.5) * 1e3, 2),
            "p99_ms": round(percentile(lat, 0.99) * 1e3, 2), "max_ms": round(lat[-1] * 1e3, 2),
            "key_store_bytes": sum(p.stat().st_size for p in (server.data / "keys.json", server.data / "keys.log")
                                   if p.exists())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, default=2000, help="CreateAccount calls per run")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 16], help="calls in flight")
    ap.add_argument("--data-dir", type=Path, help="where the runs' data directories go (default: a temp folder)")
    a = ap.parse_args(argv)
    for c in a.concurrency:
        root = Path(tempfile.mkdtemp(prefix="create-accounts-", dir=a.data_dir))
        try:
            print(json.dumps(run(a.accounts, c, root)), flush=True)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
