"""The held clock's lease (venue.clock_lease) on a real event loop and a real sequencer (no
journal): a hold left unrenewed lapses to wall-clock time at a quiet point, renewals keep it,
setting the lease anew replaces it, and each unit of commands is stamped wholly held or wholly
wall across the lapse."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from perpsim.engine import commands as C
from perpsim.venue.clock import Clock
from perpsim.venue.clock_lease import ClockLease
from perpsim.venue.sequencer import Sequencer
from perpsim.venue.state import VenueState

from .conftest import make_exchange


async def _held(lease_ms: int, run_quiet=None) -> tuple[Sequencer, Clock, ClockLease]:
    """A started sequencer whose clock is held (at the exchange's time) with a lease of `lease_ms`
    through `run_quiet` (default: the sequencer's)."""
    state = VenueState(make_exchange())
    clock = Clock(lambda: seq.state.exchange.ts)
    seq = Sequencer(state, clock)
    seq.start()
    lease = clock.lease = ClockLease(clock, run_quiet or seq.run_quiet)

    def hold() -> None:
        clock.hold()
        lease.set(lease_ms)

    await seq.run_quiet(hold)
    return seq, clock, lease


async def _until_released(clock: Clock, within_s: float) -> float:
    """Seconds until `clock` is no longer held, polled every 5 ms; fails after `within_s`."""
    start = time.monotonic()
    while clock.held:
        assert time.monotonic() - start < within_s, "the hold did not lapse"
        await asyncio.sleep(0.005)
    return time.monotonic() - start


def test_an_unrenewed_lease_lapses_to_wall_time_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> tuple[float, int, int, int, int]:
        seq, clock, lease = await _held(80)
        try:
            left = lease.remaining_ms()
            took = await _until_released(clock, 2.0)
            return took, left, lease.remaining_ms(), lease.ms, lease.lapses
        finally:
            await seq.stop()

    with caplog.at_level(logging.WARNING, logger="perpsim.venue"):
        took, left, left_after, ms_after, lapses = asyncio.run(go())
    assert 0 < left <= 80  # rounded up: a running lease never shows 0
    assert 0.06 <= took < 1.0  # about the lease, never well before it
    assert (left_after, ms_after, lapses) == (0, 0, 1)
    assert any("hold lapsed" in r.getMessage() and "80 ms" in r.getMessage() for r in caplog.records)


def test_renewals_keep_it_held_until_they_stop() -> None:
    async def go() -> tuple[bool, int, float]:
        seq, clock, lease = await _held(60)
        try:
            for _ in range(15):  # 300 ms: five leases long, renewed every 20 ms
                await asyncio.sleep(0.02)
                lease.renew()
            still = clock.held
            renewed_left = lease.remaining_ms()
            return still, renewed_left, await _until_released(clock, 2.0)
        finally:
            await seq.stop()

    still, left, took = asyncio.run(go())
    assert still and 40 <= left <= 60
    assert 0.04 <= took < 1.0


def test_set_anew_replaces_the_lease_and_zero_makes_the_hold_permanent() -> None:
    async def go() -> tuple[bool, float, int]:
        seq, clock, lease = await _held(10_000)
        try:
            await seq.run_quiet(lambda: lease.set(40))  # a shorter lease replaces the long one
            took = await _until_released(clock, 2.0)
            clock.hold()
            lease.set(40)
            lease.set(0)  # held for good
            await asyncio.sleep(0.15)
            return clock.held, took, lease.remaining_ms()
        finally:
            await seq.stop()

    permanent, took, left = asyncio.run(go())
    assert took < 1.0
    assert permanent and left == 0


def test_a_renewal_after_the_timer_fired_but_before_the_quiet_point_keeps_the_hold() -> None:
    async def go() -> tuple[bool, bool, int]:
        gate = asyncio.Event()
        waiting = asyncio.Event()

        async def late_quiet(control):  # the sequencer's quiet point, reached once the gate opens
            waiting.set()
            await gate.wait()
            return await seq.run_quiet(control)

        seq, clock, lease = await _held(40, late_quiet)
        try:
            await asyncio.wait_for(waiting.wait(), 2.0)  # the lease ran out: its release waits
            lease.renew()
            gate.set()
            await asyncio.sleep(0.02)  # the quiet point has run: the renewal kept the hold
            kept = clock.held
            waiting.clear()
            await asyncio.wait_for(waiting.wait(), 2.0)  # unrenewed since: it runs out again
            await asyncio.sleep(0.02)
            return kept, clock.held, lease.lapses
        finally:
            await seq.stop()

    kept, held_after, lapses = asyncio.run(go())
    assert kept and not held_after and lapses == 1


def test_each_unit_is_stamped_wholly_held_or_wholly_wall_across_the_lapse() -> None:
    async def go() -> tuple[int, list[list[int]]]:
        seq, clock, _ = await _held(50)
        units: list[list[int]] = []
        try:
            held_at = clock.now()
            deadline, after = time.monotonic() + 2.0, 0
            while after < 3:  # units go on until three were sent after the release
                assert time.monotonic() < deadline
                after += not clock.held
                stamps: list[int] = []
                await seq.submit_many([lambda ts, s=stamps: (s.append(ts), C.AdvanceClock(ts))[1]
                                       for _ in range(5)])
                units.append(stamps)
            return held_at, units
        finally:
            await seq.stop()

    held_at, units = asyncio.run(go())
    flat = [ts for unit in units for ts in unit]
    assert flat == sorted(flat)  # time never goes back across the lapse
    wall = time.time_ns() - 10 * 10**9
    kinds = [{ts == held_at for ts in unit} for unit in units]
    assert all(len(k) == 1 for k in kinds)  # no unit straddles the release
    assert kinds[0] == {True} and kinds[-1] == {False}  # held first, wall time at the end
    assert all(ts > wall for ts in units[-1])


def test_closed_it_never_lapses() -> None:
    async def go() -> tuple[bool, int]:
        seq, clock, lease = await _held(30)
        try:
            lease.close()
            await asyncio.sleep(0.12)
            return clock.held, lease.lapses
        finally:
            await seq.stop()

    assert asyncio.run(go()) == (True, 0)
