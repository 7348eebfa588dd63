#!/usr/bin/env python3
"""Journal throughput: durable group-commit appends, replay decoding, replay + apply. One JSON document.

  python bench/journal.py [--dir DIR] [--records N] [--apply-records M] [--batches 64 256 1024] [--seed S]
                          [--preallocate BYTES]

Payloads are real encoded commands (perpsim.venue.codec) from a seeded session on one BTCUSDT
market: mostly limit orders (with a client order id), market orders, cancels and index moves.
The journal lives in DIR (default: a temporary directory; its filesystem is reported), with
real fdatasync per commit, preallocating as the venue does (`--preallocate 0`: plain appends;
bench/journal_prealloc.py compares the two write by write). It reports

  append_commit[batch]   records/s durable: append `batch` payloads, then commit() (one write +
                         one fdatasync); also the median and p99 commit latency (µs)
  pipelined              records/s durable when one thread appends (chunks of 16, as commands
                         arrive) while another commits in a loop, the server's pattern: each
                         fdatasync covers whatever arrived during the previous one (natural batch)
  encode                 codec.encode commands/s (the sequencer's cost before append)
  open_scan              records/s checked when opening the journal (CRC + sequence of each)
  replay_records         records/s of Journal.replay(): read, frame, CRC check, yield (seq, payload);
                         and with verify=False (CRC not checked again after open)
  replay_decode          records/s of replay + codec.decode -> command objects (what recovery feeds)
  replay_apply[impl]     commands/s of replay + decode + Exchange.apply, book_impl "ref" / "cython"
                         (the engine's cost dominates; M commands, a fresh exchange)
  recover                perpsim.venue.recovery.recover() end to end on the M-command journal

Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from perpsim.engine import commands as C
from perpsim.engine.exchange import Exchange
from perpsim.engine.views import ExchangeView
from perpsim.model.enums import OrderKind, Side, TimeInForce
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import btcusdt_brackets
from perpsim.venue.codec import canonical, decode, encode
from perpsim.venue.journal import PREALLOCATE, Journal
from perpsim.venue.recovery import JOURNAL_DIR, recover

SYMBOL = "BTCUSDT"
U = 10**8
SPEC = default_markets()[SYMBOL]


def make_exchange(impl: str = "cython") -> Exchange:
    return Exchange({SYMBOL: SPEC}, {SYMBOL: btcusdt_brackets(U)}, book_impl=impl, start_ts=1)


def session(seed: int, n: int):
    """A seeded order-flow session of n commands (after the engine tests' random_session)."""
    r = random.Random(seed)
    ts, price = 1_700_000_000 * 10**9, 20_000
    px = SPEC.price_to_ticks
    lots = SPEC.qty_to_lots
    out = [C.SetIndexPrice(ts, SYMBOL, px(str(price)))]
    out += [C.Deposit(ts, a, "USDT", 50_000_000 * U) for a in range(1, 65)]
    while len(out) < n:
        ts += r.randint(0, 50_000_000)
        u, a = r.random(), r.randint(1, 64)
        if u < 0.70:
            side = r.choice((Side.BUY, Side.SELL))
            off = r.randint(-5, 60)
            p = price - off if side == Side.BUY else price + off
            out.append(C.PlaceOrder(ts, a, SYMBOL, int(side), lots(r.choice(("0.001", "0.01", "0.1"))), px(str(p)),
                                    client_order_id=f"c{len(out)}"))
        elif u < 0.78:
            out.append(C.PlaceOrder(ts, a, SYMBOL, r.randint(0, 1), lots("0.01"), kind=int(OrderKind.MARKET),
                                    tif=int(TimeInForce.IOC)))
        elif u < 0.93:
            out.append(C.CancelAll(ts, a, SYMBOL))
        else:
            price = max(1_000, price + r.randint(-20, 20))
            out.append(C.SetIndexPrice(ts, SYMBOL, px(str(price))))
    return out[:n]


def filesystem_of(path: Path) -> str:
    """The type of the filesystem holding `path`, from /proc/mounts (the longest mount prefix)."""
    best, kind = "", "?"
    try:
        with open("/proc/mounts") as f:
            for line in f:
                _, mnt, fstype, *_ = line.split()
                if str(path.resolve()).startswith(mnt.rstrip("/") + "/") and len(mnt) > len(best):
                    best, kind = mnt, fstype
    except OSError:
        pass
    return kind


def rate(n: int, seconds: float) -> float:
    return round(n / seconds) if seconds > 0 else float("inf")


def bench_append(root: Path, payloads: list[bytes], batch: int, preallocate: int) -> dict:
    path = root / f"append-{batch}"
    lat = []
    with Journal(path, preallocate=preallocate) as j:
        t0 = time.perf_counter()
        for i in range(0, len(payloads), batch):
            j.append_many(payloads[i:i + batch])
            c0 = time.perf_counter()
            j.commit()
            lat.append(time.perf_counter() - c0)
        dt = time.perf_counter() - t0
    lat.sort()
    out = {"records_per_s": rate(len(payloads), dt), "commits": len(lat),
           "commit_us_median": round(statistics.median(lat) * 1e6, 1),
           "commit_us_p99": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e6, 1)}
    # the same with one append() call per record (the plain API)
    with Journal(root / f"append1-{batch}", preallocate=preallocate) as j:
        t0 = time.perf_counter()
        for i in range(0, len(payloads), batch):
            for p in payloads[i:i + batch]:
                j.append(p)
            j.commit()
        out["records_per_s_append_each"] = rate(len(payloads), time.perf_counter() - t0)
    shutil.rmtree(path)
    shutil.rmtree(root / f"append1-{batch}")
    return out


