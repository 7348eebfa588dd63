"""The risk layer's integer divisions against exact rational arithmetic."""

from __future__ import annotations

import math
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from perpsim.risk.units import div_down, div_nearest, div_up

numerators = st.integers(min_value=-(10**30), max_value=10**30)
denominators = st.integers(min_value=1, max_value=10**20)


@given(numerators, denominators)
def test_the_three_divisions_round_as_they_say(a: int, b: int) -> None:
    exact = Fraction(a, b)
    assert div_up(a, b) == math.ceil(exact)
    assert div_down(a, b) == math.floor(exact)
    assert div_nearest(a, b) == round(exact)  # Fraction.__round__: nearest, ties to even


def test_ties_go_to_the_even_neighbour() -> None:
    assert [div_nearest(a, 2) for a in (-5, -3, -1, 1, 3, 5)] == [-2, -2, 0, 0, 2, 2]
    assert [div_nearest(a, 4) for a in (-7, -6, -5, 5, 6, 7)] == [-2, -2, -1, 1, 2, 2]
