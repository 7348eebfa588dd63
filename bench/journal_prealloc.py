#!/usr/bin/env python3
"""A durable small write, two ways, measured turn about: append to a growing file vs overwrite in
place of a preallocated one. One JSON document.

  python bench/journal_prealloc.py [--dir DIR] [--commits N] [--sizes 100 4096] [--rounds R] [--chunk BYTES]

For each write size, two files live side by side in DIR (default: a temporary directory; its
filesystem is reported):

  append     opened O_APPEND, empty: each commit is os.write + fdatasync, so the file grows and
             fdatasync must also make the new size durable (a metadata journal commit on ext4)
  prealloc   posix_fallocate'd to the whole run's size and that size fsynced first, then written
             at an advancing offset with os.pwrite + fdatasync: blocks allocated, size unchanged
             (on ext4 the first write of a block still converts its extent from unwritten to written)
  zeroed     like prealloc, but the blocks were first written with zeros and fsynced (what a
             segment reused or zero-filled ahead of time gives): no extent conversion at all
  chunked    zeros written ahead in chunks of --chunk bytes on the commit path itself (a commit
             that leaves less than half a chunk of zeros ahead also writes the next chunk, under
             the same fdatasync), the fill counted in that commit's time: what the journal does

Each round runs N/R commits of one kind, then the next kind, in a rotating order, so that
the page cache, the disk and the other load on the machine are shared alike. Per kind: p50 and
p99 of the wall time and of the thread's CPU time of one write + fdatasync (µs).
Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from journal import filesystem_of  # bench/journal.py, beside this file

_fdatasync = getattr(os, "fdatasync", os.fsync)
KINDS = ("append", "prealloc", "zeroed", "chunked")


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return round(s[min(len(s) - 1, int(len(s) * q))] * 1e6, 1)


class Writer:
    """One file written by one of the KINDS: `commit(data)` = one write + one fdatasync."""

    def __init__(self, path: Path, kind: str, total: int, chunk: int) -> None:
        self.kind, self.off, self.chunk, self.zeroed = kind, 0, chunk, 0
        self.zeros = b"\0" * chunk
        if kind == "append":
            self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        else:
            self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            if kind == "zeroed":
                for o in range(0, total, chunk):
                    os.pwrite(self.fd, self.zeros[:total - o], o)
            elif kind == "prealloc":
                os.posix_fallocate(self.fd, 0, total)
            os.fsync(self.fd)
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def commit(self, data: bytes) -> None:
        c0, t0 = time.thread_time(), time.perf_counter()
        if self.kind == "append":
            os.write(self.fd, data)
        else:
            os.pwrite(self.fd, data, self.off)
            self.off += len(data)
            if self.kind == "chunked" and self.zeroed - self.off < self.chunk // 2:
                start = max(self.zeroed, self.off)
                os.pwrite(self.fd, self.zeros, start)
                self.zeroed = start + self.chunk
        _fdatasync(self.fd)
        self.wall.append(time.perf_counter() - t0)
        self.cpu.append(time.thread_time() - c0)

    def close(self) -> None:
        os.close(self.fd)

    def summary(self) -> dict:
        return {"wall_us_p50": pct(self.wall, 0.5), "wall_us_p99": pct(self.wall, 0.99),
                "cpu_us_p50": pct(self.cpu, 0.5), "cpu_us_p99": pct(self.cpu, 0.99), "commits": len(self.wall)}


def run(root: Path, size: int, commits: int, rounds: int, chunk: int) -> dict:
    data = os.urandom(size)
    total = size * commits + 4096
    writers = {k: Writer(root / f"{k}-{size}.bin", k, total, chunk) for k in KINDS}
    per_round = max(1, commits // rounds)
    try:
        for r in range(rounds):
            order = KINDS[r % len(KINDS):] + KINDS[:r % len(KINDS)]
            for k in order:
                w = writers[k]
                for _ in range(per_round):
                    w.commit(data)
    finally:
        for w in writers.values():
            w.close()
    out = {k: w.summary() for k, w in writers.items()}
    base = out["append"]["wall_us_p50"]
    for k in KINDS[1:]:
        out[k]["wall_p50_vs_append"] = round(out[k]["wall_us_p50"] / base, 3) if base else None
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--commits", type=int, default=3000, help="commits per kind and size")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 4096])
    ap.add_argument("--chunk", type=int, default=1 << 20, help="bytes of zeros written ahead at a time (chunked)")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="perpsim-prealloc-", dir=args.dir))
    result: dict = {"dir": str(root), "filesystem": filesystem_of(root), "commits": args.commits,
                    "rounds": args.rounds, "chunk": args.chunk}
    try:
        for size in args.sizes:
            result[str(size)] = run(root, size, args.commits, args.rounds, args.chunk)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