def bench_pipelined(root: Path, payloads: list[bytes], preallocate: int, chunk: int = 16) -> dict:
    """Appends on this thread, commits on another (the server's executor), until all are durable."""
    path = root / "pipelined"
    done = threading.Event()
    commits = []
    with Journal(path, preallocate=preallocate) as j:
        def committer():
            while True:
                finished = done.is_set()
                before = j.durable_seq
                after = j.commit()
                if after > before:
                    commits.append(after - before)
                if finished and after == j.last_seq:
                    return

        t0 = time.perf_counter()
        t = threading.Thread(target=committer)
        t.start()
        for i in range(0, len(payloads), chunk):
            j.append_many(payloads[i:i + chunk])
        done.set()
        t.join()
        dt = time.perf_counter() - t0
        assert j.durable_seq == len(payloads)
    shutil.rmtree(path)
    return {"records_per_s": rate(len(payloads), dt), "commits": len(commits),
            "mean_batch": round(statistics.mean(commits), 1), "max_batch": max(commits)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--apply-records", type=int, default=50_000)
    ap.add_argument("--batches", type=int, nargs="+", default=[64, 256, 1024])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--preallocate", type=int, default=PREALLOCATE, help="zeros written ahead (bytes; 0: appends)")
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="perpsim-journal-", dir=args.dir))
    fstype = filesystem_of(root)
    result: dict = {"python": platform.python_version(), "cpus": os.cpu_count(), "dir": str(root),
                    "filesystem": fstype, "records": args.records, "preallocate": args.preallocate}
    try:
        cmds = session(args.seed, args.records)
        t0 = time.perf_counter()
        payloads = [encode(c) for c in cmds]
        result["encode"] = {"commands_per_s": rate(len(cmds), time.perf_counter() - t0),
                            "mean_payload_bytes": round(sum(map(len, payloads)) / len(payloads), 1)}
        print(f"encoded {len(payloads)} commands", file=sys.stderr)

        result["append_commit"] = {str(b): bench_append(root, payloads, b, args.preallocate) for b in args.batches}
        result["pipelined"] = bench_pipelined(root, payloads, args.preallocate)
        print("append done", file=sys.stderr)

        jdir = root / "replay"
        with Journal(jdir) as j:
            for i in range(0, len(payloads), 1024):
                j.append_many(payloads[i:i + 1024])
                j.commit()
        size = sum(p.stat().st_size for p in jdir.glob("*.seg"))
        t0 = time.perf_counter()
        j = Journal(jdir)
        result["open_scan"] = {"records_per_s": rate(len(payloads), time.perf_counter() - t0), "bytes": size}
        with j:
            for verify in (True, False):
                t0 = time.perf_counter()
                n = 0
                for _ in j.replay(1, verify=verify):
                    n += 1
                key = "replay_records" if verify else "replay_records_noverify"
                result[key] = {"records_per_s": rate(n, time.perf_counter() - t0)}
            t0 = time.perf_counter()
            n = 0
            for _, payload in j.replay(1):
                decode(payload)
                n += 1
            result["replay_decode"] = {"records_per_s": rate(n, time.perf_counter() - t0)}
        print("replay done", file=sys.stderr)

        m = min(args.apply_records, len(payloads))
        adir = root / "apply"
        with Journal(adir / JOURNAL_DIR) as j:
            j.append_many(payloads[:m])
            j.commit()
        result["replay_apply"] = {}
        for impl in ("ref", "cython"):
            ex = make_exchange(impl)
            with Journal(adir / JOURNAL_DIR) as j:
                t0 = time.perf_counter()
                for _, payload in j.replay(1):
                    ex.apply(decode(payload))
                dt = time.perf_counter() - t0
            # the engine alone, on already decoded commands, for comparison
            decoded = [canonical(c) for c in cmds[:m]]
            ex2 = make_exchange(impl)
            t1 = time.perf_counter()
            for c in decoded:
                ex2.apply(c)
            dt2 = time.perf_counter() - t1
            assert ex.state_hash() == ex2.state_hash()
            result["replay_apply"][impl] = {"commands": m, "commands_per_s": rate(m, dt),
                                            "apply_only_commands_per_s": rate(m, dt2),
                                            "open_orders_at_end": ExchangeView(ex).book(SYMBOL, 0).order_count}
        _, _, report = recover(adir, lambda: make_exchange("cython"))
        result["recover"] = {"commands": report.replayed, "duration_s": round(report.duration_s, 3),
                             "replay_commands_per_s": round(report.replay_rate)}
        print("apply done", file=sys.stderr)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
