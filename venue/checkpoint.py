"""Checkpoints off the sequencer: a forked child pickles and writes the snapshot.

The venue's snapshots are written by its snapshot follower (venue/follower_checkpoint.py, a
subclass of the `ForkCheckpoint` here, which leaves the sequencer only a pipe write); the
forked writer below is what it falls back to (followers that keep dying, code on disk that is
not the venue's, or `snapshot_follower = false`: no second copy of the state in memory), and
this module keeps the bookkeeping both share (`written_at`, `wait_idle`, pruning after success,
a checkpoint deferred while another is written).

Pickling the whole venue state takes hundreds of milliseconds on a busy venue; done on the
sequencer it stalls every caller for that long. `ForkCheckpoint` instead forks the process
at the quiet point the sequencer calls it at (every applied command durable, none in
flight): the child holds a copy-on-write image of the state exactly as of the durable seq,
writes the snapshot with `write_snapshot` (atomic: a temporary file, fsynced, renamed) and
exits; the parent goes on sequencing at once. Only once the child has exited 0 does the
parent prune the journal segments that no kept snapshot needs, so a child that dies midway
(killed, out of space) leaves at worst a temporary file beside the older snapshots, which
recovery ignores and the next snapshot removes.

What the sequencer still pays is the fork itself (copying the page tables: 3-4 ms for a
150 MB venue, 5-8 ms the first time, more when the machine is busy) and the copy-on-write
faults of the pages it writes while the child lives. Everything else stays off its path: the
child runs at the lowest CPU priority (it must not take the core the sequencer or its clients
would run on); it writes the snapshot out in chunks (`SYNC_EVERY`) and frees old snapshots a
few MB at a time, so that a journal fsync meanwhile waits for one chunk, never for a whole
snapshot (measured on ext4 mounted with `discard`, on a busy virtual disk: a 60 MB file written
then fsynced at once held a concurrent small fsync 29-39 ms against that fsync's own p99 of
1-9 ms, written out 256 KB at a time 5-11 ms; deleting it at once 11-20 ms, cut 4 MB at a time
1-11 ms); and the child is waited for by one long-lived thread, not a thread started per
checkpoint (starting one waits for the new thread to be scheduled).

gRPC's fork support must be off (GRPC_ENABLE_FORK_SUPPORT=false, set by `perpsim.venue` before
gRPC is imported): with it, gRPC restarts its threads in the child, where they race the writer.
The child closes every inherited descriptor but stdio first (the journal's lock, sockets), so
it never keeps the data directory locked after the venue stops, and it dies with the venue
(PR_SET_PDEATHSIG): a venue killed mid-checkpoint leaves no writer behind.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import gc
import logging
import os
import signal
import threading
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from perpsim.venue.recovery import SNAPSHOT_DIR
from perpsim.venue.snapshot import SNAPSHOT_SUFFIX, build_id, list_snapshots, write_snapshot

__all__ = ["CheckpointFailed", "ForkCheckpoint"]

log = logging.getLogger("perpsim.venue")

_PR_SET_PDEATHSIG = 1
#: bytes of snapshot the child writes between two flushes (see the module docstring)
SYNC_EVERY = 256 << 10


class CheckpointFailed(Exception):
    """The child writing a snapshot did not exit 0 (its stderr says why)."""


def _libc_prctl():
    """libc's prctl, looked up here: a forked child must not dlopen (another thread of the
    parent may have held the loader's lock at the fork)."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: the child outlives a killed venue, harmlessly
        return None


_PRCTL = _libc_prctl()


def _die_with_parent() -> None:
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)


