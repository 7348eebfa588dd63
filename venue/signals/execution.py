"""Execution quality of a market, from its book as it stands.

spread_bps = (ask1 − bid1) / mid · 10⁴; depth within X bps: the quote notional resting within
X bps of the mid on each side; expected slippage of a quote notional N: walk the book from the
touch until N is filled, `side · (VWAP − mid) / mid · 10⁴` (positive is worse for the taker),
None when the book cannot fill N. The "fills will be worse" alert is raised when the expected
slippage of the configured notional (buy or sell) or the spread has stayed above its threshold
for at least `hold_ns` of venue time, and cleared as soon as neither is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Book levels read per side at most (a walk stops there: the book beyond is "not enough").
MAX_LEVELS = 512
#: Levels read first; more (up to MAX_LEVELS) only when these do not reach 50 bps or the notional.
FIRST_LEVELS = 32


def enough(levels, mid: float, notional: float, quote, bps: float = 50.0) -> bool:
    """Whether `levels` (FIRST_LEVELS of a side, best first) are all the measures walk: the
    whole side, or levels reaching beyond `bps` from `mid` and holding `notional`."""
    if len(levels) < FIRST_LEVELS:
        return True
    return abs(levels[-1][0] - mid) / mid * 10_000 > bps and sum(quote(q, p) for p, q in levels) >= notional


def read_book(read, notional: float, quote):
    """(bids, asks) as `read(levels)` gives them, FIRST_LEVELS deep unless that falls short of
    what the measures walk (then MAX_LEVELS): the book is read as far as needed, not further."""
    bids, asks = read(FIRST_LEVELS)
    if bids and asks:
        mid = (bids[0][0] + asks[0][0]) / 2.0
        if not (enough(bids, mid, notional, quote) and enough(asks, mid, notional, quote)):
            bids, asks = read(MAX_LEVELS)
    return bids, asks


@dataclass
class ExecutionQuality:
    """A book's execution quality: best bid and ask (ticks); spread and expected slippage of `notional`
    (quote currency) in bps of the mid (None: no two-sided book, or too thin); depth per bps (quote
    currency); the alert, and since when (venue ns; 0: neither) spread or slippage is over its threshold."""

    bid: float | None = None  # ticks
    ask: float | None = None
    spread_bps: float | None = None
    depth_bid: dict[int, float] = field(default_factory=dict)  # bps -> quote notional
    depth_ask: dict[int, float] = field(default_factory=dict)
    notional: float = 0.0
    buy_slippage_bps: float | None = None
    sell_slippage_bps: float | None = None
    alert: bool = False
    alert_since_ns: int = 0


def depth_within(levels, mid: float, bps: float, quote) -> float:
    """Quote notional of `levels` (best first, (ticks, lots)) within `bps` of `mid`."""
    total = 0.0
    for price, lots in levels:
        if abs(price - mid) / mid * 10_000 > bps + 1e-9:
            break
        total += quote(lots, price)
    return total


def slippage(levels, mid: float, notional: float, side: int, quote) -> float | None:
    """Expected slippage (bps) of taking `notional` (quote) from `levels`; None if too thin."""
    if notional <= 0:
        return 0.0
    left, cost_qty, cost = notional, 0.0, 0.0
    for price, lots in levels:
        value = quote(lots, price)
        part = min(1.0, left / value) if value > 0 else 0.0
        cost += value * part
        cost_qty += value * part / price  # ticks-weighted: VWAP = Σ value / Σ (value / price)
        left -= value * part
        if left <= 1e-9 * notional:
            vwap = cost / cost_qty
            return side * (vwap - mid) / mid * 10_000
    return None


def measure(bids, asks, notional: float, quote, depth_bps=(10, 50)) -> ExecutionQuality:
    """Spread, depth within each of `depth_bps` and the buy and sell slippage of `notional`
    (quote currency) of a book, `bids`/`asks` as (ticks, lots) best first; `quote(lots, ticks)`
    values a level. Empty figures without both sides; the alert fields are left to the caller."""
    q = ExecutionQuality(notional=notional)
    if not bids or not asks:
        return q
    q.bid, q.ask = bids[0][0], asks[0][0]
    mid = (q.bid + q.ask) / 2.0
    q.spread_bps = (q.ask - q.bid) / mid * 10_000
    for bps in depth_bps:
        q.depth_bid[bps] = depth_within(bids, mid, bps, quote)
        q.depth_ask[bps] = depth_within(asks, mid, bps, quote)
    q.buy_slippage_bps = slippage(asks, mid, notional, 1, quote)
    q.sell_slippage_bps = slippage(bids, mid, notional, -1, quote)
    return q


class WorseFillsAlert:
    """The held-for-a-while alert state of one market."""

    def __init__(self, slippage_bps: float, spread_bps: float, hold_ns: int) -> None:
        self.slippage_bps, self.spread_bps, self.hold_ns = slippage_bps, spread_bps, hold_ns
        self.since: int | None = None

    def update(self, ts: int, q: ExecutionQuality) -> bool:
        """Whether the alert holds at `ts` (ns): the book has been bad for hold_ns (spread above spread_bps, or a side's
        slippage above slippage_bps or unfillable); a one-sided or empty book resets it."""
        bad = q.spread_bps is not None and (
            q.spread_bps > self.spread_bps
            or any(s is None or s > self.slippage_bps for s in (q.buy_slippage_bps, q.sell_slippage_bps)))
        if not bad:
            self.since = None
            return False
        if self.since is None:
            self.since = ts
        return ts - self.since >= self.hold_ns
