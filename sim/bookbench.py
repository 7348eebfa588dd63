"""`perpsim bench book`: the reference stream (perpsim.sim.book_stream) through each book implementation.

Each implementation runs in its own process so that its peak RSS is its own. Prints one JSON
line per implementation: {"impl", "ops_per_s", "peak_rss_mb", "trades", "volume",
"resting_orders"} with ops_per_s the median over --repeat runs on a fresh book.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

from perpsim.engine.book_types import OP_ADD, OP_CANCEL, BookLimits, make_book
from perpsim.model.enums import OrderKind, StpMode, TimeInForce
from perpsim.sim import workload

IMPLS = {
    "ref": ("ref", "per-call"),
    "cython": ("cython", "per-call"),
    "cython-batch": ("cython", "batch"),
}
# The stream's prices sit around 20,000 ticks; these limits leave it unconstrained.
LIMITS = BookLimits(min_price=1, max_price=1_000_000, min_qty=1, max_qty=1_000_000)
_CHUNK = 65_536


def run_per_call(book, cols) -> None:
    """One Python call per operation; columns are converted to lists a chunk at a time so
    that memory stays flat."""
    place, cancel = book.place, book.cancel
    limit, market = int(OrderKind.LIMIT), int(OrderKind.MARKET)
    gtc, ioc, none = int(TimeInForce.GTC), int(TimeInForce.IOC), int(StpMode.NONE)
    protect = (book.max_price, book.min_price)  # market orders: bounded only by the book's limits
    n = len(cols["op"])
    for start in range(0, n, _CHUNK):
        part = [cols[k][start : start + _CHUNK].tolist() for k in workload.COLUMNS]
        for op, side, price, qty, oid in zip(*part, strict=True):
            if op == OP_ADD:
                place(oid, oid, side, limit, price, qty, gtc, none, 0, 0)
            elif op == OP_CANCEL:
                cancel(oid, 0)
            else:
                place(oid, oid, side, market, protect[side], qty, ioc, none, 0, 0)


def measure(impl: str, stream: str, repeat: int) -> dict:
    """Run one implementation `repeat` times in this process and report the median rate."""
    kind, mode = IMPLS[impl]
    cols, _ = workload.load(stream)
    n = len(cols["op"])
    rates = []
    for _ in range(repeat):
        book = make_book(kind, LIMITS)
        t0 = time.perf_counter()
        if mode == "batch":
            book.run_batch(cols["op"], cols["side"], cols["price"], cols["qty"], cols["order_id"])
        else:
            run_per_call(book, cols)
        rates.append(n / (time.perf_counter() - t0))
    return {
        "impl": impl,
        "ops_per_s": round(statistics.median(rates)),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "trades": book.trades,
        "volume": book.volume,
        "resting_orders": book.order_count,
    }


def expected_totals(stream: str, default: bool) -> dict:
    """The totals a run of `stream` must reproduce: the generator's, and the reference stream's
    published ones when `default`."""
    _, totals = workload.load(stream)
    expected = {k: totals[k] for k in workload.EXPECTED_DEFAULT if k in totals}
    if default:
        expected.update(workload.EXPECTED_DEFAULT)
    return expected


def main(argv: list[str] | None = None) -> int:
    """`perpsim bench book`: each implementation in its own process, its totals checked; the exit status."""
    ap = argparse.ArgumentParser(prog="perpsim bench book", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--impl", action="append", choices=sorted(IMPLS),
                    help="implementation to run (repeatable; default: all)")
    ap.add_argument("--stream", help="a stream .npz (default: the cached reference stream)")
    ap.add_argument("--n", type=int, default=workload.DEFAULT_N, help="operations in the generated stream")
    ap.add_argument("--seed", type=int, default=workload.DEFAULT_SEED)
    ap.add_argument("--repeat", type=int, default=3, help="runs per implementation (median reported)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.repeat < 1:
        ap.error("--repeat must be at least 1")
    if a.child:
        print(json.dumps(measure(a.child, a.stream, a.repeat)))
        return 0
    try:
        stream = a.stream or str(workload.stream_path(a.n, a.seed))
        default = a.stream is None and (a.n, a.seed) == (workload.DEFAULT_N, workload.DEFAULT_SEED)
        expected = expected_totals(stream, default)
    except workload.WorkloadError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    status = 0
    for impl in a.impl or list(IMPLS):
        cmd = [sys.executable, "-m", "perpsim.sim.bookbench", "--child", impl, "--stream", stream,
               "--repeat", str(a.repeat)]
        result = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        print(json.dumps(result), flush=True)
        wrong = {k: (result[k], v) for k, v in expected.items() if result[k] != v}
        if wrong:
            print(f"error: {impl} totals differ from the stream's (got, expected): {wrong}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
