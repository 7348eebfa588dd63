"""Funding of a perpetual: Binance USDⓈ-M rule (venue-mechanics §2.1) and the other venues'
forms as FundingConfig data (§2.4–§2.6).

    P  = [max(0, ImpactBid − Index) − max(0, Index − ImpactAsk)] / Index
    F  = P̄ + clamp(I − P̄, −0.05 %, +0.05 %), then clamped to [floor, cap]
    payment = position notional at mark × F; F > 0: longs pay shorts, F < 0: shorts pay longs

Units: prices in integer ticks, quantities in signed lots, money in integer units of the
settlement asset, rates scaled by RATE_SCALE, time in integer nanoseconds. ``K`` is the money
value of one lot at a price of one tick (money units per lot·tick, a positive integer), so a
notional is lots × price_ticks × K money units.

Rounding: impact prices are exact Fractions; the premium and its average are reference rates
(neither side of a payment is favoured by them), rounded to the nearest 1e-8 with ties to even;
payments round against the account: payers round up, receivers round down, and the difference is
returned as dust for the ledger to book.

Here: a market's funding rules (FundingConfig, each venue's form), the interest component and
the rate F from P̄. The premium P from the book's impact prices is in risk.funding_premium; the
interval grid, funding times and P̄ in risk.funding_intervals; the payments in
risk.funding_payments.
"""

from __future__ import annotations

from dataclasses import dataclass

from perpsim.risk.funding_intervals import FUNDING_INTERVAL_NS, NS_PER_DAY, NS_PER_HOUR, check_interval
from perpsim.risk.units import div_nearest

INTEREST_PER_DAY = 30_000
"""0.03 % per day (scaled rate): Binance's interest component, 0.01 % per 8 h."""

INTEREST_8H = 10_000
"""0.01 % (scaled rate): the interest component of an 8-hour interval."""

CLAMP = 50_000
"""±0.05 % (scaled rate): band of clamp(I − P̄); not scaled with the interval."""


#: How an interval's rate follows from its average premium P̄ (risk.venue_rules.FundingForm's values):
#: "clamped_interest" F = P̄ + clamp(I − P̄, ±clamp) (Binance, Bybit, Hyperliquid); "premium_capped"
#: F = P̄ − I, no band (OKX); "premium_plus_default" F = P̄ + I, no band (dYdX v4). Then [floor, cap].
FORMS = ("clamped_interest", "premium_capped", "premium_plus_default")
#: The price a payment's notional is taken at: the mark (Binance, Bybit, OKX) or the index, the
#: oracle price (Hyperliquid, dYdX v4).
PRICES = ("mark", "index")


