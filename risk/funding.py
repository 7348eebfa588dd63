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
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple, TypeVar

from perpsim.risk.units import RATE_SCALE, div_down

NS_PER_HOUR = 3600 * 10**9
NS_PER_DAY = 24 * NS_PER_HOUR

FUNDING_INTERVAL_NS = 8 * NS_PER_HOUR
"""Default funding interval (Binance; 4, 2 and 1 h exist per symbol)."""

PREMIUM_SAMPLE_NS = 5 * 10**9
"""Binance samples the premium every 5 s: 5,760 samples per 8 h."""

INTEREST_PER_DAY = 30_000
"""0.03 % per day (scaled rate): Binance's interest component, 0.01 % per 8 h."""

INTEREST_8H = 10_000
"""0.01 % (scaled rate): the interest component of an 8-hour interval."""

CLAMP = 50_000
"""±0.05 % (scaled rate): band of clamp(I − P̄); not scaled with the interval."""

IMPACT_MARGIN = 200
"""Binance's impact margin: IMN = 200 USDT / initial margin rate at max leverage."""

WEIGHTINGS = ("mean", "linear")


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
        _check_interval(self.interval_ns)
        if self.form not in FORMS:
            raise ValueError(f"unknown funding form {self.form!r}; expected one of {FORMS}")
        if self.price not in PRICES:
            raise ValueError(f"unknown funding price {self.price!r}; expected one of {PRICES}")
        if self.quoted_ns is not None:
            _check_interval(self.quoted_ns)
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
        interest = interest_for_interval(quoted) if self.interest is None else self.interest
        if self.form == "clamped_interest":
            rate = funding_rate(avg_premium, interest, self.clamp, self.cap, self.floor)
        else:
            rate = avg_premium - interest if self.form == "premium_capped" else avg_premium + interest
            if self.cap is not None:
                rate = min(rate, self.cap)
            if self.floor is not None:
                rate = max(rate, self.floor)
        if quoted != self.interval_ns:
            rate = round(Fraction(rate * self.interval_ns, quoted))  # nearest, ties to even
        if self.payment_cap is not None:
            rate = max(-self.payment_cap, min(self.payment_cap, rate))
        return rate

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


