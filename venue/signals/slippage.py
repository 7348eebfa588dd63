"""Execution quality of each fill: its slippage against the mid and the mark at its order's arrival.

``slippage_bps = side · (fill − ref) / ref · 10⁴`` with side +1 for a buy, −1 for a sell:
positive is worse for the order's owner. ``ref`` is the book's mid ((best bid + best ask) / 2,
none while a side is empty) or the mark, read just before the command that brought the order
in was applied: a market, limit or reduce-only order's own command, the mark move that fired a
conditional order or a liquidation. A maker's fill is measured against the prices at its own
arrival, so a maker usually shows negative slippage (it earned the spread).

The tracker is a read model fed in sequence: ``before(cmd)`` runs as the sequencer takes a
command (``follow``), ``observe(cmd, events)`` (or ``record``, ``record_batch``) after it is
durable. Floats here are display figures.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

from perpsim.engine.events import OrderEvent
from perpsim.engine.views import ExchangeView
from perpsim.model.enums import EventKind, Side

_ACCEPTED, _FILL = int(EventKind.ACCEPTED), int(EventKind.FILL)

log = logging.getLogger("perpsim.venue")

#: Orders whose arrival prices are kept (oldest forgotten first); an older order's fills carry
#: no slippage.
ARRIVALS_KEPT = 200_000
#: Fills kept per account for the recent-fills list.
RECENT_FILLS = 500
#: Per market, the distinct arrival prices whose Arrival is shared (all forgotten at once past it).
ARRIVALS_SHARED = 1_024
#: (arrival prices, side, price) whose slippage strings `bps_texts` keeps (all forgotten at once past it).
TEXTS_KEPT = 4_096
_UNKNOWN_TEXTS = ("", "")


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
    """Arrival prices per order and the recent fills per account, fed in sequence."""

    def __init__(self, recent: int = RECENT_FILLS, kept: int = ARRIVALS_KEPT) -> None:
        # per command taken, in two queues read in step: the command, and the Arrival in its
        # market (a command naming one) or every market's (bid, ask, mark) by symbol; an Arrival
        # is shared, so a batch's commands waiting here leave the collector nothing new to track
        self._taken: deque[Any] = deque()
        self._taken_at: deque[Arrival | dict] = deque()
        self._arrivals: dict[int, Arrival] = {}
        self._arrived: deque[int] = deque()  # the keys of _arrivals, oldest first (forgotten first)
        # per account: its fills as plain records (FillQuality objects are made when read)
        self._recent: dict[int, deque[tuple]] = {}
        # per market: the Arrival of each (bid, ask, mark) read lately, shared by the orders that
        # arrive at them (a busy book moves back and forth between a few)
        self._known: dict[str, dict[tuple, Arrival]] = {}
        self.recent_size, self.kept = recent, kept
        self._view: ExchangeView | None = None  # of the exchange `_viewed` (replaced by a reset)
        self._viewed: object = None
        self._sequencer: Any = None  # the sequencer `follow` attached to
        self._texts: dict[tuple, tuple[str, str]] = {}  # see bps_texts

    # ---------------------------------------------------------------- feeding

    def follow(self, sequencer) -> None:
        """Read each command's prices from `sequencer` as it is about to apply it (`taken`); its
        events are recorded later, once durable (`record`, `record_batch`)."""
        self._sequencer = sequencer
        sequencer.before_apply.append(self.taken)

    def taken(self, cmd) -> None:
        """Sequencer hook, before `cmd` applies: `before` on the sequencer's state (its common
        case, an order's market, in this one frame: it runs for every command)."""
        view = self._view
        if view is not None and self._sequencer.state.exchange is self._viewed:
            symbol = getattr(cmd, "symbol", None)
            if symbol.__class__ is str:
                read = view.arrival(symbol)
                if read is not None:
                    known = self._known.get(symbol)
                    a = known.get(read) if known is not None else None
                    self._taken.append(cmd)
                    self._taken_at.append(a if a is not None else self._arrival(symbol, read))
                    return
        self.before(self._sequencer.state, cmd)

    def before(self, state, cmd) -> None:
        """The prices of the command's market (every market for a command without one) as the
        sequencer takes it, before it is applied. Reads three integers a market, builds nothing
        new while the prices repeat (this runs on the sequencer for every command)."""
        exchange, view = state.exchange, self._view
        if view is None or exchange is not self._viewed:  # the first command, or a new world
            self._viewed, view = exchange, ExchangeView(exchange)
            self._view = view
        symbol = getattr(cmd, "symbol", None)
        read = view.arrival(symbol) if isinstance(symbol, str) else None
        self._taken.append(cmd)
        if read is not None and isinstance(symbol, str):
            self._taken_at.append(self._arrival(symbol, read))
        else:
            self._taken_at.append(view.arrivals())

    def _read_for(self, cmd) -> tuple[str | None, Arrival | dict]:
        """What was read before `cmd` (commands taken before it and never recorded, which
        raised, are skipped): (its market, the Arrival there) or (None, every market's prices)."""
        taken, taken_at = self._taken, self._taken_at
        while taken:
            seen, at = taken.popleft(), taken_at.popleft()
            if seen is cmd:
                return (cmd.symbol, at) if at.__class__ is Arrival else (None, at)
        return None, {}

    def observe(self, cmd, events: list, ts: int = 0) -> list[FillQuality]:
        """Record the arrival of each order the command brought in and the quality of each fill;
        the fills, in event order."""
        return [self._quality(r) for r in self.record(cmd, events, ts)]

    def record(self, cmd, events: list, ts: int = 0) -> list[tuple]:
        """`observe` without making the FillQuality objects (the sequencer's listener): the
        fills' records, in event order."""
        out: list[tuple] = []
        symbol, at = self._read_for(cmd)
        self._record(symbol, at, events, ts, out)
        return out

    def record_batch(self, done: list) -> None:
        """`record` each (command, events) of a durable batch, in order, at the command's time
        (a command whose record fails is logged and the next ones are recorded all the same).
        The common command, one whose market's Arrival was read, skips `_read_for`."""
        taken, taken_at = self._taken, self._taken_at
        record = self._record
        for cmd, events in done:
            try:
                if not taken:
                    record(None, {}, events, cmd.ts, None)
                    continue
                seen, at = taken.popleft(), taken_at.popleft()
                if seen is not cmd:  # one taken before it never applied (it raised): skipped
                    taken.appendleft(seen)
                    taken_at.appendleft(at)
                    symbol, at = self._read_for(cmd)
                    record(symbol, at, events, cmd.ts, None)
                    continue
                if at.__class__ is not Arrival:  # every market's prices (a command without one)
                    record(None, at, events, cmd.ts, None)
                    continue
                record(cmd.symbol, at, events, cmd.ts, None)
            except Exception:  # a read model must never stop the sequencer's listeners
                log.exception("recording the fills of %r failed", cmd)

    def _record(self, symbol: str | None, at: Any, events: list, ts: int, out: list | None = None) -> list | None:
        """`record` of a command whose prices were read (`_read_for`): the Arrival in `symbol`,
        or with symbol None every market's (bid, ask, mark) by symbol; the fills' records
        appended to `out` (if given)."""
        arrivals, arrived, recent_of = self._arrivals, self._arrived, self._recent
        for e in events:
            if e.__class__ is not OrderEvent:
                continue
            b = e.event
            kind = b.kind
            if kind == _ACCEPTED:
                s = e.symbol
                if symbol is not None:
                    if s != symbol:
                        continue
                    a = at
                else:
                    read = at.get(s)
                    if read is None:
                        continue
                    a = self._arrival(s, read)
                order_id = b.order_id
                if order_id not in arrivals:  # (one again keeps its place, as in an OrderedDict)
                    arrived.append(order_id)
                arrivals[order_id] = a
                if len(arrivals) > self.kept:
                    del arrivals[arrived.popleft()]
            elif kind == _FILL:
                s, price, lots = e.symbol, b.price, b.qty
                taker, maker = b.order_id, b.counter_order_id
                # the taker's side of the fill, then the maker's
                for r in ((ts, b.account, taker, s, b.side, price, lots, False, e.liquidation, arrivals.get(taker)),
                          (ts, b.counter_account, maker, s, 1 - b.side, price, lots, True, False,
                           arrivals.get(maker))):
                    account = r[1]
                    recent = recent_of.get(account)
                    if recent is None:
                        recent = recent_of[account] = deque(maxlen=self.recent_size)
                    recent.append(r)
                    if out is not None:
                        out.append(r)
        return out

    def _arrival(self, symbol: str, read: tuple) -> Arrival:
        """The Arrival of (bid, ask, mark) ticks: the one made for the same prices lately, if any."""
        known = self._known.get(symbol)
        if known is None:
            known = self._known[symbol] = {}
        a = known.get(read)
        if a is None:
            if len(known) >= ARRIVALS_SHARED:
                known.clear()
            bid, ask, mark = read
            a = known[read] = Arrival((bid + ask) / 2 if bid is not None and ask is not None else None, mark)
        return a

    @staticmethod
    def _quality(r: tuple) -> FillQuality:
        ts, account, order_id, symbol, side, price, lots, maker, liquidation, arrival = r
        mid, mark = (None, None) if arrival is None else (slippage_bps(side, price, arrival.mid),
                                                          slippage_bps(side, price, arrival.mark))
        return FillQuality(ts, account, order_id, symbol, side, price, lots, maker, liquidation, arrival, mid, mark)

    # ---------------------------------------------------------------- reading

    def arrival(self, order_id: int) -> Arrival | None:
        """The prices the order arrived at, if known (kept)."""
        return self._arrivals.get(order_id)

    def bps_texts(self, order_id: int, side: int, price: int) -> tuple[str, str]:
        """`bps` as decimal strings with 2 decimals ("" unknown), as a fill's slippage shows. Kept
        per (arrival mid, arrival mark, side, price): a venue's fills repeat few of them, and each
        is two float divisions and two formats."""
        a = self._arrivals.get(order_id)
        if a is None:
            return _UNKNOWN_TEXTS
        key = (a.mid, a.mark, side, price)
        texts = self._texts.get(key)
        if texts is None:
            if len(self._texts) >= TEXTS_KEPT:
                self._texts.clear()
            mid, mark = slippage_bps(side, price, a.mid), slippage_bps(side, price, a.mark)
            texts = self._texts[key] = ("" if mid is None else f"{mid:.2f}", "" if mark is None else f"{mark:.2f}")
        return texts

    def bps(self, order_id: int, side: int, price: int) -> tuple[float | None, float | None]:
        """(against the mid, against the mark) of a fill of the order at ``price`` ticks."""
        a = self._arrivals.get(order_id)
        if a is None:
            return None, None
        return slippage_bps(side, price, a.mid), slippage_bps(side, price, a.mark)

    def recent(self, account: int, symbol: str = "", limit: int = 100) -> list[FillQuality]:
        """The account's latest fills (in `symbol`, or all), newest first."""
        out = []
        for r in reversed(self._recent.get(account, ())):
            if not symbol or r[3] == symbol:
                out.append(self._quality(r))
                if len(out) == limit:
                    break
        return out
