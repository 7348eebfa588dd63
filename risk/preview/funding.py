"""The funding rate (venue-mechanics §2) and Binance's impact margin notional.

Rounding: none for rates — the rate arithmetic of `risk.funding` is exact, and so is the
result; the impact notional is exact to 1e-8 quote, rounded down.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from perpsim.model import decimals as dm
from perpsim.risk import funding as _funding
from perpsim.risk import funding_premium as _premium
from perpsim.risk.preview.inputs import Number, parse_positive, parse_rate
from perpsim.risk.units import RATE_SCALE


def funding_rate(
    premium: Number,
    *,
    interest: Number = Decimal("0.0001"),
    clamp: Number = Decimal("0.0005"),
    cap: Number | None = None,
    floor: Number | None = None,
    interval_hours: int = 8,
    payment_hours: int | None = None,
) -> Decimal:
    """F = P̄ + clamp(I − P̄, −clamp, +clamp), then limited to [floor, cap]
    (`risk.funding.funding_rate`, §2.1; BitMEX §2.2 and Hyperliquid §2.6 use the same form).

    premium: the average premium index P̄ of the interval; interest: I per interval (0.01 %
    per 8 h); all rates as fractions, at most 8 decimals; the result is exact. payment_hours:
    the rate of one payment when the interval's rate is paid in parts (Hyperliquid pays F_8h / 8
    every hour: interval_hours=8, payment_hours=1); it must divide interval_hours."""
    f = _funding.funding_rate(
        parse_rate(premium, "premium"),
        parse_rate(interest, "interest"),
        parse_rate(clamp, "clamp"),
        None if cap is None else parse_rate(cap, "cap"),
        None if floor is None else parse_rate(floor, "floor"),
    )
    exact = Fraction(f, RATE_SCALE)
    if payment_hours is not None:
        for name, h in (("interval_hours", interval_hours), ("payment_hours", payment_hours)):
            if isinstance(h, bool) or not isinstance(h, int) or h < 1:
                raise ValueError(f"{name} must be a whole number of hours >= 1, got {h!r}")
        if interval_hours % payment_hours:
            raise ValueError(f"payment_hours {payment_hours} must divide interval_hours {interval_hours}")
        exact = exact * payment_hours / interval_hours
    try:
        return dm.exact_decimal(exact)
    except ValueError:
        raise ValueError(f"the rate per {payment_hours} h has no exact decimal form") from None


def impact_notional(initial_margin_rate: Number, impact_margin: Number = 200) -> Decimal:
    """Binance's impact margin notional IMN = impact_margin / IMR at max leverage, in quote
    (`risk.funding_premium.impact_notional`; 200 USDT / 5 % = 4,000 USDT), exact to 1e-8 (rounded down)."""
    imr = parse_rate(initial_margin_rate, "initial_margin_rate")
    if not 0 < imr <= RATE_SCALE:
        raise ValueError(f"initial_margin_rate must be in (0, 1], got {initial_margin_rate}")
    margin = parse_positive(impact_margin, "impact_margin")
    pm = dm.places(margin)
    # impact_margin in units of 10**-pm quote, money_per_quote 10**8: the result is in 10**-(pm + 8).
    units = _premium.impact_notional(imr, 10**8, dm.to_int(margin, pm))
    return dm.exact_decimal(Fraction(units, 10 ** (pm + 8)))
