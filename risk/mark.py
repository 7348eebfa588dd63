"""Mark price of a perpetual: Binance USDⓈ-M rule (venue-mechanics §1.1), and the oracle mark.

Three forms (`MarkForm`), chosen by the venue profile (risk.profiles, ``mark_form``) and built
by `mark_state_for`:

- MEDIAN (Binance, Bybit, OKX here): `MarkPrice`, below.
- ORACLE (dYdX v4): `OracleMark`, the mark is the index (the oracle price) itself.
- HYPERLIQUID: `HyperliquidMark` (risk.hyperliquid_mark), median of the oracle plus a 150-s EMA of
  (mid − oracle), median(bid, ask, last) and a 30-s EMA of the latter.

Every form has the same methods; ``sample`` also takes the last trade price and ``value`` the
best bid and ask, which only the Hyperliquid form reads.

    mark   = median(price1, price2, last)
    price1 = index × (1 + funding_rate × time_until_funding / funding_interval)
    price2 = index + MA(basis),  basis = (bid1 + ask1) / 2 − index

Units: prices in integer ticks, rates scaled by RATE_SCALE, time in integer nanoseconds.

Basis sampling. Samples sit on a fixed grid: multiples of ``basis_sample_ns`` since the epoch.
``sample(ts, …)`` records the given basis at every grid point g with last_ts < g ≤ ts. The core
changes state only when a command arrives, so the book and index passed in at ``ts`` are the ones
that were in force during the whole gap since the previous call: a gap is filled by holding that
value (call ``sample`` *before* applying the command stamped ``ts``). Grid points at which the
index or either side of the book is missing are skipped, and the moving average is the mean of
the samples that exist in the window (Σ basis / count, not / the nominal window size).

Rounding: the mark is a reference price, not an amount owed by or to an account; components are
kept exact (Fraction) and only the median is rounded, to the nearest tick, ties to even.

Missing components: without an index there is no mark (None; the caller keeps the previous one).
Without a last trade price or without basis samples in the window, the mark is price1 alone:
price1 depends only on the index and the announced funding rate, so a thin or one-sided book
or a single stray first trade cannot move the mark (the median of two would be their mean).
"""

from __future__ import annotations

from collections import deque
from enum import Enum
from fractions import Fraction

from perpsim.risk.hyperliquid_mark import HyperliquidMark
from perpsim.risk.units import RATE_SCALE

__all__ = ["BASIS_SAMPLE_NS", "BASIS_WINDOW_NS", "HyperliquidMark", "MarkForm", "MarkPrice", "OracleMark",
           "funding_basis_price", "mark_state_for"]

BASIS_SAMPLE_NS = 5 * 10**9
"""Basis sampled every 5 s (Binance-family text; Bybit samples every second)."""

BASIS_WINDOW_NS = 5 * 60 * 10**9
"""USDⓈ-M "5-minute basis" moving average."""


def funding_basis_price(index: int, funding_rate: int, ts: int, next_funding_ts: int,
                        interval_ns: int) -> Fraction | int:
    """price1 = index × (1 + funding_rate × (next_funding_ts − ts) / interval_ns), exact, in ticks.

    ``index`` in ticks, ``funding_rate`` scaled by RATE_SCALE, times in ns; requires
    0 ≤ next_funding_ts − ts ≤ interval_ns."""
    if interval_ns <= 0:
        raise ValueError("interval_ns must be > 0")
    until = next_funding_ts - ts
    if not 0 <= until <= interval_ns:
        raise ValueError(f"time until funding {until} ns is outside [0, {interval_ns}]")
    scale = RATE_SCALE * interval_ns
    if funding_rate == 0:  # the common case: price1 is the index itself
        return index
    return Fraction(index * (scale + funding_rate * until), scale)


