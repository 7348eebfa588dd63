"""Micro benches for the liquidation index at 100,000 entries, both implementations: a mark tick that
triggers nothing, and upserting (moving) one entry. Nothing here asserts a timing.

  pytest bench/test_bench_liqindex.py --benchmark-enable
"""

import itertools

import pytest

from perpsim.risk.liqindex_common import LONG, SHORT, make_liqindex

N = 100_000
IMPLS = ["ref", "cython"]


def _seeded_index(impl: str):
    """Longs with triggers 1_000..50_999 (odd keys), shorts 60_000..109_998 (even keys)."""
    idx = make_liqindex(impl)
    for key in range(N):
        if key % 2:
            idx.upsert(key, LONG, 1_000 + key % 50_000)
        else:
            idx.upsert(key, SHORT, 60_000 + key % 50_000)
    return idx


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.benchmark(group="liqindex-tick")
def test_tick_triggers_none(benchmark, impl):
    idx = _seeded_index(impl)
    result = benchmark(idx.triggered, 55_000)
    assert result == []


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.benchmark(group="liqindex-upsert")
def test_upsert_one(benchmark, impl):
    idx = _seeded_index(impl)
    triggers = itertools.cycle(range(1_000, 51_000, 7))

    def move():
        idx.upsert(1, LONG, next(triggers))  # an existing entry moves: remove + insert

    benchmark(move)
    assert len(idx) == N
