"""LiquidationIndex: a Hypothesis state machine against a brute-force dict oracle, plus edge cases."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from perpsim.risk.liqindex import (
    LONG,
    PPM,
    SHORT,
    LiquidationIndex,
    LiquidationIndexIntegrityError,
)

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# Small values collide often (ties on trigger, equality with the price); large ones probe int64 ends.
KEYS = st.one_of(st.integers(0, 24), st.sampled_from([INT64_MIN, -1, 2**62, INT64_MAX]))
TRIGGERS = st.one_of(st.integers(-3, 40), st.integers(INT64_MIN, INT64_MAX), st.sampled_from([INT64_MIN, INT64_MAX]))
PRICES = st.one_of(st.integers(-3, 40), st.integers(INT64_MIN, INT64_MAX), st.sampled_from([INT64_MIN, INT64_MAX]))
DIRECTIONS = st.sampled_from([LONG, SHORT])


# ---------------------------------------------------------------------- brute-force oracle


def oracle_triggered(entries: dict[int, tuple[int, int]], price: int) -> list[int]:
    longs = sorted((-t, k) for k, (d, t) in entries.items() if d == LONG and t >= price)
    shorts = sorted((t, k) for k, (d, t) in entries.items() if d == SHORT and t <= price)
    return [k for _, k in longs] + [k for _, k in shorts]


def oracle_nearest(entries: dict[int, tuple[int, int]], price: int) -> tuple[int | None, int | None]:
    longs = [t for d, t in entries.values() if d == LONG and t < price]
    shorts = [t for d, t in entries.values() if d == SHORT and t > price]
    return (max(longs, default=None), min(shorts, default=None))


def oracle_buckets(entries: dict[int, tuple[int, int]], price: int, edges: list[int]) -> list[int]:
    out = []
    for e in edges:
        d = price * e // PPM
        out.append(
            sum(1 for dr, t in entries.values() if (dr == LONG and t >= price - d) or (dr == SHORT and t <= price + d))
        )
    return out


class LiquidationIndexMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.index = LiquidationIndex()
        self.model: dict[int, tuple[int, int]] = {}
        self.keys_seen: set[int] = set()

    @rule(key=KEYS, direction=DIRECTIONS, trigger=TRIGGERS)
    def upsert(self, key: int, direction: int, trigger: int) -> None:
        self.index.upsert(key, direction, trigger)
        self.model[key] = (direction, trigger)
        self.keys_seen.add(key)

    @rule(data=st.data(), direction=DIRECTIONS, shift=st.integers(-3, 3))
    def move_existing(self, data: st.DataObject, direction: int, shift: int) -> None:
        """Move a present entry a little, possibly flipping its direction."""
        if not self.model:
            return
        key = data.draw(st.sampled_from(sorted(self.model)))
        trigger = max(INT64_MIN, min(INT64_MAX, self.model[key][1] + shift))
        self.index.upsert(key, direction, trigger)
        self.model[key] = (direction, trigger)

    @rule(key=KEYS, direction=DIRECTIONS)
    def upsert_none(self, key: int, direction: int) -> None:
        self.index.upsert(key, direction, None)
        self.model.pop(key, None)
        self.keys_seen.add(key)

    @rule(key=KEYS)
    def remove(self, key: int) -> None:
        self.index.remove(key)
        self.model.pop(key, None)
        self.keys_seen.add(key)

    @rule(price=PRICES)
    def query(self, price: int) -> None:
        self._check_queries(price)

    @rule(data=st.data(), offset=st.integers(-1, 1))
    def query_at_trigger(self, data: st.DataObject, offset: int) -> None:
        """Prices exactly at, just below and just above an existing trigger."""
        if not self.model:
            return
        _, trigger = data.draw(st.sampled_from(sorted(self.model.values())))
        self._check_queries(trigger + offset)

    @rule(price=st.integers(0, 40), edges=st.lists(st.integers(0, 2 * PPM), max_size=4))
    def query_buckets(self, price: int, edges: list[int]) -> None:
        assert self.index.buckets(price, edges) == oracle_buckets(self.model, price, edges)

    def _check_queries(self, price: int) -> None:
        before = self.index.state_hash()
        assert self.index.triggered(price) == oracle_triggered(self.model, price)
        assert self.index.nearest(price) == oracle_nearest(self.model, price)
        assert self.index.buckets(price, [0]) == [len(oracle_triggered(self.model, price))]
        assert self.index.state_hash() == before  # queries never remove

    @invariant()
    def agrees_with_oracle(self) -> None:
        self.index.check_integrity()
        assert len(self.index) == len(self.model)
        for key in self.keys_seen:
            assert self.index.get(key) == self.model.get(key)
            assert (key in self.index) == (key in self.model)
        assert self.index.entries() == [(k, d, t) for k, (d, t) in sorted(self.model.items())]


LiquidationIndexMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=60, deadline=None)
TestLiquidationIndexMachine = LiquidationIndexMachine.TestCase


# ---------------------------------------------------------------------- edge cases


def test_trigger_equal_to_price_is_crossed_both_directions() -> None:
    idx = LiquidationIndex()
    idx.upsert(1, LONG, 100)
    idx.upsert(2, SHORT, 200)
    assert idx.triggered(101) == []
    assert idx.triggered(100) == [1]
    assert idx.triggered(199) == []
    assert idx.triggered(200) == [2]
    assert idx.nearest(100) == (None, 200)
    assert idx.nearest(101) == (100, 200)
    assert idx.nearest(200) == (100, None)


def test_order_most_distressed_first_longs_before_shorts() -> None:
    idx = LiquidationIndex()
    for key, direction, trigger in [
        (5, LONG, 10),
        (3, LONG, 12),
        (4, LONG, 12),
        (9, SHORT, 8),
        (1, SHORT, 10),
        (2, SHORT, 6),
    ]:
        idx.upsert(key, direction, trigger)
    # At 10: longs with trigger >= 10 (12, 12, 10), shorts with trigger <= 10 (6, 8, 10).
    assert idx.triggered(10) == [3, 4, 5, 2, 9, 1]
    assert idx.triggered(10) == [3, 4, 5, 2, 9, 1]  # not removed
    assert len(idx) == 6


def test_move_long_to_short() -> None:
    idx = LiquidationIndex()
    idx.upsert(7, LONG, 100)
    assert idx.triggered(90) == [7]
    idx.upsert(7, SHORT, 120)
    assert idx.get(7) == (SHORT, 120)
    assert len(idx) == 1
    assert idx.triggered(90) == []
    assert idx.triggered(120) == [7]
    idx.check_integrity()


def test_move_within_direction_and_idempotent_upsert() -> None:
    idx = LiquidationIndex()
    idx.upsert(1, LONG, 100)
    h = idx.state_hash()
    idx.upsert(1, LONG, 100)
    assert idx.state_hash() == h and len(idx) == 1
    idx.upsert(1, LONG, 80)
    assert idx.triggered(90) == [] and idx.triggered(80) == [1]
    idx.check_integrity()


def test_none_removes_and_remove_is_noop_when_absent() -> None:
    idx = LiquidationIndex()
    idx.upsert(1, LONG, 100)
    idx.upsert(1, LONG, None)
    assert 1 not in idx and idx.get(1) is None and len(idx) == 0
    idx.upsert(2, SHORT, None)  # absent: nothing to remove
    idx.remove(3)
    assert len(idx) == 0
    assert idx.triggered(0) == [] and idx.nearest(0) == (None, None)
    idx.check_integrity()


@pytest.mark.parametrize("direction", [0, 2, -2, True, 1.0, None])
def test_invalid_direction_raises_and_leaves_state(direction: object) -> None:
    idx = LiquidationIndex()
    idx.upsert(1, LONG, 100)
    h = idx.state_hash()
    with pytest.raises(ValueError):
        idx.upsert(1, direction, 50)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        idx.upsert(1, direction, None)  # type: ignore[arg-type]
    assert idx.state_hash() == h and idx.get(1) == (LONG, 100)


@pytest.mark.parametrize("trigger", [100.0, True, "100"])
def test_non_integer_trigger_rejected(trigger: object) -> None:
    idx = LiquidationIndex()
    with pytest.raises(TypeError):
        idx.upsert(1, LONG, trigger)  # type: ignore[arg-type]
    assert len(idx) == 0


def test_out_of_int64_rejected() -> None:
    idx = LiquidationIndex()
    with pytest.raises(ValueError):
        idx.upsert(1, LONG, INT64_MAX + 1)
    with pytest.raises(ValueError):
        idx.upsert(INT64_MIN - 1, SHORT, 5)
    assert len(idx) == 0


def test_buckets_counts_adverse_moves() -> None:
    idx = LiquidationIndex()
    idx.upsert(1, LONG, 99)  # 1 % below 100
    idx.upsert(2, LONG, 95)  # 5 % below
    idx.upsert(3, SHORT, 102)  # 2 % above
    idx.upsert(4, SHORT, 100)  # crossed already
    assert idx.buckets(100, [0, 10_000, 20_000, 50_000, 10_000]) == [1, 2, 3, 4, 2]
    with pytest.raises(ValueError):
        idx.buckets(100, [-1])


@given(
    entries=st.dictionaries(st.integers(0, 50), st.tuples(DIRECTIONS, st.integers(-5, 60)), max_size=20),
    seed=st.randoms(use_true_random=False),
)
def test_state_hash_independent_of_insertion_order(entries: dict[int, tuple[int, int]], seed) -> None:
    items = sorted(entries.items())
    shuffled = items[:]
    seed.shuffle(shuffled)
    a, b = LiquidationIndex(), LiquidationIndex()
    for key, (direction, trigger) in items:
        a.upsert(key, direction, trigger)
    for key, (direction, trigger) in shuffled:
        b.upsert(key, -direction, trigger + 1)  # a detour through other states ...
        b.upsert(99, LONG, 7)
    for key, (direction, trigger) in reversed(shuffled):
        b.upsert(key, direction, trigger)  # ... then the same final entries
    b.remove(99)
    assert a.state_hash() == b.state_hash()
    assert a.entries() == b.entries()


def test_state_hash_distinguishes_states() -> None:
    hashes = set()
    for entries in ([], [(1, LONG, 5)], [(1, SHORT, 5)], [(1, LONG, 6)], [(2, LONG, 5)]):
        idx = LiquidationIndex()
        for key, direction, trigger in entries:
            idx.upsert(key, direction, trigger)
        hashes.add(idx.state_hash())
    assert len(hashes) == 5


def test_check_integrity_detects_corruption() -> None:
    idx = LiquidationIndex()
    idx.upsert(1, LONG, 100)
    idx.upsert(2, SHORT, 200)
    idx.check_integrity()
    idx._entries[1] = (LONG, 101)  # map and list disagree
    with pytest.raises(LiquidationIndexIntegrityError):
        idx.check_integrity()


def test_scale_100k_entries_untimed() -> None:
    """Correctness at scale only (timings live in bench/test_bench_liqindex.py)."""
    idx = LiquidationIndex()
    n = 100_000
    for key in range(n):
        if key % 2:
            idx.upsert(key, LONG, 1_000 + key % 50_000)  # longs in 1_000..50_999
        else:
            idx.upsert(key, SHORT, 60_000 + key % 50_000)  # shorts in 60_000..109_998
    assert len(idx) == n
    assert idx.triggered(55_000) == []
    assert idx.nearest(55_000) == (50_999, 60_000)
    assert idx.triggered(50_999) == [49_999, 99_999]  # the two longs at the top trigger
    assert idx.triggered(60_000) == [0, 50_000]
    assert idx.triggered(50_997) == [49_999, 99_999, 49_997, 99_997]
    assert len(idx.triggered(50_000)) == 1_000  # key % 50_000 in 49_000..49_999, odd
    idx.check_integrity()
