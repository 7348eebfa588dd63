"""Leverage spikes: the robust z-score against the market's recent changes, by hand; a quiet
history raises nothing, a crowd jumping from 5x to 40x is flagged; flags expire."""

from __future__ import annotations

import random

import pytest

from perpsim.venue.signals.anomaly import LeverageSpikes, median

S = 10**9


def _detector() -> LeverageSpikes:
    return LeverageSpikes(window=64, z_threshold=6.0, min_jump=10.0, min_level=20.0, mad_floor=1.0, hold_ns=300 * S)


def test_median_and_baseline_by_hand() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0 and median([4.0, 1.0, 2.0, 3.0]) == 2.5
    d = _detector()
    d.changes.extend([1.0, 2.0, 3.0, 4.0, 100.0])  # median 3, |x − 3| = 2 1 0 1 97: MAD 1
    assert d.baseline() == (3.0, pytest.approx(1.4826))
    d.changes.clear()
    d.changes.extend([5.0] * 10)  # no spread: the floor
    assert d.baseline() == (5.0, 1.0)


def test_quiet_changes_raise_nothing() -> None:
    d = _detector()
    r = random.Random(7)
    ts = 0
    for _ in range(200):
        ts += S
        levels = [(a, r.uniform(2, 12), 1) for a in range(1, 40) if r.random() < 0.2]
        assert d.step(ts, levels) == []
    assert d.active(ts) == []


def test_a_crowd_from_5x_to_40x_is_flagged_then_expires() -> None:
    d = _detector()
    d.step(S, [(a, 5.0, 1) for a in range(1, 11)])  # everyone opens at 5x: a jump of 5, below min_jump
    flags = d.step(2 * S, [(a, 40.0, 1) for a in (3, 4, 5)] + [(7, 6.0, -1)])
    assert [f.account for f in flags] == [3, 4, 5]
    f = flags[0]
    assert (f.before, f.after) == (5.0, 40.0)
    assert f.z == pytest.approx((35.0 - 5.0) / 1.0)  # baseline: ten changes of 5, MAD 0 -> floor 1
    assert [x.account for x in d.active(2 * S + 299 * S)] == [3, 4, 5]
    assert d.active(2 * S + 300 * S) == []


def test_same_steps_same_flags() -> None:
    def run():
        d, r, out = _detector(), random.Random(3), []
        for t in range(1, 300):
            lv = [(a, r.choice([3.0, 5.0, 8.0, 45.0 if t == 150 else 6.0]), 1) for a in range(1, 6)]
            out += [(f.account, f.ts, round(f.z, 9)) for f in d.step(t * S, lv)]
        return out

    assert run() == run()
