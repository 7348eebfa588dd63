"""GrpcVenue's reads, account creation and index moves in the engine's own units, on the venue's stubs.

A book comes back as its levels in ticks and lots and a position as its signed lots, read off
the answers' integer fields (price_ticks, quantity_lots): no decimal string is parsed and no
client model built (the metrics read 50 levels a side every step). A refused call raises the
client's typed error, as perpsim.clients.client does. Imported only over gRPC.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

import grpc

from perpsim.clients.errors import from_rpc_error
from perpsim.v1 import account_pb2, account_pb2_grpc, market_pb2, market_pb2_grpc, sandbox_pb2, sandbox_pb2_grpc

Levels = list[tuple[int, int]]
#: a price move's deadline, in read deadlines (it may run a liquidation cascade), as the client's
SANDBOX_DEADLINE = 4


def bearer(key: str) -> tuple[tuple[str, str], ...]:
    """The call metadata that authenticates `key`."""
    return (("authorization", f"Bearer {key}"),)


class Reads:
    """The venue's reads the simulator makes every step, on `channel`, with deadlines of
    `timeout` seconds."""

    def __init__(self, channel: grpc.Channel, admin_key: str, timeout: float) -> None:
        self._market = market_pb2_grpc.MarketDataServiceStub(channel)
        self._account = account_pb2_grpc.AccountServiceStub(channel)
        self._sandbox = sandbox_pb2_grpc.SandboxServiceStub(channel)
        self._admin = bearer(admin_key)
        self.timeout = timeout

    def _call(self, method: Callable, request: Any, metadata: tuple, deadlines: int = 1) -> Any:
        try:
            return method(request, timeout=self.timeout * deadlines, metadata=metadata)
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

    def set_index(self, symbol: str, ticks: int) -> tuple[str, int]:
        """Move the index to `ticks` (SetIndexPrice in ticks): the mark the venue answers with
        (a decimal string, "" when none) and how many liquidations the move set off."""
        r = self._call(self._sandbox.SetIndexPrice, sandbox_pb2.SetIndexPriceRequest(symbol=symbol, price_ticks=ticks),
                       self._admin, SANDBOX_DEADLINE)
        return r.mark_price, r.liquidations

    def create_accounts(self, labels: list[str], pool: Executor) -> list[tuple[int, str]]:
        """New accounts, one CreateAccount call each, all of them in flight on `pool` (the venue
        saves the keys of concurrent calls together): (account id, API key) each, by account id."""
        def create(label: str) -> tuple[int, str]:
            r = self._call(self._sandbox.CreateAccount, sandbox_pb2.CreateAccountRequest(label=label), self._admin)
            return r.account_id, r.api_key

        return sorted(f.result() for f in [pool.submit(create, label) for label in labels])
