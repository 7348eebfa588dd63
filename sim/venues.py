"""Where a scenario runs: the engine in this process, or a venue over gRPC, behind one interface.

Agents and the runner see only `SimVenue`: `submit(command) -> events` plus the few reads
agents decide on (prices, book tops, their positions and free margin, the funding rate).
Everything is in engine units: ticks, lots, integer money units, scaled rates (RATE_SCALE).

In process (`InProcessVenue`) the events are the engine's own. Over gRPC (`GrpcVenue`,
perpsim.sim.grpc_venue) a step's commands travel together in the admin `BatchService.Apply`
call (perpsim.sim.grpc_apply), each applied as its own call would be: a refusal comes back as a
`CommandRejected` event with the venue's reason, and each command's result names the
liquidations it caused with their accounts (`Liquidation` events). The run holds the venue's
clock (SetClockMode, perpsim.sim.grpc_venue_clock) and puts its mode back at `close`: every
command is stamped with the venue's time, moved only by the AdvanceClock commands the commands'
timestamps make, so the wall-clock time between calls changes nothing.

Market risk signals (perpsim.sim.risk_series): in process, a `perpsim.venue.signals.Signals`
listener is handed every command's events as the venue's sequencer hands them; over gRPC the
venue's own are read (GetMarketRisk), and open interest from the history service
(GetOpenInterest).
"""

from __future__ import annotations

import time
from typing import Protocol

from perpsim.engine import commands as C
from perpsim.engine.exchange import Exchange
from perpsim.engine.views import ExchangeView
from perpsim.model.enums import PositionSide
from perpsim.model.markets import MarketSpec

#: events handed to the signals and not yet folded in, at most (a 100k-account setup is one timestamp):
#: about the venue's catch-up slice (venue.signals.drain). Held longer, the events outgrow the caches
#: and the allocator's free lists: at 65,536 the 100k long squeeze's own commands took 0.3 s more CPU
#: and the catch-ups 0.2 s more
HOLD_EVENTS = 1 << 12

#: the position sides of a hedge-mode account
_HEDGE_SIDES = (PositionSide.LONG, PositionSide.SHORT)


class SimVenue(Protocol):
    """The interface agents and the runner use, in either mode. Engine units throughout: prices
    in ticks (None before there is one), sizes in lots (a position signed: + long), money in
    integer units of the asset, funding rates scaled by RATE_SCALE. `submit` applies one command
    and returns its events (over gRPC, those the runner reads: GrpcVenue.submit); `market_risk`
    is a row of perpsim.sim.risk_series, None with the signals off; `open_interest` is None where
    the venue leaves it to the position events."""

    markets: dict[str, MarketSpec]

    def submit(self, cmd: C.Command) -> list:
        """Apply one command; its events (over gRPC, those the runner reads: GrpcVenue.submit)."""
        ...

    def mark(self, symbol: str) -> int | None:
        """The market's mark price in ticks, None before there is one."""
        ...

    def last(self, symbol: str) -> int | None:
        """The market's last trade price in ticks, None before a trade."""
        ...

    def top(self, symbol: str) -> tuple[int | None, int | None]:
        """(best bid, best ask) in ticks, None for an empty side."""
        ...

    def depth(self, symbol: str, side: int, levels: int) -> list[tuple[int, int]]:
        """(ticks, lots) of up to `levels` levels of one side (Side.BUY: bids), best first."""
        ...

    def position(self, account: int, symbol: str) -> int:
        """The account's position in the market, signed lots (+ long; 0: none)."""
        ...

    def available(self, account: int, asset: str) -> int:
        """The account's available balance in `asset` (money units; may be negative)."""
        ...

    def insurance(self, asset: str) -> int:
        """The insurance fund's balance in `asset` (money units)."""
        ...

    def funding_rate(self, symbol: str) -> int:
        """The market's last settled funding rate (scaled by RATE_SCALE)."""
        ...

    def predicted_funding_rate(self, symbol: str) -> int:
        """The rate the next funding settlement would apply now (scaled by RATE_SCALE)."""
        ...

    def open_interest(self, symbol: str) -> int | None:
        """The lots held long in the market; None where the venue leaves it to the position events."""
        ...

    def market_risk(self, symbol: str) -> dict | None:
        """The market's risk row (perpsim.sim.risk_series), None with the signals off."""
        ...

    def close(self) -> None:
        """End the run's use of the venue (over gRPC: send what waits, put the clock's mode back)."""
        ...


