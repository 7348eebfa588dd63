"""`perpsim serve`: the venue process with an embedded default world.

Defaults: data directory ./perpsim-data, markets BTCUSDT and ETHUSDT (linear) and BTCUSD
(inverse), a moving index feed and a built-in liquidity provider (both can be switched off),
listening on 127.0.0.1:50051. The feed and the provider are clients of the sequencer like any
other: their commands are journaled and replay exactly.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

from perpsim.engine import commands as C
from perpsim.engine.views import ExchangeView
from perpsim.venue import codec, datadir
from perpsim.venue.account_signals import RISK_THRESHOLDS_FILE, AccountSignals
from perpsim.venue.auth import KeyStore, KeyStoreError
from perpsim.venue.clock import Clock
from perpsim.venue.config import VenueConfig
from perpsim.venue.dashboard import Dashboard
from perpsim.venue.feeds import Feeds
from perpsim.venue.follower_checkpoint import FollowerCheckpoint
from perpsim.venue.gateway import Gateway
from perpsim.venue.gcpolicy import GcPolicy
from perpsim.venue.history_records import HistoryLimits
from perpsim.venue.http import HttpServer, build_http_app
from perpsim.venue.initial_state import make_state, venue_epoch
from perpsim.venue.journal import PREALLOCATE, Journal
from perpsim.venue.journal_format import JournalError
from perpsim.venue.limits import RateLimiter
from perpsim.venue.listen import ListenError, bind_grpc, check_free
from perpsim.venue.metrics import Metrics
from perpsim.venue.recovery import JOURNAL_DIR, SNAPSHOT_DIR, RecoveryError, recover
from perpsim.venue.sequencer import Sequencer
from perpsim.venue.services.common import Venue
from perpsim.venue.services.registry import build_server, set_serving
from perpsim.venue.signals import Signals
from perpsim.venue.signals.account import Thresholds
from perpsim.venue.signals.drain import CatchUp
from perpsim.venue.signals.spike_alerts import SpikeAlerts
from perpsim.venue.snapshot import SnapshotError
from perpsim.venue.snapshot_follower import FollowerSpec
from perpsim.venue.streams import Streams

log = logging.getLogger("perpsim.venue")

class RunningVenue:
    """A venue running in this process; `stop()` shuts it down gracefully."""

    def __init__(self, cfg: VenueConfig) -> None:
        self.cfg = cfg
        self.port = 0
        self.rest_port = 0  # the REST/WebSocket gateway's port once started (0: off)
        self.http_routes: list = []  # route tables served beside the gateway (e.g. a dashboard)
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    async def main(self, install_signals: bool = False) -> None:
        """Run until stopped. A refused start (a damaged data directory, a taken address)
        raises after closing what it opened, so that nothing outlives it."""
        self._opened: list = []  # (what, close) in the order opened
        try:
            await self._main(install_signals)
        except BaseException:
            for what, close in reversed(self._opened):
                try:
                    if asyncio.iscoroutine(done := close()):
                        await done
                except Exception:  # the refusal is what the caller must see
                    log.exception("closing %s after a refused start failed", what)
            raise

    async def _main(self, install_signals: bool) -> None:
        cfg = self.cfg
        # a damaged data directory, then a taken address, is refused before the venue's state
        # (journal, epoch) is written
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        datadir.check(cfg.data_dir)
        keys = KeyStore(cfg.data_dir, cfg.admin_key or os.environ.get("PERPSIM_ADMIN_KEY"))
        check_free(cfg.listen, "gRPC", "--listen address")
        if cfg.metrics_listen:
            check_free(cfg.metrics_listen, "metrics", "metrics_listen setting")
        if getattr(cfg, "rest_listen", "") not in ("", "off"):
            check_free(cfg.rest_listen, "REST", "rest_listen setting")
        journal = Journal(cfg.data_dir / JOURNAL_DIR, preallocate=PREALLOCATE)
        self._opened.append(("the journal", lambda: journal.close()))
        # held (cfg.held_clock): commands stamped with the venue's time, moved only by the sandbox
        clock = Clock(lambda: sequencer.state.exchange.ts, held=cfg.held_clock)
        # snapshots are written by a follower process: the sequencer never waits for a pickle
        checkpoint = FollowerCheckpoint(
            cfg.data_dir, lambda: sequencer.state, lambda: sequencer.journal, prune=not cfg.keep_journal,
            # at the first command: its start (imports, loading the state: ~1 s of CPU) comes
            # while the venue is young, not amid a checkpoint interval's load
            start_after=1 if cfg.snapshot_every else None,
            follower=FollowerSpec(cfg.data_dir, functools.partial(make_state, cfg),
                                  HistoryLimits.from_mapping(cfg.history)))
        self._opened.append(("the snapshot follower", checkpoint.close))
        if not cfg.snapshot_follower:
            checkpoint.use_forks()
        sequencer = Sequencer(make_state(cfg), clock, journal, codec, checkpoint, cfg.snapshot_every)
        sequencer.batch_listeners.append(checkpoint.observe_batch)
        self.venue = venue = Venue(sequencer.state, keys, sequencer,
                                   RateLimiter(cfg.rate_limit_per_s, cfg.rate_limit_burst))
        streams = Streams(venue, cfg.alert_spread_bps, cfg.alert_funding_bps)
        sequencer.batch_listeners.append(streams.publish_batch)  # per batch: each command in order
        venue.account_signals = AccountSignals(
            venue, Thresholds(cfg.risk_k, cfg.risk_horizon_s * 10**9, cfg.risk_rho, cfg.risk_max_leverage),
            path=cfg.data_dir / RISK_THRESHOLDS_FILE)
        venue.account_signals.attach(sequencer, streams)
        self.metrics = Metrics(venue)
        sequencer.batch_listeners.append(self.metrics.observe_batch)
        self.gc = GcPolicy()  # the long-lived state frozen out of the collector (venue/gcpolicy.py)
        sequencer.batch_listeners.append(self.gc.observe_batch)
        venue.signals = Signals(lambda: venue.state.exchange, cfg.signal_config()) if cfg.signals else None
        if venue.signals is not None:
            sequencer.after_apply.append(venue.signals.handoff)  # O(1); folded in off the critical path
            venue.account_signals.use_market_signals(venue.signals.sigma, venue.signals.rho)
            streams.spike_alerts = SpikeAlerts(venue.signals, streams).check
        venue.observe_latency = self.metrics.latency
        venue.observe_rejection = self.metrics.rejected
        server, health = build_server(venue, streams)
        await set_serving(health, False)

        def halted(error: Exception) -> None:  # the sequencer cannot go on: stop serving, fail closed
            venue.ready, venue.halted = False, True
            self._halting = asyncio.get_running_loop().create_task(set_serving(health, False))

        sequencer.on_halt.append(halted)
        self.port = bind_grpc(server, cfg.listen)
        self.metrics_port = 0
        if cfg.metrics_listen:  # bound before recovery: a taken port is refused at once
            check_free(cfg.metrics_listen, "metrics", "metrics_listen setting")
            try:
                self.metrics_port = self.metrics.serve(cfg.metrics_listen)
            except OSError as e:
                raise ListenError(f"cannot listen on {cfg.metrics_listen} (metrics): {e.strerror}") from None
            self._opened.append(("the metrics endpoint", self.metrics.stop))
        self.gateway = None
        if cfg.rest_listen and cfg.rest_listen != "off":  # bound before recovery too
            self.gateway = Gateway(venue, venue_epoch(cfg.data_dir))
            sequencer.listeners.append(self.gateway.publish)
            routes = [*self.http_routes, *([Dashboard(venue, cfg.dashboard_reports).routes()] if cfg.dashboard else [])]
            self.http = HttpServer(build_http_app(self.gateway, routes), cfg.rest_listen)
            self.rest_port = await self.http.start()  # answers -1001 until recovered
            self._opened.append(("the REST gateway", self.http.stop))
        await server.start()  # health says NOT_SERVING and calls answer UNAVAILABLE until recovered
        self._opened.append(("the gRPC server", lambda: server.stop(None)))
        self._opened.append(("the journal thread", lambda: sequencer.io.shutdown(wait=True)))
        observe = venue.signals.replay_observer if venue.signals is not None else None
        state, last_seq, report = await asyncio.get_running_loop().run_in_executor(
            sequencer.io, lambda: recover(cfg.data_dir, lambda: make_state(cfg), journal=journal, observe=observe))
        self.recovery = report
        log.info("recovered to journal seq %d: snapshot %s, %d records replayed, %d torn bytes cut, %.2f s",
                 last_seq, "none" if report.snapshot_seq is None else f"at seq {report.snapshot_seq}",
                 report.replayed, report.truncated_bytes, report.duration_s)
        sequencer.state = venue.state = state
        state.history.resize(HistoryLimits.from_mapping(cfg.history))  # a snapshot's may be other limits
        # a key store restored from an older backup must not hand out ids the state already uses
        keys.skip_past(max(ExchangeView(state.exchange).accounts(), default=0))
        # keep time monotonic across restarts: the clock never goes behind the journal
        clock.offset = max(0, state.exchange.ts - time.time_ns())
        self.gc.settle()  # the recovered state is old: out of every later collection
        venue.ready = True

        def reset() -> Path:
            # runs in the sequencer between batches: nothing is in flight
            nonlocal journal
            sequencer.checkpoint.wait_idle()  # no snapshot writer left in the folder being archived
            journal.close()
            archive = cfg.data_dir / "archive" / str(time.time_ns())
            archive.mkdir(parents=True)
            for name in (JOURNAL_DIR, SNAPSHOT_DIR, "created_ns"):
                if (cfg.data_dir / name).exists():
                    os.replace(cfg.data_dir / name, archive / name)
            journal = sequencer.journal = Journal(cfg.data_dir / JOURNAL_DIR, preallocate=PREALLOCATE)
            sequencer.state = venue.state = make_state(cfg)
            return archive

        # a command that raised inside the core is undone by rebuilding from the journal
        # (the live journal holds every record since this venue created it: a snapshot taken
        # since is no sign of lost commands, as it would be at a start)
        sequencer.rebuild = lambda: recover(cfg.data_dir, lambda: make_state(cfg),
                                            journal=sequencer.journal, allow_new_journal=True)[0]
        venue.reset = reset
        venue.after_reset = lambda: self._seed_state(venue)
        if self.gateway is not None:
            self.gateway.start()
        sequencer.start()
        catch_up = CatchUp(venue.signals) if venue.signals is not None else None
        if catch_up is not None:
            catch_up.start()
            self._opened.append(("the risk signals' catch-up task", catch_up.stop))
        self._stop = asyncio.Event()
        if install_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                asyncio.get_running_loop().add_signal_handler(sig, self._stop.set)
        await self._seed_world(venue, keys)
        await set_serving(health, True)
        tasks = []
        if cfg.feed or cfg.liquidity:
            feeds = Feeds(venue, cfg, self.maker)
            if cfg.liquidity:  # sandbox index moves (set, shock, path) requote it in their command
                venue.quote_fields = feeds.quote_fields
            tasks.append(asyncio.create_task(feeds.run()))
        self._ready.set()
        await self._stop.wait()
        await health.enter_graceful_shutdown()
        for t in [*tasks, *venue.paths.values()]:
            t.cancel()
        await server.stop(grace=2)
        if self.gateway is not None:
            await self.http.stop()
            await self.gateway.stop()
        if clock.lease is not None:  # no lapse waits on a stopped sequencer (venue.clock_lease)
            clock.lease.close()
        await sequencer.stop()
        if catch_up is not None:
            await catch_up.stop()
        sequencer.checkpoint.wait_idle(timeout=60)  # a snapshot being written is finished
        checkpoint.close()
        journal.close()
        self.metrics.stop()

    async def _seed_world(self, venue: Venue, keys: KeyStore) -> None:
        """First start only: the liquidity provider's account, then a fresh state's seed."""
        maker_file = self.cfg.data_dir / datadir.LIQUIDITY_ACCOUNT
        maker = datadir.read_int(maker_file, "an account id")
        if maker is not None:
            self.maker = maker
            return
        self.maker = keys.create_account().account
        maker_file.write_text(str(self.maker))
        await self._seed_state(venue)

    async def _seed_state(self, venue: Venue) -> None:
        """A fresh world's starting prices and the liquidity provider's money."""
        for symbol, spec in venue.markets.items():
            ticks = spec.price_to_ticks(self.cfg.start_prices.get(symbol, "100"))
            await venue.run(lambda ts, s=symbol, p=ticks: C.SetIndexPrice(ts, s, p))
        for asset in sorted({s.settle for s in venue.markets.values()}):
            spec = venue.asset_spec(asset)
            # ten million of a stablecoin, a thousand of a coin
            amount = spec.money_to_units(Decimal(10_000_000) if asset in ("USDT", "USDC") else Decimal(1_000))
            await venue.run(lambda ts, a=asset, x=amount: C.Deposit(ts, self.maker, a, x))

    # ---------------------------------------------------------------- in a thread (tests, tools)

    def start_in_thread(self, timeout: float = 30) -> RunningVenue:
        """Run the venue on an event loop of its own in a daemon thread; returns this venue once it is ready,
        RuntimeError when it failed to start or is not ready within `timeout` seconds."""
        def run() -> None:
            self._loop = asyncio.new_event_loop()
            try:
                self._loop.run_until_complete(self.main())
            except BaseException as e:  # surfaced by start_in_thread
                self._error = e
                self._ready.set()
            finally:
                self._loop.close()

        self._thread = threading.Thread(target=run, name="perpsim-venue", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            raise RuntimeError(f"venue did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        """Stop a venue started by `start_in_thread`: signal its loop, then wait (up to 30 s) for its thread."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=30)

    @property
    def address(self) -> str:
        """The gRPC address to dial on this host: 127.0.0.1 and the bound port (0 before the start)."""
        return f"127.0.0.1:{self.port}"


