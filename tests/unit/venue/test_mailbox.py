"""A subscriber's mailbox is slow by time behind, not by the size of one burst."""

from __future__ import annotations

import asyncio

from perpsim.venue.mailbox import DROPPED, Mailbox


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_read_in_time_is_kept_whole() -> None:
    clock = Clock()
    box = Mailbox(patience_s=10, limit=100_000, clock=clock)
    assert all(box.put(i) for i in range(50_000))  # one command's burst: all queued at once

    async def read() -> list:
        return [await box.get() for _ in range(50_000)]

    assert asyncio.run(read()) == list(range(50_000))
    clock.now = 100.0  # an idle subscriber is never behind
    assert box.put("later") and box.behind_s() == 0.0


def test_a_reader_behind_for_longer_than_its_patience_is_dropped() -> None:
    clock = Clock()
    box = Mailbox(patience_s=10, limit=100_000, clock=clock)
    assert box.put("a")
    clock.now = 10.0
    assert box.put("b")  # exactly at the patience: still in
    clock.now = 10.5
    assert box.behind_s() == 10.5 and not box.put("c")
    box.drop()
    assert asyncio.run(box.get()) is DROPPED and len(box) == 0


def test_the_backlog_is_bounded_whatever_its_age() -> None:
    box = Mailbox(patience_s=10, limit=3, clock=Clock())
    assert [box.put(i) for i in range(4)] == [True, True, True, False]
