#!/usr/bin/env python3
"""Liquidation index at scale, per implementation: one JSON line each.

  python bench/liqindex_tick.py [--impl ref|cython] [--entries N] [--seed S]

Builds N entries (half long, half short; longs' triggers uniformly 0.01 %..20 % below a mark,
shorts' as far above, seeded), then reports

  triggered_none_ns   median ns of one ``triggered(mark)`` that crosses nothing (a quiet mark tick);
  upsert_move_ns      median ns of one ``upsert`` moving an existing entry to a new trigger on its
                      side (a remove plus an insert);
  peak_rss_mb         the process's peak resident set (each implementation runs in its own process);
  index_rss_mb        resident set added by building the index (current RSS after minus before);
  build_s             wall time of the N inserts.

Medians are over batches of BATCH calls made from a Python loop (each batch's mean per call), so they
include the Python call overhead the engine pays too. Without --impl, runs every implementation, each
in a subprocess.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from array import array

from perpsim.risk.liqindex_common import LONG, SHORT, make_liqindex

IMPLS = ("ref", "cython")
MARK = 10_000_000  # ticks
BATCH = 1_000
BATCHES = 200


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _trigger(rng: random.Random, direction: int) -> int:
    """A trigger strictly on the safe side of MARK: 0.01 % to 20 % away."""
    return MARK - direction * rng.randint(MARK // 10_000, MARK // 5)


def run(impl: str, entries: int, seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    # The moves, in compact arrays (kept out of the index's footprint): a random existing key each,
    # to a new trigger on its side.
    move_keys = array("q", (rng.randrange(entries) for _ in range(BATCH * BATCHES)))
    move_dirs = array("b", (LONG if k % 2 else SHORT for k in move_keys))
    move_triggers = array("q", (_trigger(rng, d) for d in move_dirs))

    rss_before = _rss_mb()
    idx = make_liqindex(impl)
    upsert = idx.upsert
    t0 = time.perf_counter()
    for key in range(entries):  # keys in order, triggers random: the sets are filled in random order
        d = LONG if key % 2 else SHORT
        upsert(key, d, _trigger(rng, d))
    build_s = time.perf_counter() - t0
    index_rss_mb = _rss_mb() - rss_before
    assert len(idx) == entries and idx.triggered(MARK) == []

    triggered, clock = idx.triggered, time.perf_counter_ns
    tick_ns = []
    for _ in range(BATCHES):
        t0 = clock()
        for _ in range(BATCH):
            triggered(MARK)
        tick_ns.append((clock() - t0) / BATCH)

    move_ns = []
    for b in range(0, BATCH * BATCHES, BATCH):
        batch = zip(move_keys[b : b + BATCH], move_dirs[b : b + BATCH], move_triggers[b : b + BATCH], strict=True)
        t0 = clock()
        for key, d, t in batch:
            upsert(key, d, t)
        move_ns.append((clock() - t0) / BATCH)
    assert len(idx) == entries and idx.triggered(MARK) == []

    return {
        "impl": impl,
        "entries": entries,
        "triggered_none_ns": round(statistics.median(tick_ns), 1),
        "upsert_move_ns": round(statistics.median(move_ns), 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "index_rss_mb": round(index_rss_mb, 1),
        "build_s": round(build_s, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--impl", choices=IMPLS, help="one implementation, in this process (default: each, in turn)")
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.impl:
        print(json.dumps(run(args.impl, args.entries, args.seed)), flush=True)
        return 0
    for impl in IMPLS:  # a fresh process each, so peak RSS belongs to one implementation
        cmd = [sys.executable, __file__, "--impl", impl, "--entries", str(args.entries), "--seed", str(args.seed)]
        subprocess.run(cmd, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
