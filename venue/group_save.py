"""Group saves off the event loop: many callers close together share one durable write.

`GroupSave(save)` runs `save()` (a write and its fsyncs) on a thread of its own. A caller that
changed the state `save` writes then awaits `saved()`: it returns once a `save()` that began
after the call has completed, so the change is durable; callers arriving while a save runs are
all covered by the next one (one write and fsync for the lot). The thread exists while there is
something to save and for LINGER_S after (calls one after another do not each start a thread).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

#: Seconds the thread waits for another request before it ends.
LINGER_S = 0.5


class GroupSave:
    """Coalesces durable saves requested from asyncio code onto one thread."""

    def __init__(self, save: Callable[[], object], name: str) -> None:
        self._save = save
        self._name = name
        self._lock = threading.Lock()
        self._asked_more = threading.Condition(self._lock)
        self._asked = 0  # requests made so far (a counter)
        self._waiting: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future]] = []
        self._running = False
        self.saves = 0  # completed save() calls, successful or not

    async def saved(self) -> None:
        """Return once everything changed before this call is durable; raise the save's error
        if it failed (the change stays in memory and is written by the next save)."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        with self._lock:
            self._asked += 1
            self._waiting.append((self._asked, loop, fut))
            if self._running:
                self._asked_more.notify()
            else:
                self._running = True
                threading.Thread(target=self._run, name=self._name, daemon=True).start()
        await fut

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._waiting and not self._asked_more.wait_for(lambda: self._waiting, LINGER_S):
                    self._running = False
                    return
                covered = self._asked  # every request made so far: its change is in memory
            error: BaseException | None = None
            try:
                self._save()
            except BaseException as e:  # handed to the waiters, who answer their callers
                error = e
            with self._lock:
                self.saves += 1
                done = [w for w in self._waiting if w[0] <= covered]
                self._waiting = [w for w in self._waiting if w[0] > covered]
            for _, loop, fut in done:
                try:
                    loop.call_soon_threadsafe(_settle, fut, error)
                except RuntimeError:  # that loop is closed: nobody waits any more
                    pass


def _settle(fut: asyncio.Future, error: BaseException | None) -> None:
    if fut.done():  # the caller was cancelled
        return
    if error is None:
        fut.set_result(None)
    else:
        fut.set_exception(error)
