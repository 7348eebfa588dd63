"""The gateway's WebSocket streams: Binance's diff-depth procedure rebuilds the REST book, the
market streams (trades, aggregate trades, book ticker, kline, mark price, liquidations), the
user data stream (orders, account, margin call, conditional orders, key expiry), and ccxt
pro's watchers on top of them."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import aiohttp
import orjson
import pytest

from .gateway_kit import BTC, base_url, credentials, gateway_venue, pro_exchange, signed, sync_exchange

#: how long a watcher may take to deliver (a bound on liveness, never a timing asserted: on a
#: loaded machine ccxt.pro's first connection alone has taken more than 5 s)
LIVE_S = 20


@pytest.fixture
def world(tmp_path):
    with gateway_venue(tmp_path) as (venue, admin):
        yield venue, admin


def ws_url(venue, path: str) -> str:
    return base_url(venue).replace("http://", "ws://") + path


async def next_event(ws, want, timeout: float = 5.0) -> dict:
    """The next message for which want(msg) holds (others are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        msg = await asyncio.wait_for(ws.receive(), max(0.01, deadline - time.monotonic()))
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        data = orjson.loads(msg.data)
        if want(data):
            return data


def order(venue, acc, side: str, qty: str, price: str | None = None, **extra) -> dict:
    params = {"symbol": "BTCUSDT", "side": side, "quantity": qty, **extra}
    params.update({"type": "LIMIT", "price": price, "timeInForce": "GTC"} if price else {"type": "MARKET"})
    status, _, body = signed(venue, "POST", "/fapi/v1/order", params, acc.api_key, acc.api_secret)
    assert status == 200, body
    return body


def test_diff_depth_stream_rebuilds_the_rest_book(world) -> None:
    """Binance's "manage a local order book": buffer the stream, take the REST snapshot, drop
    events with u < lastUpdateId, start at U <= lastUpdateId <= u, then each pu == the last u."""
    venue, admin = world
    maker, taker = credentials(admin, "1000000"), credentials(admin, "1000000")
    for i in range(5):  # a book before anyone follows it
        order(venue, maker, "BUY", "0.1", str(64000 - 10 * i))
        order(venue, maker, "SELL", "0.1", str(66000 + 10 * i))

    async def run() -> None:
        async with aiohttp.ClientSession() as http, \
                http.ws_connect(ws_url(venue, "/stream?streams=btcusdt@depth@100ms/btcusdt@depth@0ms")) as ws:
            events: dict[str, list] = {"btcusdt@depth@100ms": [], "btcusdt@depth@0ms": []}

            async def read() -> None:
                async for msg in ws:
                    data = orjson.loads(msg.data)
                    events[data["stream"]].append(data["data"])

            reader = asyncio.ensure_future(read())
            loop = asyncio.get_running_loop()
            for i in range(10):  # changes while the snapshot is taken
                await loop.run_in_executor(None, lambda i=i: order(venue, maker, "BUY", "0.2", str(64500 + i)))
            _, _, snap = await loop.run_in_executor(
                None, lambda: signed(venue, "GET", "/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": 1000}, None, None,
                                     sign=False))
            for i in range(10):  # adds, takes and cancels after it
                await loop.run_in_executor(None, lambda i=i: order(venue, maker, "SELL", "0.3", str(65500 + i)))
                await loop.run_in_executor(None, lambda: order(venue, taker, "BUY", "0.25"))
            await loop.run_in_executor(None, lambda: signed(venue, "DELETE", "/fapi/v1/allOpenOrders",
                                                            {"symbol": "BTCUSDT"}, maker.api_key, maker.api_secret))
            order(venue, maker, "BUY", "0.4", "64100")
            await asyncio.sleep(0.4)  # two 100 ms windows pass
            reader.cancel()
            _, _, final = signed(venue, "GET", "/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": 1000}, None, None,
                                 sign=False)
            for name, stream in events.items():
                book = rebuild(snap, stream)
                assert book == levels(final), name
            per_command = [(e["U"], e["u"]) for e in events["btcusdt@depth@0ms"]]
            assert all(u == first for first, u in per_command) and len(per_command) >= 31  # one per command
            assert 1 <= len(events["btcusdt@depth@100ms"]) < len(per_command)  # windows merge commands

    asyncio.run(run())


