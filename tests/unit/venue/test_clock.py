"""The venue clock (venue.clock): wall time plus the sandbox's offset, or held at the venue's time."""

from __future__ import annotations

import time

from perpsim.venue.clock import Clock

HOUR = 3_600 * 10**9


def test_the_wall_clock_runs_with_the_offset():
    clock = Clock(lambda: 0)
    clock.advanced(HOUR)
    before = time.time_ns()
    now = clock.now()
    assert before + HOUR <= now <= time.time_ns() + HOUR
    assert not clock.held


def test_held_it_reads_the_venue_time_and_nothing_else():
    venue = [1_000]
    clock = Clock(lambda: venue[0])
    assert clock.hold() is False and clock.held
    first = clock.now()
    time.sleep(0.01)
    assert first == clock.now() == 1_000  # the wall clock moved, the venue's time did not
    venue[0] += 5
    assert clock.now() == 1_005
    assert clock.hold() is True  # held already


def test_released_it_never_goes_behind_the_venue_time():
    ahead = time.time_ns() + 24 * HOUR  # a venue advanced a day past the wall clock
    clock = Clock(lambda: ahead, held=True)
    assert clock.held and clock.now() == ahead
    assert clock.set_held(False) is True and not clock.held
    assert ahead <= clock.now() < ahead + HOUR  # the offset grew to cover it: wall time runs on from there
    time.sleep(0.01)
    assert clock.now() >= ahead + 10**7


def test_released_behind_the_wall_clock_it_keeps_its_offset():
    clock = Clock(lambda: 0, held=True)
    clock.advanced(HOUR)  # an advance while held counts on the wall clock too
    clock.release()
    assert clock.offset == HOUR
    assert clock.now() >= time.time_ns() + HOUR - 10**9
