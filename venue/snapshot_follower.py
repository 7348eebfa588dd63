"""The snapshot follower: a second process holding the venue's state, which writes its snapshots.

`python -m perpsim.venue.snapshot_follower <venue pid> <reply fd>` is started by the venue
(venue/follower_link.py) and told over its stdin what to load (`FollowerSpec`, pickled). It
rebuilds the state the way the venue did at its start — `recovery.recover`: the newest good
snapshot plus the journal's records after it, then the venue's history limits — and from then on
follows the journal as it grows (venue/journal_tail.py), applying each record with the same
`VenueState.apply` the sequencer used. The engine is deterministic, so after record S its state
is the venue's state at S. Asked for the snapshot at S, it applies through S, writes it with
`write_snapshot` (atomic, flushed in chunks) and says so; the venue prunes its journal once told.

It only ever applies records the venue has told it are durable (or that a snapshot request
names, which are durable too): a snapshot request names the durable seq at a quiet point of the
sequencer, and every message comes in the order sent, so the follower is never past a seq it is
asked for. Messages, venue to follower (stdin), after the length-prefixed spec::

    kind:1 seq:u64      kind  D: records through seq are durable
                              S: write the snapshot at seq

and follower to venue (the reply fd)::

    kind:1 seq:u64 len:u32 text     R: ready, at seq (text: how it loaded)
                                    W: the snapshot at seq is on disk
                                    F: the snapshot at seq failed (text: why)

It runs at the lowest CPU priority in a session of its own (venue/background.py: nice 19 within
its session's autogroup and for the autogroup too, so that it yields to every other session's
processes, not only the venue's), paces its pickling and its replay (`FollowerSpec.duty`,
`replay_duty`: short bursts, sleeps between), holds no lock of
the data directory (it opens no `Journal` for writing, only reads its files), writes nothing
but snapshots, dies with the venue (PR_SET_PDEATHSIG, and it exits at the end of its stdin) and
frees nothing the venue needs.
Memory: it holds a second copy of the venue state, so a venue with a follower needs about twice
the state's memory.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
import pickle
import signal
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perpsim.venue.background import Pacer, lower_priority
from perpsim.venue.codec import decode
from perpsim.venue.journal import Journal
from perpsim.venue.journal_format import JournalError
from perpsim.venue.journal_tail import JournalTail
from perpsim.venue.recovery import JOURNAL_DIR, SNAPSHOT_DIR, recover
from perpsim.venue.snapshot import build_id, write_snapshot

__all__ = ["DURABLE", "FAILED", "READY", "SNAPSHOT", "STALE_BUILD", "WRITTEN", "FollowerSpec", "main"]

log = logging.getLogger("perpsim.venue.follower")

DURABLE, SNAPSHOT = b"D", b"S"
READY, WRITTEN, FAILED = b"R", b"W", b"F"
MESSAGE = struct.Struct("<cQ")  # venue -> follower
REPLY = struct.Struct("<cQI")  # follower -> venue, then `len` bytes of UTF-8 text
SPEC_LEN = struct.Struct("<I")

#: records applied between two looks at the venue's messages
SLICE = 2_000
#: the follower paces its applying of records (FollowerSpec.replay_duty) while it is fewer than
#: this many records behind what it was told, and applies at full speed further behind: a venue
#: under a load it cannot follow at that pace never leaves it far behind
PACED_BEHIND = 2_000
#: records applied between two freezes of what survived out of the collector (venue/gcpolicy.py)
FREEZE_EVERY = 5_000
#: a full collection once the venue has told nothing new for IDLE_S, at most every FULL_EVERY_S;
#: after a snapshot when none ran for FULL_MAX_S (a venue never idle)
IDLE_S, FULL_EVERY_S, FULL_MAX_S = 2.0, 300.0, 1_800.0
#: the follower's exit code when the code on disk is not the venue's (FollowerSpec.build)
STALE_BUILD = 3
#: how long records the venue called durable may be missing from the files before giving up (s)
MISSING_TIMEOUT_S = 10.0
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class FollowerSpec:
    """What the follower loads. `make_state`: a fresh venue state (picklable: a module-level
    function, or a functools.partial of one, e.g. `initial_state.make_state` with the venue's config);
    `history_limits`: the venue's history retention, applied after recovery as the venue does
    (None: keep the snapshot's); `keep` and `sync_every`: as `write_snapshot` takes them.
    `build`: the venue's build; the follower imports the code on disk, and if that is not the
    code the venue runs (an upgrade installed under a running venue) it could compute another
    state, so it exits with STALE_BUILD instead. `duty`: the share of the time its pickling of
    a snapshot runs (`write_snapshot`'s pacing; 1.0: at full speed); `replay_duty`: the same
    for its applying of the journal's records (background.Pacer)."""

    data_dir: Path
    make_state: Callable[[], Any]
    history_limits: Any = None
    keep: int = 3
    sync_every: int = 0
    build: str = ""  # the venue's snapshot.build_id(): a follower running other code refuses to start
    duty: float = 1.0
    replay_duty: float = 1.0


class _Inbox:
    """The venue's messages, read on a thread of their own so that the pipe never fills while
    the follower applies or writes: the highest durable seq told, the snapshots asked for."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.cond = threading.Condition()
        self.first: int | None = None  # the seq of the first message: the recovery goes no further
        self.durable = 0
        self.asked: deque[int] = deque()
        self.closed = False
        threading.Thread(target=self._read, name="follower-inbox", daemon=True).start()

    def _read(self) -> None:
        pending = b""
        while True:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except OSError:
                chunk = b""
            with self.cond:
                if not chunk:
                    self.closed = True
                    self.cond.notify_all()
                    return
                pending += chunk
                whole = len(pending) - len(pending) % MESSAGE.size
                for kind, seq in MESSAGE.iter_unpack(pending[:whole]):
                    if kind == SNAPSHOT:
                        self.asked.append(seq)
                    self.durable = max(self.durable, seq)
                    if self.first is None:
                        self.first = seq
                pending = pending[whole:]
                self.cond.notify_all()


class _DurableView:
    """A read-only Journal seen only through `upto` (what the venue said is durable): what
    `recover` is given, so that the follower starts no further than it may go."""

    def __init__(self, journal: Journal, upto: int) -> None:
        self.journal, self.upto = journal, upto
        self.open_report = journal.open_report
        self.pending = 0

    @property
    def durable_seq(self) -> int:
        return min(self.journal.durable_seq, self.upto)

    @property
    def first_seq(self) -> int:
        return self.journal.first_seq

    def replay(self, from_seq: int = 1) -> Iterator[tuple[int, bytes]]:
        for seq, payload in self.journal.replay(from_seq):
            if seq > self.upto:
                return
            yield seq, payload


class Follower:
    """The follower's work (see the module docstring); `run()` until the venue closes stdin."""

    def __init__(self, spec: FollowerSpec, inbox: _Inbox, reply: Callable[[bytes, int, str], None]) -> None:
        self.spec, self.inbox, self.reply = spec, inbox, reply
        self.data_dir = Path(spec.data_dir)
        self.state: Any = None
        self.applied = 0  # the seq of the last record applied
        self._frozen_at = 0
        self._full_at = 0.0  # the last full collection (monotonic s)
        self.tail: JournalTail | None = None
        self._replay = Pacer(spec.replay_duty)

    def load(self) -> None:
        """The venue's recovery, through the durable seq of its first message."""
        with self.inbox.cond:
            self.inbox.cond.wait_for(lambda: self.inbox.first is not None or self.inbox.closed)
            upto = self.inbox.first or 0
        for attempt in range(3):  # a segment pruned while the journal is scanned: scan again
            try:
                with Journal(self.data_dir / JOURNAL_DIR, readonly=True) as journal:
                    state, last, report = recover(self.data_dir, self.spec.make_state,
                                                  journal=_DurableView(journal, upto))  # type: ignore[arg-type]
                break
            except (FileNotFoundError, JournalError):
                if attempt == 2:
                    raise
        if self.spec.history_limits is not None:
            state.history.resize(self.spec.history_limits)
        self.state, self.applied = state, last
        self.tail = JournalTail(self.data_dir / JOURNAL_DIR, last + 1)
        self._freeze(full=True)
        self.reply(READY, last, f"snapshot {report.snapshot_seq}, {report.replayed} records replayed "
                                f"in {report.duration_s:.2f} s")

    def _freeze(self, full: bool = False) -> None:
        """What survived so far out of the collector's scans (venue/gcpolicy.py's reasoning: the
        state is large and long-lived); with `full`, everything collected first (after the load,
        and when the venue has been idle a while: a pass over the whole state, not to be run
        while the venue is busy on the same machine)."""
        if full:
            gc.unfreeze()
            gc.collect()
            self._full_at = time.monotonic()
        else:
            gc.collect(1)
        gc.freeze()
        self._frozen_at = self.applied

    def apply_through(self, seq: int) -> None:
        """Apply the journal's records through `seq` (durable: waits for the files to show them)."""
        assert self.tail is not None  # loaded
        apply, pace, since = self.state.apply, self._replay.pace, time.monotonic()
        while self.applied < seq:
            before = self.applied
            for s, payload in self.tail.read(seq):
                apply(decode(payload))
                self.applied = s
                if seq - s < PACED_BEHIND:  # (further behind: at full speed, so that it keeps up)
                    pace()
            if self.applied - self._frozen_at >= FREEZE_EVERY:
                self._freeze()
            if self.applied == before:
                if time.monotonic() - since > MISSING_TIMEOUT_S:
                    raise JournalError(f"records {before + 1}..{seq} are durable but not in the journal's files")
                time.sleep(0.001)

    def snapshot(self, seq: int) -> None:
        if self.applied > seq:  # the venue sent its messages out of order: a bug, never a wrong file
            self.reply(FAILED, seq, f"the follower is already at seq {self.applied}")
            return
        self.apply_through(seq)
        try:
            # every handed-over command folded into the read models before pickling starts: the
            # history folds what waits when it is pickled, which would change objects the pickle
            # has already written (the registry's orders carry history fields)
            self.state.catch_up()
            write_snapshot(self.data_dir / SNAPSHOT_DIR, seq, self.state, keep=self.spec.keep,
                           sync_every=self.spec.sync_every, duty=self.spec.duty)
        except Exception as e:  # reported; the venue keeps its older snapshots and its journal
            log.exception("snapshot at seq %d failed", seq)
            self.reply(FAILED, seq, f"{type(e).__name__}: {e}")
            return
        self.reply(WRITTEN, seq, "")
        if time.monotonic() - self._full_at >= FULL_MAX_S:  # never idle that long: collect anyway
            self._freeze(full=True)

    def run(self) -> None:
        inbox = self.inbox
        while True:
            with inbox.cond:
                busy = inbox.cond.wait_for(lambda: inbox.closed or inbox.asked or inbox.durable > self.applied,
                                           IDLE_S)
                if inbox.closed:
                    return
                asked = inbox.asked[0] if inbox.asked else None
                durable = inbox.durable
            if not busy:  # the venue idle for IDLE_S
                if time.monotonic() - self._full_at >= FULL_EVERY_S:
                    self._freeze(full=True)
                continue
            if asked is not None and self.applied >= asked:
                self.snapshot(asked)
                with inbox.cond:
                    inbox.asked.popleft()
                continue
            goal = asked if asked is not None else durable
            self.apply_through(min(goal, self.applied + SLICE))


def _die_with_parent(parent: int) -> None:
    """SIGKILL when the venue's thread that started this process ends (the venue killed, or
    it closed the follower); exit at once if the venue is already gone."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(0)


def _read_exact(fd: int, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = os.read(fd, n - len(out))
        if not chunk:
            raise EOFError("the venue closed the follower's input")
        out += chunk
    return out


def main(argv: list[str] | None = None) -> int:
    """The follower process: argv is the venue's pid and the reply fd; reads its FollowerSpec from
    stdin, loads and follows the journal. Exit code: 0 when the venue is gone, 1 on a failure,
    STALE_BUILD when the code on disk is not the venue's build."""
    args = sys.argv[1:] if argv is None else argv
    parent, reply_fd = int(args[0]), int(args[1])
    _die_with_parent(parent)
    lower_priority()  # any runnable thread of the venue, its clients or anyone else goes first
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s %(levelname)s snapshot follower {os.getpid()}: "
                                                   "%(message)s")
    try:
        (n,) = SPEC_LEN.unpack(_read_exact(0, SPEC_LEN.size))
        spec: FollowerSpec = pickle.loads(_read_exact(0, n))
    except EOFError:
        return 0
    if spec.build and spec.build != build_id():
        log.error("the code on disk is build %s, the venue runs %s: not following it", build_id(), spec.build)
        return STALE_BUILD
    lock = threading.Lock()

    def reply(kind: bytes, seq: int, text: str) -> None:
        body = text.encode()
        data = REPLY.pack(kind, seq, len(body)) + body
        with lock:
            view = memoryview(data)
            while view:
                view = view[os.write(reply_fd, view):]

    follower = Follower(spec, _Inbox(0), reply)
    try:
        follower.load()
        follower.run()
    except BrokenPipeError:  # the venue is gone
        return 0
    except Exception:
        log.exception("stopped")
        return 1
    return 0


if __name__ == "__main__":
    exit_code = main()
    logging.shutdown()
    os._exit(exit_code)  # no teardown of the state's millions of objects: the venue may be waiting
