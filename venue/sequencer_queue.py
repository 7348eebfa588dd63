"""The sequencer's queue: submissions (a caller's commands, or a control item) in arrival order.

A deque and the one task that waits on it (the sequencer); bounded by Sequencer._enqueue, in
commands. asyncio.Queue also counts unfinished tasks, keeps putters and wakes getters through a
deque of futures: work per command the sequencer does not need.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

__all__ = ["Item", "Queue", "release"]


def release(waiting: asyncio.Future) -> None:
    """Resolve `waiting` (None) unless it already is."""
    if not waiting.done():
        waiting.set_result(None)


class Item:
    """One submission: a caller's commands (answered together) or a control item."""

    __slots__ = ("control", "future", "makes", "results", "single", "weight")

    def __init__(self, future: asyncio.Future, makes: list[Callable[[int], object]] | None,
                 control: Callable[[], object] | None = None, single: bool = False) -> None:
        self.makes = makes  # None: a control item, run between batches
        self.control = control
        # one caller's one command, answered alone (a unary call): the one kind of item whose
        # commit may run on the loop (a stream's unit would stop its next orders from being read)
        self.single = single
        self.future = future
        self.results: list = []  # per command: its events, or the exception it raised
        # places the item takes in the queue: one per command, one for a control item
        self.weight = len(makes) if makes is not None else 1


class Queue:
    """The sequencer's queue of items (see the module docstring)."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: deque[Item] = deque()
        self._waiter: asyncio.Future | None = None  # the sequencer waiting for an item

    def qsize(self) -> int:
        """Items queued (a caller's commands are one item, whatever their weight)."""
        return len(self._items)

    def empty(self) -> bool:
        """Whether no item is queued."""
        return not self._items

    def put_nowait(self, item: Item) -> None:
        """Queue an item at the back, waking the sequencer if it waits for one."""
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def get_nowait(self) -> Item:
        """The oldest item; IndexError if there is none."""
        return self._items.popleft()

    async def get(self) -> Item:
        """The oldest item, once there is one (one waiter at a time: the sequencer)."""
        while not self._items:
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                if self._waiter is waiter:
                    self._waiter = None
        return self._items.popleft()
