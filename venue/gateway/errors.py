"""Refusals in Binance's shape: an HTTP status and a JSON body `{"code": <int>, "msg": <str>}`.

Business rejections come from the one reason table (model/reasons.py carries the Binance code
of each reason); the few refusals that only exist at this edge (signature, key, timestamp,
a mandatory parameter) are named here with Binance's own codes and messages.
"""

from __future__ import annotations

import math

import orjson
from aiohttp import web

from perpsim.model.reasons import REASONS
from perpsim.model.reasons import RejectReason as R
from perpsim.venue.errors import VenueError

#: Binance's code for an error it has no better code for (UNKNOWN).
UNKNOWN = -1000

_HTTP = {"INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 400, "NOT_FOUND": 400, "ALREADY_EXISTS": 400,
         "RESOURCE_EXHAUSTED": 400, "UNAUTHENTICATED": 401, "PERMISSION_DENIED": 401}


class ApiError(Exception):
    """A refusal at the REST edge: HTTP `status`, Binance `code` and `msg`, extra headers."""

    def __init__(self, status: int, code: int, msg: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{code}: {msg}")
        self.status, self.code, self.msg, self.headers = status, code, msg, headers or {}


def missing(name: str) -> ApiError:
    """Binance -1102 (HTTP 400): a mandatory parameter not sent or empty."""
    return ApiError(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def malformed(name: str, value: object) -> ApiError:
    """Binance -1102 (HTTP 400): a parameter that does not parse, echoing its value."""
    return ApiError(400, -1102, f"Parameter '{name}' was malformed: {value!r}.")


def bad_timestamp() -> ApiError:
    """Binance -1021 (HTTP 400): the timestamp is outside the recvWindow."""
    return ApiError(400, -1021, "Timestamp for this request is outside of the recvWindow.")


def bad_recv_window() -> ApiError:
    """Binance -1131 (HTTP 400): recvWindow not in (0, 60000] ms."""
    return ApiError(400, -1131, "recvWindow must be less than 60000.")


def bad_signature() -> ApiError:
    """Binance -1022 (HTTP 400): the HMAC-SHA256 signature does not match the key's secret."""
    return ApiError(400, -1022, "Signature for this request is not valid.")


def bad_key_format() -> ApiError:
    """Binance -2014 (HTTP 401): X-MBX-APIKEY missing, empty or longer than 256 characters."""
    return ApiError(401, -2014, "API-key format invalid.")


def bad_key() -> ApiError:
    """Binance -2015 (HTTP 401): no account has this API key."""
    return ApiError(401, -2015, "Invalid API-key, IP, or permissions for action.")


def not_ready(why: str) -> ApiError:
    """503 while the venue is not serving; `why` from `Venue.unavailable`."""
    return ApiError(503, -1001, why[:1].upper() + why[1:] + ".")


def internal() -> ApiError:
    """Binance -1000 UNKNOWN (HTTP 500): a fault inside the venue, logged; nothing about it is shown."""
    return ApiError(500, UNKNOWN, "An unknown error occurred while processing the request (logged).")


def from_venue(e: VenueError) -> ApiError:
    """The Binance form of a business rejection: its code from the reason table, the reason's
    message with the structured fields after it, and 429 + Retry-After (whole seconds, rounded
    up) for the per-key rate limit."""
    info = REASONS[e.reason]
    msg = info.message
    shown = e.fields if e.display is None else e.display  # money and prices in units, as gRPC shows them
    details = {**({"field": e.field} if e.field else {}), **shown}
    if details:
        msg += " " + ", ".join(f"{k}={v}" for k, v in details.items())
    code = info.binance_code if info.binance_code is not None else UNKNOWN
    if e.reason == R.RATE_LIMITED:
        retry_ms = e.fields.get("retry_after_ms")
        wait_ms = retry_ms if isinstance(retry_ms, int) else 1000
        return ApiError(429, code, msg, {"Retry-After": str(max(1, math.ceil(wait_ms / 1000)))})
    return ApiError(_HTTP[info.status], code, msg)


def json_response(body: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """`body` as a JSON response (orjson) with the given HTTP status and headers."""
    return web.Response(body=orjson.dumps(body), status=status, headers=headers, content_type="application/json")


def error_response(e: ApiError) -> web.Response:
    """A refusal as Binance answers it: HTTP `e.status`, body {"code", "msg"}, `e.headers`."""
    return json_response({"code": e.code, "msg": e.msg}, e.status, e.headers)
