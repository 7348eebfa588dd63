"""Hyperliquid's mark price (`MarkForm.HYPERLIQUID`), in integer ticks.

Source: https://hyperliquid.gitbook.io/hyperliquid-docs/trading/robust-price-indices. The mark is the
median of (1) the oracle plus a 150-second EMA of (Hyperliquid mid − oracle), (2) the median of best
bid, best ask and last trade, (3) the median of Binance, OKX and Bybit perp mids; "If exactly two out
of the three inputs above exist, the 30 second EMA of" (2) "is also added to the median inputs". EMA of
a sample taken t after the previous update: numerator → numerator·exp(−t/τ) + sample·t, denominator →
denominator·exp(−t/τ) + t, ema = numerator / denominator (τ = 150 s, resp. 30 s). The oracle and the
mark are published about every 3 s.

Here the oracle is the market's index (SetIndexPrice). This venue has no CEX perp mids, so (3) never
exists, and with (1) and (2) the mark is median((1), (2), (4)), (4) the 30-s EMA of (2).

Sampling. EMA samples sit on a fixed grid, multiples of `MARK_SAMPLE_NS` (3 s) since the epoch, the
analogue of the 3-s oracle publications: ``sample(ts, …)`` updates both EMAs at every grid point g with
last_ts < g ≤ ts with the inputs given, which the engine passes as they stood during the whole gap
(it samples *before* applying the command stamped ``ts``). So t is 3 s and the decay per step a
constant, exp(−3/150) or exp(−3/30), held as an integer `DECAY_SCALE` (10**18) fixed point rounded
down: `DECAY_150`, `DECAY_30`. The weight t is counted in grid steps (one step = `DECAY_SCALE`): the
formula's ratio does not depend on the time unit.

Integers and rounding. numerator and denominator are integers scaled by DECAY_SCALE; each decay is
``x * DECAY // DECAY_SCALE``, rounded down (toward −∞). The (1)-sample is twice (mid − oracle),
``bid + ask − 2 × oracle``, an integer; the (2)-sample is an integer tick. The components are exact
fractions; only the median is rounded, to the nearest tick, ties to even (as `MarkPrice`).

Missing inputs. A grid point without an index or either book side adds no (1)-sample; without a bid,
an ask or a last trade, no (2)-sample. The EMA is then not updated, and its next update is the
published formula with t = the time since its last update (k steps: decay applied k times, weight k),
so data older than the gap keeps only the weight the formula gives it. Before any (1)-sample the EMA
of the difference is taken as 0: (1) is the oracle itself, so the mark starts at the index. (2)
exists with a bid, an ask and a last trade (the median of three); on a one-sided book or before the
first trade it is absent and the mark is (1) alone: a thin book cannot move it. (4) exists once it
has a sample; while (1) and (2) exist without it (the first 3 s of a two-sided traded book), the
median of two is their mean. Without an index there is no mark (None; the engine keeps the last).

Publication. "Mark price is updated whenever validators publish new oracle prices"
(robust-price-indices) and "The validators are responsible for publishing spot oracle prices for each
perp asset every 3 seconds" (https://hyperliquid.gitbook.io/hyperliquid-docs/hypercore/oracle). So the
mark in force (`held`) is the one computed at the last grid point, from the inputs that stood there
(those ``sample`` is given, after its EMA updates), and it holds until the next grid point whatever the
book, the last trade or the index do meanwhile: margin, uPnL and liquidation triggers see it (funding is
paid on the oracle, the index, as the profile says). A grid point without a live index publishes
nothing (the mark holds). Before the first grid point the market's first mark is computed from the
inputs of the moment it is first asked for (the oracle's first publication) and held likewise.
"""

from __future__ import annotations

from fractions import Fraction

MARK_SAMPLE_NS = 3 * 10**9
"""Grid of the EMA samples: the oracle's (and the mark's) ~3-s publication interval."""

DECAY_SCALE = 10**18
"""Fixed-point scale of the decay constants and of one step's weight."""

DECAY_150 = 980_198_673_306_755_302
"""floor(exp(−3 s / 150 s) × DECAY_SCALE): one 3-s step of the 150-s EMA."""

DECAY_30 = 904_837_418_035_959_573
"""floor(exp(−3 s / 30 s) × DECAY_SCALE): one 3-s step of the 30-s EMA."""


def ema_steps(num: int, den: int, idle: int, sample: int | None, points: int, decay: int) -> tuple[int, int, int]:
    """The EMA state (numerator, denominator, steps since its last update) after ``points`` grid
    points that all hold ``sample`` (None: no sample, the EMA is not updated).

    The first update comes ``idle + 1`` steps after the previous one (t = that many steps: decay
    applied that many times, weight idle + 1), each further one a step after it. Every decay rounds
    down. A step that leaves (num, den) unchanged is a fixed point of the update, so the loop stops
    there with the result of running every step."""
    if points <= 0:
        return num, den, idle
    if sample is None:
        return num, den, idle + points
    k = idle + 1
    num, den = _decayed(num, den, k, decay)
    num += sample * k * DECAY_SCALE
    den += k * DECAY_SCALE
    one = sample * DECAY_SCALE
    for _ in range(points - 1):
        n2, d2 = num * decay // DECAY_SCALE + one, den * decay // DECAY_SCALE + DECAY_SCALE
        if n2 == num and d2 == den:
            break
        num, den = n2, d2
    return num, den, 0