class MarkPrice:
    """Mark-price state of one perpetual: the basis samples of the moving-average window."""

    __slots__ = ("_last_ts", "_ma", "_sample_ns", "_samples", "_window_ns")

    def __init__(
        self,
        *,
        start_ts: int,
        basis_sample_ns: int = BASIS_SAMPLE_NS,
        basis_window_ns: int = BASIS_WINDOW_NS,
    ) -> None:
        """``start_ts`` (ns) is when the market starts; the first ``sample`` call fills grid points
        after it. ``basis_window_ns`` must be a positive multiple of ``basis_sample_ns``."""
        if basis_sample_ns <= 0 or basis_window_ns <= 0 or basis_window_ns % basis_sample_ns:
            raise ValueError("basis_window_ns must be a positive multiple of basis_sample_ns > 0")
        self._sample_ns = basis_sample_ns
        self._window_ns = basis_window_ns
        self._last_ts = start_ts
        # (grid_ts, 2 × basis in ticks): twice the basis is an integer, so samples stay exact.
        self._samples: deque[tuple[int, int]] = deque(maxlen=basis_window_ns // basis_sample_ns)
        # (ts // basis_sample_ns, the moving average then): samples sit on the grid, so the
        # average can only change when ts reaches another grid step or a sample is added
        self._ma: tuple[int, Fraction | None] | None = None

    @property
    def last_sample_ts(self) -> int:
        """ns timestamp up to which the grid has been filled."""
        return self._last_ts

    def sample(self, ts: int, index: int | None, best_bid: int | None, best_ask: int | None,
               last: int | None = None) -> int:
        """Record basis = (best_bid + best_ask)/2 − index (all ticks) at every grid point in
        (last_sample_ts, ts]; returns how many grid points were crossed. A missing input skips
        those grid points. ``ts`` must not go back in time. ``last`` is not an input here."""
        if ts < self._last_ts:
            raise ValueError(f"sample at {ts} precedes the last sample time {self._last_ts}")
        step = self._sample_ns
        first = (self._last_ts // step + 1) * step  # first grid point after the last call
        last = ts // step * step
        self._last_ts = ts
        if first > last:
            return 0
        crossed = (last - first) // step + 1
        if index is None or best_bid is None or best_ask is None:
            return crossed
        twice_basis = best_bid + best_ask - 2 * index
        # Only the newest maxlen points can still be in the window; older ones would be evicted.
        maxlen = self._samples.maxlen or 0
        for g in range(max(first, last - (maxlen - 1) * step), last + 1, step):
            self._samples.append((g, twice_basis))
        self._ma = None
        return crossed

    def ma_basis(self, ts: int) -> Fraction | None:
        """Mean basis (exact, ticks) of the samples at grid points in (ts − window, ts];
        None when there is none."""
        step = ts // self._sample_ns
        if self._ma is not None and self._ma[0] == step:
            return self._ma[1]
        lo = ts - self._window_ns
        window = [b for g, b in self._samples if lo < g <= ts]
        ma = Fraction(sum(window), 2 * len(window)) if window else None
        self._ma = (step, ma)
        return ma

    def components(
        self, ts: int, index: int, last: int | None, funding_rate: int, next_funding_ts: int, interval_ns: int
    ) -> tuple[Fraction, Fraction | None, int | None]:
        """(price1, price2, last) exactly, in ticks; price2 is None without basis samples."""
        price1 = funding_basis_price(index, funding_rate, ts, next_funding_ts, interval_ns)
        ma = self.ma_basis(ts)
        price2 = None if ma is None else index + ma
        return price1, price2, last

    def value(
        self,
        ts: int,
        index: int | None,
        last: int | None,
        funding_rate: int,
        next_funding_ts: int,
        interval_ns: int,
        best_bid: int | None = None,
        best_ask: int | None = None,
    ) -> int | None:
        """Mark price in ticks at ``ts``: median(price1, price2, last) rounded to the nearest tick,
        ties to even; price1 alone when price2 or ``last`` is missing; None without an index. The
        current ``best_bid``/``best_ask`` are not inputs here (the basis samples are).

        ``index`` and ``last`` in ticks; ``funding_rate`` (the current/predicted rate, scaled by
        RATE_SCALE) applies until ``next_funding_ts`` (ns) of an interval of ``interval_ns``.
        Call ``sample(ts, …)`` first so the moving average covers ``ts``."""
        if index is None:
            return None
        price1, price2, last = self.components(ts, index, last, funding_rate, next_funding_ts, interval_ns)
        if price2 is None or last is None:
            return round(price1)
        return round(sorted((price1, price2, Fraction(last)))[1])  # Fraction.__round__: half to even

    def state(self) -> tuple:
        """Plain, deterministic view of the whole state (for state hashes and snapshots)."""
        return (self._sample_ns, self._window_ns, self._last_ts, tuple(self._samples))


class MarkForm(Enum):
    """Which price a venue marks positions at."""

    #: median(price1, price2, last) with the moving-average basis (`MarkPrice`)
    MEDIAN = "median"
    #: the oracle (index) price itself (`OracleMark`): dYdX v4 values positions, margin
    #: requirements and liquidations at its oracle price
    ORACLE = "oracle"
    #: Hyperliquid's median of the oracle + 150-s EMA of (mid − oracle), median(bid, ask, last)
    #: and the 30-s EMA of that median (`HyperliquidMark`, risk.hyperliquid_mark)
    HYPERLIQUID = "hyperliquid"


class OracleMark:
    """Mark-price state of a venue whose mark is its oracle: the mark is the index, in ticks,
    unchanged (no rounding: the index is already on the tick). It keeps no basis samples; the
    methods match `MarkPrice`'s so that an exchange holds either."""

    __slots__ = ("_last_ts",)

    def __init__(self, *, start_ts: int) -> None:
        self._last_ts = start_ts

    @property
    def last_sample_ts(self) -> int:
        """ns timestamp of the last `sample` call (or the start)."""
        return self._last_ts

    def sample(self, ts: int, index: int | None, best_bid: int | None, best_ask: int | None,
               last: int | None = None) -> int:
        """Advance the clock to ``ts`` (ns); the book is not an input of this mark. Returns how
        many of `MarkPrice`'s basis grid points were crossed, for the same bookkeeping."""
        if ts < self._last_ts:
            raise ValueError(f"sample at {ts} precedes the last sample time {self._last_ts}")
        crossed = ts // BASIS_SAMPLE_NS - self._last_ts // BASIS_SAMPLE_NS
        self._last_ts = ts
        return crossed

    def ma_basis(self, ts: int) -> None:
        """No basis enters this mark."""
        return None

    def components(
        self, ts: int, index: int, last: int | None, funding_rate: int, next_funding_ts: int, interval_ns: int
    ) -> tuple[int, None, None]:
        """(index, None, None): the oracle is the only component."""
        return index, None, None

    def value(
        self,
        ts: int,
        index: int | None,
        last: int | None,
        funding_rate: int,
        next_funding_ts: int,
        interval_ns: int,
        best_bid: int | None = None,
        best_ask: int | None = None,
    ) -> int | None:
        """The mark in ticks: ``index`` itself (None without one). The last trade, the book and
        the funding rate do not move it."""
        return index

    def state(self) -> tuple:
        """Plain, deterministic view of the whole state (for state hashes and snapshots)."""
        return ("oracle", self._last_ts)


def mark_state_for(form: MarkForm, *, start_ts: int) -> MarkPrice | OracleMark | HyperliquidMark:
    """A new mark-price state of the given form for a market starting at ``start_ts`` (ns)."""
    if form is MarkForm.ORACLE:
        return OracleMark(start_ts=start_ts)
    if form is MarkForm.HYPERLIQUID:
        return HyperliquidMark(start_ts=start_ts)
    if form is MarkForm.MEDIAN:
        return MarkPrice(start_ts=start_ts)
    raise ValueError(f"unknown mark form {form!r}")
