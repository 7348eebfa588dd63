"""GrpcVenue's reads made on their own, in the engine's own units, on the venue's stubs.

A book comes back as its levels in ticks and lots and a position as its signed lots, read off
the answers' integer fields (price_ticks, quantity_lots): no decimal string is parsed and no
client model built (the metrics read 50 levels a side every step). A refused call raises the
client's typed error, as perpsim.clients.client does. Imported only over gRPC.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from perpsim.clients.errors import from_rpc_error
from perpsim.v1 import account_pb2, account_pb2_grpc, market_pb2, market_pb2_grpc

Levels = list[tuple[int, int]]


def bearer(key: str) -> tuple[tuple[str, str], ...]:
    """The call metadata that authenticates `key`."""
    return (("authorization", f"Bearer {key}"),)


class Reads:
    """The venue's reads the simulator makes every step, on `channel`, with deadlines of
    `timeout` seconds."""

    def __init__(self, channel: grpc.Channel, timeout: float) -> None:
        self._market = market_pb2_grpc.MarketDataServiceStub(channel)
        self._account = account_pb2_grpc.AccountServiceStub(channel)
        self.timeout = timeout

    def _call(self, method: Callable, request: Any, metadata: tuple) -> Any:
        try:
            return method(request, timeout=self.timeout, metadata=metadata)
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None

    def book(self, symbol: str, depth: int) -> tuple[Levels, Levels]:
        """Bids and asks, best first, up to `depth` levels a side: (price ticks, lots) each."""
        r = self._call(self._market.GetOrderBook, market_pb2.GetOrderBookRequest(symbol=symbol, depth=depth), ())
        return ([(lv.price_ticks, lv.quantity_lots) for lv in r.bids],
                [(lv.price_ticks, lv.quantity_lots) for lv in r.asks])

    def position_lots(self, key: str, symbol: str) -> int:
        """The signed lots the account of `key` holds in `symbol` (its legs summed in hedge mode)."""
        r = self._call(self._account.ListPositions, account_pb2.ListPositionsRequest(symbol=symbol), bearer(key))
        return sum(p.quantity_lots for p in r.positions)
