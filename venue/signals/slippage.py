"""Execution quality of each fill: its slippage against the mid and the mark at its order's arrival.

``slippage_bps = side · (fill − ref) / ref · 10⁴`` with side +1 for a buy, −1 for a sell:
positive is worse for the order's owner. ``ref`` is the book's mid ((best bid + best ask) / 2,
none while a side is empty) or the mark, read just before the command that brought the order
in was applied: a market, limit or reduce-only order's own command, the mark move that fired a
conditional order or a liquidation. A maker's fill is measured against the prices at its own
arrival, so a maker usually shows negative slippage (it earned the spread).

The tracker is a read model fed in sequence: ``before(cmd)`` runs as the sequencer takes a
command, ``observe(cmd, events)`` after it is durable. Floats here are display figures.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass

from perpsim.engine.events import OrderEvent
from perpsim.engine.views import ExchangeView
from perpsim.model.enums import EventKind, Side

#: Orders whose arrival prices are kept (oldest forgotten first); an older order's fills carry
#: no slippage.
ARRIVALS_KEPT = 200_000
#: Fills kept per account for the recent-fills list.
RECENT_FILLS = 500


def slippage_bps(side: int, fill: float, ref: float | None) -> float | None:
    """``side · (fill − ref) / ref · 10⁴`` (side: Side.BUY or Side.SELL); None without a reference."""
    if not ref:
        return None
    sign = 1 if side == Side.BUY else -1
    return sign * (fill - ref) / ref * 10_000


@dataclass(frozen=True, slots=True)
class Arrival:
    """The prices (ticks; None: none) an order arrived at."""

    mid: float | None
    mark: int | None


@dataclass(frozen=True, slots=True)
class FillQuality:
    """One fill of one account's order: prices in ticks, quantity in lots, slippage in bps."""

    ts: int
    account: int
    order_id: int
    symbol: str
    side: int
    price: int
    lots: int
    maker: bool
    liquidation: bool
    arrival: Arrival | None
    mid_bps: float | None
    mark_bps: float | None


class SlippageTracker:
    def __init__(self, recent: int = RECENT_FILLS, kept: int = ARRIVALS_KEPT) -> None:
        self._pending: deque[tuple[object, dict[str, Arrival]]] = deque()
        self._arrivals: OrderedDict[int, Arrival] = OrderedDict()
        self._recent: dict[int, deque[FillQuality]] = {}
        self.recent_size, self.kept = recent, kept

    # ---------------------------------------------------------------- feeding

    def before(self, state, cmd) -> None:
        """The prices of the command's market (every market for a command without one) as the
        sequencer takes it, before it is applied."""
        view = ExchangeView(state.exchange)
        symbol = getattr(cmd, "symbol", None)
        names = (symbol,) if isinstance(symbol, str) and symbol in view else view.symbols()
        self._pending.append((cmd, {s: _prices(view, s) for s in names}))

    def observe(self, cmd, events: list, ts: int = 0) -> list[FillQuality]:
        """Record the arrival of each order the command brought in and the quality of each fill;
        the fills, in event order."""
        prices = {}
        while self._pending:  # commands that raised were never observed: skip past them
            seen, p = self._pending.popleft()
            if seen is cmd:
                prices = p
                break
        fills = []
        for e in events:
            if not isinstance(e, OrderEvent):
                continue
            b = e.event
            if b.kind == EventKind.ACCEPTED and e.symbol in prices:
                self._arrivals[b.order_id] = prices[e.symbol]
                if len(self._arrivals) > self.kept:
                    self._arrivals.popitem(last=False)
            elif b.kind == EventKind.FILL:
                fills.append(self._fill(ts, e.symbol, b.account, b.order_id, b.side, b, False, e.liquidation))
                fills.append(self._fill(ts, e.symbol, b.counter_account, b.counter_order_id, 1 - b.side, b, True,
                                        False))
        return fills

    def _fill(self, ts: int, symbol: str, account: int, order_id: int, side: int, b, maker: bool,
              liquidation: bool) -> FillQuality:
        arrival = self._arrivals.get(order_id)
        mid, mark = self.bps(order_id, side, b.price)
        f = FillQuality(ts, account, order_id, symbol, side, b.price, b.qty, maker, liquidation, arrival, mid, mark)
        recent = self._recent.get(account)
        if recent is None:
            recent = self._recent[account] = deque(maxlen=self.recent_size)
        recent.append(f)
        return f

    # ---------------------------------------------------------------- reading

    def bps(self, order_id: int, side: int, price: int) -> tuple[float | None, float | None]:
        """(against the mid, against the mark) of a fill of the order at ``price`` ticks."""
        a = self._arrivals.get(order_id)
        if a is None:
            return None, None
        return slippage_bps(side, price, a.mid), slippage_bps(side, price, a.mark)

    def recent(self, account: int, symbol: str = "", limit: int = 100) -> list[FillQuality]:
        """The account's latest fills (in `symbol`, or all), newest first."""
        out = []
        for f in reversed(self._recent.get(account, ())):
            if not symbol or f.symbol == symbol:
                out.append(f)
                if len(out) == limit:
                    break
        return out


def _prices(view: ExchangeView, symbol: str) -> Arrival:
    bid, ask = view.top(symbol)
    return Arrival((bid + ask) / 2 if bid is not None and ask is not None else None, view.mark(symbol))
