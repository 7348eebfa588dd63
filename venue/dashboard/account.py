"""The account view's snapshot and the pre-trade preview, through the venue's own gRPC servicers.

The page's API key is checked and the figures are built by the very methods a gRPC client calls
(AccountService.GetAccount / ListPositions / GetDailyLossLimit / PreviewOrder, RiskService.
GetAccountRisk / ListRecentFills), invoked in process with the key as their bearer metadata: the
page shows what the gRPC API answers, rounded as it rounds, and a wrong key is refused as it is
refused there (UNAUTHENTICATED), with no account data. The key is never logged or echoed.
"""

from __future__ import annotations

import grpc
from google.protobuf.json_format import ParseDict, ParseError
from google.rpc import status_pb2

from perpsim.v1 import account_pb2, risk_pb2, trading_pb2
from perpsim.venue import convert as cv
from perpsim.venue.dashboard.market import proto_json
from perpsim.venue.services.accounts import Accounts
from perpsim.venue.services.risk import RiskService
from perpsim.venue.services.trading import Trading

FILLS = 50


class Refused(Exception):
    """A call the venue refused: `code` (a grpc.StatusCode name) and the venue's message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message

    def json(self) -> dict:
        """The refusal as the page's error fields: code and message."""
        return {"code": self.code, "message": self.message}


class KeyContext:
    """The servicer context of an in-process call made with an API key: the key as bearer
    metadata; an abort raises `Refused` instead of ending an RPC."""

    def __init__(self, key: str) -> None:
        self._metadata = (("authorization", f"Bearer {key}"),)

    def invocation_metadata(self):
        """The call's metadata: the key as its bearer authorization."""
        return self._metadata

    async def abort(self, code: grpc.StatusCode, details: str = ""):
        """End the call: raise Refused with the code's name and `details`."""
        raise Refused(code.name, details)

    async def abort_with_status(self, status):
        """End the call: raise Refused with the status's code name and its rich status's message (else its details)."""
        code = next((c for c in grpc.StatusCode if c.value[0] == status.code.value[0]), grpc.StatusCode.UNKNOWN)
        message = status.details
        for key, value in status.trailing_metadata or ():
            if key == "grpc-status-details-bin":  # the rich status: its message is the readable one
                message = status_pb2.Status.FromString(value).message or message
        raise Refused(code.name, message)


class AccountSnapshot:
    """Builds the account view of the key's account (read only) and previews orders."""

    def __init__(self, venue) -> None:
        self.venue = venue
        self.accounts = Accounts(venue, None)
        self.trading = Trading(venue)
        self.risk = RiskService(venue)

    async def build(self, key: str) -> dict:
        """Everything the account view shows; Refused for a wrong key (nothing else is read)."""
        ctx = KeyContext(key)
        account = await self.accounts.GetAccount(account_pb2.GetAccountRequest(), ctx)  # checks the key first
        positions = await self.accounts.ListPositions(account_pb2.ListPositionsRequest(), ctx)
        risk = await self.risk.GetAccountRisk(risk_pb2.GetAccountRiskRequest(), ctx)
        fills = await self.risk.ListRecentFills(risk_pb2.ListRecentFillsRequest(limit=FILLS), ctx)
        limits = []
        for b in account.balances:
            limit = await self.accounts.GetDailyLossLimit(account_pb2.GetDailyLossLimitRequest(asset=b.asset), ctx)
            limits.append({"asset": b.asset, **proto_json(limit)})
        out_positions = []
        for p in positions.positions:
            row = proto_json(p)
            row["liquidation_band"] = self._band(account.account_id, p)
            out_positions.append(row)
        return {"type": "account", "account_id": account.account_id, "time_ns": self.venue.view.ts,
                "balances": proto_json(account)["balances"], "positions": out_positions, "risk": proto_json(risk),
                "fills": proto_json(fills)["fills"], "daily_loss_limits": limits}

    def _band(self, account: int, p) -> dict | None:
        """The position's liquidation band (partial, full liquidation price, quote per base, on
        the tick rounded against the account) as the engine computes it for PreviewOrder
        (risk.liqband through the read API), against the position as it stands. One-way and
        isolated positions only (a cross hedge pair has no single band); None when it has none."""
        spec = self.venue.markets[p.symbol]
        band = self.venue.view.liquidation_band(account, p.symbol, int(cv.PSIDE_IN[p.position_side]))
        if band is None or band[0] is None:
            return None
        partial, full = band
        return {"partial": str(spec.ticks_to_price(partial)),
                "full": "" if full is None else str(spec.ticks_to_price(full))}

    async def preview(self, key: str, order: dict) -> dict:
        """PreviewOrder of `order` (PlaceOrderRequest fields: symbol, side BUY/SELL, type
        LIMIT/MARKET, quantity, price) for the key's account, exactly as the gRPC call answers.
        Refused for a wrong key or a bad order (INVALID_ARGUMENT naming the field)."""
        req = _order_request(order)
        res = await self.accounts.PreviewOrder(account_pb2.PreviewOrderRequest(order=req), KeyContext(key))
        return {"type": "preview", **proto_json(res)}


    async def place(self, key: str, order: dict) -> dict:
        """TradingService.PlaceOrder of `order` for the key's account (the same fields as
        `preview`): the order, its fills and the warnings it was placed with; Refused as refused."""
        res = await self.trading.PlaceOrder(_order_request(order), KeyContext(key))
        return {"type": "placed", **proto_json(res)}


_ENUMS = {"side": "SIDE_", "type": "ORDER_TYPE_", "time_in_force": "TIME_IN_FORCE_"}


def _order_request(order: dict) -> trading_pb2.PlaceOrderRequest:
    if not isinstance(order, dict):
        raise Refused("INVALID_ARGUMENT", "order: an object of PlaceOrderRequest fields")
    fields = {}
    for k, v in order.items():
        if v in ("", None):
            continue
        prefix = _ENUMS.get(k)
        fields[k] = (v if str(v).startswith(prefix) else prefix + str(v).upper()) if prefix else v
    try:
        return ParseDict(fields, trading_pb2.PlaceOrderRequest())
    except ParseError as e:
        raise Refused("INVALID_ARGUMENT", f"order: {e}") from None
