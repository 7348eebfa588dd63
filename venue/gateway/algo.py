"""Conditional (algo) orders: /fapi/v1 algoOrder (new, query, cancel), openAlgoOrders,
allAlgoOrders, algoOpenOrders — STOP, STOP_MARKET, TAKE_PROFIT, TAKE_PROFIT_MARKET and
TRAILING_STOP_MARKET, each one engine PlaceConditional.

`AlgoRecords` is the gateway's read model of conditional orders after they left the book
(triggered, canceled, expired): fed by the sequencer's events, bounded, held in memory only.

Across a restart (the journal replayed) the records are rebuilt from the live book: the
conditional orders still resting are kept (allAlgoOrders lists them as openAlgoOrders does, and
their later triggers and cancels are recorded); the ones that ended before the restart are lost
(the venue's state and history keep no record of a conditional order once it ended, only of the
order a trigger placed, which allOrders shows with its origType and stopPrice): allAlgoOrders
and algoOrder no longer show them, and a retried placement of one answers its algoId with the
request's terms (the original's: the payload matched), algoStatus FINISHED and no times. A reset
clears the records (ids start again)."""

from __future__ import annotations

import dataclasses
from collections import OrderedDict

from aiohttp import web

from perpsim.engine import commands as C
from perpsim.engine.events import ConditionalEvent
from perpsim.engine.views import ExchangeView
from perpsim.model.enums import ConditionalKind, TimeInForce
from perpsim.model.reasons import RejectReason as R
from perpsim.venue import convert as cv
from perpsim.venue.errors import VenueError
from perpsim.venue.gateway import errors as E
from perpsim.venue.gateway import params as P
from perpsim.venue.gateway import shapes as S
from perpsim.venue.gateway.edge import SIGNED
from perpsim.venue.state import KnownConditional

#: Completed conditional orders remembered for queries, oldest dropped first.
ALGO_KEPT = 100_000
#: Engine status of a conditional -> Binance algoStatus (SUPPRESSED: still armed).
STATUS = {"NEW": "NEW", "TRIGGERED": "TRIGGERED", "REJECTED_AT_TRIGGER": "REJECTED", "SUPPRESSED": "NEW",
          "CANCELED": "CANCELED", "EXPIRED": "EXPIRED"}
_LIMIT_KINDS = (ConditionalKind.STOP_LIMIT, ConditionalKind.TAKE_PROFIT_LIMIT)


@dataclasses.dataclass
class AlgoRecord:
    """One conditional order as the algo endpoints show it: the PlaceConditional command, its Binance
    algoStatus, created and updated times (ns) and the order it placed when triggered (0: none)."""

    cmd: C.PlaceConditional
    status: str
    create_ns: int
    update_ns: int
    order_id: int = 0


class AlgoRecords:
    """The conditional orders the gateway saw events of, by id (at most ALGO_KEPT, oldest dropped
    first; cleared on a reset), fed by `publish`, and those resting in a state it did not see built
    (a restart's, a reset's); `get` falls back to the live book."""

    def __init__(self, venue) -> None:
        self.venue = venue
        self.records: OrderedDict[int, AlgoRecord] = OrderedDict()
        self.follow(venue.state)
        hooks = getattr(getattr(venue, "seq", None), "on_new_state", None)
        if hooks is not None:  # the sequencer's state replaced: a recovery's, a reset's, a rebuild's
            hooks.append(self.follow)

    def follow(self, state) -> None:
        """Start again from a new state's live book (recovered at a start, reset, rebuilt), before
        any command takes an order out of it: its events alone do not carry the order's terms."""
        self.records.clear()
        live = ExchangeView(state.exchange).conditional_orders(None)
        for c in sorted(live, key=lambda c: c.conditional_id)[-ALGO_KEPT:]:
            self.records[c.conditional_id] = AlgoRecord(c.order, "NEW", c.order.ts, c.order.ts)

    def publish(self, cmd, events: list) -> None:
        """The sequencer listener: record each conditional order an event names, from its command or the live book when
        first seen (skipped when neither has it), and keep its algoStatus, update time and placed order id."""
        ts = self.venue.state.exchange.ts
        for e in events:
            if not isinstance(e, ConditionalEvent):
                continue
            r = self.records.get(e.conditional_id)
            if r is None:
                placed = cmd if isinstance(cmd, C.PlaceConditional) else None
                if placed is None:
                    view = ExchangeView(self.venue.state.exchange).conditional_order(e.symbol, e.conditional_id)
                    placed = view.order if view is not None else None
                if placed is None:
                    continue
                r = self.records[e.conditional_id] = AlgoRecord(placed, "NEW", ts, ts)
                while len(self.records) > ALGO_KEPT:
                    self.records.popitem(last=False)
            r.status, r.update_ns = STATUS.get(e.status, e.status), ts
            if e.order_id:
                r.order_id = e.order_id

    def get(self, account: int, cid: int = 0, client_id: str = "") -> tuple[int, AlgoRecord] | None:
        """A conditional of the account by id or client id: the record, else the live order."""
        if cid:
            r = self.records.get(cid)
            if r is not None and r.cmd.account == account:
                return cid, r
        for i, r in reversed(self.records.items()):
            if r.cmd.account == account and (i == cid or (client_id and r.cmd.client_order_id == client_id)):
                return i, r
        v = ExchangeView(self.venue.state.exchange)
        for c in v.conditional_orders(account):
            if c.conditional_id == cid or (client_id and c.order.client_order_id == client_id):
                return c.conditional_id, AlgoRecord(c.order, "NEW", c.order.ts, c.order.ts)
        return None


