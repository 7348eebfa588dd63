"""Integer units of the risk layer and the two ways to divide.

* prices: integer ticks; quantities: integer lots (positions are signed lots);
* money: integer units of the settlement asset (10**-settle_decimals, see MarketSpec);
* rates (MMR, fees, funding, premium): integers scaled by RATE_SCALE, so 0.4 % = 400_000.

Every division says which way it rounds, and rounding goes against the account: amounts the
account owes (margin, fees, losses, funding paid) round up; amounts it receives round down.
"""

from __future__ import annotations

from decimal import Decimal

RATE_SCALE = 10**8


def div_up(a: int, b: int) -> int:
    """a / b rounded toward +infinity (b != 0: a short's negative lots divide too)."""
    return -((-a) // b)


def div_down(a: int, b: int) -> int:
    """a / b rounded toward -infinity (b != 0)."""
    return a // b


def div_nearest(a: int, b: int) -> int:
    """a / b to the nearest integer, ties to the even one (b > 0): round(Fraction(a, b)),
    without the Fraction (its gcd and object)."""
    q, r = divmod(a, b)  # 0 <= r < b
    if 2 * r > b or (2 * r == b and q & 1):
        q += 1
    return q


def rate(value: str | Decimal) -> int:
    """An exact decimal rate as a scaled integer; refuses rates finer than 1e-8."""
    scaled = Decimal(value) * RATE_SCALE
    if scaled != scaled.to_integral_value():
        raise ValueError(f"rate {value} is finer than 1e-8")
    return int(scaled)


def apply_rate_up(amount: int, r: int) -> int:
    """amount × r / RATE_SCALE, rounded up (what the account owes)."""
    return div_up(amount * r, RATE_SCALE)


def apply_rate_down(amount: int, r: int) -> int:
    """amount × r / RATE_SCALE, rounded down (what the account receives)."""
    return div_down(amount * r, RATE_SCALE)
