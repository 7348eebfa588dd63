"""What the gateway tests share: ccxt binanceusdm (sync, async, pro) pointed at a test venue's
REST port, funded accounts made through the sandbox, and raw signed HTTP requests."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request

import ccxt
import ccxt.async_support
import ccxt.pro

from perpsim.clients.ccxt_local import connect
from tests.integration.conftest import admin_venue

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"


def base_url(venue) -> str:
    return f"http://127.0.0.1:{venue.rest_port}"


def credentials(admin, deposit: str | None = "10000"):
    """A new account through the sandbox (gRPC), funded with `deposit` USDT: its NewAccount."""
    acc = admin.create_account()
    if deposit is not None:
        admin.with_key(acc.api_key).deposit("USDT", deposit)
    return acc


def _config(acc) -> dict:
    # no client-side throttling: the venue's own limiter is what the tests exercise
    return {"apiKey": acc.api_key, "secret": acc.api_secret, "enableRateLimit": False} if acc else \
        {"enableRateLimit": False}


def sync_exchange(venue, acc=None, errors: bool = True):
    ex = ccxt.binanceusdm(_config(acc))
    return connect(ex, base_url(venue)) if errors else _urls_only(ex, venue)


def _urls_only(ex, venue):
    from perpsim.clients.ccxt_local import urls
    ex.urls["api"].update(urls(base_url(venue)))
    return ex


class Sync:
    """Calls a ccxt method by name on a sync exchange."""

    def __init__(self, venue, acc) -> None:
        self.ex = sync_exchange(venue, acc)

    def __call__(self, method: str, *args, **kwargs):
        return getattr(self.ex, method)(*args, **kwargs)

    def close(self) -> None:
        pass


class Async:
    """Calls a ccxt method by name on an async_support exchange, on a loop of its own."""

    def __init__(self, venue, acc) -> None:
        self.loop = asyncio.new_event_loop()
        self.ex = connect(ccxt.async_support.binanceusdm(_config(acc)), base_url(venue))

    def __call__(self, method: str, *args, **kwargs):
        return self.loop.run_until_complete(getattr(self.ex, method)(*args, **kwargs))

    def close(self) -> None:
        self.loop.run_until_complete(self.ex.close())
        self.loop.close()


def pro_exchange(venue, acc=None):
    return connect(ccxt.pro.binanceusdm(_config(acc)), base_url(venue))


def signed(venue, method: str, path: str, params: dict, key: str | None, secret: str | None,
           body: dict | None = None, timestamp: int | None = None, sign: bool = True) -> tuple[int, dict, object]:
    """A raw Binance-style request: `params` in the query string, `body` form-encoded; with
    `sign`, timestamp added and the HMAC of query + body appended to the query. (status,
    headers, parsed JSON)."""
    query = dict(params)
    if sign:
        query.setdefault("timestamp", timestamp if timestamp is not None else int(time.time() * 1000))
    qs = urllib.parse.urlencode(query)
    data = urllib.parse.urlencode(body) if body else ""
    if sign and secret is not None:
        qs += "&signature=" + hmac.new(secret.encode(), (qs + data).encode(), hashlib.sha256).hexdigest()
    req = urllib.request.Request(f"{base_url(venue)}{path}?{qs}", data=data.encode() if data else None,
                                 method=method)
    if key is not None:
        req.add_header("X-MBX-APIKEY", key)
    if data:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read())


@contextlib.contextmanager
def gateway_venue(data_dir, **settings):
    """A venue of a test's own with the REST gateway on a free port (feed, liquidity and metrics
    off; `settings` on top): (the running venue, an admin client)."""
    with admin_venue(data_dir, **settings) as (running, _, admin):
        yield running, admin
