"""The live push: one WebSocket per open page, sending the market view (and the account view
when the page gave a key) once per interval and at once after the page changes what it follows.

The page's messages (JSON objects):
  {"symbol": "BTCUSDT", "key": "…", "interval_ms": 1000}   follow a market (and an account);
                                                            the first message, repeatable
  {"preview": {PlaceOrderRequest fields}}                   answered by a "preview" message
  {"place": {PlaceOrderRequest fields}}                     answered by a "placed" message
The venue's messages: {"type": "market" | "account" | "preview" | "placed" | "error", …}; an
error has "where" (account, preview, place, market, request), "code" and "message". The key travels only inside
these messages (never in a URL) and is neither logged nor sent back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import orjson
from aiohttp import WSMsgType, web

from perpsim.venue.dashboard.account import AccountSnapshot, Refused
from perpsim.venue.dashboard.market import MarketSnapshot, unknown_market

log = logging.getLogger("perpsim.dashboard")

MIN_INTERVAL_MS, DEFAULT_INTERVAL_MS, MAX_INTERVAL_MS = 200, 1_000, 60_000


class Follow:
    """What one page follows."""

    def __init__(self) -> None:
        self.symbol: str | None = None
        self.key: str | None = None
        self.key_refused = False
        self.interval_s = DEFAULT_INTERVAL_MS / 1000
        self.changed = asyncio.Event()


class LivePush:
    """The dashboard's /dashboard/ws endpoint (`handle`): per page, the market view and, given a key,
    the account view every interval, and its preview and place requests."""

    def __init__(self, venue) -> None:
        self.venue = venue
        self.market = MarketSnapshot(venue)
        self.account = AccountSnapshot(venue)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """GET /dashboard/ws: one page's live push; its messages handled in turn while a task pushes the views, until
        the page closes it."""
        ws = web.WebSocketResponse(heartbeat=20, max_msg_size=1 << 16)
        await ws.prepare(request)
        follow = Follow()
        pusher = asyncio.create_task(self._push(ws, follow))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                await self._message(ws, follow, msg.data)
        finally:
            pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pusher
        return ws

    async def _message(self, ws, follow: Follow, text: str) -> None:
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            await _send(ws, _error("request", "INVALID_ARGUMENT", "a message is a JSON object"))
            return
        for action in ("preview", "place"):
            if action in data:
                await self._order(ws, follow, action, data[action])
                return
        symbol = data.get("symbol")
        if not isinstance(symbol, str):  # (a list or an object is no market's name, nor hashable)
            await _send(ws, _error("request", "INVALID_ARGUMENT", "symbol: a market's name"))
            return
        if symbol not in self.venue.markets:
            await _send(ws, _error("request", "NOT_FOUND", unknown_market(self.venue, symbol)))
            return
        interval = data.get("interval_ms", DEFAULT_INTERVAL_MS)
        if not isinstance(interval, int) or not MIN_INTERVAL_MS <= interval <= MAX_INTERVAL_MS:
            await _send(ws, _error("request", "INVALID_ARGUMENT",
                                   f"interval_ms: an integer from {MIN_INTERVAL_MS} to {MAX_INTERVAL_MS}"))
            return
        key = data.get("key") or None
        if key is not None and not isinstance(key, str):
            key = None
        follow.key_refused = follow.key_refused and key == follow.key
        follow.symbol, follow.key, follow.interval_s = symbol, key, interval / 1000
        follow.changed.set()

    async def _order(self, ws, follow: Follow, action: str, order) -> None:
        """Preview or place an order for the followed account (its key from the follow message)."""
        if follow.key is None:
            await _send(ws, _error(action, "UNAUTHENTICATED", f"enter an API key to {action} an order"))
            return
        try:
            await _send(ws, await getattr(self.account, action)(follow.key, order))
        except Refused as e:
            await _send(ws, _error(action, e.code, e.message))
        else:
            if action == "place":
                follow.changed.set()  # the account as the order left it, at once

    async def _push(self, ws, follow: Follow) -> None:
        while not ws.closed:
            try:
                await asyncio.wait_for(follow.changed.wait(), follow.interval_s)
            except TimeoutError:
                pass
            follow.changed.clear()
            if follow.symbol is None or not self.venue.ready:
                continue
            try:
                await _send(ws, self.market.build(follow.symbol))
            except Exception:
                log.exception("the market view of %s failed", follow.symbol)
                await _send(ws, _error("market", "INTERNAL", "internal error (logged)"))
            if follow.key is not None and not follow.key_refused:
                key = follow.key
                try:
                    await _send(ws, await self.account.build(key))
                except Refused as e:
                    # a wrong key is answered once, not every interval, until the page sends another
                    follow.key_refused = e.code == "UNAUTHENTICATED" and key == follow.key
                    await _send(ws, _error("account", e.code, e.message))
                except Exception:
                    log.exception("the account view failed")
                    await _send(ws, _error("account", "INTERNAL", "internal error (logged)"))


def _error(where: str, code: str, message: str) -> dict:
    return {"type": "error", "where": where, "code": code, "message": message}


async def _send(ws: web.WebSocketResponse, msg: dict) -> None:
    if not ws.closed:
        with contextlib.suppress(ConnectionResetError):
            await ws.send_str(orjson.dumps(msg, option=orjson.OPT_SERIALIZE_NUMPY).decode())
