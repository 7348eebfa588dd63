"""User data streams: listen keys (POST / PUT / DELETE /fapi/v1/listenKey, an API key only)
and the events of an account over WebSocket (/private/ws?listenKey=… or /ws/<listenKey>):
ORDER_TRADE_UPDATE, ACCOUNT_UPDATE, MARGIN_CALL, ALGO_UPDATE (conditional orders) and
listenKeyExpired.

A listen key lives LISTEN_KEY_TTL_S after its last POST or PUT (Binance: 60 minutes); an
account has one key at a time (a POST while it lives returns it again, extended)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import defaultdict

import orjson
from aiohttp import web

from perpsim.engine.events import (
    BalanceChanged,
    ConditionalEvent,
    MarkPriceChanged,
    OrderEvent,
    PositionChanged,
)
from perpsim.engine.views import ExchangeView
from perpsim.model.enums import EventKind, PositionSide
from perpsim.venue.gateway import errors as E
from perpsim.venue.gateway import params as P
from perpsim.venue.gateway import shapes as S
from perpsim.venue.gateway import sockets
from perpsim.venue.gateway.algo import STATUS as ALGO_STATUS
from perpsim.venue.gateway.edge import KEY
from perpsim.venue.streams import MARGIN_WARNING_PERCENT

LISTEN_KEY_TTL_S = 3_600.0
_EXEC: dict[int, str] = {EventKind.ACCEPTED: "NEW", EventKind.FILL: "TRADE", EventKind.CANCELED: "CANCELED",
         EventKind.EXPIRED: "EXPIRED", EventKind.AMENDED: "AMENDMENT"}
#: BalanceChanged cause -> ACCOUNT_UPDATE reason (Binance's "m").
_REASON = {"deposit": "DEPOSIT", "withdraw": "WITHDRAW", "transfer": "ASSET_TRANSFER", "realized_pnl": "ORDER",
           "fee": "ORDER", "funding": "FUNDING_FEE", "liquidation_fee": "INSURANCE_CLEAR",
           "backstop_margin": "INSURANCE_CLEAR", "insurance_cover": "ADJUSTMENT", "auto_exchange": "AUTO_EXCHANGE"}


def no_such_key() -> E.ApiError:
    """Binance -1125 (HTTP 400): the account has no live listen key, or the one sent is not its key."""
    return E.ApiError(400, -1125, "This listenKey does not exist.")


class UserStreams:
    """Listen keys (/fapi/v1/listenKey POST, PUT, DELETE; one per account, living `ttl_s` after its
    last POST or PUT) and each account's events on the WebSockets that follow its key."""

    def __init__(self, gw, ttl_s: float = LISTEN_KEY_TTL_S) -> None:
        self.gw, self.venue, self.ttl_s = gw, gw.venue, ttl_s
        self.keys: dict[str, list] = {}  # listen key -> [account, expiry (monotonic s)]
        self.key_of: dict[int, str] = {}
        self.sockets: dict[str, set[sockets.Socket]] = defaultdict(set)
        self._warned: set[tuple[int, str]] = set()

    def account_of(self, listen_key: str) -> int | None:
        """The account of a listen key not yet ended; None for any other."""
        entry = self.keys.get(listen_key)
        return None if entry is None else entry[0]

    # ------------------------------------------------------------ REST

    async def open(self, call) -> dict:
        """POST /fapi/v1/listenKey: the account's listen key (its live one, or a new one), alive for ttl_s from now."""
        key = self.key_of.get(call.account)
        if key is None:
            key = secrets.token_hex(32)
            self.key_of[call.account] = key
            self.keys[key] = [call.account, 0.0]
        self.keys[key][1] = time.monotonic() + self.ttl_s
        return {"listenKey": key}

    async def keep_alive(self, call) -> dict:
        """PUT /fapi/v1/listenKey: keep the account's listen key alive for ttl_s from now; -1125 when it has none or
        another key is sent."""
        key = self.key_of.get(call.account)
        if key is None or call.params.get("listenKey", key) != key:
            raise no_such_key()
        self.keys[key][1] = time.monotonic() + self.ttl_s
        return {"listenKey": key}

    async def close(self, call) -> dict:
        """DELETE /fapi/v1/listenKey: end the account's listen key and close its connections; -1125 when it has none."""
        key = self.key_of.get(call.account)
        if key is None:
            raise no_such_key()
        self._end(key, expired=False)
        return {}

    def _end(self, key: str, expired: bool) -> None:
        account, _ = self.keys.pop(key)
        self.key_of.pop(account, None)
        for sock in self.sockets.pop(key, ()):
            if expired:
                sock.reply({"e": "listenKeyExpired", "E": self._now(), "listenKey": key})
            sock.close()

    async def run(self) -> None:
        """Expire listen keys that were not kept alive."""
        while True:
            await asyncio.sleep(min(1.0, self.ttl_s / 4))
            now = time.monotonic()
            for key in [k for k, (_, deadline) in self.keys.items() if deadline <= now]:
                self._end(key, expired=True)

    # ------------------------------------------------------------ WebSocket

    async def connect(self, request: web.Request, key: str) -> web.WebSocketResponse:
        """Serve one user-stream WebSocket following `key`'s account (it takes no requests); HTTP 400 before the upgrade
        for a key not live."""
        def make(ws):
            if key not in self.keys:
                raise web.HTTPBadRequest(text="This listenKey does not exist.")
            sock = sockets.Socket(ws, False)
            self.sockets[key].add(sock)
            return sock

        def ignore(sock, text) -> None:  # a user stream takes no requests
            return None

        def gone(sock) -> None:
            socks = self.sockets.get(key)
            if socks is not None:
                socks.discard(sock)
                if not socks:
                    del self.sockets[key]
        return await sockets.serve(request, make, ignore, gone)

    async def private(self, request: web.Request) -> web.WebSocketResponse:
        """GET /private/ws?listenKey=…: the user stream of that listen key."""
        return await self.connect(request, request.query.get("listenKey", ""))

    # ------------------------------------------------------------ events

    def _now(self) -> int:
        return S.ms(self.venue.seq.clock.now())

    def _send(self, account: int, payload: dict) -> None:
        key = self.key_of.get(account)
        socks = self.sockets.get(key) if key is not None else None
        if not socks:
            return
        data = orjson.dumps(payload)
        for sock in list(socks):
            sock.send(data)

    def publish(self, cmd, events: list, trades: dict[str, list]) -> None:
        """One command's events to the accounts listening; `trades`: the public trade records of
        its fills, per market, in order."""
        if not self.sockets:
            return
        listening = {self.keys[k][0] for k in self.sockets if k in self.keys}
        now, ts = self._now(), S.ms(self.venue.state.exchange.ts)
        trade_ids = {s: iter([t.id for t in rows]) for s, rows in trades.items()}
        balances: dict[int, dict] = defaultdict(dict)  # account -> asset -> [delta, reason]
        moved: dict[int, set] = defaultdict(set)  # account -> symbols whose positions changed
        reasons: dict[int, str] = {}
        touched = set()
        for e in events:
            if isinstance(e, OrderEvent):
                b = e.event
                tid = next(trade_ids.get(e.symbol, iter(())), 0) if b.kind == EventKind.FILL else 0
                sides = [(b.account, b.order_id, b.leaves, False)]
                if b.kind == EventKind.FILL:
                    sides.append((b.counter_account, b.counter_order_id, b.counter_leaves, True))
                for account, oid, leaves, maker in sides:
                    if account in listening and b.kind in _EXEC:
                        self._send(account, self._order_update(e, account, oid, leaves, maker, tid, now, ts))
                        reasons.setdefault(account, "ORDER")
            elif isinstance(e, BalanceChanged) and e.account in listening:
                entry = balances[e.account].setdefault(e.asset, 0)
                if e.cause in ("deposit", "withdraw", "transfer"):
                    balances[e.account][e.asset] = entry + e.delta
                reasons[e.account] = _REASON.get(e.cause, "MARGIN_TRANSFER")
                touched.add(e.account)
            elif isinstance(e, PositionChanged) and e.account in listening:
                moved[e.account].add(e.symbol)
                reasons.setdefault(e.account, "ORDER")
                touched.add(e.account)
            elif isinstance(e, ConditionalEvent) and e.account in listening:
                self._algo_update(e, now, ts)
            elif isinstance(e, MarkPriceChanged):
                v = ExchangeView(self.venue.state.exchange)
                touched.update(a for a in listening if v.holds(a, e.symbol))
        for account in sorted(set(balances) | set(moved)):
            self._account_update(account, reasons.get(account, "ORDER"), balances.get(account, {}),
                                 moved.get(account, set()), now, ts)
        for account in sorted(touched):
            self._margin_call(account, now)

    def _order_update(self, oe: OrderEvent, account: int, oid: int, leaves: int, maker: bool, tid: int,
                      now: int, ts: int) -> dict:
        b, spec = oe.event, self.venue.markets[oe.symbol]
        r = self.gw.history.order(account, order_id=oid)
        fill = b.kind == EventKind.FILL
        side = b.side if not maker else 1 - b.side
        trade = None
        if fill and tid:
            got = self.gw.history.trades(account, oe.symbol, from_id=tid, limit=2)
            trade = next((t for t in got if t.id == tid and t.order_id == oid), None)
        if r is not None:
            filled = r.orig_qty - leaves
            status = "FILLED" if leaves == 0 and filled else "PARTIALLY_FILLED" if filled else "NEW"
            if b.kind in (EventKind.CANCELED, EventKind.EXPIRED):
                status = _EXEC[b.kind]
            o = {"c": r.client_order_id, "o": S.KIND_OUT[r.type], "f": P.TIF_OUT[r.tif],
                 "q": spec.format_qty(r.orig_qty), "p": spec.format_price(r.price) if r.price else "0",
                 "ap": S.price_of(spec, r.avg_price) if r.executed_qty == filled and filled else "0",
                 "sp": spec.format_price(r.stop_price) if r.stop_price else "0", "z": spec.format_qty(filled),
                 "R": r.reduce_only, "ot": S.COND_OUT.get(r.orig_type, S.KIND_OUT[r.type]),
                 "ps": P.PSIDE_OUT[r.position_side], "O": S.ms(r.time_ns)}
        else:  # a forced (liquidation) order: no registry entry
            o = {"c": f"autoclose-{oid}", "o": "LIMIT", "f": "IOC", "q": spec.format_qty(b.qty + leaves),
                 "p": spec.format_price(b.price), "ap": "0", "sp": "0", "z": spec.format_qty(b.qty if fill else 0),
                 "R": True, "ot": "LIMIT", "ps": "BOTH", "O": ts}
            status = "FILLED" if leaves == 0 else "PARTIALLY_FILLED" if fill else _EXEC[b.kind]
        o.update({"s": oe.symbol, "S": P.SIDE_OUT[side], "x": _EXEC[b.kind], "X": status, "i": oid,
                  "l": spec.format_qty(b.qty) if fill else "0", "L": spec.format_price(b.price) if fill else "0",
                  "N": trade.commission_asset if trade else spec.settle,
                  "n": spec.format_money(trade.commission) if trade else "0", "T": ts, "t": tid,
                  "b": "0", "a": "0", "m": maker, "wt": "CONTRACT_PRICE", "cp": False,
                  "rp": spec.format_money(trade.realized_pnl) if trade else "0", "pP": False, "si": 0, "ss": 0,
                  "V": "NONE", "pm": "NONE", "gtd": 0})
        return {"e": "ORDER_TRADE_UPDATE", "E": now, "T": ts, "o": o}

    def _algo_update(self, e: ConditionalEvent, now: int, ts: int) -> None:
        rec = self.gw.algos.records.get(e.conditional_id)
        if rec is None:
            return
        c, spec = rec.cmd, self.venue.markets[e.symbol]
        row = S.algo(spec, e.conditional_id, c, ALGO_STATUS.get(e.status, e.status), rec.create_ns, rec.update_ns,
                     e.order_id)
        self._send(e.account, {"e": "ALGO_UPDATE", "E": now, "T": ts, "o": {
            "caid": c.client_order_id, "aid": e.conditional_id, "at": "CONDITIONAL", "o": row["orderType"],
            "s": c.symbol, "S": row["side"], "ps": row["positionSide"], "f": row["timeInForce"],
            "q": row["quantity"], "X": row["algoStatus"], "ai": str(e.order_id) if e.order_id else "",
            "ap": "0", "aq": "0", "act": "", "tp": row["triggerPrice"], "p": row["price"], "V": "NONE",
            "wt": row["workingType"], "pm": "NONE", "cp": c.close_position, "pP": c.price_protect,
            "R": c.reduce_only, "tt": ts if e.status == "TRIGGERED" else 0, "gtd": row["goodTillDate"],
            "rm": str(e.reason) if e.reason else ""}})

    def _account_update(self, account: int, reason: str, deltas: dict, symbols: set, now: int, ts: int) -> None:
        v = ExchangeView(self.venue.state.exchange)
        assets = set(deltas) | {self.venue.markets[s].settle for s in symbols}
        bal = []
        for asset in sorted(assets):
            spec = self.venue.asset_spec(asset)
            wallet = v.balance(account, asset).wallet
            bal.append({"a": asset, "wb": spec.format_money(wallet), "cw": spec.format_money(wallet),
                        "bc": spec.format_money(deltas.get(asset, 0))})
        pos = []
        for symbol in sorted(symbols):
            spec = self.venue.markets[symbol]
            held = {p.position_side: p for p in v.positions(account, symbol)}
            for ps in ((PositionSide.LONG, PositionSide.SHORT) if v.hedge_mode(account) else (PositionSide.BOTH,)):
                p = held.get(ps)
                pos.append({"s": symbol, "pa": S.signed_qty(spec, p.lots) if p else spec.format_qty(0),
                            "ep": S.price_of(spec, p.entry) if p else "0",
                            "bep": S.price_of(spec, p.entry) if p else "0",
                            "cr": "0", "up": spec.format_money(p.upnl if p else 0),
                            "mt": "isolated" if v.isolated(account, symbol) else "cross",
                            "iw": spec.format_money(p.isolated_margin if p else 0), "ps": P.PSIDE_OUT[ps]})
        self._send(account, {"e": "ACCOUNT_UPDATE", "E": now, "T": ts, "a": {"m": reason, "B": bal, "P": pos}})

    def _margin_call(self, account: int, now: int) -> None:
        """MARGIN_CALL once each time the cross margin ratio (maintenance / margin balance)
        reaches MARGIN_WARNING_PERCENT; again after it fell back below."""
        v = ExchangeView(self.venue.state.exchange)
        for asset in v.assets():
            b = v.balance(account, asset)
            mm, balance = b.maintenance_margin, b.margin_balance
            if not (mm and balance > 0 and mm * 100 >= MARGIN_WARNING_PERCENT * balance):
                self._warned.discard((account, asset))
                continue
            if (account, asset) in self._warned:
                continue
            self._warned.add((account, asset))
            spec = self.venue.asset_spec(asset)
            rows = []
            for p in v.positions(account):
                ms = self.venue.markets[p.symbol]
                if ms.settle != asset or p.isolated:
                    continue
                rows.append({"s": p.symbol, "ps": P.PSIDE_OUT[p.position_side], "pa": S.signed_qty(ms, p.lots),
                             "mt": "CROSSED", "iw": "0", "mp": ms.format_price(p.mark) if p.mark else "0",
                             "up": ms.format_money(p.upnl), "mm": ms.format_money(p.maintenance_margin)})
            self._send(account, {"e": "MARGIN_CALL", "E": now, "cw": spec.format_money(b.wallet), "p": rows})

    def routes(self) -> list:
        """The listen key routes (API key only) and the /private/ws user stream paths."""
        ep = self.gw.edge.endpoint
        path = "/fapi/v1/listenKey"
        return [web.post(path, ep(self.open, KEY)), web.put(path, ep(self.keep_alive, KEY)),
                web.delete(path, ep(self.close, KEY)), web.get("/private/ws", self.private),
                web.get("/private/ws/{tail:.*}", self.private)]
