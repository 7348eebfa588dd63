"""Where a scenario runs: the engine in this process, or a venue over gRPC, behind one interface.

Agents and the runner see only `SimVenue`: `submit(command) -> events` plus the few reads
agents decide on (prices, book tops, their positions and free margin, the funding rate).
Everything is in engine units: ticks, lots, integer money units, scaled rates (RATE_SCALE).

In process (`InProcessVenue`) the events are the engine's own. Over gRPC (`GrpcVenue`) a
command becomes the matching client call: a refusal comes back as a `CommandRejected` event
with the venue's reason, and liquidations come from the venue's public liquidation stream (as
`Liquidation` events whose account is unknown, 0). The venue keeps its own clock; commands'
timestamps only drive `AdvanceClock` calls so that funding times are crossed.

Market risk signals (perpsim.sim.risk_series): in process, a `perpsim.venue.signals.Signals`
listener is handed every command's events as the venue's sequencer hands them; over gRPC the
venue's own are read (GetMarketRisk), and open interest from the history service
(GetOpenInterest).
"""

from __future__ import annotations

import queue
import threading
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from perpsim.engine import commands as C
from perpsim.engine.events import CommandRejected, Liquidation
from perpsim.engine.exchange import Exchange
from perpsim.engine.views import ExchangeView
from perpsim.model.enums import ConditionalKind, OrderKind, Side, TimeInForce, TriggerSource
from perpsim.model.markets import MarketSpec
from perpsim.risk.units import RATE_SCALE

if TYPE_CHECKING:
    from perpsim.clients.client import Client

#: events handed to the signals and not yet folded in, at most (a 100k-account setup is one timestamp)
HOLD_EVENTS = 1 << 16


class SimVenue(Protocol):
    """The interface agents and the runner use, in either mode."""

    markets: dict[str, MarketSpec]

    def submit(self, cmd: C.Command) -> list: ...
    def mark(self, symbol: str) -> int | None: ...
    def last(self, symbol: str) -> int | None: ...
    def top(self, symbol: str) -> tuple[int | None, int | None]: ...
    def depth(self, symbol: str, side: int, levels: int) -> list[tuple[int, int]]: ...
    def position(self, account: int, symbol: str) -> int: ...
    def available(self, account: int, asset: str) -> int: ...
    def insurance(self, asset: str) -> int: ...
    def funding_rate(self, symbol: str) -> int: ...
    def predicted_funding_rate(self, symbol: str) -> int: ...
    def open_interest(self, symbol: str) -> int | None: ...
    def market_risk(self, symbol: str) -> dict | None: ...
    def close(self) -> None: ...


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
        self.signals_handoff_s = 0.0  # ... of which in the handoff (a venue's sequencer's part)

    def submit(self, cmd: C.Command) -> list:
        events = self.exchange.apply(cmd)
        if self.signals is None:
            return events
        t0 = time.perf_counter()
        self.signals.handoff(cmd, events)
        t1 = time.perf_counter()
        self.signals_handoff_s += t1 - t0
        self._held += len(events)
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
        return [(p, q) for p, q, _ in self.view.depth(symbol, side, levels)]

    def predicted_funding_rate(self, symbol: str) -> int:
        return self.view.funding(symbol).predicted_rate

    def position(self, account: int, symbol: str) -> int:
        return self.view.position_lots(account, symbol)

    def close(self) -> None:
        pass


