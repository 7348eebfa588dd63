"""The close of a step of venue time Δ in `Signals` (venue.signals.hub): the step's mark returns
update σ and ρ, the leverage of the accounts changed during it is read (worked out later, off
the sequencer's path), each book's execution quality is measured (the book read again only
after an event that may have moved it), and each new minute samples the temperature's parts.
"""

from __future__ import annotations

from perpsim.risk.units import RATE_SCALE
from perpsim.venue.signals.config import NS, SignalConfig
from perpsim.venue.signals.correlation import Correlations
from perpsim.venue.signals.execution import measure, read_book
from perpsim.venue.signals.market import MarketSignals
from perpsim.venue.signals.reader import EngineReader
from perpsim.venue.signals.volatility import MarkGrid


class StepClose:
    """What `Signals` closes a step with (`_step`, the grid's callback). It expects of its
    subclass: `cfg`, `rd`, `ts`, `symbols`, `markets`, `grid`, `corr`, `held`, `scores`,
    `books`, `book_moved`, `ahead_any`, `minute` and `steps_closed`."""

    cfg: SignalConfig
    rd: EngineReader
    ts: int
    symbols: list[str]
    markets: dict[str, MarketSignals]
    grid: MarkGrid
    corr: Correlations
    held: dict[int, set[str]]
    scores: list[tuple[MarketSignals, int, tuple]]
    books: dict[str, tuple]
    book_moved: bool
    ahead_any: bool
    minute: int | None
    steps_closed: int

    def _score(self) -> None:
        """Work out the leverage read at the steps closed since (average, spike flags), in order."""
        scores, self.scores = self.scores, []
        for m, ts, read in scores:
            m.score_lev(ts, read)

    def _step(self, returns: list[float | None], gap: int) -> None:
        rd, ts = self.rd, self.ts
        self.steps_closed += 1
        live = [s in self.grid.prev for s in self.symbols]
        for s, r in zip(self.symbols, returns, strict=True):
            if r is not None:
                self.markets[s].vol.update(r)
        self.corr.update(returns)
        if gap:
            for s, li in zip(self.symbols, live, strict=True):
                if li:
                    self.markets[s].vol.zeros(gap)
            self.corr.zeros(gap, live)
        for s in self.symbols:
            m = self.markets[s]
            read = m.flush_lev(rd, lambda a, asset=m.asset: self._cross_notional(a, asset), self.held)
            if read is not None:  # worked out later (`_score`): the arithmetic needs no engine state
                self.scores.append((m, ts, read))
            self._execution(m, ts)
        self.book_moved = False
        self.ahead_any = False  # flush_lev took every market's reads ahead
        minute = ts // (self.cfg.history_sample_s * NS)
        if self.minute is None:
            self.minute = minute
        elif minute > self.minute:
            times = min(minute - self.minute, self.cfg.history_n)
            self.minute = minute
            self._score()  # the sample takes the average leverage
            for s in self.symbols:
                self._sample(self.markets[s], times)

    def _cross_notional(self, account: int, asset: str) -> float:
        """The account's cross notional at mark in markets settled in `asset`."""
        rd, total = self.rd, 0.0
        for s in sorted(self.held.get(account, ())):
            m = self.markets[s]
            mark = rd.mark(s)
            if m.asset == asset and mark is not None and not rd.isolated(account, s):
                legs = m.legs.get(account, (0, 0))
                total += m.notional(legs[0] + legs[1], mark)
        return total

    def _execution(self, m: MarketSignals, ts: int) -> None:
        notional = self.cfg.slippage_notional
        book = self.books.get(m.symbol)
        if book is None or self.book_moved:  # no book event since the last close: the same book
            self.books[m.symbol] = book = read_book(lambda n: self.rd.book(m.symbol, n), notional, m.quote)
        bids, asks = book
        q = measure(bids, asks, notional, m.quote)
        q.alert = m.alert.update(ts, q)
        q.alert_since_ns = m.alert.since or 0
        m.execution = q

    def _sample(self, m: MarketSignals, times: int) -> None:
        rd = self.rd
        mark = rd.mark(m.symbol)
        m.flush_liq(rd)
        m.h_funding.push(rd.predicted_funding(m.symbol) / RATE_SCALE, times)
        m.h_oi.push(float(m.long_lots), times)
        m.h_lev.push(m.average_leverage(), times)
        m.h_near.push(m.near_share(mark, 5), times)
