"""Volatility: the EWMA estimator, its seed, horizons and the sampling grid, by hand."""

from __future__ import annotations

import math

import pytest

from perpsim.venue.signals.volatility import HOUR_NS, EwmaVariance, MarkGrid, decay

S = 10**9


def test_lambda_from_half_life() -> None:
    assert decay(S, 1_800 * S) == pytest.approx(0.5 ** (1 / 1_800))
    assert decay(1_800 * S, 1_800 * S) == pytest.approx(0.5)  # one half-life per step halves the weight


def test_horizon_scaling_matches_the_spec_example() -> None:
    """spec: σ_1h = 0.8 % -> σ_8h = 2.263 %: σ_h = σ_Δ · sqrt(h / Δ)."""
    v = EwmaVariance(0.9, 2)
    per_step = 0.008 / math.sqrt(3_600)  # σ over one 1-s step that makes σ_1h 0.8 %
    v.var, v.n, v.seed = per_step**2, 10, None
    assert v.sigma(HOUR_NS, S) == pytest.approx(0.008)
    assert round(v.sigma(8 * HOUR_NS, S) * 100, 3) == 2.263


def test_seed_window_then_recursion_by_hand() -> None:
    lam = 0.5
    v = EwmaVariance(lam, 3)
    v.update(0.01)
    assert v.sigma(S, S) is None  # one return: no variance yet
    v.update(-0.01)
    assert v.var == pytest.approx(0.0002)  # sample variance of (0.01, -0.01), mean 0, n - 1 = 1
    v.update(0.02)
    mean = 0.02 / 3
    seed = ((0.01 - mean) ** 2 + (-0.01 - mean) ** 2 + (0.02 - mean) ** 2) / 2
    assert v.var == pytest.approx(seed)
    v.update(0.03)  # seeded: σ² = λ σ² + (1 − λ) r²
    assert v.var == pytest.approx(lam * seed + (1 - lam) * 0.03**2)
    v.zeros(2)  # two zero returns: σ² λ²
    assert v.var == pytest.approx((lam * seed + (1 - lam) * 0.03**2) * lam**2)
    assert v.n == 6


def test_zero_returns_fill_the_seed_window_one_by_one() -> None:
    a, b = EwmaVariance(0.5, 4), EwmaVariance(0.5, 4)
    a.update(0.01)
    a.zeros(5)
    b.update(0.01)
    for _ in range(5):
        b.update(0.0)
    assert a.var == pytest.approx(b.var) and a.n == b.n == 6


def test_grid_samples_the_last_mark_of_each_step_and_fills_gaps() -> None:
    steps = []
    grid = MarkGrid(["A", "B"], S, lambda returns, gap: steps.append((returns, gap)))
    grid.mark(0, "A", 100)
    grid.mark(S // 2, "A", 104)  # same step: the later mark is the step's sample
    grid.mark(S + 1, "A", 110)  # closes step 0: A has no earlier sample, B none at all
    assert steps == [([None, None], 0)]
    grid.mark(4 * S, "A", 121)  # closes step 1 (104 -> 110) and two quiet steps follow
    assert steps[1][0][0] == pytest.approx(math.log(110 / 104)) and steps[1][0][1] is None
    assert steps[1][1] == 2
    grid.advance(5 * S)  # step 4 closes: 110 -> 121
    assert steps[2][0][0] == pytest.approx(math.log(121 / 110))
