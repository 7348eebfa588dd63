"""An account's commands for GrpcVenue on stubs shared by every account, its API key per call.

A client object per account would build a stub for every RPC of every service (hundreds of
gRPC method objects per account: most of the client's CPU in a population's setup); here one
set of stubs serves all of them. Money and prices go as exact decimal strings made from the
engine's integers by the market specs (no rounding); a refusal raises the client's typed
error, as perpsim.clients.client does. Imported only over gRPC.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from perpsim.clients.errors import from_rpc_error
from perpsim.engine import commands as C
from perpsim.model.enums import ConditionalKind, Side, TriggerSource
from perpsim.model.markets import MarketSpec
from perpsim.sim.grpc_reads import bearer
from perpsim.v1 import account_pb2, account_pb2_grpc, common_pb2, trading_pb2, trading_pb2_grpc

_SIDE = {Side.BUY: common_pb2.SIDE_BUY, Side.SELL: common_pb2.SIDE_SELL}
_CONDITIONAL = {ConditionalKind.STOP_MARKET: common_pb2.CONDITIONAL_TYPE_STOP_MARKET,
                ConditionalKind.TAKE_PROFIT_MARKET: common_pb2.CONDITIONAL_TYPE_TAKE_PROFIT_MARKET}


class AccountCalls:
    """Deposits, settings, cancels and stops of any account on `channel` (deadlines of
    `timeout` seconds); each call takes the account's API key."""

    def __init__(self, channel: grpc.Channel, timeout: float) -> None:
        self._account = account_pb2_grpc.AccountServiceStub(channel)
        self._trading = trading_pb2_grpc.TradingServiceStub(channel)
        self.timeout = timeout

    def _call(self, method: Callable, request: Any, key: str) -> Any:
        try:
            return method(request, timeout=self.timeout, metadata=bearer(key))
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None

    def deposit(self, key: str, spec: MarketSpec, units: int) -> None:
        """Credit `units` (integer money units of the market's settlement asset)."""
        amount = format(spec.units_to_money(units), "f")
        self._call(self._account.Deposit, account_pb2.DepositRequest(asset=spec.settle, amount=amount), key)

    def set_leverage(self, key: str, symbol: str, leverage: int) -> None:
        self._call(self._account.SetLeverage, account_pb2.SetLeverageRequest(symbol=symbol, leverage=leverage), key)

    def set_margin_mode(self, key: str, symbol: str, isolated: bool) -> None:
        mode = common_pb2.MARGIN_MODE_ISOLATED if isolated else common_pb2.MARGIN_MODE_CROSS
        self._call(self._account.SetMarginMode, account_pb2.SetMarginModeRequest(symbol=symbol, margin_mode=mode), key)

    def cancel_all(self, key: str, symbol: str) -> None:
        self._call(self._trading.CancelAllOrders, trading_pb2.CancelAllOrdersRequest(symbol=symbol), key)

    def cancel_order(self, key: str, symbol: str, order_id: int) -> None:
        self._call(self._trading.CancelOrder, trading_pb2.CancelOrderRequest(symbol=symbol, order_id=order_id), key)

    def place_conditional(self, key: str, spec: MarketSpec, cmd: C.PlaceConditional) -> None:
        """A stop or take-profit market order (`cmd.kind`), quantity and trigger as exact decimals."""
        kind = ConditionalKind(cmd.kind)
        if kind not in _CONDITIONAL:
            raise NotImplementedError(f"{kind.name} is not sent over gRPC by the simulator")
        source = common_pb2.TriggerSource.Value(f"TRIGGER_SOURCE_{TriggerSource(cmd.source).name}")
        request = trading_pb2.PlaceConditionalOrderRequest(
            symbol=cmd.symbol, side=_SIDE[Side(cmd.side)], type=_CONDITIONAL[kind],
            quantity="" if cmd.close_position else format(spec.lots_to_qty(cmd.qty), "f"),
            trigger_price=format(spec.ticks_to_price(cmd.trigger_price), "f"), trigger_source=source,
            reduce_only=cmd.reduce_only, close_position=cmd.close_position)
        self._call(self._trading.PlaceConditionalOrder, request, key)
