"""Checkpoints that cost the sequencer a few bytes: the snapshot is written by a follower process.

`FollowerCheckpoint` is the venue's `checkpoint(seq)` (venue/checkpoint.py's interface: a
snapshot at a durable seq, `written_at`, `wait_idle`, journal pruning only after a success).
Instead of forking the venue, it keeps a snapshot follower running (venue/snapshot_follower.py:
a second process that loaded the same state and applies the journal's durable records as they
come) and asks it for the snapshot. On the sequencer that is, per batch, `observe_batch` telling
the follower the durable seq (one write of 9 bytes to a pipe, at most every
`announce_every_s`: 50 ms, so that the follower wakes to apply a few dozen records at a time,
not a few: its CPU per order fell from 155-273 to 86-185 µs in bench/venue_ratios.py's
checkpoint scenario), and per checkpoint one more such write. Neither the fork (page tables:
2-8 ms) nor its copy-on-write faults remain on the sequencer's path; the follower runs at the
lowest CPU priority.

The follower is started at the first checkpoint, or earlier once the venue has applied
`start_after` commands (the venue: half its automatic checkpoints' interval, so that the follower
has caught up when the first one is due), from a thread of its own (venue/follower_link.py). A
venue that never checkpoints never starts one. It is started again:

* when the venue's journal is replaced (a sandbox reset archives the data directory and starts
  a fresh state and journal): the old follower is killed, a new one loads the new state (at the
  next checkpoint, or after `start_after` commands);
* when it dies (killed, out of memory): a snapshot it was writing is reported failed, like a
  forked writer that dies, and a new follower is started; after `max_deaths` deaths within a
  minute the venue gives up on followers, logs it, and forks a writer per checkpoint
  (`ForkCheckpoint`) from then on. It does so at once when a follower finds that the code on
  disk is not the code the venue runs (an upgrade installed under it: `FollowerSpec.build`).

A state rebuilt after a command raised inside the core (`Sequencer.rebuild`) needs nothing: it
is rebuilt from the journal, which is what the follower follows, and the command that raised was
never journaled.

Memory: the follower holds a second copy of the venue state: a venue needs about twice the
state's memory (a forked writer needed only the pages the sequencer wrote while it lived).
`close()` ends the follower (the venue's shutdown; the follower also dies with the venue's
process, even killed with SIGKILL).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from perpsim.venue.checkpoint import SYNC_EVERY, CheckpointFailed, ForkCheckpoint
from perpsim.venue.follower_link import FollowerLink
from perpsim.venue.snapshot import build_id
from perpsim.venue.snapshot_follower import DURABLE, FAILED, READY, SNAPSHOT, STALE_BUILD, WRITTEN, FollowerSpec

__all__ = ["FollowerCheckpoint"]

log = logging.getLogger("perpsim.venue")

#: deaths of followers within this many seconds that make the venue fork writers instead
DEATH_WINDOW_S = 60.0
#: the share of the time the follower's pickling runs, sleeping the rest (venue/snapshot_stream.py):
#: a snapshot takes four times as long or more (50,000 orders: ~0.6 s of CPU over 2.5-8 s), and
#: the venue's threads find a core free while it sleeps (bench/checkpoint_stall.py, 2 shared
#: cores: orders over twice the p99 0.09 % during checkpoints against 0.08 % without, max 2.3-3.6x
#: the p99 with the same runs' max without checkpoints 2.4-3.0x; unpaced in the venue's session:
#: 0.62 % against 0.04 %, max 2.5-11x; a forked writer 1.8 %, 6.4-8.0x)
SNAPSHOT_DUTY = 0.25
#: the same for the follower's applying of the journal's records while it is nearly caught up
#: (snapshot_follower.PACED_BEHIND): bench/venue_ratios.py's unary-1 p99 with a follower
#: replaying 2.70-2.82 ms unpaced, 2.37-2.49 at 0.5, 2.18-2.32 at 0.25, 2.03-2.17 without one
REPLAY_DUTY = 0.25


class FollowerCheckpoint(ForkCheckpoint):
    """`checkpoint(seq)` for the Sequencer, written by a snapshot follower (module docstring).

    `follower`: what the follower loads (its `keep` and `sync_every` are set here from `keep`
    and `SYNC_EVERY`); the rest as `ForkCheckpoint`. Register `observe_batch` as a batch
    listener of the sequencer: besides telling the follower the durable seq, it takes a
    checkpoint that was deferred while another was written (at the first batch after that one
    is done: a batch listener runs where every applied command is durable, the quiet point
    the sequencer's own automatic checkpoints are taken at)."""

    def __init__(self, data_dir: str | os.PathLike, state: Callable[[], Any], journal: Callable[[], Any], *,
                 follower: FollowerSpec, prune: bool = True, keep: int = 3, max_deaths: int = 3,
                 announce_every_s: float = 0.05, start_after: int | None = None,
                 duty: float = SNAPSHOT_DUTY) -> None:
        """`start_after`: commands after which the follower is started ahead of the first
        checkpoint (so that it has caught up by then); None: at the first checkpoint. `duty`:
        the share of the time the follower's pickling of a snapshot runs (`write_snapshot`)."""
        super().__init__(data_dir, state, journal, prune=prune, keep=keep)
        self.start_after = start_after
        self._unfollowed = 0  # commands applied since a follower was last wanted
        self._skipped_taken = 0  # `skipped` when a deferred checkpoint was last taken
        self.spec = replace(follower, keep=keep, sync_every=SYNC_EVERY, build=build_id(), duty=duty,
                            replay_duty=REPLAY_DUTY)
        self.max_deaths, self.announce_every_s = max_deaths, announce_every_s
        self._link: FollowerLink | None = None
        self._link_journal: Any = None  # the journal object the follower follows
        self._asked: FollowerLink | None = None  # the follower writing the snapshot in progress
        self._deaths: list[float] = []
        self._announced = 0.0  # when the durable seq was last told (monotonic s)
        self._closed = False
        self.forking = False  # gave up on followers: forked writers from now on
        self.followers = 0  # followers started
        self.ready_seq: int | None = None  # the seq the current follower loaded to, once ready

    @property
    def follower_pid(self) -> int:
        """The current follower's pid (0: none)."""
        link = self._link
        return link.pid if link is not None else 0

    # ------------------------------------------------------------------ on the sequencer

    def observe_batch(self, done: list) -> None:
        """Batch listener: tell the follower the durable seq (at most every announce_every_s)."""
        now = time.monotonic()
        journal = self.journal()
        link = self._link
        if self.skipped != self._skipped_taken and self._seq == -1:
            self._skipped_taken = self.skipped
            try:
                self(journal.durable_seq)
            except Exception:  # a failed snapshot costs recovery time, never data
                log.exception("deferred snapshot failed")
        if self.forking or self._closed:
            return
        if link is None or self._link_journal is not journal:
            if self._link_journal is not journal:  # none started for this journal yet: start one?
                self._unfollowed += len(done)
                if self.start_after is None or self._unfollowed < self.start_after:
                    if link is not None:  # the old journal's (a reset): its state is gone
                        with self._lock:
                            self._drop()
                    return
            with self._lock:
                link = self._follow(journal)
        elif now - self._announced < self.announce_every_s:
            return
        if link is not None:
            self._announced = now
            link.send(DURABLE, journal.durable_seq)

    def _start(self, seq: int, journal: Any) -> None:
        """(Under the lock) ask the follower; a forked writer when there is none to ask."""
        link = self._follow(journal)
        if link is None:
            super()._start(seq, journal)
            return
        self._asked = link
        link.send(SNAPSHOT, seq)
        self.last_pause_s = time.perf_counter() - self._started
        self.max_pause_s = max(self.max_pause_s, self.last_pause_s)
        log.info("snapshot at seq %d: asked of follower %d in %.3f ms", seq, link.pid, self.last_pause_s * 1e3)

    def _follow(self, journal: Any) -> FollowerLink | None:
        """(Under the lock) the follower of `journal`, started if there is none; None when
        closed or forking."""
        if self._closed or self.forking:
            return None
        if self._link is not None and self._link_journal is journal:
            return self._link
        old = self._link
        self._link_journal, self._unfollowed = journal, 0
        self.ready_seq = None
        self._link = FollowerLink(self.spec, lambda: journal.durable_seq, self._on_reply, self._on_exit)
        self._reaper.submit(self._link.start)  # (a thread started here would wait to be scheduled)
        self.followers += 1
        if old is not None:  # a new journal (a reset): the old follower's state is gone
            log.info("snapshot follower %d replaced: the venue's journal was replaced", old.pid)
            old.kill()
        return self._link

    def _drop(self) -> None:
        """(Under the lock) end the follower of a journal the venue no longer writes."""
        old, self._link = self._link, None
        if old is not None:
            log.info("snapshot follower %d ended: the venue's journal was replaced", old.pid)
            old.kill()

    # ------------------------------------------------------------------ on a link's thread

    def _on_reply(self, link: FollowerLink, kind: bytes, seq: int, text: str) -> None:
        if kind == READY:
            if link is self._link:
                self.ready_seq = seq
            log.info("snapshot follower %d ready at seq %d (%s)", link.pid, seq, text)
        elif kind in (WRITTEN, FAILED) and link is self._asked:
            self._finish(seq, None if kind == WRITTEN else CheckpointFailed(f"snapshot at seq {seq}: {text}"))

    def _on_exit(self, link: FollowerLink, code: int | None) -> None:
        with self._lock:
            current = link is self._link
            writing = self._seq if link is self._asked and self._seq != -1 else None
            if current:
                self._link = None
            if link is self._asked:
                self._asked = None
        if code == STALE_BUILD and current and not self._closed:
            self.forking = True
            log.error("snapshot follower %d refused to start: the code on disk is not the code this venue runs "
                      "(see its log); snapshots are written by forked writers from now on", link.pid)
            if writing is not None:  # never begun: deferred, to be taken by a forked writer
                self._give_back(writing)
            return
        if writing is not None:  # (`_finish` checks the seq under the lock: never a later writer's)
            self._finish(writing, CheckpointFailed(f"snapshot at seq {writing}: its follower {link.pid} exited "
                                                   f"with {code} (a negative code: killed by that signal)"))
        if not current or self._closed:
            return
        now = time.monotonic()
        self._deaths = [t for t in self._deaths if now - t < DEATH_WINDOW_S] + [now]
        if len(self._deaths) >= self.max_deaths:
            self.forking = True
            log.error("snapshot follower %d exited with %s (%d deaths within %.0f s): snapshots are written by "
                      "forked writers from now on", link.pid, code, len(self._deaths), DEATH_WINDOW_S)
            return
        log.error("snapshot follower %d exited with %s; starting another", link.pid, code)
        with self._lock:
            if self._link is None:
                self._follow(self._link_journal)

    def _give_back(self, seq: int) -> None:
        """The checkpoint at `seq` was never begun: count it deferred (`written_at` says False,
        so a caller asks again; an automatic one is taken at the next batch)."""
        with self._lock:
            if self._seq != seq:
                return
            self._seq = -1
            self.skipped += 1
            self._results.pop(seq, None)
            self._done.notify_all()

    def use_forks(self) -> None:
        """End the follower and write every later snapshot with a forked writer (what the venue
        does after `max_deaths`); a snapshot the follower writes is finished first."""
        self.wait_idle()
        with self._lock:
            self.forking = True
            link, self._link = self._link, None
        if link is not None:
            link.close()

    # ------------------------------------------------------------------ ending

    def close(self, timeout: float = 10.0) -> None:
        """End the follower: at once when it writes no snapshot (it holds nothing that needs
        saving), else once that snapshot is written (`timeout` s at most)."""
        with self._lock:
            self._closed = True
            link, self._link = self._link, None
            writing = self._seq != -1 and self._asked is link
        if link is None:
            return
        if writing:
            link.close(timeout)
        else:
            link.kill()
            if link.thread.ident is not None:
                link.thread.join(timeout)
