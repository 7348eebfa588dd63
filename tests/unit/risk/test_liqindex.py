"""LiquidationIndex, both implementations (the Cython `perpsim.risk.liqindex` and the reference twin
`perpsim.risk.liqindex_ref`): a Hypothesis state machine against a brute-force dict oracle, plus edge
cases. The twins against each other: tests/property/test_liqindex_twin.py."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from perpsim.risk.liqindex_common import (
    LONG,
    PPM,
    SHORT,
    LiquidationIndexIntegrityError,
    make_liqindex,
)

IMPLS = ["ref", "cython"]

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
    IMPL = "ref"

    def __init__(self) -> None:
        super().__init__()
        self.index = make_liqindex(self.IMPL)
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


class RefLiquidationIndexMachine(LiquidationIndexMachine):
    IMPL = "ref"


class CythonLiquidationIndexMachine(LiquidationIndexMachine):
    IMPL = "cython"


MACHINE_SETTINGS = settings(max_examples=200, stateful_step_count=60, deadline=None)
RefLiquidationIndexMachine.TestCase.settings = MACHINE_SETTINGS
CythonLiquidationIndexMachine.TestCase.settings = MACHINE_SETTINGS
TestRefLiquidationIndexMachine = RefLiquidationIndexMachine.TestCase
TestCythonLiquidationIndexMachine = CythonLiquidationIndexMachine.TestCase


@pytest.fixture(params=IMPLS, scope="module")  # module scope: stateless, and usable under @given
def impl(request: pytest.FixtureRequest) -> str:
    """The implementation under test: "ref" or "cython"."""
    return request.param


# ---------------------------------------------------------------------- edge cases


def test_trigger_equal_to_price_is_crossed_both_directions(impl: str) -> None:
    idx = make_liqindex(impl)
    idx.upsert(1, LONG, 100)
    idx.upsert(2, SHORT, 200)
    assert idx.triggered(101) == []
    assert idx.triggered(100) == [1]
    assert idx.triggered(199) == []
    assert idx.triggered(200) == [2]
    assert idx.nearest(100) == (None, 200)
    assert idx.nearest(101) == (100, 200)
    assert idx.nearest(200) == (100, None)


def test_order_most_distressed_first_longs_before_shorts(impl: str) -> None:
    idx = make_liqindex(impl)
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


def test_move_long_to_short(impl: str) -> None:
    idx = make_liqindex(impl)
    idx.upsert(7, LONG, 100)
    assert idx.triggered(90) == [7]
    idx.upsert(7, SHORT, 120)
    assert idx.get(7) == (SHORT, 120)
    assert len(idx) == 1
    assert idx.triggered(90) == []
    assert idx.triggered(120) == [7]
    idx.check_integrity()


def test_move_within_direction_and_idempotent_upsert(impl: str) -> None:
    idx = make_liqindex(impl)
    idx.upsert(1, LONG, 100)
    h = idx.state_hash()
    idx.upsert(1, LONG, 100)
    assert idx.state_hash() == h and len(idx) == 1
    idx.upsert(1, LONG, 80)
    assert idx.triggered(90) == [] and idx.triggered(80) == [1]
    idx.check_integrity()


def test_none_removes_and_remove_is_noop_when_absent(impl: str) -> None:
    idx = make_liqindex(impl)
    idx.upsert(1, LONG, 100)
    idx.upsert(1, LONG, None)
    assert 1 not in idx and idx.get(1) is None and len(idx) == 0
    idx.upsert(2, SHORT, None)  # absent: nothing to remove
    idx.remove(3)
    assert len(idx) == 0
    assert idx.triggered(0) == [] and idx.nearest(0) == (None, None)
    idx.check_integrity()


@pytest.mark.parametrize("direction", [0, 2, -2, True, 1.0, None])
def test_invalid_direction_raises_and_leaves_state(impl: str, direction: object) -> None:
    idx = make_liqindex(impl)
    idx.upsert(1, LONG, 100)
    h = idx.state_hash()
    with pytest.raises(ValueError):
        idx.upsert(1, direction, 50)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        idx.upsert(1, direction, None)  # type: ignore[arg-type]
    assert idx.state_hash() == h and idx.get(1) == (LONG, 100)


@pytest.mark.parametrize("trigger", [100.0, True, "100"])
def test_non_integer_trigger_rejected(impl: str, trigger: object) -> None:
    idx = make_liqindex(impl)
    with pytest.raises(TypeError):
        idx.upsert(1, LONG, trigger)  # type: ignore[arg-type]
    assert len(idx) == 0


def test_out_of_int64_rejected(impl: str) -> None:
    idx = make_liqindex(impl)
    with pytest.raises(ValueError):
        idx.upsert(1, LONG, INT64_MAX + 1)
    with pytest.raises(ValueError):
        idx.upsert(INT64_MIN - 1, SHORT, 5)
    assert len(idx) == 0


def test_buckets_counts_adverse_moves(impl: str) -> None:
    idx = make_liqindex(impl)
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
def test_state_hash_independent_of_insertion_order(impl: str, entries: dict[int, tuple[int, int]], seed) -> None:
    items = sorted(entries.items())
    shuffled = items[:]
    seed.shuffle(shuffled)
    a, b = make_liqindex(impl), make_liqindex(impl)
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


def test_state_hash_distinguishes_states(impl: str) -> None:
    hashes = set()
    for entries in ([], [(1, LONG, 5)], [(1, SHORT, 5)], [(1, LONG, 6)], [(2, LONG, 5)]):
        idx = make_liqindex(impl)
        for key, direction, trigger in entries:
            idx.upsert(key, direction, trigger)
        hashes.add(idx.state_hash())
    assert len(hashes) == 5


def test_check_integrity_detects_corruption(impl: str) -> None:
    idx = make_liqindex(impl)
    idx.upsert(1, LONG, 100)
    idx.upsert(2, SHORT, 200)
    idx.check_integrity()
    if impl == "ref":
        idx._entries[1] = (LONG, 101)  # map and list disagree
    else:
        idx._corrupt_map_entry(1, LONG, 101)
    with pytest.raises(LiquidationIndexIntegrityError):
        idx.check_integrity()


def test_scale_100k_entries_untimed(impl: str) -> None:
    """Correctness at scale only (timings live in bench/test_bench_liqindex.py)."""
    idx = make_liqindex(impl)
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


# ---------------------------------------------------------------------- both twins: the same edges of the API


def test_factory_is_explicit() -> None:
    from perpsim.risk import liqindex, liqindex_ref

    assert type(make_liqindex("cython")) is liqindex.LiquidationIndex
    assert type(make_liqindex("ref")) is liqindex_ref.LiquidationIndex
    with pytest.raises(ValueError, match="unknown liquidation index implementation"):
        make_liqindex("python")
    # the names the engine and the benches import from the compiled module
    assert (liqindex.LONG, liqindex.SHORT, liqindex.PPM) == (LONG, SHORT, PPM)
    assert liqindex.LiquidationIndexIntegrityError is LiquidationIndexIntegrityError


@pytest.mark.parametrize("price", [100.0, "100", None, 100.5])
def test_non_integer_price_rejected(impl: str, price: object) -> None:
    idx = make_liqindex(impl)
    idx.upsert(1, LONG, 100)
    with pytest.raises(TypeError):
        idx.triggered(price)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        idx.nearest(price)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        idx.buckets(price, [0])  # type: ignore[arg-type]


def test_integer_like_prices_accepted(impl: str) -> None:
    np = pytest.importorskip("numpy")
    idx = make_liqindex(impl)
    idx.upsert(1, LONG, 1)
    idx.upsert(2, SHORT, 1)
    for price in (True, np.int64(1), np.int8(1)):
        assert idx.triggered(price) == [1, 2]
        assert idx.nearest(price) == (None, None)
        assert idx.buckets(price, [0]) == [2]
    assert idx.triggered(False) == [1]


def test_prices_beyond_int64(impl: str) -> None:
    idx = make_liqindex(impl)
    idx.upsert(1, LONG, INT64_MAX)
    idx.upsert(2, LONG, INT64_MIN)
    idx.upsert(3, SHORT, INT64_MAX)
    idx.upsert(4, SHORT, INT64_MIN)
    for huge in (INT64_MAX + 1, 2**200):
        assert idx.triggered(huge) == [4, 3]
        assert idx.triggered(-huge - 1) == [1, 2]
        assert idx.nearest(huge) == (INT64_MAX, None)
        assert idx.nearest(-huge - 1) == (None, INT64_MIN)
    model = {k: (d, t) for k, d, t in idx.entries()}
    edges = [0, PPM, 2 * PPM, 10**30]
    assert idx.buckets(INT64_MAX, edges) == oracle_buckets(model, INT64_MAX, edges)
    assert idx.buckets(INT64_MIN, edges) == oracle_buckets(model, INT64_MIN, edges)


def test_lookups_follow_dict_semantics(impl: str) -> None:
    """remove/get/in look keys up as a dict: equal-and-same-hash objects name the int key."""
    idx = make_liqindex(impl)
    idx.upsert(1, LONG, 10)
    idx.upsert(0, SHORT, 20)
    assert 1.0 in idx and True in idx and idx.get(1.0) == (LONG, 10) and idx.get(False) == (SHORT, 20)
    assert 1.5 not in idx and "1" not in idx and None not in idx and 2**70 not in idx
    assert idx.get("1") is None and idx.get(2**70) is None and idx.get(float("nan")) is None
    with pytest.raises(TypeError):
        [1] in idx  # noqa: B015 - unhashable, as a dict
    with pytest.raises(TypeError):
        idx.get([1])  # type: ignore[arg-type]
    idx.remove("1")
    idx.remove(2**70)
    idx.remove(float("inf"))
    assert len(idx) == 2
    idx.remove(True)
    assert 1 not in idx and len(idx) == 1
    idx.check_integrity()


def test_bad_edges_rejected_whatever_their_position(impl: str) -> None:
    idx = make_liqindex(impl)
    idx.upsert(1, LONG, 10)
    for edges in ([-1], [0, -1], [0, 1.0], [True], [None]):
        with pytest.raises(ValueError, match="edge must be a non-negative int"):
            idx.buckets(10, edges)
    assert idx.buckets(10, iter([0, 0])) == [1, 1]  # any iterable
    assert idx.buckets(10, []) == []
