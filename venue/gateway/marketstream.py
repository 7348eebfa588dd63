"""Market streams over WebSocket, Binance's names and payloads:

<symbol>@depth (250 ms), @depth@0ms / @100ms / @250ms / @500ms (diff events with U, u, pu),
@markPrice (3 s) and @markPrice@1s, @aggTrade, @trade, @forceOrder, @kline_<interval>,
@bookTicker, @ticker, and !forceOrder@arr, !bookTicker, !markPrice@arr(@1s).

Paths: /ws and /ws/<stream> (raw events), /stream?streams=a/b (combined: {"stream", "data"}),
and the /public/ws and /market/ws paths ccxt pro uses (ccxt appends a stream index to them,
e.g. /public/ws/0, which names no stream). Subscriptions change by {"method": "SUBSCRIBE" |
"UNSUBSCRIBE" | "LIST_SUBSCRIPTIONS", "params": [...], "id": n}.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from fractions import Fraction

import orjson
from aiohttp import web

from perpsim.engine.events import Liquidation, OrderEvent
from perpsim.engine.views import ExchangeView
from perpsim.model.enums import EventKind
from perpsim.venue.gateway import shapes as S
from perpsim.venue.gateway import sockets
from perpsim.venue.gateway.books import BookFeed
from perpsim.venue.gateway.market import linear_specs, top_of
from perpsim.venue.gateway.params import SIDE_OUT
from perpsim.venue.history_records import INTERVALS

DEPTH_SPEEDS = {"": 250, "@0ms": 0, "@100ms": 100, "@250ms": 250, "@500ms": 500}
#: Most streams one connection may follow (Binance: 200 for USDⓈ-M).
MAX_STREAMS = 1_024


log = logging.getLogger("perpsim.gateway")


class MarketStreams:
    """The public WebSocket streams: the /ws, /stream, /public and /market paths, the subscriptions
    per stream name, and the events `publish` and the timed `run` send them."""

    def __init__(self, gw) -> None:
        self.gw, self.venue = gw, gw.venue
        self.books: BookFeed = gw.books
        self.subs: dict[str, set[sockets.Socket]] = defaultdict(set)
        self._tops: dict[str, tuple] = {}
        self._failed: set[tuple[str, type]] = set()  # (stream flush, exception type) already logged

    # ------------------------------------------------------------ names

    def _symbol(self, lower: str) -> str | None:
        s = self.venue.markets.get(lower.upper())
        return s.symbol if s is not None and s.kind.value == "linear" else None

    def valid(self, name: str) -> bool:
        """Whether `name` is a stream this venue serves: a lower-case linear market's, or an all-market one."""
        if name in ("!forceOrder@arr", "!bookTicker", "!markPrice@arr", "!markPrice@arr@1s"):
            return True
        sym, _, kind = name.partition("@")
        if self._symbol(sym) is None or sym != sym.lower():
            return False
        if kind.startswith("depth"):
            return kind[5:] in DEPTH_SPEEDS
        if kind.startswith("kline_"):
            return kind[6:] in INTERVALS
        return kind in ("markPrice", "markPrice@1s", "aggTrade", "trade", "forceOrder", "bookTicker", "ticker",
                        "miniTicker")

    def subscribe(self, sock: sockets.Socket, names: list[str]) -> str | None:
        """Add streams to a connection; an error message if one is not a stream."""
        bad = [n for n in names if not isinstance(n, str) or not self.valid(n)]
        if bad:
            return f"Invalid request: unknown stream {bad[0]!r}"
        if len(sock.streams | set(names)) > MAX_STREAMS:
            return f"Invalid request: more than {MAX_STREAMS} streams"
        for n in names:
            if n in sock.streams:
                continue
            sock.streams.add(n)
            self.subs[n].add(sock)
            sym, _, kind = n.partition("@")
            if kind.startswith("depth") and len(self.subs[n]) == 1:
                symbol = self._symbol(sym)
                assert symbol is not None  # the names were checked by valid()
                self.books.follow(symbol, DEPTH_SPEEDS[kind[5:]])
        return None

    def unsubscribe(self, sock: sockets.Socket, names) -> None:
        """Drop streams from a connection; a market's diffs at a speed stop once no connection follows them."""
        for n in list(names):
            if n not in sock.streams:
                continue
            sock.streams.discard(n)
            subs = self.subs.get(n)
            if subs is not None:
                subs.discard(sock)
                if not subs:
                    del self.subs[n]
                    sym, _, kind = n.partition("@")
                    if kind.startswith("depth"):
                        speed = DEPTH_SPEEDS[kind[5:]]
                        symbol = self._symbol(sym)
                        assert symbol is not None  # subscribed, so checked by valid()
                        if not any(self.subs.get(x) for x in self._depth_names(sym, speed)):
                            self.books.unfollow(symbol, speed)

    def follows_trades(self) -> bool:
        """Whether any connection follows a stream made from trades."""
        made_of_trades = ("@trade", "@aggTrade", "@kline_", "@ticker", "@miniTicker")
        return any(subs and any(k in n for k in made_of_trades) for n, subs in self.subs.items())

    @staticmethod
    def _depth_names(sym: str, speed: int) -> list[str]:
        return [f"{sym}@depth{suffix}" for suffix, sp in DEPTH_SPEEDS.items() if sp == speed]

    def _send(self, name: str, payload: object) -> None:
        subs = self.subs.get(name)
        if not subs:
            return
        data = orjson.dumps(payload)
        for sock in list(subs):
            sock.send(data, name)

    def _now(self) -> int:
        return S.ms(self.venue.seq.clock.now())

    # ------------------------------------------------------------ publishing

    def publish(self, cmd, events: list, trades: dict[str, list]) -> None:
        """One command's events to the streams; `trades`: the public trade records of its fills,
        per market, in order."""
        touched = set()
        forced: dict[tuple[str, int], list[int]] = {}
        for e in events:
            if isinstance(e, OrderEvent):
                touched.add(e.symbol)
                if e.event.kind == EventKind.FILL and e.liquidation:  # a forced order's fills
                    acc = forced.setdefault((e.symbol, e.event.account), [0, 0])
                    acc[0] += e.event.qty
                    acc[1] += e.event.qty * e.event.price
            elif isinstance(e, Liquidation):
                self._force_order(e, forced.pop((e.symbol, e.account), [0, 0]))
        for symbol, rows in trades.items():
            self._trades(symbol, rows)
        for symbol in touched:
            self._book_ticker(symbol)
        self._flush_depth(0)

    def _trades(self, symbol: str, rows: list) -> None:
        sym = symbol.lower()
        spec = self.venue.markets[symbol]
        now = self._now()
        if self.subs.get(sym + "@trade"):
            for t in rows:
                self._send(sym + "@trade", {"e": "trade", "E": now, "T": S.ms(t.time_ns), "s": symbol, "t": t.id,
                                            "p": spec.format_price(t.price), "q": spec.format_qty(t.qty),
                                            "X": "MARKET", "m": t.buyer_maker})
        if self.subs.get(sym + "@aggTrade"):
            aggs: list[list] = []
            for t in rows:  # the fills of one taker order at one price are one aggregate trade
                if aggs and aggs[-1][0].agg_id == t.agg_id:
                    aggs[-1][1] += t.qty
                    aggs[-1][2] = t.id
                else:
                    aggs.append([t, t.qty, t.id])
            for t, qty, last in aggs:
                self._send(sym + "@aggTrade", {"e": "aggTrade", "E": now, "a": t.agg_id, "s": symbol,
                                               "p": spec.format_price(t.price), "q": spec.format_qty(qty),
                                               "f": t.id, "l": last, "T": S.ms(t.time_ns), "m": t.buyer_maker})
        for interval in INTERVALS:
            name = f"{sym}@kline_{interval}"
            if self.subs.get(name):
                self._send(name, self._kline(spec, interval, now))
        if self.subs.get(sym + "@ticker") or self.subs.get(sym + "@miniTicker"):
            r = self.gw.market.ticker_row(spec)
            self._send(sym + "@miniTicker", {
                "e": "24hrMiniTicker", "E": now, "s": symbol, "c": r["lastPrice"], "o": r["openPrice"],
                "h": r["highPrice"], "l": r["lowPrice"], "v": r["volume"], "q": r["quoteVolume"]})
            self._send(sym + "@ticker", {
                "e": "24hrTicker", "E": now, "s": symbol, "p": r["priceChange"], "P": r["priceChangePercent"],
                "w": r["weightedAvgPrice"], "c": r["lastPrice"], "Q": r["lastQty"], "o": r["openPrice"],
                "h": r["highPrice"], "l": r["lowPrice"], "v": r["volume"], "q": r["quoteVolume"],
                "O": r["openTime"], "C": r["closeTime"], "F": r["firstId"], "L": r["lastId"], "n": r["count"]})

    def _kline(self, spec, interval: str, now: int) -> dict:
        (b,) = self.gw.history.klines(spec.symbol, "trade", interval, limit=1)
        return {"e": "kline", "E": now, "s": spec.symbol, "k": {
            "t": S.ms(b.open_ns), "T": S.ms(b.close_ns), "s": spec.symbol, "i": interval, "f": -1, "L": -1,
            "o": spec.format_price(b.open), "c": spec.format_price(b.close), "h": spec.format_price(b.high),
            "l": spec.format_price(b.low), "v": spec.format_qty(b.volume), "n": b.trades,
            "x": S.ms(self.venue.state.exchange.ts) > S.ms(b.close_ns), "q": S.quote_of(spec, b.quote_volume),
            "V": spec.format_qty(b.taker_buy_volume), "Q": S.quote_of(spec, b.taker_buy_quote_volume), "B": "0"}}

    def _book_ticker(self, symbol: str) -> None:
        sym = symbol.lower()
        if not self.subs.get(sym + "@bookTicker") and not self.subs.get("!bookTicker"):
            return
        v = ExchangeView(self.venue.state.exchange)
        top = top_of(v, symbol)
        if self._tops.get(symbol) == top:
            return
        self._tops[symbol] = top
        spec = self.venue.markets[symbol]
        (bid, bid_qty, _), (ask, ask_qty, _) = top
        payload = {"e": "bookTicker", "u": self.books.update_id[symbol], "s": symbol,
                   "b": spec.format_price(bid) if bid else "0", "B": spec.format_qty(bid_qty),
                   "a": spec.format_price(ask) if ask else "0", "A": spec.format_qty(ask_qty),
                   "T": S.ms(v.ts), "E": self._now()}
        self._send(sym + "@bookTicker", payload)
        self._send("!bookTicker", payload)

    def _force_order(self, e: Liquidation, filled: list[int]) -> None:
        sym = e.symbol.lower()
        if not self.subs.get(sym + "@forceOrder") and not self.subs.get("!forceOrder@arr"):
            return
        spec = self.venue.markets[e.symbol]
        lots, quote = filled
        # the whole position closes: the book's fills at their prices, the rest (insurance fund,
        # auto-deleveraging) at the bankruptcy price
        quote += (e.qty - lots) * e.bankruptcy_price
        payload = {"e": "forceOrder", "E": self._now(), "o": {
            "s": e.symbol, "S": SIDE_OUT[e.side], "o": "LIMIT", "f": "IOC", "q": spec.format_qty(e.qty),
            "p": spec.format_price(e.bankruptcy_price), "ap": S.price_of(spec, Fraction(quote, e.qty)),
            "X": "FILLED", "l": spec.format_qty(e.qty), "z": spec.format_qty(e.qty),
            "T": S.ms(self.venue.state.exchange.ts)}}
        self._send(sym + "@forceOrder", payload)
        self._send("!forceOrder@arr", payload)

    def _flush_depth(self, speed: int) -> None:
        windows = self.books.take(speed)
        if not windows:
            return
        now, ts = self._now(), S.ms(self.venue.state.exchange.ts)
        for symbol, w in windows:
            spec = self.venue.markets[symbol]
            payload = {"e": "depthUpdate", "E": now, "T": ts, "s": symbol, "U": w.first, "u": w.last,
                       "pu": w.first - 1,
                       "b": _levels(spec, sorted(w.bids.items(), reverse=True)),
                       "a": _levels(spec, sorted(w.asks.items()))}
            for name in self._depth_names(symbol.lower(), speed):
                self._send(name, payload)

    def _mark_prices(self, every_1s: bool, every_3s: bool) -> None:
        now = self._now()
        arr: list = []
        for spec in linear_specs(self.venue):
            sym = spec.symbol.lower()
            want = (every_1s and self.subs.get(sym + "@markPrice@1s")) or (every_3s and self.subs.get(
                sym + "@markPrice")) or self.subs.get("!markPrice@arr@1s") or self.subs.get("!markPrice@arr")
            if not want:
                continue
            p = self.gw.market.premium(spec)
            payload = {"e": "markPriceUpdate", "E": now, "s": spec.symbol, "p": p["markPrice"], "i": p["indexPrice"],
                       "P": p["estimatedSettlePrice"], "r": p["predictedFundingRate"], "T": p["nextFundingTime"]}
            arr.append(payload)
            if every_1s:
                self._send(sym + "@markPrice@1s", payload)
            if every_3s:
                self._send(sym + "@markPrice", payload)
        if arr and every_1s:
            self._send("!markPrice@arr@1s", arr)
        if arr and every_3s:
            self._send("!markPrice@arr", arr)

    async def run(self) -> None:
        """The timed streams: depth windows (100, 250, 500 ms) and mark prices (1 s, 3 s)."""
        tick = 0
        start = time.monotonic()
        while True:
            tick += 1
            await asyncio.sleep(max(0.0, start + tick * 0.05 - time.monotonic()))
            ms = tick * 50
            # each stream on its own: a failure is logged and neither stops the clock nor the
            # tick's other streams
            for speed in (100, 250, 500):
                if ms % speed == 0:
                    self._guarded(self._flush_depth, speed)
            if ms % 1000 == 0:
                self._guarded(self._mark_prices, True, ms % 3000 == 0)

    def _guarded(self, flush, *args) -> None:
        """Run one timed stream's flush; a failure is logged once per stream and kind of failure."""
        try:
            flush(*args)
        except Exception as e:
            key = (flush.__name__, type(e))
            if key not in self._failed:
                self._failed.add(key)
                log.exception("market stream %s failed (logged once)", flush.__name__)

    # ------------------------------------------------------------ connections

    def _on_text(self, sock: sockets.Socket, text: str) -> None:
        try:
            msg = orjson.loads(text)
            method, params, rid = msg.get("method"), msg.get("params", []), msg.get("id")
        except (orjson.JSONDecodeError, AttributeError):
            sock.reply({"error": {"code": 3, "msg": "Invalid JSON: expected an object"}})
            return
        if method == "SUBSCRIBE" and isinstance(params, list):
            err = self.subscribe(sock, params)
            sock.reply({"error": {"code": 2, "msg": err}, "id": rid} if err else {"result": None, "id": rid})
        elif method == "UNSUBSCRIBE" and isinstance(params, list):
            self.unsubscribe(sock, params)
            sock.reply({"result": None, "id": rid})
        elif method == "LIST_SUBSCRIPTIONS":
            sock.reply({"result": sorted(sock.streams), "id": rid})
        else:
            sock.reply({"error": {"code": 1, "msg": f"Invalid request: unknown method {method!r}"}, "id": rid})

    async def connect(self, request: web.Request, combined: bool, initial: list[str]) -> web.WebSocketResponse:
        """Serve one market-stream WebSocket (`combined`: events wrapped as {"stream", "data"}) following `initial`;
        HTTP 400 before the upgrade when one of them is not a stream."""
        def make(ws):
            sock = sockets.Socket(ws, combined)
            err = self.subscribe(sock, initial)
            if err:
                raise web.HTTPBadRequest(text=err)
            return sock
        return await sockets.serve(request, make, self._on_text, lambda s: self.unsubscribe(s, set(s.streams)))

    async def raw(self, request: web.Request) -> web.WebSocketResponse:
        """GET /ws and /ws/<streams> (and their /public, /market forms): the raw streams the path names (other names
        ignored); /ws/<listenKey> is that key's user stream."""
        tail = request.match_info.get("tail", "")
        if tail and self.gw.users.account_of(tail) is not None:  # /ws/<listenKey>: a user stream
            return await self.gw.users.connect(request, tail)
        names = [n for n in tail.split("/") if n] if tail else []
        return await self.connect(request, False, [n for n in names if self.valid(n)])

    async def combined(self, request: web.Request) -> web.WebSocketResponse:
        """GET /stream?streams=a/b (and its /public, /market forms): the named streams, combined."""
        names = [n for n in request.query.get("streams", "").split("/") if n]
        return await self.connect(request, True, names)

    def routes(self) -> list:
        """The market stream WebSocket routes: /ws, /stream and their /public and /market forms."""
        out = [web.get("/ws", self.raw), web.get("/ws/{tail:.*}", self.raw), web.get("/stream", self.combined)]
        for category in ("public", "market"):
            out += [web.get(f"/{category}/ws", self.raw), web.get(f"/{category}/ws/{{tail:.*}}", self.raw),
                    web.get(f"/{category}/stream", self.combined)]
        return out


def _levels(spec, levels) -> list[list[str]]:
    return [[spec.format_price(p), spec.format_qty(q)] for p, q in levels]
