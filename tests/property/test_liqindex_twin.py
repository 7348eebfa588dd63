"""The Cython liquidation index against its reference twin: same operations in, same results,
exceptions and state_hash out."""

from __future__ import annotations

import random

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from perpsim.risk.liqindex_common import LONG, PPM, SHORT, make_liqindex

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_MISSING = object()


class TwinIndexes:
    """Applies each operation to both implementations and insists they agree."""

    def __init__(self) -> None:
        self.ref = make_liqindex("ref")
        self.cy = make_liqindex("cython")

    def do(self, method: str, *args: object) -> object:
        """Call ``method`` on both; the same result, or the same exception type and message."""
        out = {}
        for name, idx in (("ref", self.ref), ("cy", self.cy)):
            try:
                out[name] = ("ok", getattr(idx, method)(*args))
            except (TypeError, ValueError) as exc:
                out[name] = (type(exc), str(exc))
        assert out["cy"] == out["ref"], f"{method}{args!r}: ref {out['ref']!r}, cython {out['cy']!r}"
        return out["ref"][1] if out["ref"][0] == "ok" else _MISSING

    def contains(self, key: object) -> bool:
        r = key in self.ref
        assert (key in self.cy) is r, f"{key!r} in index"
        return r

    def check(self) -> None:
        self.ref.check_integrity()
        self.cy.check_integrity()
        assert len(self.cy) == len(self.ref)
        assert self.cy.state_hash() == self.ref.state_hash()

    def check_full(self) -> None:
        self.check()
        assert self.cy.entries() == self.ref.entries()


# Small values collide often (ties on trigger, equality with the price); large ones probe int64 ends.
KEYS = st.one_of(st.integers(0, 24), st.sampled_from([INT64_MIN, -1, 2**62, INT64_MAX]))
VALUES = st.one_of(st.integers(-3, 40), st.integers(INT64_MIN, INT64_MAX), st.sampled_from([INT64_MIN, INT64_MAX]))
# Prices: also beyond int64 (compared exactly by both) and integer-likes (bool).
PRICES = st.one_of(VALUES, st.sampled_from([INT64_MIN - 1, INT64_MAX + 1, -(2**70), 2**70, True, False]))
DIRECTIONS = st.sampled_from([LONG, SHORT])
# Anything a caller might wrongly pass: every one must fail (or be looked up) identically.
ODD = st.sampled_from([0, 2, -2, True, False, 1.0, -1.0, 1.5, None, "1", b"1", INT64_MAX + 1, INT64_MIN - 1, 2**70])
EDGES = st.lists(st.one_of(st.integers(0, 2 * PPM), st.sampled_from([0, PPM, 10**30])), max_size=5)


class LiquidationIndexTwinMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.twins = TwinIndexes()

    def _keys(self) -> list[int]:
        return [k for k, _, _ in self.twins.ref.entries()]

    @rule(key=KEYS, direction=DIRECTIONS, trigger=VALUES)
    def upsert(self, key: int, direction: int, trigger: int) -> None:
        self.twins.do("upsert", key, direction, trigger)

    @precondition(lambda self: len(self.twins.ref) > 0)
    @rule(data=st.data(), direction=DIRECTIONS, shift=st.integers(-3, 3))
    def move_existing(self, data: st.DataObject, direction: int, shift: int) -> None:
        """Move a present entry a little (or not at all), possibly flipping its direction."""
        key = data.draw(st.sampled_from(self._keys()))
        _, trigger = self.twins.ref.get(key)
        self.twins.do("upsert", key, direction, max(INT64_MIN, min(INT64_MAX, trigger + shift)))

    @rule(key=KEYS, direction=DIRECTIONS)
    def upsert_none(self, key: int, direction: int) -> None:
        self.twins.do("upsert", key, direction, None)

    @rule(key=st.one_of(KEYS, ODD), direction=st.one_of(DIRECTIONS, ODD), trigger=st.one_of(VALUES, ODD))
    def upsert_odd(self, key: object, direction: object, trigger: object) -> None:
        self.twins.do("upsert", key, direction, trigger)

    @rule(key=st.one_of(KEYS, ODD))
    def remove(self, key: object) -> None:
        self.twins.do("remove", key)

    @rule(price=PRICES)
    def query(self, price: int) -> None:
        self._queries(price)

    @precondition(lambda self: len(self.twins.ref) > 0)
    @rule(data=st.data(), offset=st.integers(-1, 1))
    def query_at_trigger(self, data: st.DataObject, offset: int) -> None:
        """Prices exactly at, just below and just above an existing trigger (also past int64)."""
        _, _, trigger = data.draw(st.sampled_from(self.twins.ref.entries()))
        self._queries(trigger + offset)

    @rule(price=st.one_of(st.integers(-40, 40), PRICES), edges=EDGES)
    def query_buckets(self, price: int, edges: list[int]) -> None:
        self.twins.do("buckets", price, edges)

    @rule(price=st.one_of(PRICES, ODD), edges=st.one_of(EDGES, st.lists(st.one_of(st.integers(0, PPM), ODD))))
    def query_odd(self, price: object, edges: list[object]) -> None:
        self.twins.do("triggered", price)
        self.twins.do("nearest", price)
        self.twins.do("buckets", price, edges)

    @rule(key=st.one_of(KEYS, ODD))
    def lookup(self, key: object) -> None:
        self.twins.do("get", key)
        self.twins.contains(key)

    def _queries(self, price: int) -> None:
        before = self.twins.ref.state_hash()
        self.twins.do("triggered", price)
        self.twins.do("nearest", price)
        self.twins.do("buckets", price, [0, 1, 10_000, PPM])
        assert self.twins.cy.state_hash() == before  # queries never change the index

    @invariant()
    def agree(self) -> None:
        self.twins.check_full()


LiquidationIndexTwinMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=60, deadline=None)
TestLiquidationIndexTwin = LiquidationIndexTwinMachine.TestCase


def test_seeded_200k_random_operations() -> None:
    """200,000 seeded operations around a random-walking mark, as the engine drives the index:
    every result compared, integrity and state_hash every 1,000 operations and at the end."""
    rng = random.Random(20240611)
    twins = TwinIndexes()
    n_keys, mark = 3_000, 1_000_000
    edges = [0, 1_000, 10_000, 50_000, 10**30]
    fired = 0
    for step in range(200_000):
        mark += rng.randint(-300, 300)
        r = rng.random()
        key = rng.randrange(n_keys)
        if r < 0.45:
            direction = rng.choice((LONG, SHORT))
            spread = rng.choice((100, 2_000, 50_000))
            trigger = mark - direction * rng.randint(-10, spread)  # longs below, shorts above, a few crossed
            twins.do("upsert", key, direction, trigger)
        elif r < 0.50:
            twins.do("upsert", key, rng.choice((LONG, SHORT)), None)
        elif r < 0.55:
            twins.do("remove", key)
        elif r < 0.80:
            hit = twins.do("triggered", mark)
            fired += len(hit)
            for k in hit[: rng.randint(0, 3)]:  # the engine liquidates some of them
                twins.do("remove", k)
        elif r < 0.88:
            twins.do("nearest", mark + rng.randint(-5_000, 5_000))
        elif r < 0.92:
            twins.do("buckets", mark, rng.sample(edges, rng.randint(1, len(edges))))
        elif r < 0.97:
            twins.do("get", key)
            twins.contains(key)
        elif r < 0.985:
            extreme = rng.choice((INT64_MIN, INT64_MAX, INT64_MIN - 1, INT64_MAX + 1, 0))
            twins.do("triggered", extreme)
            twins.do("nearest", extreme)
            twins.do("upsert", key, rng.choice((LONG, SHORT)), rng.choice((INT64_MIN, INT64_MAX)))
        else:
            twins.do("upsert", rng.choice((key, 1.0, True, 2**64)), rng.choice((LONG, 0, 2)), rng.choice((mark, 1.5)))
        if step % 1_000 == 999:
            twins.check()
    twins.check_full()
    assert fired > 0 and len(twins.ref) > 0  # the workload exercised crossings and kept entries