def next_funding_ts(ts: int, interval_ns: int = FUNDING_INTERVAL_NS) -> int:
    """The first funding time strictly after ``ts`` (ns): the next multiple of ``interval_ns``
    since the UTC epoch, so an 8 h interval gives 00:00, 08:00 and 16:00 UTC. At exactly a
    funding time this is the following one (the funding at ``ts`` itself is due now).
    ``interval_ns`` must divide a day so that the grid restarts at every UTC midnight."""
    _check_interval(interval_ns)
    return (ts // interval_ns + 1) * interval_ns


def interest_for_interval(interval_ns: int, per_day: int = INTEREST_PER_DAY) -> int:
    """Interest component for one funding interval: per_day × interval / 24 h, as a scaled rate.

    0.03 %/day gives 0.01 % per 8 h, 0.005 % per 4 h, 0.0025 % per 2 h, 0.00125 % per 1 h. Raises
    if the result is not a whole multiple of 1e-8 (no silent rounding of a configured rate)."""
    _check_interval(interval_ns)
    scaled, rest = divmod(per_day * interval_ns, NS_PER_DAY)
    if rest:
        raise ValueError(f"interest {per_day} per day is not exact over {interval_ns} ns")
    return scaled


def impact_notional(imr: int, money_per_quote: int, impact_margin: int = IMPACT_MARGIN) -> int:
    """Impact margin notional in money units: ``impact_margin`` (quote currency, 200 USDT) divided
    by ``imr``, the initial margin rate at maximum leverage (scaled rate); ``money_per_quote`` is
    the number of money units in one unit of the quote currency (10**settle_decimals).

    Rounded down to a money unit (a reference size, not an amount owed; 200 / 5 % is exact)."""
    if imr <= 0:
        raise ValueError("imr must be > 0")
    return div_down(impact_margin * money_per_quote * RATE_SCALE, imr)


def impact_price(levels: Iterable[tuple[int, int]], impact_notional_units: int, K: int) -> Fraction | None:
    """Average fill price, exact, in ticks, of a market order for ``impact_notional_units`` of
    notional (money units) against ``levels`` = [(price_ticks, lots)], best price first (bids
    descending for the impact bid, asks ascending for the impact ask). The last level touched is
    filled fractionally so the filled notional is exactly the impact notional. None when the book
    cannot fill it. ``K``: money units per lot·tick."""
    if impact_notional_units <= 0:
        raise ValueError("impact notional must be > 0")
    if K <= 0:
        raise ValueError("K must be > 0")
    remaining = impact_notional_units  # money units still to fill
    filled = Fraction(0)  # lots, exact
    for price, lots in levels:
        if price <= 0 or lots <= 0:
            raise ValueError(f"bad depth level ({price}, {lots})")
        level_notional = price * lots * K
        if level_notional >= remaining:
            filled += Fraction(remaining, price * K)
            return Fraction(impact_notional_units) / (filled * K)
        filled += lots
        remaining -= level_notional
    return None


def impact_price_contracts(levels: Iterable[tuple[int, int]], lots: int) -> Fraction | None:
    """Inverse markets: average fill price, exact, in ticks, of a market order for ``lots``
    contracts (its size is a face value in the quote currency, so it is a number of contracts).
    An inverse contract's average price is the contract-weighted harmonic mean: contracts /
    Σ (contracts_i / price_i). The last level is filled fractionally. None when the book is short."""
    if lots <= 0:
        raise ValueError("impact size must be > 0 contracts")
    remaining, coin = lots, Fraction(0)  # coin: Σ contracts / price, in contracts per tick
    for price, size in levels:
        if price <= 0 or size <= 0:
            raise ValueError(f"bad depth level ({price}, {size})")
        take = min(size, remaining)
        coin += Fraction(take, price)
        remaining -= take
        if remaining == 0:
            return lots / coin
    return None


def premium_index(impact_bid: Fraction | int | None, impact_ask: Fraction | int | None, index: int) -> int:
    """P = [max(0, ImpactBid − Index) − max(0, Index − ImpactAsk)] / Index as a scaled rate,
    rounded to the nearest 1e-8, ties to even. Prices in ticks (impact prices may be exact
    Fractions). A side the book cannot fill contributes 0, as in dYdX v4's GetPricePremium
    (a missing impact bid acts as 0, a missing impact ask as +infinity)."""
    if index <= 0:
        raise ValueError("index must be > 0")
    up = max(Fraction(0), impact_bid - index) if impact_bid is not None else Fraction(0)
    down = max(Fraction(0), index - impact_ask) if impact_ask is not None else Fraction(0)
    return round((up - down) * RATE_SCALE / index)


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


class ClosedInterval(NamedTuple):
    """A funding interval whose samples are complete."""

    funding_ts: int
    """End of the interval, ns: the funding time the average is for."""
    avg_premium: int | None
    """Average premium (scaled rate), None if no sample was recorded in the interval."""
    samples: int
    """How many grid points recorded a premium (5,760 for a full 8 h at 5 s)."""


class FundingAccumulator:
    """Averages the premium index over each funding interval.

    Samples sit on a fixed grid: multiples of ``sample_ns`` since the epoch. The interval ending
    at funding time T owns the grid points in (T − interval, T], so a full 8 h interval at 5 s has
    5,760 of them. ``sample(ts, p)`` records p at every grid point in (last call, ts]: the core
    changes state only when a command arrives, so the premium computed from the state in force
    at ``ts`` (call it *before* applying the command stamped ``ts``) held over the whole gap.
    ``p = None`` (no index, say) consumes the grid points without recording anything.

    Weighting: ``"mean"`` — every sample weighs the same, the time-weighted simple mean Binance
    describes; ``"linear"`` — the sample at position i = 1..n of the interval weighs i, as Bybit
    publishes (with ``sample_ns`` = 1 min that is Bybit's 1..480 for 8 h). Positions count grid
    points, not recorded samples, so a skipped point leaves a gap in the weights too.

    Changing the interval length (8 h → 4 h) is done with a fresh accumulator at a funding time.
    """

    __slots__ = (
        "_end",
        "_interval_ns",
        "_last_ts",
        "_n",
        "_sample_ns",
        "_sum_w",
        "_sum_wp",
        "_weighting",
    )

    def __init__(
        self,
        *,
        start_ts: int,
        interval_ns: int = FUNDING_INTERVAL_NS,
        sample_ns: int = PREMIUM_SAMPLE_NS,
        weighting: str = "mean",
    ) -> None:
        """``start_ts`` (ns): grid points after it are sampled. ``sample_ns`` must divide
        ``interval_ns``, which must divide a day."""
        _check_interval(interval_ns)
        if sample_ns <= 0 or interval_ns % sample_ns:
            raise ValueError("sample_ns must be > 0 and divide interval_ns")
        if weighting not in WEIGHTINGS:
            raise ValueError(f"unknown weighting {weighting!r}; expected one of {WEIGHTINGS}")
        self._interval_ns = interval_ns
        self._sample_ns = sample_ns
        self._weighting = weighting
        self._last_ts = start_ts
        # The interval owning the first grid point after start_ts.
        first = (start_ts // sample_ns + 1) * sample_ns
        self._end = -(-first // interval_ns) * interval_ns
        self._n = 0  # recorded samples in the open interval
        self._sum_w = 0  # Σ weights of recorded samples
        self._sum_wp = 0  # Σ weight × premium

    @property
    def interval_ns(self) -> int:
        return self._interval_ns

    @property
    def open_interval_end(self) -> int:
        """Funding time (ns) of the interval currently being sampled."""
        return self._end

    @property
    def samples(self) -> int:
        """Premium samples recorded so far in the open interval."""
        return self._n

    def sample(self, ts: int, premium: int | None) -> list[ClosedInterval]:
        """Record ``premium`` (scaled rate) at every grid point in (last call, ts]; return the
        intervals completed by this call (their funding time ≤ ts), oldest first. An interval
        completes when its last grid point, the funding time itself, has been sampled."""
        if ts < self._last_ts:
            raise ValueError(f"sample at {ts} precedes the last sample time {self._last_ts}")
        step = self._sample_ns
        first = (self._last_ts // step + 1) * step
        last = ts // step * step
        self._last_ts = ts
        closed: list[ClosedInterval] = []
        while first <= last:
            seg_end = min(last, self._end)
            if premium is not None:
                start = self._end - self._interval_ns  # exclusive
                i = (first - start) // step  # 1-based position of the first point
                j = (seg_end - start) // step  # position of the last point
                k = j - i + 1
                w = k if self._weighting == "mean" else (i + j) * k // 2  # Σ i..j
                self._n += k
                self._sum_w += w
                self._sum_wp += w * premium
            if seg_end == self._end:
                closed.append(ClosedInterval(self._end, self.average(), self._n))
                self._end += self._interval_ns
                self._n = self._sum_w = self._sum_wp = 0
            first = seg_end + step
        return closed

    def average(self) -> int | None:
        """Weighted average premium of the open interval so far (scaled rate, nearest 1e-8,
        ties to even), e.g. for a predicted funding rate; None before any sample."""
        if self._sum_w == 0:
            return None
        return round(Fraction(self._sum_wp, self._sum_w))

    def state(self) -> tuple:
        """Plain, deterministic view of the whole state (for state hashes and snapshots)."""
        return (
            self._interval_ns,
            self._sample_ns,
            self._weighting,
            self._last_ts,
            self._end,
            self._n,
            self._sum_w,
            self._sum_wp,
        )


A = TypeVar("A", bound=Hashable)


class FundingPayments(NamedTuple):
    """Balance changes of one funding settlement."""

    deltas: dict
    """account key -> signed money units added to its balance (negative: it pays)."""
    dust: int
    """Paid minus received, ≥ 0: what rounding against the accounts left over, to be booked."""


def funding_payments(positions: Mapping[A, int], mark_ticks: int, rate: int, K: int) -> FundingPayments:
    """Funding of every open position at ``mark_ticks``: exact amount = lots × mark × K × rate /
    RATE_SCALE money units; with ``rate`` > 0 longs pay and shorts receive, with ``rate`` < 0 the
    reverse. Payers' amounts round up, receivers' round down, so sum(deltas) + dust == 0 and
    0 ≤ dust < number of positions.

    ``positions`` maps an account key (e.g. an account id, or (account, side) in hedge mode) to
    signed lots; keys with 0 lots are skipped, the rest come back in sorted key order. The lots
    must sum to zero (every long has a short opposite it), which is what makes dust ≥ 0."""
    if mark_ticks <= 0:
        raise ValueError("mark must be > 0")
    if K <= 0:
        raise ValueError("K must be > 0")
    if sum(positions.values()) != 0:
        raise ValueError("positions must net to zero lots")
    deltas = {}
    for key in sorted(positions):  # type: ignore[type-var]
        lots = positions[key]
        if lots:
            deltas[key] = funding_payment(lots, mark_ticks, rate, K)
    return FundingPayments(deltas, -sum(deltas.values()))


def funding_payment(lots: int, mark_ticks: int, rate: int, K) -> int:
    """One position's funding at ``mark_ticks`` and ``rate``: signed money units added to its
    balance (negative: it pays), exactly as a settlement books it. The exact amount is
    lots × mark × K × rate / RATE_SCALE; a payer's debit rounds up, a receiver's credit down."""
    owed = lots * mark_ticks * K * rate  # > 0: the account pays, in money units × RATE_SCALE
    return div_down(-owed, RATE_SCALE)  # floor(−owed / RATE_SCALE)


def _check_interval(interval_ns: int) -> None:
    if interval_ns <= 0 or NS_PER_DAY % interval_ns:
        raise ValueError(f"funding interval {interval_ns} ns must be > 0 and divide a day")
