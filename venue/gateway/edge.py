"""The REST edge: one wrapper per endpoint that parses parameters, checks the API key, the
rate limit and the signature, waits for a durable state and turns refusals into Binance errors.

Security levels (Binance's): NONE (public), KEY (X-MBX-APIKEY only: user streams) and SIGNED
(key, `timestamp`, `recvWindow`, `signature`). Parameters come from the query string and a
form-encoded body; a name in both takes the query's value.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from aiohttp import web

from perpsim.venue.errors import VenueError
from perpsim.venue.gateway import errors as E
from perpsim.venue.gateway import signing

log = logging.getLogger("perpsim.gateway")

NONE, KEY, SIGNED = 0, 1, 2


@dataclass
class Call:
    """One request as an endpoint sees it: its parameters and, past KEY, the caller."""

    params: dict[str, str]
    request: web.Request
    key: str | None = None
    account: int = 0
    headers: dict[str, str] = field(default_factory=dict)


def wall_ms() -> int:
    """Wall-clock milliseconds: what a client's `timestamp` is compared with."""
    return time.time_ns() // 1_000_000


async def _params(request: web.Request) -> tuple[dict[str, str], str]:
    """Query and form body parameters merged (the query wins), and the raw body text."""
    body = ""
    params: dict[str, str] = {}
    if request.can_read_body:
        body = await request.text()
        if body and request.content_type in ("application/x-www-form-urlencoded", ""):
            params.update(parse_qsl(body, keep_blank_values=True))
    params.update(request.query.items())
    return params, body


class Edge:
    """What every endpoint shares: the venue, and how a call is admitted."""

    def __init__(self, venue) -> None:
        self.venue = venue

    def secret_of(self, key: str) -> str | None:
        """The secret that signs `key`'s requests; None for an unknown key or one without a secret."""
        return self.venue.keys.secret_of(key)

    async def admit(self, request: web.Request, security: int, weight: int) -> Call:
        """Admit a request at a security level (refused while the venue is not ready): its parameters and, past NONE,
        its key's account, charged `weight` on the rate limit, and SIGNED, a checked signature and timestamp."""
        venue = self.venue
        if not venue.ready:
            raise E.not_ready(venue.unavailable)
        params, body = await _params(request)
        call = Call(params, request)
        if security == NONE:
            return call
        key = request.headers.get("X-MBX-APIKEY", "")
        if not key or len(key) > 256:
            raise E.bad_key_format()
        account = venue.keys.account_of(key)
        if account is None:
            raise E.bad_key()
        call.key, call.account = key, account
        venue.take(key, weight)  # the per-key limiter: refused calls are charged too, like Binance
        if security == SIGNED:
            self._check_signed(request, body, params, key)
        return call

    def _check_signed(self, request: web.Request, body: str, params: dict[str, str], key: str) -> None:
        payload, signature = signing.total_params(request.rel_url.raw_query_string, body)
        if not signature:
            raise E.missing("signature")
        if "timestamp" not in params:
            raise E.missing("timestamp")
        try:
            ts = int(params["timestamp"])
            window = int(params.get("recvWindow") or signing.DEFAULT_RECV_WINDOW_MS)
        except ValueError:
            raise E.malformed("timestamp/recvWindow", params.get("timestamp")) from None
        if not 0 < window <= signing.MAX_RECV_WINDOW_MS:
            raise E.bad_recv_window()
        secret = self.secret_of(key)
        if secret is None or not signing.verify(secret, payload, signature):
            raise E.bad_signature()
        if not signing.fresh(ts, window, wall_ms()):
            raise E.bad_timestamp()

    def endpoint(self, handler: Callable[[Call], Awaitable[object]], security: int = NONE,
                 weight: int = 1) -> Callable[[web.Request], Awaitable[web.Response]]:
        """An aiohttp handler running `handler(call)` after admission; its result as JSON."""
        name = "rest_" + handler.__name__.strip("_")

        async def run(request: web.Request) -> web.Response:
            started = time.perf_counter()
            try:
                call = await self.admit(request, security, weight)
                if not self.venue.seq.durable:
                    await self.venue.seq.settled()  # what the call reads is durable
                return E.json_response(await handler(call), headers=call.headers or None)
            except VenueError as e:
                return E.error_response(E.from_venue(self.venue.refused(e)))  # counted like gRPC's
            except E.ApiError as e:
                return E.error_response(e)
            except Exception:
                log.exception("%s %s failed", request.method, request.path)
                return E.error_response(E.internal())
            finally:
                if self.venue.observe_latency is not None:
                    self.venue.observe_latency.labels(name).observe(time.perf_counter() - started)

        run.__name__ = name
        return run