@dataclass(frozen=True, slots=True)
class FundingConfig:
    """A market's funding rules (Binance /fapi/v1/fundingInfo and the venue profiles' forms).

    interval_ns: how often a payment settles (8, 4, 2 or 1 hours), the premium averaged over it;
    quoted_ns: the interval the rate is quoted for when that is longer (Hyperliquid and dYdX quote
    an 8 h rate and pay an eighth of it every hour; None: the payment interval itself); cap /
    floor: bounds of the quoted rate, scaled rates or None (no bound); interest: the interest
    per quoted interval, by default Binance's 0.03 %/day pro rata; form: one of FORMS; clamp: the
    band of clamped_interest; payment_cap: bound of each payment's rate (Hyperliquid 4 % per
    hour); price: one of PRICES."""

    interval_ns: int = FUNDING_INTERVAL_NS
    cap: int | None = None
    floor: int | None = None
    interest: int | None = None
    form: str = "clamped_interest"
    clamp: int = CLAMP
    quoted_ns: int | None = None
    payment_cap: int | None = None
    price: str = "mark"

    def __post_init__(self) -> None:
        check_interval(self.interval_ns)
        if self.form not in FORMS:
            raise ValueError(f"unknown funding form {self.form!r}; expected one of {FORMS}")
        if self.price not in PRICES:
            raise ValueError(f"unknown funding price {self.price!r}; expected one of {PRICES}")
        if self.quoted_ns is not None:
            check_interval(self.quoted_ns)
            if self.quoted_ns % self.interval_ns:
                raise ValueError("the quoted funding interval must be a whole number of payment intervals")
        if self.clamp < 0 or (self.payment_cap is not None and self.payment_cap < 0):
            raise ValueError("funding clamp and payment cap must be >= 0")
        if self.cap is not None and self.floor is not None and self.floor > self.cap:
            raise ValueError(f"floor {self.floor} exceeds cap {self.cap}")

    def rate(self, avg_premium: int) -> int:
        """The rate (scaled) one payment applies, from its interval's average premium index.

        The quoted rate is exact; a quoted interval of n payments pays rate / n, rounded to the
        nearest 1e-8, ties to even (a reference rate, as the premium is: neither side is favoured;
        each payment then rounds against its account), then bounded by ±payment_cap."""
        quoted = self.quoted_ns or self.interval_ns
        interest = self.interest_rate()
        if self.form == "clamped_interest":
            rate = funding_rate(avg_premium, interest, self.clamp, self.cap, self.floor)
        else:
            rate = avg_premium - interest if self.form == "premium_capped" else avg_premium + interest
            if self.cap is not None:
                rate = min(rate, self.cap)
            if self.floor is not None:
                rate = max(rate, self.floor)
        if quoted != self.interval_ns:
            rate = div_nearest(rate * self.interval_ns, quoted)  # nearest, ties to even
        if self.payment_cap is not None:
            rate = max(-self.payment_cap, min(self.payment_cap, rate))
        return rate

    def interest_rate(self) -> int:
        """The interest component per quoted interval (scaled 1e8): the configured one, else
        Binance's 0.03 % a day pro rata."""
        return interest_for_interval(self.quoted_ns or self.interval_ns) if self.interest is None else self.interest

    @classmethod
    def of_rule(cls, rule) -> FundingConfig:
        """The config a venue profile's funding rule (risk.venue_rules.FundingRule) runs as:
        paid every ``payment_hours``, quoted over ``interval_hours``, on the mark or the oracle
        (the index). An interest equal to Binance's pro-rata default is left as the default, so
        Binance's rule gives ``FundingConfig()`` itself."""
        pay, quoted = rule.payment_hours * NS_PER_HOUR, rule.interval_hours * NS_PER_HOUR
        interest = None if rule.interest == interest_for_interval(quoted) else rule.interest
        return cls(interval_ns=pay, cap=rule.cap, floor=rule.floor, interest=interest, form=rule.form.value,
                   clamp=rule.clamp, quoted_ns=None if quoted == pay else quoted, payment_cap=rule.payment_cap,
                   price="index" if rule.price == "oracle" else "mark")


def interest_for_interval(interval_ns: int, per_day: int = INTEREST_PER_DAY) -> int:
    """Interest component for one funding interval: per_day × interval / 24 h, as a scaled rate.

    0.03 %/day gives 0.01 % per 8 h, 0.005 % per 4 h, 0.0025 % per 2 h, 0.00125 % per 1 h. Raises
    if the result is not a whole multiple of 1e-8 (no silent rounding of a configured rate)."""
    check_interval(interval_ns)
    scaled, rest = divmod(per_day * interval_ns, NS_PER_DAY)
    if rest:
        raise ValueError(f"interest {per_day} per day is not exact over {interval_ns} ns")
    return scaled


def funding_rate(
    avg_premium: int,
    interest: int = INTEREST_8H,
    clamp: int = CLAMP,
    cap: int | None = None,
    floor: int | None = None,
) -> int:
    """F = P̄ + clamp(I − P̄, −clamp, +clamp), then limited to [floor, cap] (None: no bound).

    All arguments and the result are scaled rates; the arithmetic is exact (no rounding).
    ``interest`` is the interest of one interval (see ``interest_for_interval``)."""
    if clamp < 0:
        raise ValueError("clamp must be >= 0")
    if cap is not None and floor is not None and floor > cap:
        raise ValueError(f"floor {floor} exceeds cap {cap}")
    rate = avg_premium + min(max(interest - avg_premium, -clamp), clamp)
    if cap is not None:
        rate = min(rate, cap)
    if floor is not None:
        rate = max(rate, floor)
    return rate
