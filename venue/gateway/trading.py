"""Order entry and order queries: /fapi/v1 order (new, query, cancel, modify), batchOrders,
allOpenOrders, openOrders, openOrder, allOrders, userTrades.

Orders become the same engine commands the gRPC TradingService builds and go to the same
sequencer; answers are read back from the history read model (an order by id or client id,
open or completed, with its fills' quote)."""

from __future__ import annotations

import dataclasses

import orjson
from aiohttp import web

from perpsim.engine import commands as C
from perpsim.model.enums import OrderKind, TimeInForce
from perpsim.model.reasons import RejectReason as R
from perpsim.venue import convert as cv
from perpsim.venue.errors import VenueError
from perpsim.venue.gateway import errors as E
from perpsim.venue.gateway import params as P
from perpsim.venue.gateway import shapes as S
from perpsim.venue.gateway.edge import SIGNED
from perpsim.venue.services.common import placed_order

#: Binance's batchOrders limit.
MAX_BATCH = 5
_KINDS = {"LIMIT": OrderKind.LIMIT, "MARKET": OrderKind.MARKET}


def conditional_on_order_endpoint() -> E.ApiError:
    """Binance -4120 (HTTP 400): a conditional order type sent to /fapi/v1/order instead of the algo
    order endpoints."""
    return E.ApiError(400, -4120, "Order type not supported for this endpoint. Please use the Algo Order API "
                                  "endpoints instead.")


