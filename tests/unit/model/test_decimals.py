"""The exact decimal <-> integer edge (model/decimals.py): every function against Fraction
arithmetic on random decimals, and by hand at the edges (signs, ties, huge exponents)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perpsim.model import decimals as dm
from perpsim.model.decimals import Round

decimals = st.builds(lambda n, e: dm.scaled(n, e), st.integers(-10**30, 10**30), st.integers(-30, 30))
steps = st.builds(lambda n, e: dm.scaled(n, e), st.integers(1, 10**6), st.integers(-12, 4))


@given(decimals)
def test_int_exp_and_scaled_take_a_decimal_apart_exactly(d):
    n, e = dm.int_exp(d)
    assert Fraction(n) * Fraction(10) ** e == Fraction(d)
    assert dm.scaled(n, e) == d and dm.scaled(n, e).as_tuple().exponent == e


@given(decimals)
def test_canonical_keeps_the_value_and_drops_trailing_zeros(d):
    c = dm.canonical(d)
    n, e = dm.int_exp(c)
    assert c == d and e <= 0 and (e == 0 or n % 10 != 0)
    assert dm.places(c) <= max(0, -dm.int_exp(d)[1])


@given(decimals, steps)
def test_is_multiple_and_steps_agree_with_fractions(d, step):
    q = Fraction(d) / Fraction(step)
    assert dm.is_multiple(d, step) == (q.denominator == 1)
    if q.denominator == 1:
        assert dm.steps(d, step) == q
    else:
        with pytest.raises(ValueError):
            dm.steps(d, step)


@given(decimals, st.integers(0, 40))
def test_to_int_is_exact_or_refuses(d, places):
    x = Fraction(d) * 10**places
    if x.denominator == 1:
        assert dm.to_int(d, places) == x
    else:
        with pytest.raises(ValueError):
            dm.to_int(d, places)


@given(decimals)
def test_exact_decimal_inverts_fraction(d):
    assert dm.exact_decimal(Fraction(d)) == d and dm.exact_decimal(Fraction(d)) == dm.canonical(d)


def test_exact_decimal_refuses_a_fraction_with_no_finite_decimal():
    assert dm.exact_decimal(Fraction(3, 8)) == Decimal("0.375")
    with pytest.raises(ValueError):
        dm.exact_decimal(Fraction(1, 3))


@pytest.mark.parametrize(("x", "how", "out"), [
    (Fraction(125, 100), Round.CEILING, "1.3"), (Fraction(125, 100), Round.FLOOR, "1.2"),
    (Fraction(125, 100), Round.DOWN, "1.2"), (Fraction(125, 100), Round.HALF_EVEN, "1.2"),
    (Fraction(-125, 100), Round.CEILING, "-1.2"), (Fraction(-125, 100), Round.FLOOR, "-1.3"),
    (Fraction(-125, 100), Round.DOWN, "-1.2"), (Fraction(-135, 100), Round.HALF_EVEN, "-1.4"),
    (Fraction(1, 3), Round.CEILING, "0.4"), (7, Round.FLOOR, "7.0"),
])
def test_round_to_step_by_hand(x, how, out):
    r = dm.round_to_step(x, Decimal("0.1"), how)
    assert str(r) == out  # the step's exponent: one decimal place


@given(st.fractions(max_denominator=10**6), steps)
def test_round_to_step_brackets_the_value(x, step):
    lo, hi = dm.round_to_step(x, step, Round.FLOOR), dm.round_to_step(x, step, Round.CEILING)
    assert Fraction(lo) <= x <= Fraction(hi) and Fraction(hi) - Fraction(lo) in (0, Fraction(step))
    assert abs(Fraction(dm.round_to_step(x, step, Round.DOWN))) <= abs(x)
    assert abs(Fraction(dm.round_to_step(x, step, Round.HALF_EVEN)) - x) <= Fraction(step) / 2


def test_huge_exponents_are_decided_without_building_the_power():
    assert dm.is_multiple(Decimal("1e999999999"), Decimal("0.1"))
    assert not dm.is_multiple(Decimal("1e-999999999"), Decimal("0.1"))
    assert dm.is_multiple(Decimal("0e-999999999"), Decimal("0.1"))


@pytest.mark.parametrize("bad", [0.1, True, None, [1]])
def test_inexact_or_foreign_inputs_are_refused(bad):
    with pytest.raises(TypeError, match="price"):
        dm.refuse_inexact(bad, "price")
    for good in ("0.1", 1, Decimal("0.1")):
        dm.refuse_inexact(good, "price")
