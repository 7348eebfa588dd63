"""The liquidation map of one market: which positions would be liquidated at which mark.

One entry per liquidatable unit, as the venue's liquidation index holds them: an isolated
position, or an account's cross legs in the market (liquidated together). Each entry holds its
liquidation price in ticks (the trigger the venue's liquidation index holds for it), its side
(+1: liquidated when the mark falls to it, a long; −1: when it rises to it, a short) and its
lots. Bankruptcy prices (for the insurance stress) are asked of the engine only for the entries
a stress reaches, once per entry until it changes (`bankruptcy`).

Entries are kept sorted by liquidation price and replaced one by one as positions, wallets and
(for accounts holding several markets) the other marks change, so every question below is a
range walk over the prices asked about, never a scan of every position.

Buckets: around the mark M, bucket i covers prices [M·(1 + i·w), M·(1 + (i+1)·w)) for
i = −K..K−1 (w = bucket width, K·w = the range; i = floor((L − M) / (M·w)) computed exactly in
integers); a bucket's notional is Σ lots × the entry's liquidation price (quote currency for
linear markets, coin for inverse), longs and shorts apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

from sortedcontainers import SortedList


class Entry(NamedTuple):
    """One liquidatable unit: the tick its liquidation triggers at, its side, its lots."""

    tick: int  # liquidation price (ticks)
    side: int  # +1 long-like (triggers at or below), −1 short-like (at or above)
    lots: int  # > 0


@dataclass
class Bucket:
    """One price bucket of the map: bounds in ticks (floats, not rounded to the tick grid) and
    the lots and notional (settlement asset, at each entry's liquidation price) of longs and shorts."""

    low: float  # price bounds in ticks
    high: float
    long_notional: float = 0.0
    short_notional: float = 0.0
    long_lots: int = 0
    short_lots: int = 0


class LiquidationMap:
    """One market's liquidatable entries by key (account * 4 + position side), sorted by
    liquidation tick, with the total lots per side and the bankruptcy prices (ticks) solved so far."""

    def __init__(self) -> None:
        self.entries: dict[int, Entry] = {}
        self.order = SortedList()  # (tick, key)
        self.lots = [0, 0]  # total lots of long-like and short-like entries
        self.bankruptcies: dict[int, float] = {}  # key -> bankruptcy price (ticks), while its entry stands
        # near(): per (pct, side) the window [lo, hi] of ticks last asked about and the lots in it,
        # kept as entries change and slid as the mark moves (only the ticks it crosses are walked)
        self.windows: dict[tuple[float, int], list[int]] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def set(self, key: int, entry: Entry | None) -> None:
        """Put (or with None remove) the entry of `key`."""
        old = self.entries.pop(key, None)
        self.bankruptcies.pop(key, None)
        if old is not None:
            self.order.remove((old.tick, key))
            self.lots[old.side < 0] -= old.lots
            self._windowed(old, -old.lots)
        if entry is not None and entry.lots > 0:
            self.entries[key] = entry
            self.order.add((entry.tick, key))
            self.lots[entry.side < 0] += entry.lots
            self._windowed(entry, entry.lots)

    def _windowed(self, e: Entry, lots: int) -> None:
        for (_, side), w in self.windows.items():
            if side == e.side and w[0] <= e.tick <= w[1]:
                w[2] += lots

    def bankruptcy(self, key: int, solve) -> float:
        """The entry's bankruptcy price in ticks (0.0: none), `solve(key)` on first need."""
        b = self.bankruptcies.get(key)
        if b is None:
            b = self.bankruptcies[key] = solve(key)
        return b

    def clear(self) -> None:
        """Remove every entry, the near() windows and the cached bankruptcy prices."""
        self.windows.clear()
        self.bankruptcies.clear()
        self.entries.clear()
        self.order.clear()
        self.lots = [0, 0]

    def between(self, low: float, high: float):
        """(key, entry) with low <= tick <= high, in price order."""
        for _tick, key in self.order.irange((math.ceil(low), -1), (math.floor(high), 1 << 62)):
            yield key, self.entries[key]

    def buckets(self, mark: int, width_pct: float, range_pct: float, notional) -> list[Bucket]:
        """The non-empty buckets around `mark` (see the module docstring), low to high.
        `notional(lots, ticks)` values an entry at its liquidation price."""
        w = width_pct / 100.0
        k = round(range_pct / width_pct)
        exact = Fraction(str(width_pct)) / 100  # the bucket index in integers: no edge falls by rounding
        num, den = mark * exact.numerator, exact.denominator
        out: dict[int, Bucket] = {}
        for _, e in self.between(mark * (1 - k * w), mark * (1 + k * w)):
            i = (e.tick - mark) * den // num
            if not -k <= i < k:
                continue
            b = out.get(i)
            if b is None:
                b = out[i] = Bucket(mark * (1 + i * w), mark * (1 + (i + 1) * w))
            if e.side > 0:
                b.long_notional += notional(e.lots, e.tick)
                b.long_lots += e.lots
            else:
                b.short_notional += notional(e.lots, e.tick)
                b.short_lots += e.lots
        return [out[i] for i in sorted(out)]

    def near(self, mark: int, pct: float) -> int:
        """Lots that would be liquidated by a move of at most `pct` % of the mark: longs with a
        liquidation price in [M(1 − p), M], shorts in (M, M(1 + p)]. Kept per `pct` as entries
        change; a new mark slides the windows, walking only the ticks they gain or lose."""
        p = pct / 100.0
        total = 0
        for side, lo, hi in ((1, math.ceil(mark * (1 - p)), mark), (-1, mark + 1, math.floor(mark * (1 + p)))):
            w = self.windows.get((pct, side))
            if w is None:
                w = self.windows[(pct, side)] = [lo, hi, self._lots(lo, hi, side)]
            elif (lo, hi) != (w[0], w[1]):
                if hi < w[0] or lo > w[1]:  # disjoint: count afresh
                    w[2] = self._lots(lo, hi, side)
                else:
                    a, b = w[0], w[1]
                    w[2] += self._lots(lo, a - 1, side) if lo < a else -self._lots(a, lo - 1, side)
                    w[2] += self._lots(b + 1, hi, side) if hi > b else -self._lots(hi + 1, b, side)
                w[0], w[1] = lo, hi
            total += w[2]
        return total

    def _lots(self, lo: int, hi: int, side: int) -> int:
        """Lots of the entries on `side` with lo <= tick <= hi."""
        total = 0
        if lo <= hi:
            for _, e in self.between(lo, hi):
                if e.side == side:
                    total += e.lots
        return total