class Algo:
    """The /fapi/v1 algo order routes: algoOrder (POST, GET, DELETE), openAlgoOrders, allAlgoOrders
    and DELETE algoOpenOrders; each new order is one engine PlaceConditional."""

    def __init__(self, gw) -> None:
        self.gw, self.venue = gw, gw.venue

    def command(self, account: int, p: dict[str, str]) -> C.PlaceConditional:
        """The engine PlaceConditional of one algoOrder request (stamped later by the sequencer); algoType must be
        CONDITIONAL, callbackRate is in percent."""
        if p.get("algoType", "CONDITIONAL") != "CONDITIONAL":
            raise VenueError(R.INVALID_ORDER_TYPE, field="algoType", value=p["algoType"])
        spec = P.spec(self.venue, p)
        side = P.choice(p, "side", P.SIDE, R.INVALID_SIDE)
        kind = P.choice(p, "type", S.COND_IN, R.INVALID_ORDER_TYPE)
        close = P.boolean(p, "closePosition")
        qty = 0 if close and not p.get("quantity") else P.qty(spec, p)
        trailing = kind == ConditionalKind.TRAILING_STOP_MARKET
        trigger = 0 if trailing else P.price(spec, p, "triggerPrice")
        price = P.price(spec, p) if kind in _LIMIT_KINDS else 0
        source = P.choice(p, "workingType", P.WORKING, R.INVALID_ORDER_TYPE, "CONTRACT_PRICE")
        tif = P.choice(p, "timeInForce", P.TIF, R.INVALID_TIME_IN_FORCE, "GTC")
        expire = P.integer(p, "goodTillDate") * 1_000_000 if tif == TimeInForce.GTD else 0
        callback = 0
        if trailing:  # callbackRate is in percent (1 = 1 %); the engine's rate is a fraction × 1e8
            callback = cv.rate_in(P.text(p, "callbackRate"), "callbackRate") // 100
        activation = P.price(spec, p, "activatePrice", required=False) or \
            P.price(spec, p, "activationPrice", required=False)
        pside = P.choice(p, "positionSide", P.PSIDE, R.INVALID_POSITION_SIDE, "BOTH")
        cid = cv.client_order_id_in(p.get("clientAlgoId", ""), "clientAlgoId")
        return C.PlaceConditional(0, account, spec.symbol, side, qty, kind, trigger, price, source,
                                  P.boolean(p, "reduceOnly"), close, P.boolean(p, "priceProtect"), callback,
                                  activation, pside, tif, cid, expire)

    def json(self, cid: int, r: AlgoRecord) -> dict:
        """A conditional order as Binance's algo order JSON."""
        return S.algo(self.venue.markets[r.cmd.symbol], cid, r.cmd, r.status, r.create_ns, r.update_ns, r.order_id)

    async def new(self, call) -> dict:
        """POST /fapi/v1/algoOrder: place a conditional order; answers it as recorded. A retry (the same clientAlgoId
        and payload) places nothing and answers the original as it stands; the same clientAlgoId with another
        payload is refused (DUPLICATE_ORDER_ID, -4116)."""
        template = self.command(call.account, call.params)
        before = self.venue.state.exchange.next_order_id
        events = await self.gw.run(lambda ts: dataclasses.replace(template, ts=ts))
        # a retry is decided by the venue state, in sequence: a KnownConditional, no ConditionalEvent
        cid = next((e.conditional_id for e in events if isinstance(e, KnownConditional)), 0) or \
            next(e.conditional_id for e in events if isinstance(e, ConditionalEvent) and e.conditional_id >= before)
        found = self.gw.algos.get(call.account, cid)
        if found is None:  # a retry of one that ended before a restart (not kept): its terms are this request's
            found = cid, AlgoRecord(template, "FINISHED", 0, 0)
        return self.json(*found)

    def own(self, call) -> tuple[int, AlgoRecord]:
        """The caller's conditional order named by algoId or clientAlgoId, as (id, record); -1102 when neither is given,
        UNKNOWN_ORDER when there is none."""
        p = call.params
        if not p.get("algoId") and not p.get("clientAlgoId"):
            raise E.missing("algoId")
        found = self.gw.algos.get(call.account, P.integer(p, "algoId", 0), p.get("clientAlgoId", ""))
        if found is None:
            raise VenueError(R.UNKNOWN_ORDER, field="algoId", algo_id=p.get("algoId") or p.get("clientAlgoId"))
        return found

    async def query(self, call) -> dict:
        """GET /fapi/v1/algoOrder: one of the caller's conditional orders by algoId or clientAlgoId."""
        return self.json(*self.own(call))

    async def cancel(self, call) -> dict:
        """DELETE /fapi/v1/algoOrder: cancel one of the caller's conditional orders by algoId or clientAlgoId
        (UNKNOWN_ORDER when a symbol is given that is not its market)."""
        cid, r = self.own(call)
        if call.params.get("symbol") and call.params["symbol"] != r.cmd.symbol:
            raise VenueError(R.UNKNOWN_ORDER, field="algoId", algo_id=cid)
        await self.gw.run(lambda ts: C.CancelConditional(ts, call.account, r.cmd.symbol, cid))
        return {"algoId": cid, "clientAlgoId": r.cmd.client_order_id, "code": "200", "msg": "success"}

    async def open_orders(self, call) -> list:
        """GET /fapi/v1/openAlgoOrders: the caller's live conditional orders in linear markets (in `symbol`, or all)."""
        symbol = P.spec(self.venue, call.params).symbol if call.params.get("symbol") else None
        v = ExchangeView(self.venue.state.exchange)
        out = []
        for c in v.conditional_orders(call.account, symbol):
            if self.venue.markets[c.order.symbol].kind.value != "linear":
                continue
            r = self.gw.algos.records.get(c.conditional_id) or AlgoRecord(c.order, "NEW", c.order.ts, c.order.ts)
            out.append(self.json(c.conditional_id, r))
        return out

    async def all_orders(self, call) -> list:
        """GET /fapi/v1/allAlgoOrders: the caller's conditional orders in one market, those the gateway has records of
        and those resting, the latest `limit` (default 500, at most 1000), oldest (lowest algoId) first."""
        spec = P.spec(self.venue, call.params)
        limit = P.window(call.params, 500, 1000)
        rows = {i: r for i, r in self.gw.algos.records.items()
                if r.cmd.account == call.account and r.cmd.symbol == spec.symbol}
        # resting ones the records do not hold (dropped as the oldest, or cleared by a rebuild): as openAlgoOrders
        for c in ExchangeView(self.venue.state.exchange).conditional_orders(call.account, spec.symbol):
            if c.conditional_id not in rows:
                rows[c.conditional_id] = AlgoRecord(c.order, "NEW", c.order.ts, c.order.ts)
        return [self.json(i, rows[i]) for i in sorted(rows)[-limit:]]

    async def cancel_all(self, call) -> dict:
        """DELETE /fapi/v1/algoOpenOrders: cancel the caller's live conditional orders in one market."""
        spec = P.spec(self.venue, call.params)
        v = ExchangeView(self.venue.state.exchange)
        ids = [c.conditional_id for c in v.conditional_orders(call.account, spec.symbol)]
        if ids:
            await self.venue.seq.submit_many([lambda ts, i=i: C.CancelConditional(ts, call.account, spec.symbol, i)
                                              for i in ids])
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    def routes(self) -> list:
        """The algo order routes, all SIGNED."""
        ep = self.gw.edge.endpoint
        v1 = "/fapi/v1/"
        return [
            web.post(v1 + "algoOrder", ep(self.new, SIGNED)),
            web.get(v1 + "algoOrder", ep(self.query, SIGNED)),
            web.delete(v1 + "algoOrder", ep(self.cancel, SIGNED)),
            web.get(v1 + "openAlgoOrders", ep(self.open_orders, SIGNED)),
            web.get(v1 + "allAlgoOrders", ep(self.all_orders, SIGNED)),
            web.delete(v1 + "algoOpenOrders", ep(self.cancel_all, SIGNED)),
        ]
