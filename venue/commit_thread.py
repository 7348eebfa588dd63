"""The journal's group commits on a thread of their own, handed over without an executor.

The sequencer hands a commit over with one `SimpleQueue.put` and hears back through one
`loop.call_soon_threadsafe` carrying the outcome: no executor work item, no concurrent future
and no `asyncio.wrap_future` chain (each of those costs the event loop a callback, and the
loop is the venue's bottleneck). `busy` is a plain flag the loop may poll while it does other
work during the fsync (it is written by one thread and read by the other; a stale read only
costs one more fold slice).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable

__all__ = ["CommitThread"]

#: what the thread calls back on the loop with: (the last durable seq, None) or (None, the error)
Outcome = Callable[[int | None, BaseException | None], None]


class CommitThread:
    """One thread that runs `journal.commit()` on request and reports on the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, name: str = "perpsim-journal-commit") -> None:
        self._loop = loop
        self._work: queue.SimpleQueue = queue.SimpleQueue()
        self.busy = False  # a commit was handed over and has not finished on the thread yet
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def commit(self, journal, then: Outcome) -> None:
        """Commit `journal` on the thread; `then(seq, None)` or `then(None, error)` runs on the
        loop afterwards. One commit at a time: the caller waits for `then` before the next."""
        self.busy = True
        self._work.put((journal, then))

    def close(self, timeout: float = 10.0) -> None:
        """Stop the thread once the commit it holds (if any) is done."""
        self._work.put(None)
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            job = self._work.get()
            if job is None:
                return
            journal, then = job
            try:
                seq, error = journal.commit(), None
            except BaseException as e:  # reported to the sequencer, which halts on it
                seq, error = None, e
            self.busy = False
            try:
                self._loop.call_soon_threadsafe(then, seq, error)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                return