class InProcessVenue:
    """engine.Exchange in this process: deterministic, every event; read through its
    ExchangeView (engine/views.py).

    With `signals` (the default) a `perpsim.venue.signals.Signals` listener is handed every
    command's events as the venue's sequencer hands them (`Signals.handoff`: an append, and the
    close of a step of venue time at a new step's first command); it folds them in before a read
    (`market_risk`, once a step) or after `HOLD_EVENTS` events held, and never changes the
    engine's state. The figures are those of feeding it command by command."""

    def __init__(self, exchange: Exchange, signals: bool = True) -> None:
        from perpsim.venue.signals import Signals

        self.exchange = exchange
        self.view = view = ExchangeView(exchange)
        self.markets = view.specs()
        # the view's scalar reads bound once: agents read prices and positions every step
        self.mark, self.last, self.top, self.available = view.mark, view.last, view.top, view.available
        self.insurance, self.funding_rate = view.insurance, view.funding_rate
        self.signals = Signals(lambda: exchange) if signals else None
        self._held = 0  # events handed over since the signals last caught up
        self.signals_s = 0.0  # wall time in the signals (handing over, catching up, reading) ...
        self.signals_submit_s = 0.0  # ... of which inside submit ...
        self.signals_handoff_s = 0.0  # ... of which in the handoffs that close a step (the appends: in submit's)

    def submit(self, cmd: C.Command) -> list:
        """SimVenue.submit: the engine's events; with signals, handed to them (caught up at HOLD_EVENTS held)."""
        events = self.exchange.apply(cmd)
        if self.signals is None:
            return events
        self._held += len(events)
        if cmd.ts < self.signals.next_step and self._held < HOLD_EVENTS:
            self.signals.handoff(cmd, events)  # an append: not worth two clock reads
            return events
        t0 = time.perf_counter()
        self.signals.handoff(cmd, events)  # this one closes a step of venue time
        t1 = time.perf_counter()
        self.signals_handoff_s += t1 - t0
        if self._held >= HOLD_EVENTS:  # a 100k-account setup is one step: not all of it held in memory
            self.flush()
            t1 = time.perf_counter()
        self.signals_s += t1 - t0
        self.signals_submit_s += t1 - t0
        return events

    def flush(self) -> None:
        """Fold the handed-over commands into the signals."""
        if self.signals is not None:
            self.signals.catch_up()
            self._held = 0

    def open_interest(self, symbol: str) -> int | None:
        """None: in process the metrics count open interest from the position events."""
        return None

    def market_risk(self, symbol: str) -> dict | None:
        """The market's risk row (perpsim.sim.risk_series) now, None with the signals off."""
        if self.signals is None:
            return None
        from perpsim.sim.risk_series import row_of_signals

        t0 = time.perf_counter()
        self.flush()
        row = row_of_signals(self.signals.market_risk(symbol, full=False))
        self.signals_s += time.perf_counter() - t0
        return row

    def depth(self, symbol: str, side: int, levels: int) -> list[tuple[int, int]]:
        """SimVenue.depth: (ticks, lots) of up to `levels` levels of one side (Side.BUY: bids), best first."""
        return [(p, q) for p, q, _ in self.view.depth(symbol, side, levels)]

    def predicted_funding_rate(self, symbol: str) -> int:
        """SimVenue.predicted_funding_rate: the engine's (ExchangeView.funding), scaled by RATE_SCALE."""
        return self.view.funding(symbol).predicted_rate

    def position(self, account: int, symbol: str) -> int:
        """SimVenue.position: the account's signed lots in `symbol` (a hedge-mode account's legs summed,
        as the gRPC venue reads them)."""
        view = self.view
        if not view.hedge_mode(account):
            return view.position_lots(account, symbol)
        return sum(view.position_lots(account, symbol, pside) for pside in _HEDGE_SIDES)

    def close(self) -> None:
        """SimVenue.close: nothing to release in process."""
        pass


# over gRPC: perpsim.sim.grpc_venue (re-exported here, where the CLI and tests import it from)
from perpsim.sim.grpc_venue import GrpcVenue  # noqa: E402

__all__ = ["GrpcVenue", "InProcessVenue", "SimVenue"]
