"""Signed requests, refusals and error codes of the Binance-compatible gateway: Binance's own
HMAC examples through the venue's verifier, key / signature / timestamp failures, the error
codes as ccxt's exception classes, 429 with Retry-After, and refusals that change nothing."""

from __future__ import annotations

import asyncio
import re
import socket
import time

import aiohttp
import ccxt
import pytest
from aiohttp import web

from perpsim.venue.gateway import signing
from perpsim.venue.http import HttpServer, build_http_app

from .gateway_kit import BTC, credentials, gateway_venue, signed, sync_exchange

# Binance's published example (API docs, "SIGNED Endpoint Examples for POST /api/v3/order")
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
QUERY = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
BODY = "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with gateway_venue(tmp_path_factory.mktemp("gw-auth")) as (venue, admin):
        yield venue, admin


def test_binance_published_hmac_examples() -> None:
    # example 1: everything in the query string; example 3: query string and body mixed
    payload, sig = signing.total_params(QUERY + "&" + BODY, "")
    assert sig is None
    assert signing.sign(SECRET, payload) == "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    payload, sig = signing.total_params(
        QUERY, BODY + "&signature=0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77")
    assert payload == QUERY + BODY
    assert signing.verify(SECRET, payload, sig)
    assert signing.verify(SECRET, payload, sig.upper())  # Binance: the hex is not case sensitive
    assert not signing.verify(SECRET, payload + "&x=1", sig)


def test_signed_request_rules(world) -> None:
    venue, admin = world
    acc = credentials(admin)
    k, s = acc.api_key, acc.api_secret
    status, _, body = signed(venue, "GET", "/fapi/v2/balance", {}, k, s)
    assert status == 200 and body[0]["asset"] == "USDT"
    # signature in the body, parameters split between query and body (Binance's example 3)
    status, _, body = signed(venue, "POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT"}, k, s,
                             body={"leverage": "7", "timestamp": int(time.time() * 1000)}, sign=False)
    assert status == 400 and body["code"] == -1102  # no signature at all
    status, _, body = signed(venue, "POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT"}, k, s,
                             body={"leverage": "7", "recvWindow": "10000"})
    assert (status, body["leverage"]) == (200, 7)

    def code(params=None, key=k, secret=s, **kw):
        st, _, b = signed(venue, "GET", "/fapi/v2/balance", params or {}, key, secret, **kw)
        return st, b["code"] if isinstance(b, dict) else None

    assert code(key=None) == (401, -2014)  # no X-MBX-APIKEY
    assert code(key="nobody") == (401, -2015)  # no such key
    assert code(secret="wrong") == (400, -1022)
    now = int(time.time() * 1000)
    assert code(timestamp=now - 6_000) == (400, -1021)  # older than the default recvWindow (5000)
    assert code({"recvWindow": "10000"}, timestamp=now - 6_000)[0] == 200  # ccxt's 10000 allows it
    assert code(timestamp=now + 5_000) == (400, -1021)  # more than 1000 ms ahead
    assert code({"recvWindow": "60001"}) == (400, -1131)
    assert code({"recvWindow": "60000"})[0] == 200
    # a listen key takes the API key alone, no signature
    st, _, b = signed(venue, "POST", "/fapi/v1/listenKey", {}, k, None, sign=False)
    assert st == 200 and len(b["listenKey"]) == 64


def test_error_codes_as_ccxt_exceptions(world) -> None:
    venue, admin = world
    poor = sync_exchange(venue, credentials(admin, "100"))
    with pytest.raises(ccxt.InsufficientFunds, match="-2019"):
        poor.create_order(BTC, "limit", "buy", 1, 60000)  # 60,000 USDT of notional on 100 USDT at 20x
    with pytest.raises(ccxt.InvalidOrder, match="-2022"):
        poor.create_order(BTC, "market", "sell", 0.01, None, {"reduceOnly": True})  # nothing to reduce
    with pytest.raises(ccxt.InvalidOrder, match="-4164"):
        poor.create_order(BTC, "limit", "buy", 0.001, 4000)  # 4 USDT, below the 5 USDT minimum notional
    with pytest.raises(ccxt.OrderNotFound):
        poor.cancel_order("999999", BTC)
    with pytest.raises(ccxt.OrderNotFound):
        poor.fetch_order("999999", BTC)
    wrong = sync_exchange(venue, type("A", (), {"api_key": poor.apiKey, "api_secret": "not-the-secret"})())
    with pytest.raises(ccxt.AuthenticationError):
        wrong.fetch_balance()
    # without the helper, ccxt maps linear codes only on Binance's host names
    plain = sync_exchange(venue, credentials(admin, "100"), errors=False)
    plain.load_markets()
    with pytest.raises(ccxt.ExchangeError) as e:
        plain.create_order(BTC, "limit", "buy", 1, 60000)
    assert type(e.value) is ccxt.ExchangeError and "-2019" in str(e.value)


