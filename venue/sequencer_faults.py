"""The sequencer's faults: a command that raised inside the core is undone by rebuilding the
state from the journal; a failed fsync, or a state that cannot be rebuilt, halts the sequencer
(every waiting caller is answered with an error and the venue stops serving)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Awaitable, Callable

from perpsim.venue.errors import cut
from perpsim.venue.sequencer_queue import Item, Queue
from perpsim.venue.state import VenueState

log = logging.getLogger("perpsim.venue")


class SequencerHalted(RuntimeError):
    """The sequencer stopped after a fault it could not recover from; the command was not
    applied (or not acknowledged) and the venue takes none until it is restarted."""


class SequencerFaults:
    """The fault handling of venue.sequencer.Sequencer (one of its bases, never used alone): the
    sequencer's fields it reads are declared here and set by Sequencer.__init__."""

    state: VenueState
    rebuild: Callable[[], VenueState] | None
    io: concurrent.futures.ThreadPoolExecutor
    queue: Queue
    halted: SequencerHalted | None
    on_halt: list[Callable[[SequencerHalted], None]]
    _queued: int
    _durable: asyncio.Event
    _batch: list[Item] | None
    _commit: Callable[[], Awaitable[bool]]

    async def _recover_from(self, cmd, error: Exception) -> None:
        """A command raised inside the core (a bug): it may have left the state half-changed, so
        it is answered INTERNAL, never journaled, and the state is rebuilt from the journal after
        committing the commands before it; the commands after it apply to the rebuilt state.
        If the rebuild itself fails the sequencer halts (see `_halt`)."""
        log.error("command %r raised; rebuilding the state from the journal", cmd, exc_info=error)
        if self.rebuild is None:
            return
        await self._commit()
        # cleared before anything else runs: no reader may see the half-changed state meanwhile
        # (the batch's later commands clear it anyway until their own commit)
        self._durable.clear()
        self.state = await asyncio.get_running_loop().run_in_executor(self.io, self.rebuild)

    def _halt(self, error: BaseException) -> None:
        """The cycle failed outside any one command (the journal refused a commit, or the state
        could not be rebuilt after a core fault): the state in memory can no longer be vouched
        for, so nothing more is applied. Every waiting caller is answered with SequencerHalted
        (none of their commands was acknowledged), later submissions are refused at once,
        readers waiting for durability are released with the same error, and `on_halt` tells
        the venue (which stops serving). A restart recovers from the journal."""
        log.critical("the sequencer halted: %r; the venue takes no more commands until restarted",
                     error, exc_info=error)
        self.halted = SequencerHalted(f"the venue halted after an internal fault ({cut(error, 200)})")
        waiting = list(self._batch or ())
        self._batch = None
        while not self.queue.empty():
            waiting.append(self.queue.get_nowait())
        self._queued = 0
        for item in waiting:
            if not item.future.done():
                item.future.set_exception(self.halted)
        self._durable.set()  # wakes the readers in settled(), which raise SequencerHalted
        for hook in self.on_halt:
            try:
                hook(self.halted)
            except Exception:
                log.exception("on-halt hook %r failed", hook)
