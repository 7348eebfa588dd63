"""The client's account calls (AccountService), shared by `Client` and `AsyncClient`: the
account and its positions, leverage and modes, isolated margin, an order's preview, deposits,
withdrawals and transfers, and the account's stream. Reads (PreviewOrder is one) are retried on
UNAVAILABLE, writes are not. Amounts come back exact (Decimal).
"""

from __future__ import annotations

from decimal import Decimal

from perpsim.clients import models as M
from perpsim.clients.account_models import Account, Position
from perpsim.clients.arguments import Number, decimal_text, margin_mode_enum, order_request, position_side_enum
from perpsim.clients.calls import Call, CallSite
from perpsim.clients.order_models import Preview
from perpsim.clients.stream_models import AccountUpdate
from perpsim.v1 import account_pb2


def _wallet(r) -> Decimal:
    return M.dec0(r.wallet.amount)


class AccountCalls(CallSite):
    """Mixin of the SDK's API class (`CallSite`): the account calls and the account stream."""

    def account(self) -> Account:
        """Account id, balances per settlement asset, position mode."""
        return self._invoke(Call("account", "GetAccount", account_pb2.GetAccountRequest(), Account.from_pb,
                                 retry=True))

    def positions(self, symbol: str = "") -> list[Position]:
        """Open positions (of one market, or all)."""
        return self._invoke(Call("account", "ListPositions", account_pb2.ListPositionsRequest(symbol=symbol),
                                 lambda r: [Position.from_pb(p) for p in r.positions], retry=True))

    def set_leverage(self, symbol: str, leverage: int) -> int:
        """Set the account's leverage in `symbol` (an int multiple, 1 to what the market's brackets allow
        for the position); the leverage now in force. Refused as the venue refuses it (InvalidLeverage)."""
        if isinstance(leverage, bool) or not isinstance(leverage, int):
            raise TypeError("leverage: expected an int")
        return self._invoke(Call("account", "SetLeverage",
                                 account_pb2.SetLeverageRequest(symbol=symbol, leverage=leverage),
                                 lambda r: r.leverage, kind="write"))

    def set_margin_mode(self, symbol: str, mode: str | int) -> None:
        """"cross" or "isolated"; refused while a position or an order exists in the market."""
        request = account_pb2.SetMarginModeRequest(symbol=symbol, margin_mode=margin_mode_enum(mode))
        return self._invoke(Call("account", "SetMarginMode", request, lambda r: None, kind="write"))

    def set_position_mode(self, hedge: bool) -> None:
        """Hedge mode (True: a LONG and a SHORT leg per market) or one-way (False)."""
        return self._invoke(Call("account", "SetPositionMode", account_pb2.SetPositionModeRequest(hedge_mode=hedge),
                                 lambda r: None, kind="write"))

    def set_multi_assets_mode(self, on: bool) -> bool:
        """Multi-Assets mode (True: USDT, USDC and BTC one cross collateral for USDⓈ markets) or
        Single-Asset mode (False); refused with positions or open orders. The mode now."""
        request = account_pb2.SetMultiAssetsModeRequest(multi_assets=on)
        return self._invoke(Call("account", "SetMultiAssetsMode", request, lambda r: r.multi_assets, kind="write"))

    def adjust_isolated_margin(self, symbol: str, amount: Number, position_side: str | int | None = None) -> Decimal:
        """Add (amount > 0) or remove (< 0) margin of an isolated position; the margin now."""
        request = account_pb2.AdjustIsolatedMarginRequest(symbol=symbol,
                                                          position_side=position_side_enum(position_side),
                                                          amount=decimal_text(amount, "amount"))
        return self._invoke(Call("account", "AdjustIsolatedMargin", request,
                                 lambda r: M.dec0(r.isolated_margin.amount), kind="write"))

    def preview_order(self, symbol: str, side: str | int, quantity: Number, price: Number | None = None, *,
                      type: str | int | None = None, time_in_force: str | int | None = None,
                      reduce_only: bool = False, position_side: str | int | None = None,
                      stp: str | int | None = None, client_order_id: str | None = None,
                      good_till_ns: int = 0) -> Preview:
        """What the order would cost and where the position would be liquidated (nothing placed)."""
        request = order_request(symbol, side, quantity, price, type=type, time_in_force=time_in_force,
                                reduce_only=reduce_only, position_side=position_side, stp=stp,
                                client_order_id=client_order_id, good_till_ns=good_till_ns)
        return self._invoke(Call("account", "PreviewOrder", account_pb2.PreviewOrderRequest(order=request),
                                 Preview.from_pb, retry=True))

    def deposit(self, asset: str, amount: Number) -> Decimal:
        """Credit the wallet; the wallet balance after."""
        return self._invoke(Call("account", "Deposit",
                                 account_pb2.DepositRequest(asset=asset, amount=decimal_text(amount, "amount")),
                                 _wallet, kind="write"))

    def withdraw(self, asset: str, amount: Number) -> Decimal:
        """Debit the wallet (at most the withdrawable amount); the wallet balance after."""
        return self._invoke(Call("account", "Withdraw",
                                 account_pb2.WithdrawRequest(asset=asset, amount=decimal_text(amount, "amount")),
                                 _wallet, kind="write"))

    def transfer(self, to_account: int, asset: str, amount: Number) -> Decimal:
        """Move free collateral to another account; this account's wallet balance after."""
        request = account_pb2.TransferRequest(to_account_id=to_account, asset=asset,
                                              amount=decimal_text(amount, "amount"))
        return self._invoke(Call("account", "Transfer", request, _wallet, kind="write"))

    def stream_account(self, *, timeout: float | None = None):
        """This account's updates from now on (AccountUpdate): orders and fills, positions,
        balances, margin warnings, liquidations, conditional orders and order lists."""
        return self._stream_on("account", "StreamAccount", account_pb2.StreamAccountRequest(), AccountUpdate.from_pb,
                               timeout)
