"""Point ccxt's `binanceusdm` (sync, async_support or pro) at a local perpsim venue.

    import ccxt
    from perpsim.clients.ccxt_local import connect

    ex = connect(ccxt.binanceusdm({"apiKey": KEY, "secret": SECRET}), "http://127.0.0.1:8080")
    ex.create_order("BTC/USDT:USDT", "limit", "buy", 0.01, 60000)

`connect` changes only URLs and one error table; nothing else of ccxt is patched:

- every REST base URL of the groups a USDⓈ-M bot uses (fapi v1/v2/v3, futures/data, sapi) and
  the linear WebSocket base (`ws://HOST:PORT/ws`, which ccxt pro turns into /public/ws,
  /market/ws and /private/ws) are pointed at the venue;
- ccxt maps Binance's linear error codes (-2019 margin insufficient, -2022 reduce-only, -4164
  min notional, ...) only for responses from Binance's own host names; at a local URL they would
  all arrive as a generic ExchangeError. `use_linear_errors` merges that table into the
  exchange's exact-code table, and makes HTTP 429 raise RateLimitExceeded (ccxt raises its
  parent DDoSProtection for any 429).
"""

from __future__ import annotations

#: ccxt's API groups of binanceusdm -> the path the venue serves them under.
REST_GROUPS = {
    "fapiPublic": "/fapi/v1", "fapiPublicV2": "/fapi/v2", "fapiPublicV3": "/fapi/v3",
    "fapiPrivate": "/fapi/v1", "fapiPrivateV2": "/fapi/v2", "fapiPrivateV3": "/fapi/v3",
    "fapiData": "/futures/data", "sapi": "/sapi/v1", "sapiV2": "/sapi/v2", "sapiV3": "/sapi/v3",
    "sapiV4": "/sapi/v4",
}

#: Options a bot against a local venue usually wants (none is required).
LOCAL_OPTIONS = {
    "fetchOpenOrders": {"warnWithoutSymbol": False},  # Binance's rate-limit warning; moot locally
}


def urls(base: str) -> dict[str, str]:
    """`urls['api']` entries for a venue at `base` (e.g. "http://127.0.0.1:8080")."""
    base = base.rstrip("/")
    return {group: base + path for group, path in REST_GROUPS.items()}


def ws_url(base: str) -> str:
    """The linear WebSocket base ccxt pro derives its stream URLs from."""
    return base.rstrip("/").replace("http://", "ws://", 1).replace("https://", "wss://", 1) + "/ws"


def use_linear_errors(exchange):
    """Map Binance's USDⓈ-M error codes to ccxt's exception classes at any URL, and HTTP 429
    to RateLimitExceeded. Returns the exchange."""
    import ccxt

    for kind in ("exact", "broad"):
        exchange.exceptions[kind] = {**exchange.exceptions[kind], **exchange.exceptions["linear"].get(kind, {})}
    handle = exchange.handle_errors

    def handle_errors(code, reason, url, method, headers, body, response, request_headers, request_body):
        if code == 429:
            raise ccxt.RateLimitExceeded(f"{exchange.id} 429 {reason} {body}")
        return handle(code, reason, url, method, headers, body, response, request_headers, request_body)

    exchange.handle_errors = handle_errors
    return exchange


def connect(exchange, base: str, options: dict | None = None):
    """Point a ccxt binanceusdm instance at the venue at `base`, map its error codes, and merge
    `options` (default LOCAL_OPTIONS) into the exchange's. Returns the exchange."""
    exchange.urls["api"].update(urls(base))
    if isinstance(exchange.urls["api"].get("ws"), dict):
        exchange.urls["api"]["ws"]["linear"] = ws_url(base)
    exchange.options.update(LOCAL_OPTIONS if options is None else options)
    return use_linear_errors(exchange)
