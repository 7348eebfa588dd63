"""The client's server streams: `Stream` (an iterator) and `AsyncStream` (an async iterator)
of converted messages. `cancel()` ends one; the CANCELLED status of a stream its caller
cancelled ends the iteration instead of raising; any other failure raises the typed error of
perpsim.clients.errors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import grpc

from perpsim.clients.errors import from_rpc_error


class _StreamCall:
    """What both stream iterators hold: the gRPC call, the message conversion, and whether the
    caller cancelled it (its CANCELLED status then ends the iteration instead of raising)."""

    def __init__(self, call, convert: Callable[[Any], Any]) -> None:
        self._call, self._convert = call, convert
        self._cancelled = False

    def _ended_by_cancel(self, e: grpc.RpcError) -> bool:
        return self._cancelled and e.code() == grpc.StatusCode.CANCELLED

    def cancel(self) -> None:
        self._cancelled = True
        self._call.cancel()


class Stream(_StreamCall):
    """A server stream as an iterator of converted messages; `cancel()` (or `with`) ends it."""

    def __iter__(self) -> Stream:
        return self

    def __next__(self):
        try:
            msg = next(self._call)
        except grpc.RpcError as e:
            if self._ended_by_cancel(e):
                raise StopIteration from None
            raise from_rpc_error(e) from e
        return self._convert(msg)

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc) -> None:
        self.cancel()


class AsyncStream(_StreamCall):
    """A server stream as an async iterator of converted messages; `cancel()` ends it."""

    def __aiter__(self) -> AsyncStream:
        return self

    async def __anext__(self):
        try:
            msg = await self._call.read()
        except grpc.aio.AioRpcError as e:
            if self._ended_by_cancel(e):
                raise StopAsyncIteration from None
            raise from_rpc_error(e) from e
        except asyncio.CancelledError:
            if self._cancelled:
                raise StopAsyncIteration from None
            raise
        if msg is grpc.aio.EOF:
            raise StopAsyncIteration
        return self._convert(msg)

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(self, *exc) -> None:
        self.cancel()
