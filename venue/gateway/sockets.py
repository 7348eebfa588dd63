"""One WebSocket connection: a bounded outbox written by one task, so a slow reader is
dropped (closed with 1008) instead of slowing the venue down."""

from __future__ import annotations

import asyncio
import contextlib

import orjson
from aiohttp import WSMsgType, web

#: Messages a connection may fall behind before it is closed.
OUTBOX = 10_000
_CLOSE = object()


class Socket:
    """One WebSocket's followed streams and its outbox (at most OUTBOX messages): a reader that falls
    further behind loses what is queued and is closed with 1008 "slow consumer"."""

    def __init__(self, ws: web.WebSocketResponse, combined: bool) -> None:
        self.ws, self.combined = ws, combined
        self.streams: set[str] = set()
        self.outbox: asyncio.Queue = asyncio.Queue(maxsize=OUTBOX)
        self.dropped = False

    def send(self, payload: bytes, stream: str = "") -> None:
        """Queue an event (JSON bytes); on a combined connection wrapped as {"stream", "data"}."""
        if self.dropped:
            return
        if self.combined and stream:
            payload = b'{"stream":"' + stream.encode() + b'","data":' + payload + b"}"
        try:
            self.outbox.put_nowait(payload)
        except asyncio.QueueFull:
            self._drop()

    def reply(self, body: object) -> None:
        """Queue an answer to the connection's own request (JSON, never wrapped)."""
        self.send(orjson.dumps(body))

    def close(self) -> None:
        """Close the connection once what is queued is sent (a full outbox: dropped as a slow consumer)."""
        try:
            self.outbox.put_nowait(_CLOSE)
        except asyncio.QueueFull:
            self._drop()

    def _drop(self) -> None:
        """A reader OUTBOX messages behind: what is queued is thrown away and the connection closed
        with 1008, "slow consumer"."""
        self.dropped = True
        while not self.outbox.empty():
            self.outbox.get_nowait()
        self.outbox.put_nowait(_CLOSE)

    async def write(self) -> None:
        """Send the outbox until closed (a task per connection)."""
        while True:
            msg = await self.outbox.get()
            if msg is _CLOSE:
                await self.ws.close(code=1008 if self.dropped else 1000,
                                    message=b"slow consumer" if self.dropped else b"")
                return
            await self.ws.send_str(msg.decode())


async def serve(request: web.Request, sock_of, on_text, on_close) -> web.WebSocketResponse:
    """Run one WebSocket: `sock_of(ws)` makes the Socket (or raises web.HTTPException),
    `on_text(sock, text)` handles each text frame, `on_close(sock)` cleans up."""
    ws = web.WebSocketResponse(heartbeat=60, autoping=True)
    sock = sock_of(ws)  # refused before the upgrade: an HTTP error
    await ws.prepare(request)
    writer = asyncio.ensure_future(sock.write())
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                on_text(sock, msg.data)
            elif msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                break
            if writer.done():
                break
    finally:
        on_close(sock)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await writer
    return ws
