"""The gRPC server hosting every service, with health and reflection."""

from __future__ import annotations

from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from perpsim.v1 import (
    account_pb2,
    account_pb2_grpc,
    history_pb2,
    history_pb2_grpc,
    market_pb2,
    market_pb2_grpc,
    risk_pb2,
    sandbox_pb2,
    sandbox_pb2_grpc,
    trading_pb2,
    trading_pb2_grpc,
)
from perpsim.venue.guard import RequestGuard
from perpsim.venue.services import batch, profiles, risk
from perpsim.venue.services.accounts import Accounts
from perpsim.venue.services.common import Venue
from perpsim.venue.services.history import History
from perpsim.venue.services.market import MarketData
from perpsim.venue.services.sandbox import Sandbox
from perpsim.venue.services.trading import Trading

SERVICE_NAMES = (
    market_pb2.DESCRIPTOR.services_by_name["MarketDataService"].full_name,
    trading_pb2.DESCRIPTOR.services_by_name["TradingService"].full_name,
    account_pb2.DESCRIPTOR.services_by_name["AccountService"].full_name,
    sandbox_pb2.DESCRIPTOR.services_by_name["SandboxService"].full_name,
    history_pb2.DESCRIPTOR.services_by_name["HistoryService"].full_name,
    risk_pb2.DESCRIPTOR.services_by_name["RiskService"].full_name,
    "perpsim.v1.ProfileService",
    "perpsim.v1.BatchService",
)


class _GenericHandlersOnly:
    """The server as the generated `add_*_to_server` functions see it: each service's handlers
    go in as a generic handler only. Their "registered method" twin is skipped: grpc.aio keeps
    a pending request future for every registered method (some 70 here, reflection's one kept) and waits on all of
    them again after each call, which cost about a sixth of a read's time on the loop; a generic
    handler routes the same calls by their method path, to the same handlers."""

    def __init__(self, server: grpc.aio.Server) -> None:
        self._server = server

    def add_generic_rpc_handlers(self, handlers) -> None:
        self._server.add_generic_rpc_handlers(handlers)

    def add_registered_method_handlers(self, service_name: str, handlers) -> None:
        """Nothing: the generic handler added just before routes these methods."""


def build_server(venue: Venue, streams) -> tuple[grpc.aio.Server, health.aio.HealthServicer]:
    """A grpc.aio server with the four services, health and reflection (not yet started).

    Health is the asyncio servicer: the synchronous one parks a worker thread per open Watch,
    and watchers would exhaust the executor everything else needs. The port is bound
    exclusively (no SO_REUSEPORT): a second venue on a taken address fails instead of
    sharing it. Health starts NOT_SERVING (see `set_serving`). Every request passes the
    RequestGuard (undecodable bytes, 64-bit ids out of range) before its servicer."""
    grpc_server = grpc.aio.server(interceptors=(RequestGuard(),), options=(("grpc.so_reuseport", 0),))
    server: Any = _GenericHandlersOnly(grpc_server)
    market_pb2_grpc.add_MarketDataServiceServicer_to_server(MarketData(venue, streams), server)
    trading_pb2_grpc.add_TradingServiceServicer_to_server(Trading(venue), server)
    account_pb2_grpc.add_AccountServiceServicer_to_server(Accounts(venue, streams), server)
    sandbox_pb2_grpc.add_SandboxServiceServicer_to_server(Sandbox(venue), server)
    history_pb2_grpc.add_HistoryServiceServicer_to_server(History(venue), server)
    risk.add_to_server(venue, server)
    profiles.add_to_server(venue, server)
    batch.add_to_server(venue, server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    # (given the server itself: reflection picks its asyncio servicer by the server's type; its
    # one method stays registered)
    reflection.enable_server_reflection((*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), grpc_server)
    return grpc_server, health_servicer


async def set_serving(health_servicer: health.aio.HealthServicer, serving: bool) -> None:
    """Every service (and "") SERVING or NOT_SERVING."""
    status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
    for name in ("", *SERVICE_NAMES):
        await health_servicer.set(name, status)