class ForkCheckpoint:
    """`checkpoint(seq)` for the Sequencer: start writing the snapshot of `state()` at durable
    journal seq `seq` in a forked child and return at once (no second child while one still
    writes: a checkpoint asked for meanwhile is deferred until it is done, see `quiet`).

    `journal()` is the live journal (the venue replaces it on a reset); `prune`: delete the
    segments older than the oldest kept snapshot once a snapshot is written; `keep`: the
    snapshots kept."""

    def __init__(self, data_dir: str | os.PathLike, state: Callable[[], Any], journal: Callable[[], Any], *,
                 prune: bool = True, keep: int = 3,
                 quiet: Callable[[Callable[[], object]], Awaitable] | None = None) -> None:
        """`quiet(control)`: run `control()` at the sequencer's next quiet point (its
        run_quiet); given, a checkpoint asked for while a child still wrote is taken as soon as
        that child is done, at the then durable seq."""
        self.snap_dir = Path(data_dir) / SNAPSHOT_DIR
        self.state, self.journal, self.prune, self.keep, self.quiet = state, journal, prune, keep, quiet
        self._owed: asyncio.AbstractEventLoop | None = None  # a checkpoint was skipped: the loop to take it on
        self._owed_task: asyncio.Future | None = None
        self._lock = threading.Lock()
        self._pid = 0  # the forked child writing, 0: none
        self._seq = -1  # the seq being written, -1: none
        self._started = 0.0  # when that writer was asked (perf_counter)
        self._done = threading.Condition(self._lock)
        self._results: dict[int, BaseException | None] = {}  # seq -> None (written) or its failure
        self.written = 0  # snapshots written by children that exited 0
        self.failed = 0
        self.skipped = 0  # checkpoints asked for while a child still wrote
        self.last_pause_s = self.max_pause_s = 0.0  # the sequencer's time in the fork (s)
        self.last_write_s = 0.0  # fork to the writer's exit (s): what the sequencer no longer waits for
        build_id()  # computed here, once: the child must not read the source tree under a lock
        # the writers are waited for on this thread (see the module docstring)
        self._reaper = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="perpsim-checkpoint")
        self._reaper.submit(int)  # its thread started now, not at the first checkpoint

    @property
    def busy(self) -> bool:
        """A snapshot is being written."""
        return self._seq != -1

    def __call__(self, seq: int) -> int:
        """Start the snapshot at `seq` (durable, every command up to it applied, none after):
        returns `seq` once its writer runs, the snapshot not yet written."""
        journal = self.journal()
        if seq > journal.durable_seq:
            raise ValueError(f"seq {seq} is not durable yet (durable: {journal.durable_seq}); commit first")
        with self._lock:
            if self._results.get(seq, False) is None and (self.snap_dir / f"{seq:020d}{SNAPSHOT_SUFFIX}").exists():
                return seq  # written already, and nothing was applied since
            if self._seq != -1:
                if self._seq == seq:
                    return seq  # the one being written covers it
                self.skipped += 1
                log.info("snapshot at seq %d deferred: the one at seq %d is still being written", seq, self._seq)
                with contextlib.suppress(RuntimeError):  # (no loop: a plain call, nothing to defer to)
                    self._owed = asyncio.get_running_loop()
                return seq
            self.snap_dir.mkdir(parents=True, exist_ok=True)
            self._results.pop(seq, None)
            self._started = time.perf_counter()
            self._start(seq, journal)
            self._seq = seq
        return seq

    def _start(self, seq: int, journal: Any) -> None:
        """Start the writer of the snapshot at `seq` (under the lock): a forked child."""
        state = self.state()
        # no collection may run in the child before it writes: a cycle's finalizer there
        # could call into a library whose threads did not survive the fork
        collecting = gc.isenabled()
        gc.disable()
        pid = -1
        started = self._started
        try:
            pid = os.fork()
        finally:
            if collecting and pid != 0:
                gc.enable()
        if pid == 0:  # the child: never returns
            self._child(state, seq)
        self._pid = pid
        # the sequencer's whole pause for this checkpoint: the fork (page tables, not pages)
        self.last_pause_s = time.perf_counter() - started
        self.max_pause_s = max(self.max_pause_s, self.last_pause_s)
        log.info("snapshot at seq %d: writer %d forked in %.2f ms", seq, pid, self.last_pause_s * 1e3)
        self._reaper.submit(self._reap, pid, seq)

    def _child(self, state: Any, seq: int) -> None:
        code = 1
        try:
            _die_with_parent()  # (the collector stays off: it would also copy every page it touches)
            with contextlib.suppress(OSError):
                os.nice(19)  # any runnable thread of the venue or its clients goes first
            os.closerange(3, os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 65_536)
            if hasattr(state, "catch_up"):  # read models folded in first (see snapshot_follower.py)
                state.catch_up()
            write_snapshot(self.snap_dir, seq, state, keep=self.keep, sync_every=SYNC_EVERY)
            code = 0
        except BaseException:
            try:
                os.write(2, f"perpsim checkpoint child (seq {seq}) failed:\n{traceback.format_exc()}".encode())
            except BaseException:
                pass
        finally:
            os._exit(code)

    def _reap(self, pid: int, seq: int) -> None:
        """Wait for the child (on a thread of its own); then `_finish`."""
        _, status = os.waitpid(pid, 0)
        self._pid = 0
        failure: BaseException | None = None
        if os.waitstatus_to_exitcode(status) != 0:
            failure = CheckpointFailed(f"snapshot at seq {seq}: its writer exited with "
                                       f"{os.waitstatus_to_exitcode(status)} (a negative code: killed by that signal)")
        self._finish(seq, failure)

    def _finish(self, seq: int, failure: BaseException | None) -> None:
        """The writer of the snapshot at `seq` is done (`failure`: None, written): prune the
        journal after a success, record the result, take a checkpoint deferred meanwhile."""
        with self._lock:
            if self._seq != seq:  # (a late word about a writer already given up on)
                return
        self.last_write_s = time.perf_counter() - self._started
        if failure is not None:
            log.error("%s; the older snapshots and the journal are kept", failure)
        else:
            log.info("snapshot at seq %d written in %.1f ms, off the sequencer", seq, self.last_write_s * 1e3)
        if failure is None and self.prune:
            try:
                kept = list_snapshots(self.snap_dir)
                if kept:
                    self.journal().prune(kept[0][0])
            except Exception as e:  # the journal closed meanwhile: the next checkpoint prunes
                log.warning("journal not pruned after the snapshot at seq %d: %s", seq, e)
        with self._lock:
            self._seq = -1
            if failure is None:
                self.written += 1
            else:
                self.failed += 1
            self._results[seq] = failure
            while len(self._results) > 16:
                self._results.pop(next(iter(self._results)))
            self._done.notify_all()
            owed, self._owed = self._owed, None
        if owed is not None and self.quiet is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed: the venue stopped meanwhile
                owed.call_soon_threadsafe(self._take_owed)

    def _take_owed(self) -> None:
        """On the loop: queue the deferred checkpoint for the sequencer's next quiet point."""
        quiet = self.quiet
        assert quiet is not None  # scheduled only with a quiet point to run at

        async def take() -> None:
            try:
                await quiet(lambda: self(self.journal().durable_seq))
            except Exception as e:  # overload sheds it: the next automatic one covers it
                log.warning("deferred snapshot not taken: %s", e)
        self._owed_task = asyncio.ensure_future(take())

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no snapshot is being written (e.g. before the data directory is
        archived); False on timeout."""
        with self._lock:
            return self._done.wait_for(lambda: self._seq == -1, timeout)

    async def written_at(self, seq: int) -> bool:
        """Once no snapshot is being written: whether the snapshot at `seq` was written (False: it was
        skipped while an older one was written; ask again). CheckpointFailed if its writer
        failed."""
        await asyncio.get_running_loop().run_in_executor(None, self.wait_idle)
        with self._lock:
            if seq not in self._results:
                return False
            failure = self._results[seq]
        if failure is not None:
            raise failure
        return True
