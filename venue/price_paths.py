"""Sandbox index moves: a price set at once, a shock by a percentage, a path followed over time.

Each move is one SetIndexPrice command through the sequencer; with the built-in liquidity
provider on, the same command requotes it around the new index (the venue's `quote_fields`).
A path is a task per market that sets the index at each point's time; a new path for the
market replaces it, and a reset stops every path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal

from perpsim.engine import commands as C
from perpsim.model.reasons import RejectReason as R
from perpsim.venue.errors import VenueError

log = logging.getLogger("perpsim.venue")


class IndexMoves:
    """The sandbox's index moves over one venue (anything with `run(make)`, `view` and
    `quote_fields`: venue.services.common.Venue)."""

    def __init__(self, venue) -> None:
        self.venue = venue
        self.paths: dict[str, asyncio.Task] = {}  # per market: the path being followed

    async def set(self, symbol: str, ticks: int) -> list:
        """Set the market's index to `ticks` (its tick grid); the command's events."""
        quote = self.venue.quote_fields(symbol, ticks) if self.venue.quote_fields else {}
        return await self.venue.run(lambda ts: C.SetIndexPrice(ts, symbol, ticks, **quote))

    async def shock(self, symbol: str, percent: str) -> tuple[int, list]:
        """Move the market's index by `percent` (a decimal string, -100 < percent < 1000): the
        new index is index × (100 + percent) / 100 rounded toward zero onto the tick grid, at
        least one tick. The new index and the command's events; a bad percent (BAD_PRECISION,
        INVALID_VALUE) or a market without an index (INVALID_PRICE) changes nothing."""
        index = self.venue.view.index(symbol)
        try:
            pct = Decimal(percent)
        except ArithmeticError:
            raise VenueError(R.BAD_PRECISION, field="percent", value=percent) from None
        if not pct.is_finite():
            raise VenueError(R.BAD_PRECISION, field="percent", value=percent)
        if not -100 < pct < 1_000:
            raise VenueError(R.INVALID_VALUE, field="percent", value=percent, problem="must be in (-100, 1000)")
        if index is None:
            raise VenueError(R.INVALID_PRICE, field="symbol", problem="the market has no index price yet")
        target = max(int(index * (100 + pct) / 100), 1)  # rounded toward zero onto the tick grid
        return target, await self.set(symbol, target)

    def follow(self, symbol: str, points: list[tuple[int, int]]) -> None:
        """Follow a path of (milliseconds from now, index ticks) points, non-decreasing in time,
        in place of the market's current path; no points: just stop the current one."""
        old = self.paths.pop(symbol, None)
        if old is not None:
            old.cancel()
        if points:
            self.paths[symbol] = asyncio.get_running_loop().create_task(self._follow(symbol, points))

    def stop_all(self) -> None:
        """Stop every path (a reset: the world they were moving is gone)."""
        for task in self.paths.values():
            task.cancel()

    async def _follow(self, symbol: str, points: list[tuple[int, int]]) -> None:
        """Set the index at each point's time; stops at the end or when replaced."""
        start = time.monotonic()
        for offset_ms, ticks in points:
            await asyncio.sleep(max(0.0, start + offset_ms / 1000 - time.monotonic()))
            try:
                await self.set(symbol, ticks)
            except VenueError as e:  # e.g. overload: the path goes on with its next point
                log.warning("price path %s: %s", symbol, e)
        self.paths.pop(symbol, None)
