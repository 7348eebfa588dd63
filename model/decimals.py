"""The exact edge between decimals and integers: one family of functions for every module that
turns a decimal text or Decimal into integer units (ticks, lots, money units) and back.

Everything here is exact: no Decimal context is used (so no silent rounding at 28 digits), a
value is taken apart as n × 10**e with integers, and rounding happens only where a function
says so, in the direction it is told.

  int_exp(d) -> (n, e)        d == n × 10**e
  scaled(n, e) -> Decimal     n × 10**e with exactly that exponent
  places(d) -> int            fractional digits of d as written (0.10 -> 2, 5 -> 0)
  canonical(d) -> Decimal     the same value without trailing fractional zeros or a positive exponent
  is_multiple(d, step)        d is an integer multiple of step (step > 0), even for huge exponents
  steps(d, step) -> int       d / step for a d known to be a multiple
  to_int(d, places) -> int    d × 10**places, which must be an integer (ValueError otherwise)
  exact_decimal(f) -> Decimal a Fraction with a power-of-ten denominator, canonical
  round_to_step(f, step, how) a Fraction rounded to a multiple of step (Round: CEILING, FLOOR,
                              DOWN toward zero, HALF_EVEN)
  refuse_inexact(value, field) the TypeError for a float, a bool or a non-number input
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

__all__ = ["Round", "canonical", "exact_decimal", "int_exp", "is_multiple", "places", "refuse_inexact",
           "round_to_step", "scaled", "steps", "to_int"]


class Round(StrEnum):
    """How `round_to_step` rounds: up, down, toward zero, or to the nearest (ties to even)."""

    CEILING = "ceiling"
    FLOOR = "floor"
    DOWN = "down"
    HALF_EVEN = "half_even"


_ROUND: dict[Round, Callable[[Fraction], int]] = {
    Round.CEILING: math.ceil, Round.FLOOR: math.floor, Round.DOWN: math.trunc, Round.HALF_EVEN: round}


def refuse_inexact(value: object, field: str) -> None:
    """Raise TypeError unless `value` is a str, an int (not a bool) or a Decimal: a float is not
    an exact decimal, and is refused with a message that says so."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        if isinstance(value, float):
            raise TypeError(f"{field}: float {value!r} refused, it is not an exact decimal; pass a str or Decimal")
        raise TypeError(f"{field}: expected str, int or Decimal, got {type(value).__name__}")


def int_exp(number: Decimal) -> tuple[int, int]:
    """(n, e) with number == n × 10**e exactly (a finite number)."""
    sign, digits, exp = number.as_tuple()
    n = 0
    for digit in digits:
        n = n * 10 + digit
    assert isinstance(exp, int), "finite numbers only"
    return (-n if sign else n), exp


def scaled(n: int, exp: int) -> Decimal:
    """n × 10**exp as a Decimal with exactly that exponent (no context, no rounding)."""
    sign, digits, _ = Decimal(n).as_tuple()
    return Decimal((sign, digits, exp))


def places(number: Decimal) -> int:
    """Fractional digits of `number` as written: 0.10 -> 2, 0.001 -> 3, 5 -> 0, 1E+2 -> 0."""
    exp = number.as_tuple().exponent
    assert isinstance(exp, int), "finite numbers only"
    return max(0, -exp)


def canonical(number: Decimal) -> Decimal:
    """The same value without trailing fractional zeros and without a positive exponent
    ("0.10" -> "0.1", "1E+2" -> "100"), so that digit counts and reprs are stable."""
    if number == 0:
        return Decimal(0)
    n, exp = int_exp(number)
    while exp < 0 and n % 10 == 0:
        n //= 10
        exp += 1
    if exp > 0:
        n *= 10**exp
        exp = 0
    return scaled(n, exp)


def is_multiple(number: Decimal, step: Decimal) -> bool:
    """Whether number is an integer multiple of step (step > 0), exactly.

    Never builds 10**exponent for a huge exponent: "1e999999999" is decided with modular
    exponentiation, and a tiny non-zero value is off the grid without arithmetic."""
    vn, ve = int_exp(number)
    sn, se = int_exp(step)
    k = ve - se  # number / step == vn × 10**k / sn
    if k >= 0:
        return vn * pow(10, k, sn) % sn == 0
    if vn == 0:
        return True
    if -k >= len(str(abs(vn))):  # 10**-k > |vn| > 0, so sn × 10**-k cannot divide vn
        return False
    return vn % (sn * 10**-k) == 0


def steps(number: Decimal, step: Decimal) -> int:
    """number / step for a number already known to be a bounded multiple of step (`is_multiple`)."""
    vn, ve = int_exp(number)
    sn, se = int_exp(step)
    k = ve - se
    scaled_n, divisor = (vn * 10**k, sn) if k >= 0 else (vn, sn * 10**-k)
    quotient, remainder = divmod(scaled_n, divisor)
    if remainder:
        raise ValueError(f"{number} is not a multiple of {step}")
    return quotient


def to_int(number: Decimal, places: int) -> int:
    """number × 10**places, exact; ValueError if that is not an integer (more digits than
    `places`)."""
    n, e = int_exp(number)
    if e + places >= 0:
        return n * 10 ** (e + places)
    q, r = divmod(n, 10 ** -(e + places))
    if r:
        raise ValueError(f"{number} has more than {places} decimal places")
    return q


def exact_decimal(x: Fraction) -> Decimal:
    """A Fraction whose denominator divides a power of ten, as the exact canonical Decimal;
    ValueError for one that has no finite decimal form (1/3)."""
    den, k = x.denominator, 0
    while den % 10 == 0:
        den, k = den // 10, k + 1
    while den != 1:
        if den % 2 == 0:
            den //= 2
        elif den % 5 == 0:
            den //= 5
        else:
            raise ValueError(f"{x} has no exact decimal form")
        k += 1
    n = x.numerator * 10**k // x.denominator
    while k > 0 and n % 10 == 0:
        n, k = n // 10, k - 1
    return scaled(n, -k)


def round_to_step(x: Fraction | int, step: Decimal, how: Round) -> Decimal:
    """x rounded to a multiple of `step` (> 0) in the direction `how`, as a Decimal with the
    step's exponent."""
    sn, se = int_exp(step)
    return scaled(_ROUND[how](Fraction(x) / Fraction(step)) * sn, se)
