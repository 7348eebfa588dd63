"""The perpsim SDK: `Client` (blocking) and `AsyncClient` (asyncio), with the same methods.

    from decimal import Decimal
    from perpsim.clients.client import Client

    with Client("127.0.0.1:50051", api_key=KEY) as c:
        c.deposit("USDT", "1000")
        order = c.place_order("BTCUSDT", "buy", "0.001", "64000.5")   # a GTC limit order
        c.place_order("BTCUSDT", "sell", Decimal("0.001"))              # a market order
        for trade in c.stream_trades("BTCUSDT"): ...

    async with AsyncClient(address, api_key=KEY) as c:
        book = await c.book("BTCUSDT")
        async for update in c.stream_book("BTCUSDT", depth=10): ...

Numbers: Decimal, str or int, sent as exact decimal strings (a float raises TypeError); enum
arguments: short names, case-insensitive, or the protobuf number (perpsim.clients.arguments).
Results are frozen dataclasses (perpsim.clients.models and the *_models beside it) with Decimal
fields.

The methods, by service: market_calls, trading_calls, account_calls, sandbox_calls,
history_calls, account_risk_calls, market_risk_calls, loss_limit_calls, profile_calls.

Auth: the account's API key is sent as `authorization: Bearer <key>` (gRPC metadata keys are
lower-case). Sandbox calls use `admin_key` if given, else `api_key`.

Deadlines: every unary call has one: `timeout` seconds (default 5) for reads and account or
order writes, 4 x `timeout` for sandbox controls (a price move may run a liquidation cascade).
Streams have none unless one is passed.

Retries (only where safe): reads retry on UNAVAILABLE (`retries` more attempts, exponential
backoff); PlaceOrder retries only when it carries a client order id, on which the venue is
idempotent (pass one, or `idempotent=True` to have one generated); no other write retries.
Every failure raises a typed exception from perpsim.clients.errors.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import grpc

from perpsim.clients.account_calls import AccountCalls
from perpsim.clients.account_models import Account, Balance, Position
from perpsim.clients.account_risk_calls import AccountRiskCalls
from perpsim.clients.arguments import Number, decimal_text, new_client_order_id, order_request
from perpsim.clients.calls import DEADLINE_FACTOR, Call, retry_backoff, service_stubs
from perpsim.clients.clock_models import ClockModeChange
from perpsim.clients.errors import PerpsimError, Unavailable, from_rpc_error
from perpsim.clients.history_calls import HistoryCalls
from perpsim.clients.loss_limit_calls import LossLimitCalls
from perpsim.clients.market_calls import MarketCalls
from perpsim.clients.market_models import BookLevel, Mark, Market, OrderBook, Trade
from perpsim.clients.market_risk_calls import MarketRiskCalls
from perpsim.clients.models import IndexUpdate, NewAccount, ShockResult, VenueState
from perpsim.clients.order_models import Fill, Order, Preview
from perpsim.clients.profile_calls import ProfileCalls
from perpsim.clients.sandbox_calls import SandboxCalls
from perpsim.clients.stream_models import BookUpdate, Liquidation, MarkUpdate
from perpsim.clients.streams import AsyncStream, Stream
from perpsim.clients.trading_calls import TradingCalls

__all__ = [
    "DEFAULT_ADDRESS",
    "Account",
    "AsyncClient",
    "AsyncStream",
    "Balance",
    "BookLevel",
    "BookUpdate",
    "Client",
    "ClockModeChange",
    "Fill",
    "IndexUpdate",
    "Liquidation",
    "Mark",
    "MarkUpdate",
    "Market",
    "NewAccount",
    "Order",
    "OrderBook",
    "Position",
    "Preview",
    "ShockResult",
    "Stream",
    "Trade",
    "VenueState",
]

# The request builders and the number type, importable from here as before.
__all__ += ["Number", "decimal_text", "new_client_order_id", "order_request"]

DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_TIMEOUT = 5.0
DEFAULT_RETRIES = 2


class _Api(MarketCalls, TradingCalls, AccountCalls, SandboxCalls, HistoryCalls, AccountRiskCalls, MarketRiskCalls,
           LossLimitCalls, ProfileCalls):
    """The methods of both clients. Each builds a `Call` and hands it to `_invoke`, which is a
    blocking call in `Client` and a coroutine in `AsyncClient`; streams go through `_stream_on`."""

    api_key: str | None
    admin_key: str | None
    timeout: float
    retries: int

    def _history(self, method: str, request: Any, convert: Callable[[Any], Any]) -> Any:
        return self._invoke(Call("history", method, request, convert, retry=True))

    def _risk(self, method: str, request: Any, convert: Callable[[Any], Any], write: bool = False) -> Any:
        return self._invoke(Call("risk", method, request, convert, kind="write" if write else "read",
                                 retry=not write))

    def _read(self, service: str, method: str, request: Any, convert: Callable[[Any], Any]) -> Any:
        return self._invoke(Call(service, method, request, convert, retry=True))

    def _account(self, method: str, request: Any, convert: Callable[[Any], Any], write: bool = False) -> Any:
        return self._invoke(Call("account", method, request, convert, kind="write" if write else "read",
                                 retry=not write))

    def _metadata(self, admin: bool = False) -> tuple[tuple[str, str], ...]:
        key = (self.admin_key or self.api_key) if admin else self.api_key
        return (("authorization", f"Bearer {key}"),) if key else ()

    def _deadline(self, call: Call) -> float | None:
        """Seconds a unary call may take: the client's timeout × its kind's factor (None: no deadline)."""
        return self.timeout * DEADLINE_FACTOR[call.kind] if self.timeout is not None else None

    def _retries(self, call: Call, attempt: int, error: grpc.RpcError) -> bool:
        """Whether a call that failed on its `attempt` (0-based) goes again: a safe call, on
        UNAVAILABLE, `retries` times at most."""
        return call.retry and attempt < self.retries and error.code() == grpc.StatusCode.UNAVAILABLE


# ---------------------------------------------------------------- blocking client


class Client(_Api):
    """A blocking client of one venue (one gRPC channel). Use as a context manager or `close()`."""

    def __init__(self, address: str = DEFAULT_ADDRESS, api_key: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                 *, admin_key: str | None = None, retries: int = DEFAULT_RETRIES,
                 channel: grpc.Channel | None = None) -> None:
        self.address, self.api_key, self.admin_key = address, api_key, admin_key
        self.timeout, self.retries = timeout, retries
        self._owns_channel = channel is None
        self._channel = channel if channel is not None else grpc.insecure_channel(address)
        self._stubs = service_stubs(self._channel)

    def with_key(self, api_key: str | None, admin_key: str | None = None) -> Client:
        """A client of another account on the same channel (closing it leaves the channel open).

        The new client holds only the keys given here (not this client's admin key)."""
        return Client(self.address, api_key, self.timeout, admin_key=admin_key, retries=self.retries,
                      channel=self._channel)

    def wait_ready(self, timeout: float | None = None) -> None:
        """Block until the channel is connected; Unavailable after `timeout` (default: the client's)."""
        try:
            grpc.channel_ready_future(self._channel).result(timeout=self.timeout if timeout is None else timeout)
        except grpc.FutureTimeoutError:
            raise Unavailable(f"venue at {self.address} not reachable") from None

    def close(self) -> None:
        """Close the channel, when this client opened it."""
        if self._owns_channel:
            self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _invoke(self, call: Call) -> Any:
        fn = getattr(self._stubs[call.service], call.method)
        timeout, metadata = self._deadline(call), self._metadata(call.admin)
        attempt = 0
        while True:
            try:
                response = fn(call.request, timeout=timeout, metadata=metadata)
            except grpc.RpcError as e:
                if self._retries(call, attempt, e):
                    time.sleep(retry_backoff(attempt))
                    attempt += 1
                    continue
                raise from_rpc_error(e) from e
            return call.convert(response)

    def _stream_on(self, service: str, method: str, request: Any, convert, timeout: float | None) -> Stream:
        fn = getattr(self._stubs[service], method)
        return Stream(fn(request, timeout=timeout, metadata=self._metadata()), convert)


# ---------------------------------------------------------------- asyncio client


class AsyncClient(_Api):
    """The asyncio client: the methods of `Client`, as coroutines (streams: async iterators).

    The channel is opened on first use, inside the running event loop."""

    def __init__(self, address: str = DEFAULT_ADDRESS, api_key: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                 *, admin_key: str | None = None, retries: int = DEFAULT_RETRIES,
                 channel: grpc.aio.Channel | None = None) -> None:
        self.address, self.api_key, self.admin_key = address, api_key, admin_key
        self.timeout, self.retries = timeout, retries
        self._owns_channel = channel is None
        self._channel = channel
        self._stubs_: dict[str, Any] | None = None

    @property
    def _stubs(self) -> dict[str, Any]:
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(self.address)
        if self._stubs_ is None:
            self._stubs_ = service_stubs(self._channel)
        return self._stubs_

    def with_key(self, api_key: str | None, admin_key: str | None = None) -> AsyncClient:
        """A client of another account on the same channel (closing it leaves the channel open).

        The new client holds only the keys given here (not this client's admin key)."""
        self._stubs  # noqa: B018 - opens the channel to share it
        return AsyncClient(self.address, api_key, self.timeout, admin_key=admin_key, retries=self.retries,
                           channel=self._channel)

    async def wait_ready(self, timeout: float | None = None) -> None:
        """Wait until the channel connects (s; default: the call timeout); Unavailable when it does not."""
        self._stubs  # noqa: B018 - opens the channel
        assert self._channel is not None
        try:
            await asyncio.wait_for(self._channel.channel_ready(), self.timeout if timeout is None else timeout)
        except TimeoutError:
            raise Unavailable(f"venue at {self.address} not reachable") from None

    async def close(self) -> None:
        """Close the channel, when this client opened it."""
        if self._owns_channel and self._channel is not None:
            await self._channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def _invoke(self, call: Call) -> Any:
        fn = getattr(self._stubs[call.service], call.method)
        timeout, metadata = self._deadline(call), self._metadata(call.admin)
        attempt = 0
        while True:
            try:
                response = await fn(call.request, timeout=timeout, metadata=metadata)
            except grpc.aio.AioRpcError as e:
                if self._retries(call, attempt, e):
                    await asyncio.sleep(retry_backoff(attempt))
                    attempt += 1
                    continue
                raise from_rpc_error(e) from e
            return call.convert(response)

    def _stream_on(self, service: str, method: str, request: Any, convert, timeout: float | None) -> AsyncStream:
        fn = getattr(self._stubs[service], method)
        return AsyncStream(fn(request, timeout=timeout, metadata=self._metadata()), convert)


# Keep PerpsimError importable from here: `from perpsim.clients.client import PerpsimError`.
__all__ += ["PerpsimError"]
