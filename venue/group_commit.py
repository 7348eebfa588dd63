"""The sequencer's group commit: the commands a batch applied made durable by one fsync, then
acknowledged, handed to the listeners, and the control items run.

The fsync runs on a thread of its own (venue/commit_thread.py) whose callback acknowledges the
batch directly, except for a lone unary command with nothing queued behind it that follows a few
such commands in a row (LONE_STREAK), which is fsynced on the loop (the hand-off would cost that
caller more than the fsync; a stream's or a batch call's unit never is: the loop reads their next
orders meanwhile).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from perpsim.venue.commit_thread import CommitThread
from perpsim.venue.sequencer_queue import Item, Queue

log = logging.getLogger("perpsim.venue")

#: lone unary commands in a row before one is fsynced on the loop: a single lone batch among
#: many callers (one that happened to arrive alone) goes to the commit thread, since the loop
#: blocked on the disk would hold up the others' calls for the whole fsync
LONE_STREAK = 3


class GroupCommit:
    """The commit step of venue.sequencer.Sequencer (one of its bases, never used alone): the
    sequencer's fields it reads are declared here and set by Sequencer.__init__."""

    journal: Any  # a venue.journal.Journal, or None: in memory only
    checkpoint: Any
    checkpoint_every: int
    queue: Queue
    listeners: list[Callable[[object, list], None]]
    batch_listeners: list[Callable[[list], None]]
    applied: int
    _since_checkpoint: int
    _durable: asyncio.Event
    _committer: CommitThread | None
    _expect: int
    _lone: int
    _batch: list[Item] | None
    _snapshot: Callable[[], int]
    _fold_slice: Callable[[], bool]

    def _finish(self, batch: list[Item], done: list, controls: list[Item]) -> None:
        """Once the batch is durable: acknowledge it, hand it to the listeners, run the control
        items. Runs in the commit thread's callback: the callers wake in the loop's next
        iteration, before the sequencer's next batch can make the state non-durable again."""
        self._durable.set()
        self.applied += len(done)
        self._since_checkpoint += len(done)
        callers = 0
        for item in batch:
            if item.makes is not None and not item.future.done():
                item.future.set_result(item.results)
                callers += 1
        # these callers are likely to come back, and those that queued meanwhile are waiting:
        # with one caller both are 0 or 1 and nobody is waited for
        self._expect = callers + self.queue.qsize()
        self._lone = self._lone + 1 if len(batch) == 1 and batch[0].single and self._expect <= 1 else 0
        listeners = self.listeners
        if listeners:
            for cmd, events in done:
                for listener in listeners:
                    try:
                        listener(cmd, events)
                    except Exception:  # streams and metrics must never stop the sequencer
                        log.exception("listener %r failed on %r", listener, cmd)
        if done:
            for batch_listener in self.batch_listeners:
                try:
                    batch_listener(done)
                except Exception:  # streams and metrics must never stop the sequencer
                    log.exception("batch listener %r failed", batch_listener)
        if self.checkpoint is not None and self.checkpoint_every and \
                self._since_checkpoint >= self.checkpoint_every:
            try:
                self._snapshot()
            except Exception:  # a failed snapshot costs recovery time, never data
                log.exception("automatic snapshot failed")
        for item in controls:
            try:
                assert item.control is not None  # a control item
                item.future.set_result(item.control())
            except Exception as e:
                log.exception("sequencer control %r failed", item.control)
                item.future.set_exception(e)

    async def _commit(self, then: Callable[[], None] | None = None) -> bool:
        """Make every applied command durable, then run `then()` (on the loop, before this
        returns). Whether the loop still has to be yielded to: True when there was nothing to
        fsync (no callback woke anyone), False when the commit thread's callback ran `then`."""
        journal = self.journal
        if journal is None or not journal.pending:
            self._durable.set()
            if then is not None:
                then()
            return True
        if self._alone():
            # one caller and nobody queued behind it: the fsync on the loop costs less than the
            # hand-off to the commit thread and back (a futex, a self-pipe write, an epoll wake-up
            # and the GIL twice: about a fifth of a 1-client call), and nobody waits on the loop
            journal.commit()
            self._durable.set()
            if then is not None:
                then()
            return True
        loop = asyncio.get_running_loop()
        committed = loop.create_future()

        def outcome(seq: int | None, error: BaseException | None) -> None:
            if committed.done():  # the sequencer was cancelled meanwhile
                return
            if error is not None:
                committed.set_exception(error)
                return
            try:
                self._durable.set()
                if then is not None:
                    then()
            except BaseException as e:
                committed.set_exception(e)
                return
            committed.set_result(seq)

        committer = self._committer
        assert committer is not None  # started with the sequencer
        committer.commit(journal, outcome)
        while committer.busy and not self._fold_slice():  # the loop's time while the disk works
            pass
        await committed
        return False

    def _alone(self) -> bool:
        """Whether the batch being committed is one caller's single command, with nothing queued
        behind it, after LONE_STREAK batches that were each one unary command too (so no others
        are likely to arrive while the loop waits on the disk)."""
        batch = self._batch
        return batch is not None and len(batch) == 1 and batch[0].single and self._lone >= LONE_STREAK \
            and self._expect <= 1 and self.queue.empty()
