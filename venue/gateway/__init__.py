"""The Binance USDⓈ-M compatible gateway: REST (/fapi, /sapi, /futures/data) and WebSocket
streams in front of the same sequencer as the gRPC services.

A thin adapter: requests become the engine commands the gRPC servicers build, submitted to
the one sequencer; reads come from the engine's read API (ExchangeView) and the history read
model (VenueState.history). `Gateway.publish` is a sequencer listener (after each durable
command) feeding the book update ids, the market streams and the user data streams.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict

from perpsim.engine.events import OrderEvent
from perpsim.model.enums import EventKind
from perpsim.venue.gateway.account import Account
from perpsim.venue.gateway.algo import Algo, AlgoRecords
from perpsim.venue.gateway.books import BookFeed
from perpsim.venue.gateway.edge import Edge
from perpsim.venue.gateway.market import MarketData
from perpsim.venue.gateway.marketstream import MarketStreams
from perpsim.venue.gateway.sapi import Rails
from perpsim.venue.gateway.trading import Trading
from perpsim.venue.gateway.userstream import LISTEN_KEY_TTL_S, UserStreams

__all__ = ["Gateway"]


class Gateway:
    """Every Binance-compatible route of one venue, and the listener that feeds its streams."""

    def __init__(self, venue, epoch_ns: int = 0, listen_key_ttl_s: float = LISTEN_KEY_TTL_S) -> None:
        """`epoch_ns`: when the venue was created (the markets' onboard date)."""
        self.venue, self.epoch_ns = venue, epoch_ns
        self.edge = Edge(venue)
        self.books = BookFeed(venue)
        self.algos = AlgoRecords(venue)
        self.market = MarketData(self)
        self.trading = Trading(self)
        self.account = Account(self)
        self.algo = Algo(self)
        self.rails = Rails(self)
        self.marketstream = MarketStreams(self)
        self.users = UserStreams(self, listen_key_ttl_s)
        self._cursor: dict[str, int] = {}  # per market: the last public trade id published
        self._cursor_state: int | None = None  # id() of the state the cursors walk
        self._tasks: list[asyncio.Task] = []

    @property
    def history(self):
        """The history read model of the live state (it is replaced on a reset)."""
        return self.venue.state.history

    async def run(self, make) -> list:
        """Submit a command to the sequencer; its rejection raised as a VenueError."""
        return await self.venue.run(make)

    def rate_limits(self) -> list[dict]:
        """exchangeInfo's rateLimits: one REQUEST_WEIGHT limit of the venue's sustained requests per second (per key);
        none when rate limiting is off."""
        limiter = self.venue.limiter
        if limiter.rate <= 0:
            return []
        return [{"rateLimitType": "REQUEST_WEIGHT", "interval": "SECOND", "intervalNum": 1,
                 "limit": int(limiter.rate)}]

    def routes(self) -> list:
        """Every REST and WebSocket route: market data, orders, account, algo orders, the /sapi rails, listen keys and
        user streams, market streams."""
        return [*self.market.routes(), *self.trading.routes(), *self.account.routes(), *self.algo.routes(),
                *self.rails.routes(), *self.users.routes(), *self.marketstream.routes()]

    # ------------------------------------------------------------ listener

    def _trades(self, events: list) -> dict[str, list]:
        """The public trade records of one command's fills, per market: the history (fed by the
        state as it applied the command) recorded them in order; a cursor per market walks it."""
        counts: dict[str, int] = defaultdict(int)
        for e in events:
            if isinstance(e, OrderEvent) and e.event.kind == EventKind.FILL:
                counts[e.symbol] += 1
        if not counts:
            return {}
        if not (self.users.sockets or self.marketstream.follows_trades()):
            self._cursor.clear()  # nobody to tell: the history is not walked (re-anchored when needed)
            return {}
        history = self.history
        out = {}
        for symbol, n in counts.items():
            if symbol not in self._cursor:
                latest = history.public_trades(symbol, limit=1)
                self._cursor[symbol] = (latest[-1].id - n) if latest else 0
            rows = history.public_trades(symbol, limit=n, from_id=self._cursor[symbol] + 1)
            if rows:
                self._cursor[symbol] = rows[-1].id
            out[symbol] = rows
        return out

    def anchor(self) -> None:
        """Start the trade cursors at the history's latest trades (the venue is ready)."""
        self._cursor_state = id(self.venue.state)
        self._cursor = {}
        for symbol in self.venue.markets:
            latest = self.history.public_trades(symbol, limit=1)
            self._cursor[symbol] = latest[-1].id if latest else 0

    def publish(self, cmd, events: list) -> None:
        """The sequencer listener, after each durable command: its events to the book feed, the algo records and the
        market and user streams (with the public trades of its fills); a new state re-anchors the trade cursors."""
        if self._cursor_state != id(self.venue.state):  # a new state (a reset, a rebuild)
            self._cursor_state = id(self.venue.state)
            self._cursor = {}  # re-anchored at the new history's trades (the algo records follow it themselves)
        self.books.publish(cmd, events)
        self.algos.publish(cmd, events)
        trades = self._trades(events)
        self.marketstream.publish(cmd, events, trades)
        self.users.publish(cmd, events, trades)

    # ------------------------------------------------------------ timers

    def start(self) -> None:
        """Start the timed streams and listen-key expiry (in the running loop)."""
        self.anchor()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self.marketstream.run(), name="gateway-streams"),
                       loop.create_task(self.users.run(), name="gateway-listen-keys")]

    async def stop(self) -> None:
        """Cancel the timed streams and the listen-key expiry and wait for them to end."""
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
