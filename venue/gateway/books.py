"""Order-book update ids and diffs: what makes Binance's "manage a local order book" work.

Every command that touches a market's book takes the market's next update id. GET depth
answers with the current id as `lastUpdateId`; a diff event covers the ids [U, u] of the
commands since the previous event of its stream (pu = U - 1, the previous event's u) and
carries every level whose quantity changed in that time (quantity "0": the level is gone).
Diffs are computed only while someone follows the market's diff stream.
"""

from __future__ import annotations

from collections import defaultdict

from perpsim.engine.events import OrderEvent
from perpsim.engine.views import ExchangeView
from perpsim.model.enums import Side

#: Levels per side a diff stream follows (Binance's deepest snapshot: 1000).
DIFF_LEVELS = 1_000


class _Window:
    """Changes of one market accumulated for one update speed."""

    __slots__ = ("asks", "bids", "first", "last")

    def __init__(self) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.first = self.last = 0


class BookFeed:
    """Each market's book update id (one per command that touches its book) and, for the markets whose
    diff streams are followed, the changed levels per speed (ms) since the last event."""

    def __init__(self, venue) -> None:
        self.venue = venue
        self.update_id: dict[str, int] = defaultdict(int)
        self._base: dict[str, tuple[dict[int, int], dict[int, int]]] = {}  # followed markets' levels
        self._windows: dict[tuple[str, int], _Window] = {}  # (symbol, speed ms) -> pending changes
        self.speeds: dict[str, set[int]] = defaultdict(set)  # symbol -> speeds followed

    def _levels(self, symbol: str) -> tuple[dict[int, int], dict[int, int]]:
        v = ExchangeView(self.venue.state.exchange)
        return ({p: q for p, q, _ in v.depth(symbol, Side.BUY, DIFF_LEVELS)},
                {p: q for p, q, _ in v.depth(symbol, Side.SELL, DIFF_LEVELS)})

    def follow(self, symbol: str, speed: int) -> None:
        """Start accumulating diffs of `symbol` at `speed` ms (0: one event per command)."""
        if symbol not in self._base:
            self._base[symbol] = self._levels(symbol)
        self.speeds[symbol].add(speed)

    def unfollow(self, symbol: str, speed: int) -> None:
        """Stop accumulating diffs of `symbol` at `speed` ms, dropping its pending window; the market's levels are
        forgotten once no speed follows it."""
        self.speeds[symbol].discard(speed)
        self._windows.pop((symbol, speed), None)
        if not self.speeds[symbol]:
            del self.speeds[symbol]
            self._base.pop(symbol, None)

    def publish(self, cmd, events: list) -> None:
        """The sequencer listener: the next update id of each market whose book a command's order events touch, and for
        the followed markets the levels that changed, added to each speed's window."""
        touched = {e.symbol for e in events if isinstance(e, OrderEvent)}
        for symbol in touched:
            self.update_id[symbol] += 1
            if symbol not in self._base:
                continue
            old_bids, old_asks = self._base[symbol]
            bids, asks = self._levels(symbol)
            self._base[symbol] = (bids, asks)
            changed_b = _changes(old_bids, bids)
            changed_a = _changes(old_asks, asks)
            uid = self.update_id[symbol]
            for speed in self.speeds[symbol]:
                w = self._windows.get((symbol, speed))
                if w is None:
                    w = self._windows[(symbol, speed)] = _Window()
                    w.first = uid
                w.bids.update(changed_b)
                w.asks.update(changed_a)
                w.last = uid

    def take(self, speed: int) -> list[tuple[str, _Window]]:
        """The pending windows of one speed, emptied."""
        out = [(s, w) for (s, sp), w in self._windows.items() if sp == speed]
        for s, _ in out:
            del self._windows[(s, speed)]
        return out


def _changes(old: dict[int, int], new: dict[int, int]) -> dict[int, int]:
    out = {p: q for p, q in new.items() if old.get(p) != q}
    out.update({p: 0 for p in old if p not in new})
    return out