def levels(depth: dict) -> tuple[dict, dict]:
    return ({Decimal(p): Decimal(q) for p, q in depth["bids"]}, {Decimal(p): Decimal(q) for p, q in depth["asks"]})


def rebuild(snapshot: dict, events: list[dict]) -> tuple[dict, dict]:
    bids, asks = levels(snapshot)
    last = snapshot["lastUpdateId"]
    started = False
    for e in events:
        if e["u"] < last and not started:
            continue
        if not started:
            assert e["U"] <= last <= e["u"], (e["U"], last, e["u"])
            started = True
        else:
            assert e["pu"] == last, (e["pu"], last)
        for side, rows in ((bids, e["b"]), (asks, e["a"])):
            for p, q in rows:
                if Decimal(q) == 0:
                    side.pop(Decimal(p), None)
                else:
                    side[Decimal(p)] = Decimal(q)
        last = e["u"]
    return bids, asks


def test_market_streams(world) -> None:
    venue, admin = world
    maker, taker = credentials(admin, "1000000"), credentials(admin, "1000000")

    async def run() -> None:
        async with aiohttp.ClientSession() as http, http.ws_connect(ws_url(venue, "/market/ws")) as ws:
            await ws.send_str(orjson.dumps({"method": "SUBSCRIBE", "id": 7, "params": [
                "btcusdt@aggTrade", "btcusdt@trade", "btcusdt@bookTicker", "btcusdt@kline_1m",
                "btcusdt@markPrice@1s", "btcusdt@ticker"]}).decode())
            assert await next_event(ws, lambda m: "id" in m) == {"result": None, "id": 7}
            await ws.send_str('{"method": "SUBSCRIBE", "id": 8, "params": ["btcusdt@nonsense"]}')
            err = await next_event(ws, lambda m: m.get("id") == 8)
            assert err["error"]["code"] == 2
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, lambda: order(venue, maker, "SELL", "0.1", "65100"))
            await loop.run_in_executor(None, lambda: order(venue, maker, "SELL", "0.1", "65100"))
            book = await next_event(ws, lambda m: m.get("e") == "bookTicker")
            assert (book["s"], book["a"], book["A"]) == ("BTCUSDT", "65100.0", "0.100")
            await loop.run_in_executor(None, lambda: order(venue, taker, "BUY", "0.15"))
            trades = [await next_event(ws, lambda m: m.get("e") == "trade") for _ in range(2)]
            assert [(t["p"], t["q"], t["m"]) for t in trades] == [("65100.0", "0.100", False),
                                                                   ("65100.0", "0.050", False)]
            agg = await next_event(ws, lambda m: m.get("e") == "aggTrade")
            assert (agg["q"], agg["f"], agg["l"], agg["p"]) == ("0.150", trades[0]["t"], trades[1]["t"], "65100.0")
            kline = await next_event(ws, lambda m: m.get("e") == "kline")
            assert (kline["k"]["i"], kline["k"]["c"], kline["k"]["v"]) == ("1m", "65100.0", "0.150")
            ticker = await next_event(ws, lambda m: m.get("e") == "24hrTicker")
            assert (ticker["c"], ticker["n"]) == ("65100.0", 2)
            mark = await next_event(ws, lambda m: m.get("e") == "markPriceUpdate", timeout=3)
            assert (mark["s"], mark["p"], mark["i"]) == ("BTCUSDT", "65000.0", "65000.0")
            await ws.send_str('{"method": "LIST_SUBSCRIPTIONS", "id": 9}')
            listed = await next_event(ws, lambda m: m.get("id") == 9)
            assert "btcusdt@aggTrade" in listed["result"] and len(listed["result"]) == 6

    asyncio.run(run())


