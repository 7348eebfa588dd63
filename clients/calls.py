"""One unary call of the client and its policy: which service, deadline, retry and key.

Deadlines: `timeout` seconds for reads and account or order writes, 4 x `timeout` for sandbox
controls (a price move may run a liquidation cascade). Retries (safe calls only) back off
exponentially with jitter, at most 1 s.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from perpsim.v1 import (
    account_pb2_grpc,
    history_pb2_grpc,
    market_pb2_grpc,
    profiles_pb2_grpc,
    risk_pb2_grpc,
    sandbox_pb2_grpc,
    trading_pb2_grpc,
)

# Deadline of a call = client timeout x this factor.
DEADLINE_FACTOR = {"read": 1.0, "write": 1.0, "sandbox": 4.0}


@dataclass(frozen=True, slots=True)
class Call:
    """One unary call: which RPC, its request, how to convert the answer, and its policy."""

    service: str  # market | trading | account | sandbox | history
    method: str
    request: Any
    convert: Callable[[Any], Any]
    kind: str = "read"  # read | write | sandbox: the deadline
    retry: bool = False  # retried on UNAVAILABLE (safe calls only)
    admin: bool = False  # authenticated with the admin key


def service_stubs(channel) -> dict[str, Any]:
    """A stub of every service on the channel, by `Call.service` name."""
    return {
        "market": market_pb2_grpc.MarketDataServiceStub(channel),
        "trading": trading_pb2_grpc.TradingServiceStub(channel),
        "account": account_pb2_grpc.AccountServiceStub(channel),
        "sandbox": sandbox_pb2_grpc.SandboxServiceStub(channel),
        "history": history_pb2_grpc.HistoryServiceStub(channel),
        "risk": risk_pb2_grpc.RiskServiceStub(channel),
        "profiles": profiles_pb2_grpc.ProfileServiceStub(channel),
    }


def retry_backoff(attempt: int) -> float:
    """Seconds to wait before retry `attempt` + 1: 50 ms doubling, at most 1 s, less up to half
    (jitter)."""
    return min(1.0, 0.05 * 2**attempt) * (0.5 + random.random() / 2)


class CallSite:
    """The base of the SDK's service mixins (market_calls, trading_calls, ...): `_invoke(call)`
    makes a unary call (blocking in `Client`, a coroutine in `AsyncClient`), `_stream_on(service,
    method, request, convert, timeout)` opens a stream; both are the clients' own."""

    def _invoke(self, call: Call) -> Any:
        raise NotImplementedError

    def _stream_on(self, service: str, method: str, request: Any, convert: Callable[[Any], Any],
                   timeout: float | None) -> Any:
        raise NotImplementedError