def test_refused_requests_change_nothing(world) -> None:
    venue, admin = world
    acc = credentials(admin)
    k, s = acc.api_key, acc.api_secret
    ex = sync_exchange(venue, acc)
    ex.load_markets()
    ex.create_order(BTC, "limit", "buy", 0.01, 60000)  # something to change if a refusal leaked
    before = admin.venue_state().state_hash
    for params in ({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.0105", "price": "60000"},
                   {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "60000.05"},
                   {"symbol": "NOPE", "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "60000"},
                   {"symbol": "BTCUSDT", "side": "UP", "type": "LIMIT", "quantity": "0.01", "price": "60000"},
                   {"symbol": "BTCUSDT", "side": "BUY", "type": "STOP_MARKET", "quantity": "0.01"},
                   {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01"}):
        st, _, b = signed(venue, "POST", "/fapi/v1/order", params, k, s)
        assert st == 400 and b["code"] < 0, b
        st, _, b = signed(venue, "POST", "/fapi/v1/order", params, k, "bad secret")
        assert (st, b["code"]) == (400, -1022)
    st, _, b = signed(venue, "POST", "/fapi/v1/batchOrders", {"batchOrders": "not json"}, k, s)
    assert (st, b["code"]) == (400, -1102)
    st, _, b = signed(venue, "POST", "/fapi/v1/algoOrder", {"symbol": "BTCUSDT", "side": "SELL", "algoType":
                      "CONDITIONAL", "type": "TRAILING_STOP_MARKET", "quantity": "0.01", "callbackRate": "0.123456789"},
                      k, s)
    assert (st, b["code"]) == (400, -1111)
    st, _, b = signed(venue, "DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": "424242"}, k, s)
    assert (st, b["code"]) == (400, -2011)
    assert admin.venue_state().state_hash == before


def test_engine_refusals_change_no_account_or_book(world) -> None:
    """A request the engine refuses goes through the sequencer (the venue's clock moves on, so
    the state hash does too) but leaves the account, its orders and the book as they were."""
    venue, admin = world
    acc = credentials(admin)
    k, s = acc.api_key, acc.api_secret
    ex = sync_exchange(venue, acc)
    ex.create_order(BTC, "limit", "buy", 0.01, 60000)

    def seen():
        return (ex.fetch_balance()["USDT"], [o["id"] for o in ex.fetch_open_orders(BTC)], ex.fetch_positions([BTC]),
                signed(venue, "GET", "/fapi/v1/depth", {"symbol": "BTCUSDT"}, None, None, sign=False)[2]["bids"])

    before = seen()
    st, _, b = signed(venue, "POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                                         "quantity": "5", "price": "60000", "timeInForce": "GTC"},
                      k, s)
    assert (st, b["code"]) == (400, -2019)
    # the figures in the asset's units, as gRPC shows them: not the engine's integer units
    assert re.search(r"required=[\d.]+ USDT", b["msg"]) and re.search(r"available=[\d.]+ USDT", b["msg"]), b["msg"]
    st, _, b = signed(venue, "POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET",
                                                         "quantity": "0.01", "reduceOnly": "true"}, k, s)
    assert (st, b["code"]) == (400, -2022)
    st, _, b = signed(venue, "POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": "500"}, k, s)
    assert (st, b["code"]) == (400, -4028)
    assert seen() == before


def test_rate_limit_answers_429_with_retry_after(tmp_path) -> None:
    with gateway_venue(tmp_path, rate_limit_per_s=1, rate_limit_burst=3) as (venue, admin):
        acc = credentials(admin, deposit=None)  # the key has spent none of its burst yet
        answers = [signed(venue, "GET", "/fapi/v2/balance", {}, acc.api_key, acc.api_secret) for _ in range(4)]
        assert [a[0] for a in answers] == [200, 200, 200, 429]
        _, headers, body = answers[-1]
        assert body["code"] == -1015 and int(headers["Retry-After"]) >= 1
        ex = sync_exchange(venue, acc)
        with pytest.raises(ccxt.RateLimitExceeded):
            ex.fetch_balance()


def test_a_taken_rest_address_is_refused_by_name(tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(RuntimeError) as e, gateway_venue(tmp_path, rest_listen=address):
            pass
    assert "ListenError" in str(e.value) and f"cannot listen on {address} (REST)" in str(e.value)
    assert "in use" in str(e.value)


def test_extra_routes_are_served_beside_the_gateway() -> None:
    """The one HTTP application takes other route tables (a dashboard) next to the gateway's."""
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="dashboard")

    async def run() -> tuple[str, int]:
        server = HttpServer(build_http_app(None, extra=[[web.get("/", hello)]]), "127.0.0.1:0")
        port = await server.start()
        try:
            async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/") as r:
                return await r.text(), r.status
        finally:
            await server.stop()

    assert asyncio.run(run()) == ("dashboard", 200)
