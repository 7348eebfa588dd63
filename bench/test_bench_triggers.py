"""Micro benches for the conditional-order trigger index (engine/triggers.py). Nothing here asserts a timing;
the targets to report are ≤ 2 µs median for a quiet tick over 100,000 resting stops and ≤ 100 ms for a tick
that fires 10,000 of them.

  pytest bench/test_bench_triggers.py --benchmark-enable
"""

import itertools

import pytest

from perpsim.engine.trigger_rules import FALL, RISE
from perpsim.engine.triggers import TriggerIndex
from perpsim.model.enums import Side

N = 100_000
MID = 100_000  # the price the stops rest around
FIRED = 10_000
PCT = 1_000_000


def _seeded_stops() -> TriggerIndex:
    """100,000 stops: even ids RISE at 100_001 + id/2 (above MID), odd ids FALL at 99_999 - id/2 (below)."""
    idx = TriggerIndex()
    for oid in range(N):
        if oid % 2 == 0:
            idx.add_stop(oid, RISE, MID + 1 + oid // 2)
        else:
            idx.add_stop(oid, FALL, MID - 1 - oid // 2)
    assert idx.on_price(MID) == []
    return idx


@pytest.mark.benchmark(group="triggers")
def test_quiet_tick_100k_stops(benchmark):
    """A tick that fires nothing, with no order added since the previous tick (the cached quiet band)."""
    idx = _seeded_stops()
    result = benchmark(idx.on_price, MID)
    assert result == [] and len(idx) == N


@pytest.mark.benchmark(group="triggers")
def test_quiet_tick_100k_stops_stale_band(benchmark):
    """A tick that fires nothing but falls outside the cached quiet band, so it takes the full path and
    recomputes the band: the head stop (id 0 at MID + 1) was cancelled, then the price touches MID + 1."""
    idx = _seeded_stops()

    def cancel_head():
        if 0 not in idx:
            idx.add_stop(0, RISE, MID + 1)  # untimed: back to the seeded state, band exact again
        idx.remove(0)  # the band still ends at MID + 1 (removals leave it conservative)

    result = benchmark.pedantic(idx.on_price, args=(MID + 1,), setup=cancel_head, rounds=5_000, iterations=1)
    assert result == [] and len(idx) == N - 1


@pytest.mark.benchmark(group="triggers")
def test_tick_fires_10k_of_100k_stops(benchmark):
    """A jump to MID + 10,000 fires the RISE stops at 100_001..110_000 (10,000 orders) and returns them
    sorted; the setup puts them back before each round."""
    idx = _seeded_stops()
    fired_ids = [2 * i for i in range(FIRED)]

    def refill():
        for oid in fired_ids:
            if oid not in idx:
                idx.add_stop(oid, RISE, MID + 1 + oid // 2)

    result = benchmark.pedantic(idx.on_price, args=(MID + FIRED,), setup=refill, rounds=30, iterations=1)
    assert result == fired_ids and len(idx) == N - FIRED


@pytest.mark.benchmark(group="triggers")
def test_trend_tick_10k_trailing(benchmark):
    """10,000 active trailing SELLs over 10 callback rates (1..10 %), every tick a new high that moves the
    extreme of all 10,000: the cost depends on the 10 groups, not on the 10,000 orders."""
    idx = TriggerIndex()
    for oid in range(10_000):
        idx.add_trailing(oid, Side.SELL, (1 + oid % 10) * PCT, None, MID - oid)  # distinct highs at first
    prices = itertools.count(MID + 1)
    idx.on_price(next(prices))  # first new high merges all the buckets (a one-off)

    def new_high():
        return idx.on_price(next(prices))

    result = benchmark(new_high)
    assert result == [] and len(idx) == 10_000
    top = idx.get(0).extreme
    assert all(idx.get(oid).extreme == top for oid in range(0, 10_000, 997))
