"""Prometheus metrics of the venue (names after the perpsim_* proposal of ecosystem.md §5.1).

Each venue has its own registry, served over HTTP by prometheus_client on `metrics_listen`.
Figures are in human units, as a dashboard shows them: prices in the quote asset, the
insurance fund in its asset, open interest in base units (linear) or contracts (inverse),
funding rates as fractions per interval. These are read-model floats, never fed back.

Rejections are counted by reason and by where they happened: `stage="engine"` (the exchange
refused a command: counted from its events) and `stage="request"` (refused before the engine:
an unknown symbol, a bad quantity, a bad key, the rate limit; the servicers report those
through `Venue.observe_rejection`, which the app points at `rejected`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import RestrictedRegistry

from perpsim.engine.events import (
    AutoDeleveraged,
    CommandRejected,
    Liquidation,
    OrderEvent,
)
from perpsim.engine.views import ExchangeView
from perpsim.model.enums import EventKind
from perpsim.model.reasons import RejectReason

RATE_SCALE = 10**8  # engine rates are scaled 1e8
# the book's event kinds as plain ints (compared per event; an Enum class attribute is slow)
_ACCEPTED, _FILL, _REJECTED = int(EventKind.ACCEPTED), int(EventKind.FILL), int(EventKind.REJECTED)
# the event kinds other than the book's that the metrics count
_COUNTED = frozenset({CommandRejected, Liquidation, AutoDeleveraged})


class _Registry(CollectorRegistry):
    """A registry that runs `flush` before it is read: a scrape (whole, or of some names) and
    `get_sample_value` see every count made so far."""

    def __init__(self, flush: Callable[[], None]) -> None:
        super().__init__()
        self._flush = flush

    def collect(self) -> Iterable[Metric]:
        self._flush()
        yield from super().collect()

    def restricted_registry(self, names: Iterable[str]) -> RestrictedRegistry:
        self._flush()  # (the HTTP handler collects it at once)
        return super().restricted_registry(names)


class Metrics:
    """The venue's Prometheus metrics in their own registry: counted from the sequencer's durable
    batches (`observe_batch`), rejections through `rejected`, served over HTTP by `serve`."""

    #: the longest a scrape waits for the event loop to refresh the gauges (a loop busier than
    #: this serves the values of the last refresh)
    refresh_wait_s: float = 1.0

    def __init__(self, venue) -> None:
        self.venue = venue
        # per counter (a child, or an unlabelled metric) its count so far, and what of it the
        # counter was given (see flush)
        self._totals: dict[Counter, int] = {}
        self._flushed: dict[Counter, int] = {}
        self._flush_lock = threading.Lock()
        r = self.registry = _Registry(self.before_read)
        self.commands = Counter("perpsim_engine_events_processed", "Commands applied by the sequencer", registry=r)
        self.orders = Counter("perpsim_orders", "Orders accepted", ["symbol"], registry=r)
        self.fills = Counter("perpsim_fills", "Fills (one per maker touched)", ["symbol"], registry=r)
        self.volume = Counter("perpsim_fill_lots", "Lots traded", ["symbol"], registry=r)
        self.rejections = Counter("perpsim_rejections", "Rejected requests, commands and orders, by reason and stage "
                                  "(request: refused before the engine; engine: refused by the exchange)",
                                  ["reason", "stage"], registry=r)
        self.liquidations = Counter("perpsim_liquidations", "Liquidations", ["symbol"], registry=r)
        self.adl = Counter("perpsim_adl", "Auto-deleveraging fills", ["symbol"], registry=r)
        self.mark = Gauge("perpsim_mark_price", "Mark price (quote asset per base unit)", ["symbol"], registry=r)
        self.index = Gauge("perpsim_index_price", "Index price (quote asset per base unit)", ["symbol"], registry=r)
        self.open_interest = Gauge("perpsim_open_interest", "Open interest: the long side's size (base units for "
                                   "a linear market, contracts for an inverse one)", ["symbol", "unit"], registry=r)
        self.funding_predicted = Gauge("perpsim_funding_rate_predicted", "Funding rate the next settlement would "
                                       "apply if its interval closed now (fraction per interval)", ["symbol"],
                                       registry=r)
        self.funding_last = Gauge("perpsim_funding_rate", "Funding rate of the last settled interval (fraction)",
                                  ["symbol"], registry=r)
        self.next_funding = Gauge("perpsim_next_funding_timestamp_seconds", "Next funding time (venue clock, Unix "
                                  "seconds)", ["symbol"], registry=r)
        # the market risk signals (venue.signals), when the venue runs them
        self.temperature = Gauge("perpsim_leverage_temperature", "Leverage temperature: 0 (cold) .. 100 (hot), "
                                 "100 Phi(mean z of funding, OI, leverage, liquidation proximity)", ["symbol"],
                                 registry=r)
        self.volatility = Gauge("perpsim_mark_volatility", "Realized volatility of the mark over a horizon (EWMA "
                                "of log returns, fraction)", ["symbol", "horizon"], registry=r)
        self.insurance = Gauge("perpsim_insurance_fund_balance", "Insurance fund balance (in its asset)", ["asset"],
                               registry=r)
        self.latency = Histogram("perpsim_request_seconds", "RPC latency", ["method"], registry=r,
                                 buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0))
        self.queue = Gauge("perpsim_sequencer_queue_depth", "Commands waiting for the sequencer (journal lag)",
                           registry=r)
        self.queue.set_function(lambda: venue.seq.queue.qsize())
        # the venue clock (venue.clock): held or on wall time, and a hold's lease left (read when scraped)
        self.clock_held = Gauge("perpsim_clock_held", "1 while the venue clock is held (SetClockMode), 0 on "
                                "wall-clock time", registry=r)
        self.clock_held.set_function(lambda: float(venue.seq.clock.held))
        self.clock_lease = Gauge("perpsim_clock_lease_remaining_seconds", "Seconds before a held clock's lease "
                                 "lapses unless renewed (0: no lease)", registry=r)
        self.clock_lease.set_function(lambda: venue.seq.clock.lease_left_ms() / 1000)
        self._totals[self.commands] = 0
        self.http: WSGIServer | None = None
        self._children: dict[tuple[object, tuple[str, ...]], object] = {}
        try:  # the gauges are refreshed on the loop that runs the sequencer (see before_read)
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # none (a replay, a test): refreshed by the reading thread
            self._loop = None
        for symbol in venue.markets:  # every market's series exists from the start, at 0
            for metric in (self.orders, self.fills, self.volume, self.liquidations, self.adl):
                self._child(metric, symbol)
        # per market, the children its book's events count into: (orders, fills, lots)
        self._book_counters = {s: (self._child(self.orders, s), self._child(self.fills, s), self._child(self.volume, s))
                               for s in venue.markets}
        self._fund_units: dict[str, int] = {}  # the insurance balances the gauges show (money units)
        self._funds = [(asset, venue.asset_spec(asset), self._child(self.insurance, asset))
                       for asset in sorted({spec.settle for spec in venue.markets.values()})]
        self.refresh()

    # ------------------------------------------------------------ listeners

    def observe(self, cmd, events: list) -> None:
        """Sequencer listener: count what one durable command did."""
        self.observe_batch([(cmd, events)])

    def observe_batch(self, done: list) -> None:
        """Sequencer batch listener: count what a batch of durable commands did ((command,
        events) each); the gauges read from the state once, after the batch. The counts go to
        plain integers (`_totals`), added to the counters when the registry is read (`flush`):
        an inc of a prometheus_client child takes a lock and a few checks, more than the rest of
        a small batch's counting."""
        totals = self._totals
        commands = self.commands
        totals[commands] += len(done)
        # the book's events are the bulk: counted per market and kind, in dicts made only when a
        # batch has such events; the rarer kinds one by one
        accepted: dict[str, int] | None = None
        fills: dict[str, int] | None = None
        lots: dict[str, int] | None = None
        child = self._child
        for _, events in done:
            for e in events:
                t = type(e)
                if t is OrderEvent:
                    b = e.event
                    kind = b.kind
                    if kind == _ACCEPTED:
                        s = e.symbol
                        if accepted is None:
                            accepted = {s: 1}
                        else:
                            accepted[s] = accepted.get(s, 0) + 1
                    elif kind == _FILL:
                        s = e.symbol
                        if fills is None or lots is None:
                            fills, lots = {s: 1}, {s: b.qty}
                        else:
                            fills[s] = fills.get(s, 0) + 1
                            lots[s] = lots.get(s, 0) + b.qty
                    elif kind == _REJECTED:
                        self._count(child(self.rejections, RejectReason(b.reason).name.lower(), "engine"), 1)
                elif t not in _COUNTED:  # (positions, wallets: the most frequent after orders)
                    continue
                elif t is CommandRejected:
                    self._count(child(self.rejections, RejectReason(e.reason).name.lower(), "engine"), 1)
                elif t is Liquidation:
                    self._count(child(self.liquidations, e.symbol), 1)
                elif t is AutoDeleveraged:
                    self._count(child(self.adl, e.symbol), 1)
        if accepted is not None:
            self._count_book(0, self.orders, accepted)
        if fills is not None and lots is not None:
            self._count_book(1, self.fills, fills)
            self._count_book(2, self.volume, lots)

    def _count_book(self, at: int, metric: Counter, per_market: dict[str, int]) -> None:
        """Add a batch's counts per market to one of the book's counters (`at` in _book_counters)."""
        totals, counters = self._totals, self._book_counters
        for s, n in per_market.items():
            known = counters.get(s)
            c = known[at] if known is not None else self._child(metric, s)
            totals[c] = totals.get(c, 0) + n

    def _count(self, counter: Counter, n: int) -> None:
        """Add `n` to a counter (a child, or an unlabelled metric) at the next `flush`."""
        totals = self._totals
        totals[counter] = totals.get(counter, 0) + n

    def flush(self) -> None:
        """Add to each counter what was counted since the last flush (run before every read of
        the registry, on the reading thread). The sequencer's thread only ever raises a total,
        one dict store at a time; the flushes take turns under a lock and add each total's
        growth since the last one saw it, so nothing is added twice or lost. Integer counts
        added once or in parts give the same float while under 2**53."""
        with self._flush_lock:
            flushed = self._flushed
            for counter, total in list(self._totals.items()):  # (a copy: the sequencer may add keys)
                grown = total - flushed.get(counter, 0)
                if grown:
                    counter.inc(grown)
                    flushed[counter] = total

    def before_read(self) -> None:
        """Run before every read of the registry, on the reading thread: the counts flushed
        (`flush`) and the gauges refreshed from the live state (`refresh`). The state is read
        on the event loop that runs the sequencer, between two of its batches, never from the
        scrape thread (which would read it while a command changes it): the reader waits for
        that refresh, at most `refresh_wait_s`. So the gauges cost nothing while nobody reads
        them, and a read always sees every command acknowledged before it."""
        self.flush()
        loop = self._loop
        if loop is None or loop.is_closed():
            if loop is None:  # no loop runs the state: the reading thread is the only one
                self.refresh()
            return
        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            self.refresh()
            return
        done = threading.Event()

        def refresh() -> None:
            try:
                self.refresh()
            finally:
                done.set()

        try:
            loop.call_soon_threadsafe(refresh)
        except RuntimeError:  # the loop closed meanwhile: the last refresh's values
            return
        done.wait(self.refresh_wait_s)

    def rejected(self, err) -> None:
        """Count a rejection made before the engine (a VenueError a servicer answered with).
        The exchange's own rejections are counted from the command's events instead."""
        if not getattr(err, "engine", False):
            self._count(self._child(self.rejections, err.reason.name.lower(), "request"), 1)

    def refresh(self) -> None:
        """Set the gauges from the live state: mark, index, open interest, funding, the
        insurance funds and the market risk signals (on the thread that runs the state)."""
        view = ExchangeView(self.venue.state.exchange)  # the live state: after a recovery or a reset too
        shown = self._fund_units
        for asset, spec, gauge in self._funds:
            units = view.insurance(asset)
            if shown.get(asset) != units:  # formatted only when the fund moved
                shown[asset] = units
                gauge.set(float(spec.format_money(units)))
        for symbol, spec in self.venue.markets.items():
            m = view.market(symbol)
            if m.prices.mark:
                self._child(self.mark, symbol).set(float(spec.format_price(m.prices.mark)))
            if m.prices.index:
                self._child(self.index, symbol).set(float(spec.format_price(m.prices.index)))
            unit = "contracts" if m.inverse else spec.base
            self._child(self.open_interest, symbol, unit).set(float(spec.format_qty(m.open_interest)))
            self._child(self.funding_predicted, symbol).set(m.funding.predicted_rate / RATE_SCALE)
            self._child(self.funding_last, symbol).set(m.funding.rate / RATE_SCALE)
            self._child(self.next_funding, symbol).set(m.funding.next_funding_ts / 1e9)
            signals = getattr(self.venue, "signals", None)
            if signals is not None:
                self._child(self.temperature, symbol).set(signals.temperature(symbol).score)
                for horizon in ("1h", "8h", "24h"):
                    sigma = signals.sigma(symbol, horizon)
                    if sigma is not None:
                        self._child(self.volatility, symbol, horizon).set(sigma)

    def _child(self, metric, *labels: str):
        """A metric's child for one set of label values, looked up once (labels() is not cheap)."""
        key = (metric, labels)
        c = self._children.get(key)
        if c is None:
            c = self._children[key] = metric.labels(*labels)
        return c

    # ------------------------------------------------------------ endpoint

    def serve(self, listen: str) -> int:
        """Start the HTTP endpoint; returns its port."""
        host, port = listen.rsplit(":", 1)
        http, _ = start_http_server(int(port), addr=host, registry=self.registry)
        self.http = http
        return http.server_port

    def stop(self) -> None:
        """Shut the HTTP endpoint down and close its socket, when one is serving."""
        if self.http is not None:
            self.http.shutdown()
            self.http.server_close()