class Trading:
    """The /fapi/v1 order routes: order (POST, GET, DELETE, PUT), batchOrders, allOpenOrders,
    openOrders, openOrder, allOrders and userTrades, all SIGNED, for the account of the API key."""

    def __init__(self, gw) -> None:
        self.gw, self.venue = gw, gw.venue

    # ------------------------------------------------------------ placing

    def command(self, account: int, p: dict[str, str]) -> C.PlaceOrder:
        """The engine command of one Binance new-order request (stamped later by the sequencer)."""
        spec = P.spec(self.venue, p)
        side = P.choice(p, "side", P.SIDE, R.INVALID_SIDE)
        type_ = P.text(p, "type")
        if type_ not in _KINDS:
            if type_ in S.COND_IN:
                raise conditional_on_order_endpoint()
            raise VenueError(R.INVALID_ORDER_TYPE, field="type", value=type_)
        kind = _KINDS[type_]
        qty = P.qty(spec, p)
        expire = 0
        if kind == OrderKind.MARKET:
            if p.get("price"):
                raise VenueError(R.INVALID_PRICE, field="price", problem="a market order takes no price")
            price, tif = 0, TimeInForce.IOC
        else:
            price = P.price(spec, p)
            tif = P.choice(p, "timeInForce", P.TIF, R.INVALID_TIME_IN_FORCE, "GTC")
            if tif == TimeInForce.GTD:
                expire = P.integer(p, "goodTillDate") * 1_000_000
        if p.get("priceMatch", "NONE") != "NONE":
            raise VenueError(R.INVALID_VALUE, field="priceMatch", value=p["priceMatch"], problem="not supported")
        stp = P.choice(p, "selfTradePreventionMode", P.STP, R.INVALID_STP_MODE, "NONE")
        pside = P.choice(p, "positionSide", P.PSIDE, R.INVALID_POSITION_SIDE, "BOTH")
        cid = cv.client_order_id_in(p.get("newClientOrderId", ""), "newClientOrderId")
        return C.PlaceOrder(0, account, spec.symbol, side, qty, price, kind, tif, stp,
                            P.boolean(p, "reduceOnly"), expire, pside, cid)

    def placed_id(self, account: int, before: int, events: list, symbol: str) -> int:
        """The id of the order a placement created (or, for a retry, the original); raises the
        rejection (its figures in `symbol`'s units). `before`: the next order id when the
        command was queued."""
        return placed_order(self.venue.markets, account, symbol, before, events)[0]

    def order_json(self, account: int, order_id: int) -> dict:
        """The caller's order as Binance's order JSON (history: open or completed); UNKNOWN_ORDER if none."""
        r = self.gw.history.order(account, order_id=order_id)
        if r is None:
            raise VenueError(R.UNKNOWN_ORDER, field="orderId", order_id=order_id)
        return S.order(self.venue.markets[r.symbol], r)

    async def new_order(self, call) -> dict:
        """POST /fapi/v1/order: place a LIMIT or MARKET order; answers it as it stands after placing."""
        template = self.command(call.account, call.params)
        before = self.venue.state.exchange.next_order_id
        events = await self.venue.seq.submit(lambda ts: dataclasses.replace(template, ts=ts))
        return self.order_json(call.account, self.placed_id(call.account, before, events, template.symbol))

    async def batch_orders(self, call) -> list:
        """POST /fapi/v1/batchOrders: 1 to 5 orders as one sequencer unit, each answered with its order or its own error
        ({"code", "msg"})."""
        try:
            orders = orjson.loads(P.text(call.params, "batchOrders"))
        except orjson.JSONDecodeError:
            raise E.malformed("batchOrders", call.params["batchOrders"]) from None
        if not isinstance(orders, list) or not 0 < len(orders) <= MAX_BATCH or \
                not all(isinstance(o, dict) for o in orders):
            raise VenueError(R.INVALID_VALUE, field="batchOrders", problem=f"a list of 1 to {MAX_BATCH} orders")
        templates: list = []
        for o in orders:
            try:
                templates.append(self.command(call.account, {k: str(v) for k, v in o.items()}))
            except (VenueError, E.ApiError) as e:
                templates.append(e)
        commands = [t for t in templates if not isinstance(t, Exception)]
        before = self.venue.state.exchange.next_order_id
        try:
            outcomes = iter(await self.venue.seq.submit_many(
                [lambda ts, t=t: dataclasses.replace(t, ts=ts) for t in commands]))
        except VenueError as e:  # the unit was shed: each order is answered so
            outcomes = iter([e] * len(commands))
        out = []
        for t in templates:
            outcome = t if isinstance(t, Exception) else next(outcomes)
            try:
                if isinstance(outcome, BaseException):
                    raise outcome
                out.append(self.order_json(call.account, self.placed_id(call.account, before, outcome, t.symbol)))
            except VenueError as e:
                err = E.from_venue(e)
                out.append({"code": err.code, "msg": err.msg})
            except E.ApiError as e:
                out.append({"code": e.code, "msg": e.msg})
        return out

    # ------------------------------------------------------------ one order

    def own(self, call, spec):
        """The caller's order named by orderId or origClientOrderId in the market (history:
        open or completed); UNKNOWN_ORDER otherwise (never another account's)."""
        p = call.params
        if p.get("orderId"):
            r = self.gw.history.order(call.account, order_id=P.integer(p, "orderId"))
        elif p.get("origClientOrderId"):
            r = self.gw.history.order(call.account, client_order_id=p["origClientOrderId"])
        else:
            raise E.missing("orderId")
        if r is None or r.symbol != spec.symbol:
            raise VenueError(R.UNKNOWN_ORDER, field="orderId", order_id=p.get("orderId") or p.get("origClientOrderId"))
        return r

    async def query_order(self, call) -> dict:
        """GET /fapi/v1/order: one of the caller's orders in a market, open or completed."""
        spec = P.spec(self.venue, call.params)
        return S.order(spec, self.own(call, spec))

    async def open_order(self, call) -> dict:
        """GET /fapi/v1/openOrder: one of the caller's open orders in a market; -2013 when it is no longer open."""
        spec = P.spec(self.venue, call.params)
        r = self.own(call, spec)
        if r.status not in ("NEW", "PARTIALLY_FILLED"):
            raise E.ApiError(400, -2013, "Order does not exist.")
        return S.order(spec, r)

    async def cancel_order(self, call) -> dict:
        """DELETE /fapi/v1/order: cancel one of the caller's open orders in a market; UNKNOWN_ORDER if not open."""
        spec = P.spec(self.venue, call.params)
        r = self.own(call, spec)
        if r.status not in ("NEW", "PARTIALLY_FILLED"):
            raise VenueError(R.UNKNOWN_ORDER, field="orderId", order_id=r.order_id, status=r.status)
        await self.gw.run(lambda ts: C.CancelOrder(ts, call.account, spec.symbol, r.order_id))
        return self.order_json(call.account, r.order_id)

    async def modify_order(self, call) -> dict:
        """PUT /fapi/v1/order: a new price and total quantity (above what has filled) for one of the caller's orders;
        `side` must be the order's."""
        spec = P.spec(self.venue, call.params)
        r = self.own(call, spec)
        side = P.choice(call.params, "side", P.SIDE, R.INVALID_SIDE)
        if side != r.side:
            raise VenueError(R.INVALID_SIDE, field="side", problem="must be the order's side")
        price = P.price(spec, call.params)
        qty = P.qty(spec, call.params)
        if qty <= r.executed_qty:
            raise VenueError(R.INVALID_QUANTITY, field="quantity", problem="not above the quantity already filled")
        await self.gw.run(lambda ts: C.AmendOrder(ts, call.account, spec.symbol, r.order_id, price,
                                                  qty - r.executed_qty))
        return self.order_json(call.account, r.order_id)

    async def cancel_all(self, call) -> dict:
        """DELETE /fapi/v1/allOpenOrders: cancel the caller's open orders in one market."""
        spec = P.spec(self.venue, call.params)
        await self.gw.run(lambda ts: C.CancelAll(ts, call.account, spec.symbol))
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    # ------------------------------------------------------------ lists

    async def open_orders(self, call) -> list:
        """GET /fapi/v1/openOrders: the caller's open orders in one market or all, oldest first."""
        symbol = P.spec(self.venue, call.params).symbol if call.params.get("symbol") else ""
        out = []
        for o in self.venue.state.open_orders(call.account, symbol):
            out.append(self.order_json(call.account, o.order_id))
        return out

    async def all_orders(self, call) -> list:
        """GET /fapi/v1/allOrders: the caller's orders in one market, from orderId or in startTime..endTime; limit
        default 500, at most 1000."""
        spec = P.spec(self.venue, call.params)
        start, end = P.span(call.params)
        rows = self.gw.history.orders(call.account, spec.symbol, start_ns=start, end_ns=end,
                                      limit=P.window(call.params, 500, 1000),
                                      from_order_id=P.integer(call.params, "orderId", 0) or None)
        return [S.order(spec, r) for r in rows]

    async def user_trades(self, call) -> list:
        """GET /fapi/v1/userTrades: the caller's fills in one market, from fromId or in startTime..endTime; limit
        default 500, at most 1000."""
        spec = P.spec(self.venue, call.params)
        start, end = P.span(call.params)
        rows = self.gw.history.trades(call.account, spec.symbol, start_ns=start, end_ns=end,
                                      limit=P.window(call.params, 500, 1000),
                                      from_id=P.integer(call.params, "fromId", 0) or None)
        return [{"symbol": t.symbol, "id": t.id, "orderId": t.order_id, "side": P.SIDE_OUT[t.side],
                 "price": spec.format_price(t.price), "qty": spec.format_qty(t.qty),
                 "realizedPnl": spec.format_money(t.realized_pnl), "quoteQty": S.quote_of(spec, t.quote),
                 "commission": spec.format_money(t.commission), "commissionAsset": t.commission_asset,
                 "time": S.ms(t.time_ns), "positionSide": P.PSIDE_OUT[t.position_side], "buyer": t.buyer,
                 "maker": t.maker} for t in rows]

    def routes(self) -> list:
        """The order routes, all SIGNED (batchOrders weighs 5)."""
        ep = self.gw.edge.endpoint
        v1 = "/fapi/v1/"
        return [
            web.post(v1 + "order", ep(self.new_order, SIGNED)),
            web.get(v1 + "order", ep(self.query_order, SIGNED)),
            web.delete(v1 + "order", ep(self.cancel_order, SIGNED)),
            web.put(v1 + "order", ep(self.modify_order, SIGNED)),
            web.post(v1 + "batchOrders", ep(self.batch_orders, SIGNED, weight=MAX_BATCH)),
            web.delete(v1 + "allOpenOrders", ep(self.cancel_all, SIGNED)),
            web.get(v1 + "openOrders", ep(self.open_orders, SIGNED)),
            web.get(v1 + "openOrder", ep(self.open_order, SIGNED)),
            web.get(v1 + "allOrders", ep(self.all_orders, SIGNED)),
            web.get(v1 + "userTrades", ep(self.user_trades, SIGNED)),
        ]

