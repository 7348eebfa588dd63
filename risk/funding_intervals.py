"""The funding interval grid (venue-mechanics §2.1): funding times, and the premium index sampled
on a fixed grid and averaged over each interval into the P̄ its funding rate is computed from.

Units: rates scaled by RATE_SCALE, time in integer nanoseconds; an interval must divide a day,
so the grid of funding times restarts at every UTC midnight.

Rounding: the premium's average is a reference rate (neither side of a payment is favoured by
it), rounded to the nearest 1e-8 with ties to even.
"""

from __future__ import annotations

from typing import NamedTuple

from perpsim.risk.units import div_nearest

NS_PER_HOUR = 3600 * 10**9
NS_PER_DAY = 24 * NS_PER_HOUR

FUNDING_INTERVAL_NS = 8 * NS_PER_HOUR
"""Default funding interval (Binance; 4, 2 and 1 h exist per symbol)."""

PREMIUM_SAMPLE_NS = 5 * 10**9
"""Binance samples the premium every 5 s: 5,760 samples per 8 h."""

WEIGHTINGS = ("mean", "linear")


def next_funding_ts(ts: int, interval_ns: int = FUNDING_INTERVAL_NS) -> int:
    """The first funding time strictly after ``ts`` (ns): the next multiple of ``interval_ns``
    since the UTC epoch, so an 8 h interval gives 00:00, 08:00 and 16:00 UTC. At exactly a
    funding time this is the following one (the funding at ``ts`` itself is due now).
    ``interval_ns`` must divide a day so that the grid restarts at every UTC midnight."""
    check_interval(interval_ns)
    return (ts // interval_ns + 1) * interval_ns


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
        check_interval(interval_ns)
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
        """Length of a funding interval (ns)."""
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
        return div_nearest(self._sum_wp, self._sum_w)

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


def check_interval(interval_ns: int) -> None:
    """Raise ValueError unless ``interval_ns`` is > 0 and divides a day (a funding interval)."""
    if interval_ns <= 0 or NS_PER_DAY % interval_ns:
        raise ValueError(f"funding interval {interval_ns} ns must be > 0 and divide a day")