def test_user_stream_and_liquidation(world) -> None:
    venue, admin = world
    maker, trader = credentials(admin, "1000000"), credentials(admin, "100")
    k, s = trader.api_key, trader.api_secret
    _, _, body = signed(venue, "POST", "/fapi/v1/listenKey", {}, k, None, sign=False)
    key = body["listenKey"]
    assert signed(venue, "POST", "/fapi/v1/listenKey", {}, k, None, sign=False)[2]["listenKey"] == key  # same key
    assert signed(venue, "PUT", "/fapi/v1/listenKey", {}, k, None, sign=False)[0] == 200

    async def run() -> None:
        loop = asyncio.get_running_loop()

        def call(fn):
            return loop.run_in_executor(None, fn)

        private = ws_url(venue, f"/private/ws?listenKey={key}")
        async with aiohttp.ClientSession() as http, http.ws_connect(private) as ws, \
                http.ws_connect(ws_url(venue, "/ws/btcusdt@forceOrder")) as liq:
            await call(lambda: order(venue, maker, "SELL", "1", "65000"))
            await call(lambda: order(venue, maker, "BUY", "1", "50000"))
            await call(lambda: signed(venue, "POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": "20"},
                                      k, s))
            placed = await call(lambda: order(venue, trader, "BUY", "0.03", newClientOrderId="entry-1"))
            new = await next_event(ws, lambda m: m.get("e") == "ORDER_TRADE_UPDATE" and m["o"]["x"] == "NEW")
            fill = await next_event(ws, lambda m: m.get("e") == "ORDER_TRADE_UPDATE" and m["o"]["x"] == "TRADE")
            assert (new["o"]["c"], new["o"]["i"], fill["o"]["X"], fill["o"]["L"], fill["o"]["l"], fill["o"]["z"]) == \
                ("entry-1", placed["orderId"], "FILLED", "65000.0", "0.030", "0.030")
            assert Decimal(fill["o"]["n"]) == Decimal("0.975") and fill["o"]["N"] == "USDT" and fill["o"]["t"] > 0
            acct = await next_event(ws, lambda m: m.get("e") == "ACCOUNT_UPDATE")
            (p,) = acct["a"]["P"]
            assert (acct["a"]["m"], p["s"], p["pa"], p["ep"]) == ("ORDER", "BTCUSDT", "0.030", "65000.0000")
            assert acct["a"]["B"][0]["wb"] == "99.02500000"
            algo = await call(lambda: signed(venue, "POST", "/fapi/v1/algoOrder", {
                "symbol": "BTCUSDT", "side": "SELL", "algoType": "CONDITIONAL", "type": "STOP_MARKET",
                "triggerPrice": "40000", "quantity": "0.03", "reduceOnly": "true", "clientAlgoId": "stop-1"}, k, s))
            update = await next_event(ws, lambda m: m.get("e") == "ALGO_UPDATE")
            assert (update["o"]["aid"], update["o"]["caid"], update["o"]["X"], update["o"]["o"]) == \
                (algo[2]["algoId"], "stop-1", "NEW", "STOP_MARKET")
            # the mark falls: margin call first (maintenance >= 80 % of the margin balance), then liquidation
            await call(lambda: admin.set_index_price("BTCUSDT", "62000"))
            call_ = await next_event(ws, lambda m: m.get("e") == "MARGIN_CALL")
            assert call_["p"][0]["s"] == "BTCUSDT" and call_["p"][0]["pa"] == "0.030"
            await call(lambda: admin.set_index_price("BTCUSDT", "58000"))
            forced = await next_event(liq, lambda m: m.get("e") == "forceOrder")
            assert (forced["o"]["s"], forced["o"]["S"], forced["o"]["q"]) == ("BTCUSDT", "SELL", "0.030")
            gone = await next_event(ws, lambda m: m.get("e") == "ALGO_UPDATE")
            assert gone["o"]["X"] == "CANCELED"  # a liquidation cancels the account's conditional orders
            closed = await next_event(ws, lambda m: m.get("e") == "ACCOUNT_UPDATE" and m["a"]["P"]
                                      and m["a"]["P"][0]["pa"] == "0.000")
            assert closed["a"]["P"][0]["s"] == "BTCUSDT"
            (mine,) = await call(lambda: sync_exchange(venue, trader).fetch_my_liquidations(BTC))
            assert (mine["symbol"], mine["contracts"], mine["side"]) == (BTC, 0.03, "sell")
            # an expired key ends the stream with listenKeyExpired
            venue.gateway.users.ttl_s = 0.2
            await call(lambda: signed(venue, "PUT", "/fapi/v1/listenKey", {}, k, None, sign=False))
            expired = await next_event(ws, lambda m: m.get("e") == "listenKeyExpired", timeout=3)
            assert expired["listenKey"] == key
        status, _, body = signed(venue, "PUT", "/fapi/v1/listenKey", {}, k, None, sign=False)
        assert (status, body["code"]) == (400, -1125)

    asyncio.run(run())