def serve(cfg: VenueConfig) -> int:
    """Run the venue in the foreground until SIGINT/SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    running = RunningVenue(cfg)

    async def main() -> None:
        task = asyncio.create_task(running.main(install_signals=True))
        while not running._ready.is_set() and not task.done():
            await asyncio.sleep(0.05)
        if not task.done():
            host = cfg.listen.rsplit(":", 1)[0]
            print(f"perpsim venue listening on {host}:{running.port}")
            print(f"  data directory: {cfg.data_dir.resolve()}")
            if running.rest_port:
                rest_host = cfg.rest_listen.rsplit(":", 1)[0]
                print(f"  Binance USDⓈ-M REST: http://{rest_host}:{running.rest_port}/fapi/v1, "
                      f"WebSocket: ws://{rest_host}:{running.rest_port}/ws")
                if cfg.dashboard:
                    print(f"  risk dashboard: http://{rest_host}:{running.rest_port}/")
            if running.metrics_port:
                print(f"  metrics: http://{cfg.metrics_listen.rsplit(':', 1)[0]}:{running.metrics_port}/metrics")
            print(f"  markets: {', '.join(running.venue.markets)}")
            key_note = "given on the command line or in PERPSIM_ADMIN_KEY" if (
                cfg.admin_key or os.environ.get("PERPSIM_ADMIN_KEY")) else str(running.venue.keys.admin_key_file)
            print(f"  admin key: {key_note}")
            on = {True: "on", False: "off"}
            print(f"  index feed: {on[cfg.feed]}, liquidity provider: {on[cfg.liquidity]}", flush=True)
        await task

    started = time.monotonic()
    try:
        asyncio.run(main())
    except (JournalError, RecoveryError, SnapshotError) as e:  # refuse a damaged data directory
        print(f"error: cannot recover {cfg.data_dir}: {e}", file=sys.stderr)
        return 2
    except (KeyStoreError, datadir.DataDirError, ListenError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    log.info("venue stopped after %.1f s", time.monotonic() - started)
    return 0
