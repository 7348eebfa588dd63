#!/usr/bin/env python3
"""Commits during a prune: how long a committing thread waits while Journal.prune frees segments.

  python bench/journal_prune.py [--segment-mb M] [--segments S] [--data-dir DIR]

A journal of S + 1 segments of M MB (1 MB records, fsynced) is written; then one thread appends
and commits a 100-byte record every 0.5 ms while the main thread prunes the S full segments. The
commit latencies over the prune say whether commits wait for the freeing. One JSON line:

  {"bench": "journal_prune", "segment_mb", "segments", "prune_ms", "commits", "commit_p50_ms",
   "commit_max_ms"}
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from perpsim.venue.journal import Journal


def run(segment_mb: int, segments: int, root: Path) -> dict:
    with Journal(root / "journal", segment_bytes=segment_mb << 20) as j:
        blob = os.urandom(1 << 20)
        for _ in range(segments * segment_mb + 2):
            j.append(blob)
            j.commit()
        latencies: list[float] = []
        stop = threading.Event()

        def committer() -> None:
            while not stop.is_set():
                t0 = time.perf_counter()
                j.append(b"x" * 100)
                j.commit()
                latencies.append(time.perf_counter() - t0)
                time.sleep(0.0005)

        thread = threading.Thread(target=committer)
        thread.start()
        time.sleep(0.2)
        t0 = time.perf_counter()
        removed = j.prune(j.durable_seq - 1)
        prune_s = time.perf_counter() - t0
        time.sleep(0.1)
        stop.set()
        thread.join()
    latencies.sort()
    return {"bench": "journal_prune", "segment_mb": segment_mb, "segments": len(removed),
            "prune_ms": round(prune_s * 1e3, 2), "commits": len(latencies),
            "commit_p50_ms": round(latencies[len(latencies) // 2] * 1e3, 3),
            "commit_max_ms": round(latencies[-1] * 1e3, 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--segment-mb", type=int, default=16, help="segment size (MB)")
    ap.add_argument("--segments", type=int, default=3, help="segments pruned")
    ap.add_argument("--data-dir", type=Path, help="where the journal goes (default: a temp folder)")
    a = ap.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="journal-prune-", dir=a.data_dir))
    try:
        print(json.dumps(run(a.segment_mb, a.segments, root)), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