def _decayed(num: int, den: int, steps: int, decay: int) -> tuple[int, int]:
    """(num, den) decayed ``steps`` times, each step rounded down; stops at a fixed point."""
    for _ in range(steps):
        n2, d2 = num * decay // DECAY_SCALE, den * decay // DECAY_SCALE
        if n2 == num and d2 == den:
            break
        num, den = n2, d2
    if den == 0:  # nothing left to average: no residue of a decayed-away numerator either
        num = 0
    return num, den


def _median(values: list) -> Fraction:
    """The median: the middle value of an odd count, the mean of the middle two of an even one."""
    s = sorted(values)
    n = len(s)
    return Fraction(s[n // 2]) if n % 2 else Fraction(s[n // 2 - 1] + s[n // 2], 2)


def book_median(best_bid: int | None, best_ask: int | None, last: int | None) -> int | None:
    """(2): median(best bid, best ask, last trade) in ticks; None unless all three exist."""
    if best_bid is None or best_ask is None or last is None:
        return None
    return sorted((best_bid, best_ask, last))[1]


class HyperliquidMark:
    """Mark-price state of one perpetual under Hyperliquid's rule: the 150-s EMA of
    (mid − oracle) and the 30-s EMA of median(bid, ask, last). Same methods as `MarkPrice`."""

    __slots__ = ("_d30", "_d150", "_held", "_i30", "_i150", "_last_ts", "_n30", "_n150")

    def __init__(self, *, start_ts: int) -> None:
        """``start_ts`` (ns): the first ``sample`` call fills grid points after it."""
        self._last_ts = start_ts
        # numerator (2 × ticks × weight), denominator (weight), steps since the last update
        self._n150 = self._d150 = self._i150 = 0
        self._n30 = self._d30 = self._i30 = 0  # numerator in ticks × weight
        self._held: int | None = None  # the mark published at the last grid point (ticks)

    @property
    def last_sample_ts(self) -> int:
        """ns timestamp up to which the grid has been filled."""
        return self._last_ts

    def sample(self, ts: int, index: int | None, best_bid: int | None, best_ask: int | None,
               last: int | None) -> int:
        """Update both EMAs at every 3-s grid point in (last_sample_ts, ts] with these inputs (ticks),
        held over the whole gap, and publish the mark of the last of them (`held`); returns how many
        grid points were crossed. ``ts`` must not go back."""
        if ts < self._last_ts:
            raise ValueError(f"sample at {ts} precedes the last sample time {self._last_ts}")
        step = MARK_SAMPLE_NS
        points = ts // step - self._last_ts // step
        self._last_ts = ts
        if points == 0:
            return 0
        diff2 = None if index is None or best_bid is None or best_ask is None else best_bid + best_ask - 2 * index
        self._n150, self._d150, self._i150 = ema_steps(self._n150, self._d150, self._i150, diff2, points, DECAY_150)
        med = book_median(best_bid, best_ask, last)
        self._n30, self._d30, self._i30 = ema_steps(self._n30, self._d30, self._i30, med, points, DECAY_30)
        if index is not None:  # the oracle published: so does the mark
            self._held = self.value(ts, index, last, 0, 0, 0, best_bid, best_ask)
        return points

    def held(self, ts: int, index: int | None, last: int | None, best_bid: int | None = None,
             best_ask: int | None = None) -> int | None:
        """The mark in force at ``ts`` (ticks): the one published at the last grid point (`sample`).
        Before the first publication, the mark of these inputs (`value`), which is then held until
        the next grid point; None while there has been no index."""
        if self._held is None and index is not None:
            self._held = self.value(ts, index, last, 0, 0, 0, best_bid, best_ask)
        return self._held

    def ma_basis(self, ts: int) -> Fraction | None:
        """The 150-s EMA of (mid − oracle), exact, in ticks; None before any sample."""
        return Fraction(self._n150, 2 * self._d150) if self._d150 else None

    def book_ema(self) -> Fraction | None:
        """(4): the 30-s EMA of median(bid, ask, last), exact, in ticks; None before any sample."""
        return Fraction(self._n30, self._d30) if self._d30 else None

    def components(
        self, ts: int, index: int, last: int | None, funding_rate: int, next_funding_ts: int, interval_ns: int,
        best_bid: int | None = None, best_ask: int | None = None,
    ) -> tuple[Fraction, int | None, Fraction | None]:
        """((1), (2), (4)) exactly, in ticks; (2) is None without a bid, an ask or ``last``,
        (4) is None before its first sample. The funding terms are not inputs of this mark."""
        basis = self.ma_basis(ts)
        return index + (basis or 0), book_median(best_bid, best_ask, last), self.book_ema()

    def value(
        self, ts: int, index: int | None, last: int | None, funding_rate: int, next_funding_ts: int,
        interval_ns: int, best_bid: int | None = None, best_ask: int | None = None,
    ) -> int | None:
        """Mark price in ticks at ``ts``: the median of (1) and, when (2) exists, (2) and (4), rounded
        to the nearest tick, ties to even; None without an index. ``best_bid``/``best_ask``/``last``:
        the book and the last trade now (ticks). Call ``sample(ts, …)`` first."""
        if index is None:
            return None
        p1, p2, p4 = self.components(ts, index, last, funding_rate, next_funding_ts, interval_ns, best_bid, best_ask)
        if p2 is None:  # only (1) exists
            return round(p1)
        inputs = [p1, p2] if p4 is None else [p1, p2, p4]  # two of three exist: (4) joins
        return round(_median(inputs))  # Fraction.__round__: half to even

    def state(self) -> tuple:
        """Plain, deterministic view of the whole state (for state hashes and snapshots)."""
        return ("hyperliquid", self._last_ts, self._n150, self._d150, self._i150, self._n30, self._d30, self._i30,
                self._held)
