"""Prometheus metrics of the venue (names follow the perpsim_* conventions of ecosystem.md §5.1).

Each venue has its own registry, served over HTTP by prometheus_client on `metrics_listen`.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from perpsim.engine.events import AutoDeleveraged, CommandRejected, Liquidation, MarkPriceChanged, OrderEvent
from perpsim.model.enums import EventKind
from perpsim.model.reasons import RejectReason


class Metrics:
    def __init__(self, venue) -> None:
        self.venue = venue
        r = self.registry = CollectorRegistry()
        self.commands = Counter("perpsim_engine_events_processed", "Commands applied by the sequencer", registry=r)
        self.orders = Counter("perpsim_orders", "Orders accepted", ["symbol"], registry=r)
        self.fills = Counter("perpsim_fills", "Fills (one per maker touched)", ["symbol"], registry=r)
        self.volume = Counter("perpsim_fill_lots", "Lots traded", ["symbol"], registry=r)
        self.rejections = Counter("perpsim_rejections", "Rejected commands and orders", ["reason"], registry=r)
        self.liquidations = Counter("perpsim_liquidations", "Liquidations", ["symbol"], registry=r)
        self.adl = Counter("perpsim_adl", "Auto-deleveraging fills", ["symbol"], registry=r)
        self.mark = Gauge("perpsim_mark_price_ticks", "Mark price (ticks)", ["symbol"], registry=r)
        self.insurance = Gauge("perpsim_insurance_fund_units", "Insurance fund balance (money units)", ["asset"],
                               registry=r)
        self.latency = Histogram("perpsim_request_seconds", "RPC latency", ["method"], registry=r,
                                 buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0))
        self.queue = Gauge("perpsim_sequencer_queue_depth", "Commands waiting for the sequencer (journal lag)",
                           registry=r)
        self.queue.set_function(lambda: venue.seq.queue.qsize())
        self.http = None
        self._children: dict[tuple[object, str], object] = {}
        for symbol in venue.markets:  # every market's series exists from the start, at 0
            for metric in (self.orders, self.fills, self.volume, self.liquidations, self.adl):
                self._child(metric, symbol)
        self._funds = [(asset, self._child(self.insurance, asset))
                       for asset in sorted({spec.settle for spec in venue.markets.values()})]

    def observe(self, cmd, events: list) -> None:
        """Sequencer listener: count what one durable command did."""
        self.commands.inc()
        child = self._child
        for e in events:
            t = type(e)
            if t is OrderEvent:
                b = e.event
                if b.kind == EventKind.ACCEPTED:
                    child(self.orders, e.symbol).inc()
                elif b.kind == EventKind.FILL:
                    child(self.fills, e.symbol).inc()
                    child(self.volume, e.symbol).inc(b.qty)
                elif b.kind == EventKind.REJECTED:
                    child(self.rejections, RejectReason(b.reason).name.lower()).inc()
            elif t is CommandRejected:
                child(self.rejections, RejectReason(e.reason).name.lower()).inc()
            elif t is Liquidation:
                child(self.liquidations, e.symbol).inc()
            elif t is AutoDeleveraged:
                child(self.adl, e.symbol).inc()
            elif t is MarkPriceChanged:
                child(self.mark, e.symbol).set(e.mark)
        ledger = self.venue.state.exchange.ledger  # the live state: after a recovery or a reset too
        for asset, gauge in self._funds:
            gauge.set(ledger.insurance(asset))

    def _child(self, metric, label: str):
        """A metric's child for one label value, looked up once (labels() is not cheap)."""
        key = (metric, label)
        c = self._children.get(key)
        if c is None:
            c = self._children[key] = metric.labels(label)
        return c

    def serve(self, listen: str) -> int:
        """Start the HTTP endpoint; returns its port."""
        host, port = listen.rsplit(":", 1)
        self.http, _ = start_http_server(int(port), addr=host, registry=self.registry)
        return self.http.server_port

    def stop(self) -> None:
        if self.http is not None:
            self.http.shutdown()
            self.http.server_close()
