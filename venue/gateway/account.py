"""Account endpoints: account and balance (v2, v3), positionRisk (v2, v3), leverage,
marginType, positionMargin, positionSide/dual, income, forceOrders, adlQuantile,
commissionRate, leverageBracket, symbolConfig, multiAssetsMargin."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from aiohttp import web

from perpsim.engine import commands as C
from perpsim.engine.multi_assets import MARGIN_ASSETS
from perpsim.engine.views import ExchangeView
from perpsim.model.enums import PositionSide
from perpsim.model.reasons import RejectReason as R
from perpsim.risk.units import RATE_SCALE
from perpsim.venue import convert as cv
from perpsim.venue.errors import VenueError
from perpsim.venue.gateway import errors as E
from perpsim.venue.gateway import params as P
from perpsim.venue.gateway import shapes as S
from perpsim.venue.gateway.edge import SIGNED
from perpsim.venue.gateway.market import linear_specs
from perpsim.venue.margin_assets import unit_spec

OK = {"code": 200, "msg": "success"}
INCOME_TYPES = ("TRANSFER", "REALIZED_PNL", "FUNDING_FEE", "COMMISSION", "INSURANCE_CLEAR", "INSURANCE_COVER",
                "AUTO_EXCHANGE")


def _num(x: Decimal) -> float | int:
    """A number field Binance writes as a JSON number (display only)."""
    return int(x) if x == x.to_integral_value() else float(x)


class Account:
    """The /fapi account routes (account, balance, positionRisk, leverage, marginType, income, …),
    all SIGNED, for the account of the request's API key."""

    def __init__(self, gw) -> None:
        self.gw, self.venue = gw, gw.venue

    def view(self) -> ExchangeView:
        """The engine's read API over the live state's exchange."""
        return ExchangeView(self.venue.state.exchange)

    def _updated(self, v: ExchangeView) -> int:
        return max(1, S.ms(v.ts))  # ccxt drops balances whose updateTime is 0

    # ------------------------------------------------------------ balances

    def _assets(self, account: int, v: ExchangeView) -> list[dict]:
        out = []
        assets = {s.settle for s in linear_specs(self.venue)}
        if v.multi_assets(account):  # every margin asset is the account's USDⓈ-M collateral
            assets |= set(MARGIN_ASSETS)
        for asset in sorted(assets):
            spec, b = unit_spec(self.venue.markets, asset), v.balance(account, asset)

            def m(units: int, spec=spec) -> str:
                return spec.format_money(units)
            out.append({"asset": asset, "walletBalance": m(b.wallet), "unrealizedProfit": m(b.upnl),
                        "marginBalance": m(b.margin_balance), "maintMargin": m(b.maintenance_margin),
                        "initialMargin": m(b.initial_margin), "positionInitialMargin": m(b.initial_margin),
                        "openOrderInitialMargin": m(0), "crossWalletBalance": m(b.wallet),
                        "crossUnPnl": m(b.upnl), "availableBalance": m(b.available),
                        "maxWithdrawAmount": m(b.withdrawable), "marginAvailable": True,
                        "updateTime": self._updated(v)})
        return out

    def _position(self, p, v: ExchangeView, full: bool) -> dict:
        spec = self.venue.markets[p.symbol]
        notional = Decimal(p.lots * p.mark) * spec.tick_size * spec.lot_size * spec.contract_size if p.mark else \
            Decimal(0)
        out = {"symbol": p.symbol, "positionSide": P.PSIDE_OUT[p.position_side],
               "positionAmt": S.signed_qty(spec, p.lots), "entryPrice": S.price_of(spec, p.entry),
               "breakEvenPrice": S.price_of(spec, p.entry),
               "markPrice": spec.format_price(p.mark) if p.mark else "0",
               "unRealizedProfit": spec.format_money(p.upnl),
               "liquidationPrice": S.price_of(spec, p.liquidation) if p.liquidation is not None else "0",
               "isolatedMargin": spec.format_money(p.isolated_margin), "notional": format(notional, "f"),
               "marginAsset": spec.settle, "isolatedWallet": spec.format_money(p.isolated_margin),
               "initialMargin": format(abs(notional) / p.leverage, "f"),
               "maintMargin": spec.format_money(p.maintenance_margin), "adl": p.adl_quantile,
               "updateTime": self._updated(v)}
        if full:
            out.update({"leverage": str(p.leverage), "marginType": "isolated" if p.isolated else "cross",
                        "isAutoAddMargin": "false", "maxNotionalValue": self._max_notional(spec.symbol, p.leverage)})
        return out

    def _flat(self, account: int, spec, v: ExchangeView, side: str) -> dict:
        """A v2 row of a market where the account holds nothing on `side` (v2 lists every market: BOTH in one-way
        mode, LONG and SHORT in hedge mode)."""
        lev = v.leverage(account, spec.symbol)
        mark = v.mark(spec.symbol)
        return {"symbol": spec.symbol, "positionSide": side, "positionAmt": spec.format_qty(0), "entryPrice": "0",
                "breakEvenPrice": "0", "markPrice": spec.format_price(mark) if mark else "0",
                "unRealizedProfit": spec.format_money(0), "liquidationPrice": "0", "leverage": str(lev),
                "maxNotionalValue": self._max_notional(spec.symbol, lev),
                "marginType": "isolated" if v.isolated(account, spec.symbol) else "cross",
                "isolatedMargin": spec.format_money(0), "isAutoAddMargin": "false", "notional": "0",
                "isolatedWallet": spec.format_money(0), "updateTime": 0}

    def positions(self, account: int, symbol: str | None, full: bool) -> list[dict]:
        """The positionRisk rows of the account's positions in linear markets (in `symbol`, or all); `full` (v2) adds
        leverage, margin type and max notional, and a zero row for each linear market and position side it holds
        nothing on (BOTH in one-way mode; LONG and SHORT in hedge mode, as Binance lists them)."""
        v = self.view()
        rows = [self._position(p, v, full) for p in v.positions(account, symbol)
                if self.venue.markets[p.symbol].kind.value == "linear"]
        if full:  # v2: every market and side, a zero row where the account holds nothing
            sides = ("LONG", "SHORT") if v.hedge_mode(account) else ("BOTH",)
            held = {(r["symbol"], r["positionSide"]) for r in rows}
            rows += [self._flat(account, s, v, side) for s in linear_specs(self.venue) for side in sides
                     if (s.symbol, side) not in held and (symbol is None or s.symbol == symbol)]
        return rows

    async def account(self, call, full: bool) -> dict:
        """The account endpoints' body: the totals are the USDT asset's figures (else the first asset's), then every
        asset and the positionRisk rows (`full`: v2's)."""
        v = self.view()
        assets = self._assets(call.account, v)
        main = next((a for a in assets if a["asset"] == "USDT"), assets[0])
        return {"feeTier": 0, "canTrade": True, "canDeposit": True, "canWithdraw": True, "feeBurn": False,
                "tradeGroupId": -1, "updateTime": 0, "multiAssetsMargin": v.multi_assets(call.account),
                "totalInitialMargin": main["initialMargin"], "totalMaintMargin": main["maintMargin"],
                "totalWalletBalance": main["walletBalance"], "totalUnrealizedProfit": main["unrealizedProfit"],
                "totalMarginBalance": main["marginBalance"],
                "totalPositionInitialMargin": main["positionInitialMargin"],
                "totalOpenOrderInitialMargin": main["openOrderInitialMargin"],
                "totalCrossWalletBalance": main["crossWalletBalance"], "totalCrossUnPnl": main["crossUnPnl"],
                "availableBalance": main["availableBalance"], "maxWithdrawAmount": main["maxWithdrawAmount"],
                "assets": assets, "positions": self.positions(call.account, None, full)}

    async def account_v2(self, call) -> dict:
        """GET /fapi/v2/account: totals, assets and a position row for every linear market."""
        return await self.account(call, True)

    async def account_v3(self, call) -> dict:
        """GET /fapi/v3/account: totals, assets and the positions held."""
        return await self.account(call, False)

    async def balance(self, call) -> list:
        """GET /fapi/v2/balance and /fapi/v3/balance: each asset's wallet, available balance and max withdraw amount."""
        v = self.view()
        return [{"accountAlias": "perpsim", "asset": a["asset"], "balance": a["walletBalance"],
                 "crossWalletBalance": a["crossWalletBalance"], "crossUnPnl": a["crossUnPnl"],
                 "availableBalance": a["availableBalance"], "maxWithdrawAmount": a["maxWithdrawAmount"],
                 "marginAvailable": True, "updateTime": self._updated(v)} for a in self._assets(call.account, v)]

    async def position_risk_v2(self, call) -> list:
        """GET /fapi/v2/positionRisk: the positions with leverage and margin type, and a zero row for each linear market
        not held (of `symbol`, or all)."""
        symbol = P.spec(self.venue, call.params).symbol if call.params.get("symbol") else None
        return self.positions(call.account, symbol, True)

    async def position_risk_v3(self, call) -> list:
        """GET /fapi/v3/positionRisk: the positions held (in `symbol`, or all)."""
        symbol = P.spec(self.venue, call.params).symbol if call.params.get("symbol") else None
        return self.positions(call.account, symbol, False)

    # ------------------------------------------------------------ settings

    def _max_notional(self, symbol: str, leverage: int) -> str:
        """The largest position notional the leverage allows (the highest bracket cap at it)."""
        caps = [b.cap for b in self.view().brackets(symbol) if b.max_leverage >= leverage]
        return self.venue.markets[symbol].format_money(max(caps)) if caps else "0"

    async def leverage(self, call) -> dict:
        """POST /fapi/v1/leverage: set the leverage in a market; answers it with its maxNotionalValue."""
        spec = P.spec(self.venue, call.params)
        lev = P.integer(call.params, "leverage")
        await self.gw.run(lambda ts: C.SetLeverage(ts, call.account, spec.symbol, lev))
        return {"leverage": lev, "maxNotionalValue": self._max_notional(spec.symbol, lev), "symbol": spec.symbol}

    async def margin_type(self, call) -> dict:
        """POST /fapi/v1/marginType: switch a market to ISOLATED or CROSSED; -4046 when it already is."""
        spec = P.spec(self.venue, call.params)
        isolated = P.choice(call.params, "marginType", {"ISOLATED": True, "CROSSED": False, "CROSS": False},
                            R.INVALID_MARGIN_MODE)
        if self.view().isolated(call.account, spec.symbol) == isolated:
            raise E.ApiError(400, -4046, "No need to change margin type.")
        await self.gw.run(lambda ts: C.SetMarginMode(ts, call.account, spec.symbol, isolated))
        return OK

    async def position_margin(self, call) -> dict:
        """POST /fapi/v1/positionMargin: add (type 1) or reduce (type 2) an isolated position's margin."""
        spec = P.spec(self.venue, call.params)
        pside = P.choice(call.params, "positionSide", P.PSIDE, R.INVALID_POSITION_SIDE, "BOTH")
        kind = P.integer(call.params, "type", lo=1, hi=2)
        amount = cv.money_in(spec, P.text(call.params, "amount"))
        signed = amount if kind == 1 else -amount
        await self.gw.run(lambda ts: C.AdjustIsolatedMargin(ts, call.account, spec.symbol, signed, pside))
        return {"amount": _num(spec.units_to_money(amount)), "code": 200,
                "msg": "Successfully modify position margin.", "type": kind}

    async def get_dual(self, call) -> dict:
        """GET /fapi/v1/positionSide/dual: whether the account is in hedge mode (dualSidePosition)."""
        return {"dualSidePosition": self.view().hedge_mode(call.account)}

    async def set_dual(self, call) -> dict:
        """POST /fapi/v1/positionSide/dual: switch hedge mode on or off; -4059 when it already is so."""
        hedge = P.boolean(call.params, "dualSidePosition")
        if "dualSidePosition" not in call.params:
            raise E.missing("dualSidePosition")
        if self.view().hedge_mode(call.account) == hedge:
            raise E.ApiError(400, -4059, "No need to change position side.")
        await self.gw.run(lambda ts: C.SetPositionMode(ts, call.account, hedge))
        return OK

    async def multi_assets(self, call) -> dict:
        """GET /fapi/v1/multiAssetsMargin: whether the account is in Multi-Assets mode."""
        return {"multiAssetsMargin": self.view().multi_assets(call.account)}

    async def set_multi_assets(self, call) -> dict:
        """POST /fapi/v1/multiAssetsMargin: switch Multi-Assets mode on or off."""
        if "multiAssetsMargin" not in call.params:
            raise E.missing("multiAssetsMargin")
        on = P.boolean(call.params, "multiAssetsMargin")
        await self.gw.run(lambda ts: C.SetMultiAssetsMode(ts, call.account, on))
        return OK

    # ------------------------------------------------------------ reports

    async def income(self, call) -> list:
        """GET /fapi/v1/income: the account's income records of a symbol and an incomeType (or all), between startTime
        and endTime; limit default 100, at most 1000."""
        p = call.params
        symbol = P.spec(self.venue, p).symbol if p.get("symbol") else None
        kind = p.get("incomeType") or None
        if kind is not None and kind not in INCOME_TYPES:
            raise VenueError(R.INVALID_VALUE, field="incomeType", value=kind)
        start, end = P.span(p)
        rows = self.gw.history.income(call.account, symbol=symbol, kind=kind, start_ns=start, end_ns=end,
                                      limit=P.window(p, 100, 1000))
        out = []
        for r in rows:
            spec = self.venue.asset_spec(r.asset)
            out.append({"symbol": r.symbol, "incomeType": r.kind, "income": spec.format_money(r.amount),
                        "asset": r.asset, "info": r.info, "time": S.ms(r.time_ns), "tranId": r.id,
                        "tradeId": str(r.trade_id) if r.trade_id else ""})
        return out

    async def force_orders(self, call) -> list:
        """GET /fapi/v1/forceOrders: the account's liquidation orders, FILLED, averaging the book's fills with the rest
        at the bankruptcy price; none for autoCloseType=ADL. limit default 50, at most 100."""
        p = call.params
        symbol = P.spec(self.venue, p).symbol if p.get("symbol") else None
        if p.get("autoCloseType", "LIQUIDATION") == "ADL":
            return []  # auto-deleveraging closes at the bankrupt side's price; listed with the liquidations
        start, end = P.span(p)
        rows = self.gw.history.force_orders(call.account, symbol=symbol, start_ns=start, end_ns=end,
                                            limit=P.window(p, 50, 100))
        out = []
        for r in rows:
            # the whole position closed: what the book took at its prices, the rest (insurance
            # fund, auto-deleveraging) at the bankruptcy price
            spec, quote = self.venue.markets[r.symbol], r.filled_quote + (r.qty - r.filled) * r.price
            out.append({"orderId": r.id, "symbol": r.symbol, "status": "FILLED",
                        "clientOrderId": f"autoclose-{r.id}", "price": spec.format_price(r.price),
                        "avgPrice": S.price_of(spec, Fraction(quote, r.qty)),
                        "origQty": spec.format_qty(r.qty), "executedQty": spec.format_qty(r.qty),
                        "cumQuote": S.quote_of(spec, quote), "timeInForce": "IOC", "type": "LIMIT",
                        "reduceOnly": True, "closePosition": False, "side": P.SIDE_OUT[r.side],
                        "positionSide": "BOTH", "stopPrice": "0", "workingType": "CONTRACT_PRICE",
                        "origType": "LIMIT", "time": S.ms(r.time_ns), "updateTime": S.ms(r.time_ns)})
        return out

    async def adl_quantile(self, call) -> list:
        """GET /fapi/v1/adlQuantile: the ADL quantile of each linear market the account holds (LONG and SHORT, and BOTH
        for a one-way position or HEDGE, the larger, for hedged ones)."""
        symbol = P.spec(self.venue, call.params).symbol if call.params.get("symbol") else None
        v = self.view()
        by_symbol: dict[str, dict] = {}
        for p in v.positions(call.account, symbol):
            if self.venue.markets[p.symbol].kind.value != "linear":
                continue
            q = by_symbol.setdefault(p.symbol, {"LONG": 0, "SHORT": 0})
            if p.position_side == PositionSide.BOTH:
                q["LONG" if p.lots > 0 else "SHORT"] = p.adl_quantile
                q["BOTH"] = p.adl_quantile
            else:
                q[P.PSIDE_OUT[p.position_side]] = p.adl_quantile
                q["HEDGE"] = max(q["LONG"], q["SHORT"])
        return [{"symbol": s, "adlQuantile": q} for s, q in by_symbol.items()]

    async def commission_rate(self, call) -> dict:
        """GET /fapi/v1/commissionRate: a market's maker and taker fee rates."""
        spec = P.spec(self.venue, call.params)
        return {"symbol": spec.symbol, "makerCommissionRate": format(spec.maker_fee, "f"),
                "takerCommissionRate": format(spec.taker_fee, "f")}

    async def leverage_bracket(self, call):
        """GET /fapi/v1/leverageBracket and /fapi/v2/leverageBracket: the notional brackets of one market (an object) or
        of every linear market (a list)."""
        specs = [P.spec(self.venue, call.params)] if call.params.get("symbol") else linear_specs(self.venue)
        out, v = [], self.view()
        for spec in specs:
            rows = [{"bracket": b.number, "initialLeverage": b.max_leverage,
                     "notionalCap": _num(spec.units_to_money(b.cap)),
                     "notionalFloor": _num(spec.units_to_money(b.floor)),
                     "maintMarginRatio": _num(Decimal(b.mmr) / RATE_SCALE),
                     "cum": _num(spec.units_to_money(b.cum))} for b in v.brackets(spec.symbol)]
            out.append({"symbol": spec.symbol, "notionalCoef": 1.0, "brackets": rows})
        return out[0] if call.params.get("symbol") else out

    async def symbol_config(self, call) -> list:
        """GET /fapi/v1/symbolConfig: margin type, leverage and max notional in one market or every linear market."""
        specs = [P.spec(self.venue, call.params)] if call.params.get("symbol") else linear_specs(self.venue)
        v = self.view()
        out = []
        for spec in specs:
            lev = v.leverage(call.account, spec.symbol)
            out.append({"symbol": spec.symbol, "marginType": "ISOLATED" if v.isolated(call.account, spec.symbol)
                        else "CROSSED", "isAutoAddMargin": False, "leverage": lev,
                        "maxNotionalValue": self._max_notional(spec.symbol, lev)})
        return out

    def routes(self) -> list:
        """The account routes, all SIGNED."""
        ep = self.gw.edge.endpoint
        v1, v2, v3 = "/fapi/v1/", "/fapi/v2/", "/fapi/v3/"
        g, p = web.get, web.post
        return [
            g(v2 + "account", ep(self.account_v2, SIGNED)), g(v3 + "account", ep(self.account_v3, SIGNED)),
            g(v2 + "balance", ep(self.balance, SIGNED)), g(v3 + "balance", ep(self.balance, SIGNED)),
            g(v2 + "positionRisk", ep(self.position_risk_v2, SIGNED)),
            g(v3 + "positionRisk", ep(self.position_risk_v3, SIGNED)),
            p(v1 + "leverage", ep(self.leverage, SIGNED)), p(v1 + "marginType", ep(self.margin_type, SIGNED)),
            p(v1 + "positionMargin", ep(self.position_margin, SIGNED)),
            g(v1 + "positionSide/dual", ep(self.get_dual, SIGNED)),
            p(v1 + "positionSide/dual", ep(self.set_dual, SIGNED)),
            g(v1 + "multiAssetsMargin", ep(self.multi_assets, SIGNED)),
            p(v1 + "multiAssetsMargin", ep(self.set_multi_assets, SIGNED)),
            g(v1 + "income", ep(self.income, SIGNED)), g(v1 + "forceOrders", ep(self.force_orders, SIGNED)),
            g(v1 + "adlQuantile", ep(self.adl_quantile, SIGNED)),
            g(v1 + "commissionRate", ep(self.commission_rate, SIGNED)),
            g(v1 + "leverageBracket", ep(self.leverage_bracket, SIGNED)),
            g(v2 + "leverageBracket", ep(self.leverage_bracket, SIGNED)),
            g(v1 + "symbolConfig", ep(self.symbol_config, SIGNED)),
        ]
