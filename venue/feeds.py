"""The built-in world's feeds: a seeded index random walk and a liquidity provider quoting
around it. Both are clients of the sequencer like any other: their commands are journaled and
replay exactly."""

from __future__ import annotations

import asyncio
import contextlib
import random

from perpsim.engine import commands as C
from perpsim.model.enums import OrderKind, Side, TimeInForce
from perpsim.venue.config import VenueConfig
from perpsim.venue.services.common import Venue
from perpsim.venue.signals.correlation import correlated_normals


class Feeds:
    """The built-in world: an index random walk and a liquidity provider quoting around it."""

    def __init__(self, venue: Venue, cfg: VenueConfig, maker: int) -> None:
        self.venue, self.cfg, self.maker = venue, cfg, maker
        self.rng = random.Random(cfg.seed)

    async def run(self) -> None:
        """Step the world every feed_interval_s seconds until canceled; a step that raises is abandoned there."""
        while True:
            with contextlib.suppress(Exception):  # a rejected quote must not stop the world
                await self.step()
            await asyncio.sleep(self.cfg.feed_interval_s)

    async def step(self) -> None:
        """One step: each market's index moved by a seeded, correlated random step (the liquidity provider requoted in
        the same command) or, without the feed, the provider requoted around the index (the start price before any)."""
        view = self.venue.view
        spec = view.spec
        moves = correlated_normals(self.rng, list(view.symbols()), lambda a, b: self.cfg.signal_config().prior(
            spec(a).base, spec(b).base))
        for symbol in view.symbols():
            index = view.index(symbol)
            if index is None:
                index = view.spec(symbol).price_to_ticks(self.cfg.start_prices.get(symbol, "100"))
            if self.cfg.feed:
                move = moves[symbol] * self.cfg.feed_volatility_bp / 10_000  # correlated steps, seeded
                index = max(1, round(index * (1 + move)))  # the feed is outside the core: floats are fine here
                # the liquidity provider moves with the index in the same command (before any sweep)
                quote = self.quote_fields(symbol, index) if self.cfg.liquidity else {}
                await self.venue.run(lambda ts, s=symbol, p=index, q=quote: C.SetIndexPrice(ts, s, p, **q))
            elif self.cfg.liquidity:
                await self.quote(symbol, index)

    def quote_fields(self, symbol: str, index: int) -> dict:
        """The SetIndexPrice fields that requote the liquidity provider around `index` (ticks):
        `liquidity_levels` levels a side, `liquidity_spread_bp` of the index apart (at least a
        tick), level × the base size (10 lots, at least the minimum quantity)."""
        spec = self.venue.markets[symbol]
        return dict(quote_account=self.maker, quote_levels=self.cfg.liquidity_levels,
                    quote_step=max(1, index * self.cfg.liquidity_spread_bp // 10_000),
                    quote_lots=max(spec.qty_to_lots(spec.min_qty), spec.qty_to_lots(spec.lot_size) * 10))

    async def quote(self, symbol: str, index: int) -> None:
        """Requote the liquidity provider around `index` (ticks), command by command: cancel its orders in the market,
        then at each level 1..liquidity_levels a GTC limit a side, level × step away, of level × the base size; a
        refused order is skipped."""
        spec = self.venue.markets[symbol]
        await self.venue.run(lambda ts: C.CancelAll(ts, self.maker, symbol))
        step = max(1, index * self.cfg.liquidity_spread_bp // 10_000)
        lots = max(spec.qty_to_lots(spec.min_qty), spec.qty_to_lots(spec.lot_size) * 10)
        for level in range(1, self.cfg.liquidity_levels + 1):
            for side, price in ((Side.BUY, index - level * step), (Side.SELL, index + level * step)):
                with contextlib.suppress(Exception):
                    await self.venue.run(lambda ts, s=side, p=price, q=lots * level: C.PlaceOrder(
                        ts, self.maker, symbol, s, q, p, OrderKind.LIMIT, TimeInForce.GTC))
