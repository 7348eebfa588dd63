"""A stream subscriber's unread messages, and when it counts as too slow.

A subscriber is slow when it has been behind for too long, not when one command produced many
messages: a batch whose fills make thousands of account updates arrives in one go, and a reader
that keeps up drains it in milliseconds. So the test is the age of the oldest unread message
(`patience_s`); a hard `limit` on unread messages only bounds the memory one subscriber holds.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

#: A subscriber whose oldest unread message is older than this (seconds) is dropped.
SLOW_CONSUMER_S = 10.0
#: Unread messages one subscriber may hold whatever their age (a bound on memory).
MAX_BACKLOG = 100_000

#: What `Mailbox.get` returns once the subscriber was dropped.
DROPPED = object()


class Mailbox:
    """Unread messages of one subscriber, oldest first, each with the time it was queued."""

    def __init__(self, patience_s: float | None = None, limit: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """`patience_s` and `limit` default to SLOW_CONSUMER_S and MAX_BACKLOG (as they are now)."""
        self.patience_s = SLOW_CONSUMER_S if patience_s is None else patience_s
        self.limit = MAX_BACKLOG if limit is None else limit
        self._clock = clock
        self._items: deque[tuple[float, object]] = deque()
        self._ready = asyncio.Event()
        self.dropped = False

    def __len__(self) -> int:
        return len(self._items)

    def behind_s(self) -> float:
        """How long the oldest unread message has waited (0 when all is read)."""
        return self._clock() - self._items[0][0] if self._items else 0.0

    def put(self, msg: object) -> bool:
        """Queue `msg`; False (nothing queued) if the subscriber is too slow or holds `limit`."""
        if self.dropped or len(self._items) >= self.limit or self.behind_s() > self.patience_s:
            return False
        self._items.append((self._clock(), msg))
        self._ready.set()
        return True

    def drop(self) -> None:
        """Forget what is unread; the reader's next `get` returns DROPPED."""
        self._items.clear()
        self.dropped = True
        self._ready.set()

    async def get(self) -> object:
        """The oldest unread message, waiting for one; DROPPED once dropped."""
        while not self._items:
            if self.dropped:
                return DROPPED
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()[1]
