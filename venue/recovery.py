"""Recovery: the latest snapshot plus the journal's tail -> the state as it was acknowledged.

Data directory layout::

    <data_dir>/journal/     perpsim.venue.journal segments
    <data_dir>/snapshots/   perpsim.venue.snapshot files

`recover(data_dir, make_exchange)` opens (and checks) the journal — a torn tail is truncated,
corruption raises `JournalCorrupt` — loads the newest good snapshot, or starts from
`make_exchange()` when there is none, and applies every journal record after the snapshot's seq
through `exchange.apply(decode(payload))`. The venue reports NOT_SERVING until it returns.

`checkpoint(data_dir, journal, exchange, seq)` is the other half: snapshot the state at a
durable seq, keep the last N snapshots, and prune journal segments that no kept snapshot needs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perpsim.venue.codec import decode
from perpsim.venue.journal import PREALLOCATE, Journal
from perpsim.venue.journal_format import SEGMENT_SUFFIX, JournalError
from perpsim.venue.journal_open import OpenReport
from perpsim.venue.snapshot import list_snapshots, load_latest, write_snapshot

__all__ = ["JOURNAL_DIR", "SNAPSHOT_DIR", "RecoveryError", "RecoveryReport", "checkpoint", "recover"]

JOURNAL_DIR = "journal"
SNAPSHOT_DIR = "snapshots"


class RecoveryError(Exception):
    """The snapshots and the journal do not fit together, or a command failed on replay."""


@dataclass
class RecoveryReport:
    """What `recover` did: the snapshot it started from, the records it replayed, what it skipped
    or truncated, and how long each part took (s)."""

    snapshot_seq: int | None  # None: started from make_exchange()
    snapshot_path: str | None
    skipped_snapshots: list[str]  # snapshots that failed their checks, newest first, with why
    replayed: int  # journal records applied after the snapshot
    last_seq: int  # the seq of the last record applied (= the journal's last durable seq)
    truncated_bytes: int  # torn tail removed when the journal was opened
    journal: OpenReport | None
    load_s: float = 0.0  # loading and checking the snapshot
    replay_s: float = 0.0  # decoding and applying the tail
    duration_s: float = 0.0  # everything, including opening and checking the journal
    notes: list[str] = field(default_factory=list)

    @property
    def replay_rate(self) -> float:
        """Records decoded and applied per second."""
        return self.replayed / self.replay_s if self.replay_s > 0 else 0.0


def recover(data_dir: str | os.PathLike, make_exchange: Callable[[], Any], *, journal: Journal | None = None,
            progress: Callable[[int, int], None] | None = None,
            progress_every: int = 10_000, allow_new_journal: bool = False,
            observe: Callable[[Any, Any, list], None] | None = None) -> tuple[Any, int, RecoveryReport]:
    """Rebuild the state from `data_dir`: `(exchange, last_seq, report)`.

    `journal`: an already open journal of `data_dir/journal` to use (the server opens it once
    and keeps appending to it); otherwise one is opened and closed here. `progress(done, total)`
    is called every `progress_every` records applied (and at the end). A snapshot without any
    journal segment is refused unless `allow_new_journal` (e.g. a venue seeded from a snapshot).
    `observe(state, command, events)` is called after each replayed command (read models that
    the live sequencer feeds from its listeners)."""
    t0 = time.perf_counter()
    data_dir = Path(data_dir)
    snap_dir = data_dir / SNAPSHOT_DIR
    own = journal is None
    skipped: list[str] = []
    notes: list[str] = []
    t_load = time.perf_counter()
    loaded = load_latest(snap_dir, errors=skipped)
    load_s = time.perf_counter() - t_load
    snap_seq = loaded[0] if loaded else 0
    jdir = data_dir / JOURNAL_DIR
    missing = journal.open_report.created if journal is not None else not any(jdir.glob("*" + SEGMENT_SUFFIX))
    if loaded is not None and missing and not allow_new_journal:
        if own:  # checked before opening, so that nothing is created
            raise RecoveryError(f"a snapshot at seq {snap_seq} exists but the journal has no segment: commands "
                                "after the snapshot may be lost; pass allow_new_journal=True to start from it")
        raise RecoveryError(f"a snapshot at seq {snap_seq} exists but the journal was just created")
    if journal is None:  # own; preallocating as the venue does, so its zeros are no torn tail
        journal = Journal(jdir, first_seq=snap_seq + 1, preallocate=PREALLOCATE)
    try:
        durable = journal.durable_seq
        if journal.pending:
            raise RecoveryError("the journal has uncommitted records; recover before appending")
        if snap_seq > durable:
            raise RecoveryError(f"the newest good snapshot is at seq {snap_seq} but the journal ends at {durable}: "
                                "acknowledged commands are missing from the journal")
        first = journal.first_seq
        if first > snap_seq + 1:
            raise RecoveryError(f"the journal starts at seq {first} but the state is at seq {snap_seq}: "
                                f"records {snap_seq + 1}..{first - 1} were pruned"
                                + (" (no snapshot loaded)" if loaded is None else "")
                                + "".join(f"; {e}" for e in skipped)
                                + ("; run the build that wrote the snapshots, or start from a fresh data directory "
                                   "(keep_journal = true keeps every segment, so that any build can replay them)"
                                   if skipped else ""))
        if loaded is None:
            exchange = make_exchange()
        else:
            exchange = loaded[1]
            if skipped:
                notes.append(f"fell back past {len(skipped)} snapshot(s) that failed their checks")
        total = durable - snap_seq
        t_replay = time.perf_counter()
        done, last = 0, snap_seq
        apply = exchange.apply
        try:
            for seq, payload in journal.replay(snap_seq + 1):
                last = seq
                cmd = decode(payload)
                events = apply(cmd)
                if observe is not None:
                    observe(exchange, cmd, events)
                done += 1
                if progress is not None and done % progress_every == 0:
                    progress(done, total)
        except JournalError:
            raise
        except Exception as e:
            raise RecoveryError(f"replaying journal record seq {last} failed: {e!r}") from e
        replay_s = time.perf_counter() - t_replay
        if progress is not None:
            progress(done, total)
        if last != durable:
            raise RecoveryError(f"replay ended at seq {last}, the journal at {durable}")
        jr = journal.open_report
    finally:
        if own:
            journal.close()
    report = RecoveryReport(
        snapshot_seq=loaded[0] if loaded else None,
        snapshot_path=str(_snapshot_path(snap_dir, snap_seq)) if loaded else None,
        skipped_snapshots=skipped,
        replayed=done,
        last_seq=last,
        truncated_bytes=jr.truncated_bytes,
        journal=jr,
        load_s=load_s,
        replay_s=replay_s,
        duration_s=time.perf_counter() - t0,
        notes=notes,
    )
    return exchange, last, report


def _snapshot_path(snap_dir: Path, seq: int) -> Path | None:
    for s, p in list_snapshots(snap_dir):
        if s == seq:
            return p
    return None


def checkpoint(data_dir: str | os.PathLike, journal: Journal, exchange: Any, seq: int, *, keep: int = 3,
               prune: bool = True) -> Path:
    """Snapshot `exchange` as of journal seq `seq` (every record up to it applied, none after),
    keep the newest `keep` snapshots, and delete journal segments older than the oldest kept
    snapshot (so that falling back to it still finds its tail). `seq` must be durable."""
    if seq > journal.durable_seq:
        raise ValueError(f"seq {seq} is not durable yet (durable: {journal.durable_seq}); commit first")
    snap_dir = Path(data_dir) / SNAPSHOT_DIR
    path = write_snapshot(snap_dir, seq, exchange, keep=keep)
    if prune:
        kept = list_snapshots(snap_dir)
        if kept:
            journal.prune(kept[0][0])
    return path