def test_ccxt_pro_watchers(world) -> None:
    venue, admin = world
    maker, trader = credentials(admin, "1000000"), credentials(admin)
    sync_exchange(venue, maker).create_order(BTC, "limit", "sell", 0.5, 65100)

    async def run() -> None:
        ex = pro_exchange(venue, trader)
        try:
            await ex.load_markets()
            book = await asyncio.wait_for(ex.watch_order_book(BTC), LIVE_S)
            assert book["asks"][0] == [65100.0, 0.5]
            assert await asyncio.wait_for(ex.watch_positions([BTC]), LIVE_S) == []  # the REST snapshot: flat
            balance = asyncio.ensure_future(ex.watch_balance())
            orders = asyncio.ensure_future(ex.watch_orders(BTC))
            mine = asyncio.ensure_future(ex.watch_my_trades(BTC))
            positions = asyncio.ensure_future(ex.watch_positions([BTC]))
            trades = asyncio.ensure_future(ex.watch_trades(BTC))
            ticker = asyncio.ensure_future(ex.watch_ticker(BTC))
            # waiting before the order: its one depth diff may come before the calls above are
            # answered, and a watch started after it would wait for the next (a quiet book sends none)
            book_next = asyncio.ensure_future(ex.watch_order_book(BTC))
            await asyncio.sleep(0.3)  # subscribed
            await ex.create_order(BTC, "market", "buy", 0.02)
            got = await asyncio.wait_for(orders, LIVE_S)
            assert got[-1]["symbol"] == BTC and got[-1]["side"] == "buy"
            (trade,) = await asyncio.wait_for(mine, LIVE_S)
            assert (trade["price"], trade["amount"], trade["fee"]["currency"]) == (65100.0, 0.02, "USDT")
            assert [(t["price"], t["amount"]) for t in await asyncio.wait_for(trades, LIVE_S)] == [(65100.0, 0.02)]
            assert (await asyncio.wait_for(ticker, LIVE_S))["last"] == 65100.0
            pos = await asyncio.wait_for(positions, LIVE_S)
            assert (pos[-1]["symbol"], pos[-1]["contracts"], pos[-1]["side"]) == (BTC, 0.02, "long")
            bal = await asyncio.wait_for(balance, LIVE_S)
            assert bal["USDT"]["total"] == pytest.approx(10000 - 65100 * 0.02 * 0.0005)
            book = await asyncio.wait_for(book_next, LIVE_S)
            assert book["asks"][0] == [65100.0, 0.48]
        finally:
            await ex.close()

    asyncio.run(run())
