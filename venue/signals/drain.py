"""The venue's catch-up task: folds the commands handed to `Signals` into it off the sequencer's
critical path (see venue.signals.hub).

It runs on the venue's event loop beside the sequencer task, so it only ever runs while the
sequencer has yielded the loop: waiting for a journal fsync, for commands, or between batches.
It folds in slices of about `SLICE_EVENTS` events and yields the loop after each, so a cascade of
a million events never holds the sequencer up for more than one slice (about a millisecond).
Reads do not wait for it: each read catches up itself first.
"""

from __future__ import annotations

import asyncio
import logging

from perpsim.venue.tasks import cancel

log = logging.getLogger("perpsim.venue")

#: events folded between two yields of the loop
SLICE_EVENTS = 4_096


class CatchUp:
    """The task that folds the commands handed to `signals` into it, `SLICE_EVENTS` events at a
    time with the loop yielded between slices; woken when the hand-over buffer turns non-empty."""

    def __init__(self, signals) -> None:
        self.signals = signals
        self._pending = asyncio.Event()
        self._task: asyncio.Task | None = None
        signals.wake = self._pending.set  # the buffer turned non-empty

    def start(self) -> None:
        """Start the catch-up task in the running loop."""
        self._task = asyncio.get_running_loop().create_task(self.run(), name="signals-catch-up")

    async def stop(self) -> None:
        """Cancel the task and stop the signals from waking it."""
        await cancel(self._task)
        self.signals.wake = None

    async def run(self) -> None:
        """Wait to be woken, then fold the buffer in SLICE_EVENTS events at a time, yielding the loop before each slice,
        until it is empty; a failed slice is logged and ends the round."""
        while True:
            await self._pending.wait()
            self._pending.clear()
            done = False
            while not done:
                await asyncio.sleep(0)  # the sequencer and the acknowledged callers first
                try:
                    done = self.signals.catch_up(SLICE_EVENTS)
                except Exception:  # a read model must never stop the venue; the next read retries
                    log.exception("risk signals catch-up failed")
                    done = True