class GrpcVenue:
    """A running venue reached with perpsim.clients.client.Client and the sandbox RPCs.

    Scenario account numbers map to venue accounts created on first use (CreateAccount), each
    with its own API key. Prices and amounts cross the wire as exact decimal strings made from
    the engine integers with the market specs (no rounding)."""

    def __init__(self, address: str, admin_key: str, markets: dict[str, MarketSpec],
                 liquidation_wait_s: float = 2.0, signals: bool = True) -> None:
        """`signals`: read the venue's market risk each step (GetMarketRisk)."""
        from perpsim.clients.client import Client

        self.markets = markets
        self.admin = Client(address, admin_key=admin_key, timeout=30)
        self.admin.wait_ready(30)
        self._clients: dict[int, Client] = {}
        self._ts: int | None = None
        self._liqs: queue.Queue = queue.Queue()
        self._wait = liquidation_wait_s
        self.signals = signals  # off too once the venue says it has none
        self._streams = [self.admin.stream_liquidations(s) for s in markets]
        self._threads = [threading.Thread(target=self._pump, args=(st,), daemon=True) for st in self._streams]
        for t in self._threads:
            t.start()

    def _pump(self, stream) -> None:
        try:
            for notice in stream:
                self._liqs.put(notice)
        except Exception:  # the stream ends when the venue goes away or close() cancels it
            return

    def _client(self, account: int):
        c = self._clients.get(account)
        if c is None:
            key = self.admin.create_account(label=f"sim-{account}").api_key
            c = self._clients[account] = self.admin.with_key(key)
        return c

    # ---------------------------------------------------------------- commands

    def submit(self, cmd: C.Command) -> list:
        from perpsim.clients.errors import PerpsimError

        if self._ts is not None and cmd.ts > self._ts:
            self.admin.advance_clock(cmd.ts - self._ts)
        self._ts = cmd.ts if self._ts is None else max(self._ts, cmd.ts)
        try:
            expected = self._call(cmd)
        except PerpsimError as e:
            return [CommandRejected(type(cmd).__name__, getattr(cmd, "account", 0), _reason(e),
                                    (("message", str(e)),))]
        return self._drain(expected)

    def _call(self, cmd: C.Command) -> int:
        """Make the client call of a command; how many liquidations it reported (0 if none)."""
        match cmd:
            case C.Deposit():
                self._client(cmd.account).deposit(cmd.asset, self._money(cmd.asset, cmd.amount))
            case C.FundInsurance():
                self.admin.fund_insurance(cmd.asset, self._money(cmd.asset, cmd.amount))
            case C.SetLeverage():
                self._client(cmd.account).set_leverage(cmd.symbol, cmd.leverage)
            case C.SetMarginMode():
                self._client(cmd.account).set_margin_mode(cmd.symbol, "isolated" if cmd.isolated else "cross")
            case C.SetIndexPrice():
                spec = self.markets[cmd.symbol]
                return self.admin.set_index_price(cmd.symbol, spec.ticks_to_price(cmd.price)).liquidations
            case C.AdvanceClock():
                pass  # the clock moved above
            case C.CancelAll():
                self._client(cmd.account).cancel_all(cmd.symbol)
            case C.PlaceOrder():
                market, spec = cmd.kind == OrderKind.MARKET, self.markets[cmd.symbol]
                self._client(cmd.account).place_order(
                    cmd.symbol, "buy" if cmd.side == Side.BUY else "sell", spec.lots_to_qty(cmd.qty),
                    None if market else spec.ticks_to_price(cmd.price), type="market" if market else "limit",
                    time_in_force=None if market else TimeInForce(cmd.tif).name.lower(),
                    reduce_only=cmd.reduce_only)
            case C.PlaceConditional():
                kinds: dict[int, str] = {ConditionalKind.STOP_MARKET: "stop_market",
                                         ConditionalKind.TAKE_PROFIT_MARKET: "take_profit_market"}
                spec = self.markets[cmd.symbol]
                self._client(cmd.account).place_conditional(
                    cmd.symbol, "buy" if cmd.side == Side.BUY else "sell",
                    None if cmd.close_position else spec.lots_to_qty(cmd.qty), type=kinds[cmd.kind],
                    trigger_price=spec.ticks_to_price(cmd.trigger_price),
                    source=TriggerSource(cmd.source).name.lower(), reduce_only=cmd.reduce_only,
                    close_position=cmd.close_position)
            case _:
                raise NotImplementedError(f"{type(cmd).__name__} is not sent over gRPC by the simulator")
        return 0

    def _drain(self, expected: int) -> list:
        """Liquidation notices from the stream: at least `expected` of them (waiting up to the
        configured time for them to arrive), plus whatever else has arrived."""
        out: list = []  # the stream's liquidation notices
        deadline = time.monotonic() + self._wait
        while len(out) < expected and time.monotonic() < deadline:
            try:
                out.append(self._liqs.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        while True:
            try:
                out.append(self._liqs.get_nowait())
            except queue.Empty:
                break
        return [self._liquidation(n) for n in out]

    def _liquidation(self, n) -> Liquidation:
        spec = self.markets[n.symbol]
        bp = spec.price_to_ticks(n.bankruptcy_price) if n.bankruptcy_price is not None else 0
        lots = [spec.qty_to_lots(q) if q else 0 for q in (n.quantity, n.filled_quantity, n.taken_by_insurance,
                                                           n.auto_deleveraged)]
        return Liquidation(n.symbol, 0, Side.BUY if n.side == "buy" else Side.SELL, lots[0], bp, *lots[1:])

    def _money(self, asset: str, units: int) -> Decimal:
        spec = next(s for s in self.markets.values() if s.settle == asset)
        return spec.units_to_money(units)

    # ---------------------------------------------------------------- reads

    def mark(self, symbol: str) -> int | None:
        m = self.admin.mark(symbol)
        return None if m.mark_price is None else self.markets[symbol].price_to_ticks(m.mark_price)

    def last(self, symbol: str) -> int | None:
        m = self.admin.mark(symbol)
        return None if m.last_price is None else self.markets[symbol].price_to_ticks(m.last_price)

    def top(self, symbol: str) -> tuple[int | None, int | None]:
        b = self.admin.book(symbol, 1)
        spec = self.markets[symbol]
        bid, ask = (None if p is None else spec.price_to_ticks(p) for p in (b.best_bid, b.best_ask))
        return bid, ask

    def depth(self, symbol: str, side: int, levels: int) -> list[tuple[int, int]]:
        b = self.admin.book(symbol, levels)
        spec = self.markets[symbol]
        return [(spec.price_to_ticks(lv.price), spec.qty_to_lots(lv.quantity))
                for lv in (b.bids if side == Side.BUY else b.asks)]

    def position(self, account: int, symbol: str) -> int:
        if account not in self._clients:
            return 0
        return sum(p.quantity_lots for p in self._clients[account].positions(symbol))

    def available(self, account: int, asset: str) -> int:
        if account not in self._clients:
            return 0
        spec = next(s for s in self.markets.values() if s.settle == asset)
        try:
            return spec.money_to_units(self._clients[account].account().balance(asset).available)
        except KeyError:
            return 0

    def insurance(self, asset: str) -> int:
        spec = next(s for s in self.markets.values() if s.settle == asset)
        return spec.money_to_units(self.admin.venue_state().insurance_funds.get(asset, Decimal(0)))

    def funding_rate(self, symbol: str) -> int:
        return int(self.admin.mark(symbol).funding_rate * RATE_SCALE)

    def open_interest(self, symbol: str) -> int | None:
        """The lots held long, from the venue's history service (GetOpenInterest)."""
        current, _ = self.admin.open_interest(symbol)
        return self.markets[symbol].qty_to_lots(current.open_interest)

    def market_risk(self, symbol: str) -> dict | None:
        """The venue's risk row of the market (GetMarketRisk); None from a venue without signals."""
        from perpsim.clients.errors import PerpsimError
        from perpsim.sim.risk_series import row_of_client

        if not self.signals:
            return None
        try:
            return row_of_client(self.admin.market_risk(symbol))
        except PerpsimError as e:
            if "signals are off" not in str(e):
                raise
            self.signals = False  # the venue was started with its signals off: no risk rows
            return None

    def predicted_funding_rate(self, symbol: str) -> int:
        rate = self.admin.mark(symbol).predicted_funding_rate  # None from a venue that does not send it
        return 0 if rate is None else int(rate * RATE_SCALE)

    def close(self) -> None:
        for st in self._streams:
            st.cancel()
        for t in self._threads:
            t.join(timeout=5)
        self.admin.close()


def _reason(error) -> int:
    """The RejectReason number of a typed client error (0 for transport errors)."""
    return int(error.reason) if error.reason is not None else 0
