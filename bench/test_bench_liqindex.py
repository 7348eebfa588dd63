"""Micro benches for the liquidation index at 100,000 entries: a mark tick that triggers nothing,
and upserting (moving) one entry.

  pytest bench/test_bench_liqindex.py --benchmark-enable
"""

import itertools

import pytest

from perpsim.risk.liqindex import LONG, SHORT, LiquidationIndex

N = 100_000


def _seeded_index() -> LiquidationIndex:
    """Longs with triggers 1_000..50_999 (odd keys), shorts 60_000..109_998 (even keys)."""
    idx = LiquidationIndex()
    for key in range(N):
        if key % 2:
            idx.upsert(key, LONG, 1_000 + key % 50_000)
        else:
            idx.upsert(key, SHORT, 60_000 + key % 50_000)
    return idx


@pytest.mark.benchmark(group="liqindex")
def test_tick_triggers_none(benchmark):
    idx = _seeded_index()
    result = benchmark(idx.triggered, 55_000)
    assert result == []


@pytest.mark.benchmark(group="liqindex")
def test_upsert_one(benchmark):
    idx = _seeded_index()
    triggers = itertools.cycle(range(1_000, 51_000, 7))

    def move():
        idx.upsert(1, LONG, next(triggers))  # an existing entry moves: remove + insert

    benchmark(move)
    assert len(idx) == N
