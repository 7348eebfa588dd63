"""The gRPC AccountService: balances, positions, leverage and margin settings, order previews,
deposits, withdrawals, transfers and daily loss limits.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from perpsim.engine import commands as C
from perpsim.model.enums import (
    PositionSide,
)
from perpsim.model.reasons import RejectReason as R
from perpsim.v1 import (
    account_pb2,
    account_pb2_grpc,
    common_pb2,
)
from perpsim.venue import convert as cv
from perpsim.venue import margin_assets
from perpsim.venue.errors import VenueError, to_status
from perpsim.venue.services.common import Venue, rpc
from perpsim.venue.services.trading import Trading
from perpsim.venue.services.wire import loss_limit_out, on_tick


class Accounts(account_pb2_grpc.AccountServiceServicer):
    """perpsim.v1.AccountService; every call acts on the account of the caller's bearer API key."""

    def __init__(self, venue: Venue, streams) -> None:
        self.venue, self.streams = venue, streams

    async def StreamAccount(self, request, context):
        """AccountService.StreamAccount: the caller's own events from now on (orders, fills, positions, balances, margin
        warnings, liquidations); UNAUTHENTICATED without a valid key."""
        try:
            account = self.venue.account(context)
        except VenueError as e:
            await context.abort_with_status(to_status(self.venue.refused(e)))
        async for msg in self.streams.topic("account", str(account), context, check_symbol=False):
            yield msg

    @rpc
    async def GetAccount(self, request, context):
        """AccountService.GetAccount: the caller's balance in every settlement asset (and, in Multi-Assets mode, every
        margin asset) and its hedge and Multi-Assets modes."""
        account = self.venue.account(context)
        view = self.venue.view
        out = []
        for spec, b, collateral in margin_assets.balances(self.venue.markets, view, account):

            def m(units, spec=spec):
                return cv.money_out(spec, units)

            out.append(account_pb2.Balance(
                asset=b.asset, wallet=m(b.wallet), available=m(b.available), withdrawable=m(b.withdrawable),
                margin_balance=m(b.margin_balance), unrealized_pnl=m(b.upnl),
                maintenance_margin=m(b.maintenance_margin), initial_margin=m(b.initial_margin),
                collateral_value=margin_assets.collateral_text(collateral)))
        return account_pb2.GetAccountResponse(account_id=account, balances=out, hedge_mode=view.hedge_mode(account),
                                              multi_assets=view.multi_assets(account))

    @rpc
    async def ListPositions(self, request, context):
        """AccountService.ListPositions: the caller's positions, in request.symbol or all (none for an unknown symbol),
        with the risk signals' σ distance and nudge when they run."""
        account = self.venue.account(context)
        symbol = request.symbol or None
        known = symbol is None or symbol in self.venue.markets  # an unknown symbol holds no positions
        out = []
        for v in self.venue.view.positions(account, symbol) if known else ():
            spec = self.venue.markets[v.symbol]
            tick = Fraction(spec.tick_size)  # the view's exact prices are in ticks

            def price(ticks, tick=tick):
                return "" if ticks is None else cv.fraction_out(ticks * tick)

            out.append(account_pb2.Position(
                symbol=v.symbol, position_side=cv.PSIDE_OUT[PositionSide(v.position_side)],
                quantity=str((1 if v.lots > 0 else -1) * spec.lots_to_qty(abs(v.lots))), quantity_lots=v.lots,
                entry_price=price(v.entry), mark_price=spec.format_price(v.mark) if v.mark else "",
                unrealized_pnl=cv.money_out(spec, v.upnl), liquidation_price=on_tick(spec, v.liquidation_tick),
                bankruptcy_price=on_tick(spec, v.bankruptcy_tick),
                margin_mode=common_pb2.MARGIN_MODE_ISOLATED if v.isolated else common_pb2.MARGIN_MODE_CROSS,
                leverage=v.leverage, isolated_margin=cv.money_out(spec, v.isolated_margin),
                adl_quantile=v.adl_quantile, maintenance_margin=cv.money_out(spec, v.maintenance_margin),
                next_funding_payment=cv.money_out(spec, v.funding_estimate)))
        signals = self.venue.account_signals
        if signals is not None:
            signals.decorate_positions(account, out)
        return account_pb2.ListPositionsResponse(positions=out)

    @rpc
    async def SetLeverage(self, request, context):
        """AccountService.SetLeverage: set the caller's leverage in one market; answers the leverage set."""
        account = self.venue.account(context)
        spec = self.venue.spec(request.symbol)
        await self.venue.run(lambda ts: C.SetLeverage(ts, account, spec.symbol, request.leverage))
        return account_pb2.SetLeverageResponse(leverage=request.leverage)

    @rpc
    async def SetMarginMode(self, request, context):
        """AccountService.SetMarginMode: switch the caller's margin mode in one market (cross or isolated)."""
        account = self.venue.account(context)
        spec = self.venue.spec(request.symbol)
        mode = cv.enum_in({common_pb2.MARGIN_MODE_CROSS: False, common_pb2.MARGIN_MODE_ISOLATED: True},
                          request.margin_mode, "margin_mode", R.INVALID_MARGIN_MODE)
        await self.venue.run(lambda ts: C.SetMarginMode(ts, account, spec.symbol, mode))
        return account_pb2.SetMarginModeResponse()

    @rpc
    async def SetPositionMode(self, request, context):
        """AccountService.SetPositionMode: switch the caller between hedge mode and one-way mode."""
        account = self.venue.account(context)
        await self.venue.run(lambda ts: C.SetPositionMode(ts, account, request.hedge_mode))
        return account_pb2.SetPositionModeResponse()

    @rpc
    async def SetMultiAssetsMode(self, request, context):
        """AccountService.SetMultiAssetsMode: turn the caller's Multi-Assets mode on or off; answers the mode now."""
        account = self.venue.account(context)
        await self.venue.run(lambda ts: C.SetMultiAssetsMode(ts, account, request.multi_assets))
        return account_pb2.SetMultiAssetsModeResponse(multi_assets=self.venue.view.multi_assets(account))

    @rpc
    async def AdjustIsolatedMargin(self, request, context):
        """AccountService.AdjustIsolatedMargin: add (negative: remove) margin of one of the caller's isolated positions;
        answers its isolated margin now."""
        account = self.venue.account(context)
        spec = self.venue.spec(request.symbol)
        pside = cv.enum_in(cv.PSIDE_IN, request.position_side, "position_side", R.INVALID_POSITION_SIDE)
        amount = cv.money_in(spec, request.amount, allow_negative=True)
        await self.venue.run(lambda ts: C.AdjustIsolatedMargin(ts, account, spec.symbol, amount, pside))
        margin = self.venue.view.isolated_margin(account, spec.symbol, pside)
        return account_pb2.AdjustIsolatedMarginResponse(isolated_margin=cv.money_out(spec, margin))

    @rpc
    async def PreviewOrder(self, request, context):
        """AccountService.PreviewOrder: what an order (converted as PlaceOrder converts it) would do to the caller's
        account if it filled completely, placing nothing: its cost against what is available, the resulting position,
        its liquidation and bankruptcy prices and funding."""
        account = self.venue.account(context)
        cmd = Trading(self.venue).command(account, request.order)
        preview = self.venue.view.preview_order(cmd)
        spec = self.venue.markets[cmd.symbol]
        signals = self.venue.account_signals
        return account_pb2.PreviewOrderResponse(
            **(signals.preview_fields(cmd, preview) if signals is not None else {}),
            cost=cv.money_out(spec, preview["cost"]), available=cv.money_out(spec, preview["available"]),
            affordable=preview["cost"] <= preview["available"],
            resulting_quantity=str(spec.lots_to_qty(abs(preview["lots"])) * (1 if preview["lots"] >= 0 else -1)),
            liquidation_price=on_tick(spec, preview["liquidation_tick"]),
            bankruptcy_price=on_tick(spec, preview["bankruptcy_tick"]),
            maintenance_margin=cv.money_out(spec, preview["maintenance_margin"]),
            liquidation_distance_percent=cv.fraction_out(preview["liquidation_distance_percent"]),
            funding_rate=cv.rate_out(preview["funding_rate"]),
            funding_payment=cv.money_out(spec, preview["funding_payment"]),
            next_funding_time_ns=preview["next_funding_ts"],
            partial_liquidation_price=on_tick(spec, preview["liquidation_band"][0]),
            full_liquidation_price=on_tick(spec, preview["liquidation_band"][1]))

    async def _rail(self, request, context, make, response, check=None):
        """A deposit, withdrawal or transfer of the caller's (`check`: run once the caller is
        authenticated, before anything else)."""
        account = self.venue.account(context)
        if check is not None:
            check()
        spec = margin_assets.asset_spec(self.venue.markets, self.venue.view, account, request.asset)
        amount = cv.money_in(spec, request.amount)
        await self.venue.run(lambda ts: make(ts, account, amount))
        return response(wallet=cv.money_out(spec, self.venue.view.wallet(account, request.asset)))

    @rpc
    async def Deposit(self, request, context):
        """AccountService.Deposit: credit an amount of an asset to the caller's wallet; answers the wallet now."""
        return await self._rail(request, context, lambda ts, a, x: C.Deposit(ts, a, request.asset, x),
                                account_pb2.DepositResponse)

    @rpc
    async def Withdraw(self, request, context):
        """AccountService.Withdraw: take an amount of an asset out of the caller's wallet; answers the wallet now."""
        return await self._rail(request, context, lambda ts, a, x: C.Withdraw(ts, a, request.asset, x),
                                account_pb2.WithdrawResponse)

    @rpc
    async def Transfer(self, request, context):
        """AccountService.Transfer: move an amount of an asset from the caller's wallet to another account's; answers
        the caller's wallet now. NOT_FOUND (UNKNOWN_ACCOUNT) when to_account_id does not exist (told only to an
        authenticated caller: the ids in use are nobody else's business)."""

        def exists() -> None:
            if not self.venue.keys.has_account(request.to_account_id):
                raise VenueError(R.UNKNOWN_ACCOUNT, field="to_account_id", to_account_id=request.to_account_id)

        return await self._rail(
            request, context, lambda ts, a, x: C.Transfer(ts, a, request.to_account_id, request.asset, x),
            account_pb2.TransferResponse, exists)

    @rpc
    async def SetDailyLossLimit(self, request, context):
        """AccountService.SetDailyLossLimit: set the caller's daily loss limit in one settlement asset ("0": remove it;
        a raise or a removal takes effect at the next 00:00 UTC); answers the limit."""
        account = self.venue.account(context)
        spec = self.venue.asset_spec(request.asset)
        try:  # "0" removes the limit; anything else is a positive amount of the asset
            zero = bool(request.amount) and Decimal(request.amount) == 0
        except ArithmeticError:
            zero = False
        amount = 0 if zero else cv.money_in(spec, request.amount)
        await self.venue.run(lambda ts: C.SetDailyLossLimit(ts, account, spec.settle, amount,
                                                            request.include_unrealized, request.flatten))
        return loss_limit_out(spec, self.venue.view.daily_loss_limit(account, spec.settle))

    @rpc
    async def GetDailyLossLimit(self, request, context):
        """AccountService.GetDailyLossLimit: the caller's daily loss limit in one settlement asset."""
        account = self.venue.account(context)
        spec = self.venue.asset_spec(request.asset)
        return loss_limit_out(spec, self.venue.view.daily_loss_limit(account, spec.settle))
