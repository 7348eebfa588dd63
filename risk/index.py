"""Index price: a weighted mean of constituent spot prices (venue-mechanics §1.1).

Units: prices in integer ticks of the contract, weights as positive integers (only their ratios
matter), time in integer nanoseconds, the outlier band δ as a rate scaled by RATE_SCALE.

Outlier rules (choose with ``mode``):

* ``"clip"`` — current Binance rule: a live source further than δ from the median of the live
  sources is capped at median × (1 ± δ); δ = 3 % by default, 1 % for BTC/ETH indexes.
* ``"median_fallback"`` — the 2020 Binance rule: a source further than δ (default 5 %) from the
  median is an outlier; exactly one outlier gets weight 0; more than one and the index is the
  median of the live sources instead of the weighted mean.

A source whose last update is older than ``stale_after_ns`` has weight 0 in both modes.

Rounding: the index is a reference price, not an amount owed by or to an account, so the exact
rational result is rounded to the nearest tick with ties to even (``round`` on a Fraction).
The median of an even number of sources is the exact mean of the two middle prices.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

from perpsim.risk.units import RATE_SCALE

STALE_AFTER_NS = 5 * 60 * 10**9
"""Binance (current): a source with no update within 5 minutes gets weight 0."""

CLIP_DEVIATION = 3_000_000
"""3 % (scaled rate): default cap band of the "clip" mode; use CLIP_DEVIATION_MAJOR for BTC/ETH."""

CLIP_DEVIATION_MAJOR = 1_000_000
"""1 % (scaled rate): the cap band Binance uses for the BTC and ETH indexes."""

FALLBACK_DEVIATION = 5_000_000
"""5 % (scaled rate): outlier threshold of the 2020 "median_fallback" mode."""

MODES = ("clip", "median_fallback")


def median(values: list[Fraction] | list[int]) -> Fraction:
    """Exact median of a non-empty list; mean of the two middle values when the count is even."""
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    if n % 2:
        return Fraction(ordered[mid])
    return Fraction(ordered[mid - 1] + ordered[mid], 2)


class IndexPrice:
    """Weighted spot index of one market.

    ``constituents`` maps a source name to a positive integer weight. Sources are always
    iterated in name order, so the result never depends on insertion order.
    """

    __slots__ = ("_deviation", "_last", "_memo", "_mode", "_stale_after_ns", "_weights")

    def __init__(
        self,
        constituents: Mapping[str, int],
        *,
        mode: str = "clip",
        deviation: int | None = None,
        stale_after_ns: int = STALE_AFTER_NS,
    ) -> None:
        """``deviation`` is δ as a scaled rate (None: 3 % for "clip", 5 % for "median_fallback");
        ``stale_after_ns`` is the age in ns beyond which a source's price no longer counts."""
        if mode not in MODES:
            raise ValueError(f"unknown index mode {mode!r}; expected one of {MODES}")
        if not constituents:
            raise ValueError("an index needs at least one constituent")
        for name, weight in constituents.items():
            if not isinstance(weight, int) or weight <= 0:
                raise ValueError(f"weight of {name!r} must be a positive integer, got {weight!r}")
        if deviation is None:
            deviation = CLIP_DEVIATION if mode == "clip" else FALLBACK_DEVIATION
        if not 0 <= deviation < RATE_SCALE:
            raise ValueError(f"deviation must be in [0, RATE_SCALE), got {deviation}")
        if stale_after_ns < 0:
            raise ValueError("stale_after_ns must be >= 0")
        self._weights: dict[str, int] = {name: constituents[name] for name in sorted(constituents)}
        self._mode = mode
        self._deviation = deviation
        self._stale_after_ns = stale_after_ns
        self._last: dict[str, tuple[int, int]] = {}  # source -> (price_ticks, ts_ns)
        self._memo: tuple[int, Fraction | None] | None = None

    @property
    def mode(self) -> str:
        """The outlier rule: "clip" or "median_fallback" (the module docstring)."""
        return self._mode

    @property
    def deviation(self) -> int:
        """δ as a scaled rate."""
        return self._deviation

    def update(self, source: str, price_ticks: int, ts: int) -> None:
        """Record ``source``'s latest spot price (ticks, > 0) observed at ``ts`` (ns).

        Updates of one source must not go back in time (the feed is ordered; a step back is a bug
        upstream, so it raises rather than being silently dropped)."""
        if source not in self._weights:
            raise KeyError(f"{source!r} is not a constituent of this index")
        if price_ticks <= 0:
            raise ValueError(f"price must be a positive number of ticks, got {price_ticks}")
        previous = self._last.get(source)
        if previous is not None and ts < previous[1]:
            raise ValueError(f"update for {source!r} at {ts} precedes its last update at {previous[1]}")
        self._last[source] = (price_ticks, ts)
        self._memo = None

    def live_sources(self, ts: int) -> list[tuple[str, int]]:
        """(source, price_ticks) of every source updated within ``stale_after_ns`` of ``ts``,
        in name order. A source exactly ``stale_after_ns`` old is still live."""
        live = []
        for name in self._weights:
            entry = self._last.get(name)
            if entry is None:
                continue
            price, updated = entry
            if updated > ts:
                raise ValueError(f"index read at {ts} but {name!r} was updated later, at {updated}")
            if ts - updated <= self._stale_after_ns:
                live.append((name, price))
        return live

    def exact(self, ts: int) -> Fraction | int | None:
        """The index at ``ts`` as an exact rational number of ticks (an int when it is one; None:
        no live source).

        Memoised per ``ts`` until the next update: a command asks for it several times."""
        if self._memo is not None and self._memo[0] == ts:
            return self._memo[1]
        value = self._exact(ts)
        self._memo = (ts, value)
        return value

    def _exact(self, ts: int) -> Fraction | int | None:
        live = self.live_sources(ts)
        if not live:
            return None
        if len(live) == 1:  # its own median, inside its own band, weight 1: the price itself
            return live[0][1]
        mid = median([price for _, price in live])
        band = mid * self._deviation / RATE_SCALE  # δ × median, exact
        if self._mode == "clip":
            lo, hi = mid - band, mid + band
            return self._weighted_mean([(name, min(max(Fraction(p), lo), hi)) for name, p in live])
        # median_fallback: "deviates more than δ" is strict, a source exactly at the band counts.
        outliers = [name for name, p in live if abs(p - mid) > band]
        if len(outliers) > 1:
            return mid
        return self._weighted_mean([(name, Fraction(p)) for name, p in live if name not in outliers])

    def value(self, ts: int) -> int | None:
        """The index at ``ts`` in ticks, nearest tick with ties to even (None: no live source)."""
        exact = self.exact(ts)
        return None if exact is None else round(exact)  # Fraction.__round__ is half-to-even

    def state(self) -> tuple:
        """Plain, deterministic view of the whole state (for state hashes and snapshots)."""
        return (
            self._mode,
            self._deviation,
            self._stale_after_ns,
            tuple(self._weights.items()),
            tuple((name, *self._last[name]) for name in self._weights if name in self._last),
        )

    def _weighted_mean(self, prices: list[tuple[str, Fraction]]) -> Fraction:
        total = sum(self._weights[name] for name, _ in prices)
        return sum((self._weights[name] * p for name, p in prices), Fraction(0)) / total
