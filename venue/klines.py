"""Kline series: the bars of one market, price source and interval, capped, oldest dropped.

A bar is stored only for an interval in which something happened (a trade, or a mark or index
change); `Bars.query` fills the intervals between with flat bars at the previous close, as
Binance shows an interval without trades, up to the bar that holds `now`.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import deque

from perpsim.venue.history_records import Kline

# a bar: [open_ns, open, high, low, close, volume, quote, trades, taker_buy_volume, taker_buy_quote,
#         first trade id, last trade id]
_OPEN, _O, _H, _L, _C, _V, _Q, _N, _TBV, _TBQ, _FIRST, _LAST = range(12)


class Bars:
    """The bars of one interval (`interval_ns`), at most `cap` of them. Compiled
    (venue/klines.pxd), as BarLadder: a fill adds its price to a ladder."""

    def __init__(self, interval_ns: int, cap: int) -> None:
        self.interval = interval_ns
        self.bars: deque[list] = deque(maxlen=cap)

    def resize(self, cap: int) -> None:
        """Keep at most `cap` bars from now on, dropping the oldest beyond it."""
        self.bars = deque(self.bars, maxlen=cap)

    def add(self, ts: int, price: int, qty: int = 0, quote: int = 0, taker_buy: bool = False,
            trade_id: int = 0) -> None:
        """Record a price at `ts` (a trade when qty > 0: volume, quote tick-lots, count and trade id too)."""
        bars = self.bars
        start = ts - ts % self.interval
        bar = bars[-1] if bars else None
        if bar is None or bar[_OPEN] != start:
            bar = [start, price, price, price, price, 0, 0, 0, 0, 0, trade_id, trade_id]
            bars.append(bar)
        elif price > bar[_H]:
            bar[_H] = price
        elif price < bar[_L]:
            bar[_L] = price
        bar[_C] = price
        if qty:
            bar[_V] += qty
            bar[_Q] += quote
            bar[_N] += 1
            bar[_LAST] = trade_id
            if taker_buy:
                bar[_TBV] += qty
                bar[_TBQ] += quote

    def query(self, start_ns: int | None, end_ns: int | None, limit: int, now: int) -> list[Kline]:
        """At most `limit` bars opening in [start_ns, end_ns] (ns; end defaults to `now`), oldest
        first: from start_ns when it is given, else the latest ones. Nothing before the oldest
        bar kept."""
        bars = self.bars
        if not bars or limit <= 0:
            return []
        step = self.interval
        first = bars[0][_OPEN]
        hi = min(now if end_ns is None else end_ns, now)
        hi -= hi % step
        lo = first if start_ns is None else max(first, start_ns + (-start_ns) % step)
        if lo > hi:
            return []
        opens = [b[_OPEN] for b in bars]
        if start_ns is not None:
            times = range(lo, min(hi, lo + (limit - 1) * step) + 1, step)
        else:
            times = range(max(lo, hi - (limit - 1) * step), hi + 1, step)
        out = []
        for t in times:
            i = bisect_right(opens, t) - 1  # the latest bar at or before t
            b = bars[i]
            if b[_OPEN] == t:
                out.append(Kline(t, t + step - 1, b[_O], b[_H], b[_L], b[_C], b[_V], b[_Q], b[_N], b[_TBV],
                                 b[_TBQ]))
            else:
                c = b[_C]
                out.append(Kline(t, t + step - 1, c, c, c, c, 0, 0, 0, 0, 0))
        return out

    def window(self, start_ns: int) -> list[list]:
        """The stored bars opening at or after start_ns (raw, oldest first)."""
        opens = [b[_OPEN] for b in self.bars]
        i = bisect_left(opens, start_ns)
        return [self.bars[j] for j in range(i, len(opens))]


class BarLadder:
    """The bars of one market and price source at every interval, the finest first (each
    interval a multiple of the finest): a list of `Bars` to its readers.

    A price goes into the finest bars only; the coarser bars take a finest bar whole once it
    closes (the next one opens), one fold per interval a minute instead of one update per
    interval a price. What a coarse bar holds is what the same prices added one by one would
    have made of it (open, high, low and close, the sums, the first and last trade id): a
    reader (indexing, iterating) first folds the bar still open, and until it closes the prices
    after that read go to every interval at once, as each arrives."""

    def __init__(self, intervals_ns, cap: int) -> None:
        self.series = [Bars(n, cap) for n in intervals_ns]
        self._live = False  # the open finest bar is folded already: its later prices go everywhere

    def add(self, ts: int, price: int, qty: int = 0, quote: int = 0, taker_buy: bool = False,
            trade_id: int = 0) -> None:
        """Bars.add at every interval (see Bars.add)."""
        finest = self.series[0]
        bars = finest.bars
        if bars and bars[-1][_OPEN] != ts - ts % finest.interval:  # a new finest bar: the last one closed
            if self._live:
                self._live = False  # (already in the coarse bars)
            else:
                self._fold(bars[-1])
        finest.add(ts, price, qty, quote, taker_buy, trade_id)
        if self._live:
            for coarse in self.series[1:]:
                coarse.add(ts, price, qty, quote, taker_buy, trade_id)

    def _fold(self, f: list) -> None:
        """A finest bar's prices, as one, into every coarser interval."""
        for coarse in self.series[1:]:
            bars = coarse.bars
            start = f[_OPEN] - f[_OPEN] % coarse.interval
            bar = bars[-1] if bars else None
            if bar is None or bar[_OPEN] != start:
                bars.append([start, *f[1:]])
                continue
            if f[_H] > bar[_H]:
                bar[_H] = f[_H]
            if f[_L] < bar[_L]:
                bar[_L] = f[_L]
            bar[_C] = f[_C]
            bar[_V] += f[_V]
            bar[_Q] += f[_Q]
            bar[_TBV] += f[_TBV]
            bar[_TBQ] += f[_TBQ]
            if f[_N]:  # (prices without a trade leave the last trade id)
                bar[_N] += f[_N]
                bar[_LAST] = f[_LAST]

    def flush(self) -> None:
        """Bring every interval up to date (before any read of the coarse bars)."""
        bars = self.series[0].bars
        if bars and not self._live:
            self._fold(bars[-1])
            self._live = True

    def __getitem__(self, i: int) -> Bars:
        self.flush()
        return self.series[i]

    def __iter__(self):
        self.flush()
        return iter(self.series)

    def __len__(self) -> int:
        return len(self.series)

