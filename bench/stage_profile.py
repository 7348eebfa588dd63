"""The venue server's time by stage, from py-spy's raw (collapsed) stacks.

  python bench/stage_profile.py PROFILE.txt [--orders N] [--rate HZ]

Each sample is one stack of one thread (root first, `;`-separated frames "func (file:line)",
then the sample count), as `py-spy record --native --format raw` writes it: the compiled
modules' functions appear with their source file (e.g. "Entry__PlaceOrder (engine/entry.py:151)"),
C frames with a C file or a library ("epoll_wait (libc.so.6)"). The C frames are dropped, so
their time goes to the frame that called them. A sample is charged to the stage of its innermost
frame that belongs to one, looked for from the leaf up:

  engine     the exchange and the risk core (engine/, risk/, model/)
  registry   the venue's order registry (venue/state.py: VenueState.apply's own work) and the
             history read model (venue/history*.py, klines): handed each command by
             VenueState.apply, folded in while the fsync runs, when idle and before reads
  listeners  what runs per applied command after the commit: streams, metrics, signals,
             account signals, the REST gateway
  journal    encoding commands for the journal, appending, the group commit's fsync
  convert    request -> engine command (Trading.command, venue/convert.py, guard)
  sequence   the sequencer's loop, its queue, the command's copy with its time
  respond    events -> response messages (_placed, order_out, errors)
  grpc       everything else on the event loop: gRPC's transport, protobuf decoding and
             encoding (compiled, so charged to the loop's frames), asyncio

Threads: the event loop's samples are the per-order CPU of the service; the journal thread's
(fsync, mostly off the GIL) are shown apart.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
from pathlib import Path

#: (stage, predicate on one frame "func (file:line)"), first match from the leaf up wins.
_RULES: list[tuple[str, re.Pattern]] = [
    ("journal", re.compile(r"venue/(journal|codec)\.py|\b_commit \(|fsync")),
    ("registry", re.compile(r"venue/(state|history[a-z_]*|klines)\.py|\bfingerprint \(")),
    ("listeners", re.compile(r"venue/(streams|metrics|account_signals|mailbox|gcpolicy)\.py|venue/signals/|"
                             r"venue/gateway/|prometheus_client")),
    ("engine", re.compile(r"[(/](engine|risk|model)/")),
    ("convert", re.compile(r"Trading\.command \(|venue/convert\.py|venue/guard\.py|venue/auth\.py|"
                           r"venue/limits\.py|Venue\.(account|take|spec) \(")),
    ("respond", re.compile(r"_placed \(|order_out \(|raise_rejection \(|venue/errors\.py|venue/humane\.py|"
                           r"Trading\._place_many \(|Trading\._place \(|StreamOrders \(")),
    ("sequence", re.compile(r"Sequencer\.|dataclasses\.py|<lambda> \(.*venue/services/|venue/sequencer\.py")),
]
STAGES = ("grpc", "convert", "sequence", "engine", "registry", "journal", "listeners", "respond")


def stage_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        for stage, rule in _RULES:
            if rule.search(frame):
                return stage
    return "grpc"


#: a frame of Python source or of a compiled module's (.py, .pyx, Cython's .pxi): the rest are C
_SOURCE = re.compile(r"\.(py|pyx|pxi|pxd):\d+\)$|\.py\)$")


def stacks(path: Path):
    """Each collapsed stack of a py-spy raw profile: (its thread frame or "", its Python and
    compiled frames root first, its sample count)."""
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        thread = frames[0] if frames and frames[0].startswith("thread") else ""
        yield thread, [f for f in (frames[1:] if thread else frames) if _SOURCE.search(f)], int(count)


def breakdown(path: Path) -> dict:
    """Samples per thread kind and per stage (event-loop thread)."""
    loop: collections.Counter = collections.Counter()
    other: collections.Counter = collections.Counter()
    for thread, body, n in stacks(path):
        if any("perpsim-journal" in f or "_worker (concurrent/futures/thread.py" in f for f in body[:4]) \
                or "perpsim-journal" in thread:
            other["journal thread"] += n
        elif any("_bootstrap" in f for f in body[:2]) and not any("run_forever" in f for f in body):
            other["other threads"] += n
        else:
            loop[stage_of(body)] += n
    return {"loop": {s: loop.get(s, 0) for s in STAGES}, "other": dict(other)}


def report(path: Path, orders: int, rate: float, seconds: float, cpu_us_per_order: float | None = None) -> dict:
    """Per stage: share of the event loop's samples, the loop's wall microseconds per order
    (`orders` placed over the `seconds` the sampler ran, at `rate` samples a second: inflated
    when other processes hold the cores) and, given the server's CPU per order, that CPU split
    by the shares (cpu_us_per_order: what each stage costs with a core to itself)."""
    b = breakdown(path)
    total = sum(b["loop"].values()) or 1
    per_order = (seconds / orders) * 1e6 if orders else 0.0  # wall µs per order
    stages = {}
    for s, n in b["loop"].items():
        stages[s] = {"share": round(n / total, 3), "wall_us_per_order": round(n / (rate * seconds) * per_order, 2)}
        if cpu_us_per_order:
            stages[s]["cpu_us_per_order"] = round(n / total * cpu_us_per_order, 2)
    return {"loop_samples": total, "loop_busy": round(total / (rate * seconds), 3) if seconds else None,
            "stages": stages, "other_threads_samples": b["other"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("profile", type=Path)
    ap.add_argument("--orders", type=int, default=0, help="orders placed while sampling")
    ap.add_argument("--seconds", type=float, default=0.0, help="how long the sampler ran")
    ap.add_argument("--rate", type=float, default=250)
    ap.add_argument("--cpu-us-per-order", type=float, help="the server's CPU per order (venue_load.py)")
    a = ap.parse_args(argv)
    print(json.dumps(report(a.profile, a.orders, a.rate, a.seconds, a.cpu_us_per_order)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
