"""Binance SIGNED requests: HMAC-SHA256 over the query string concatenated with the body.

totalParams = query string + request body (as sent, `signature` removed); the signature is
the lowercase hex HMAC-SHA256 of totalParams keyed by the API secret. The timing rule:
timestamp < server time + 1000 and server time - timestamp <= recvWindow (ms; default 5000,
at most 60000).
"""

from __future__ import annotations

import hashlib
import hmac
import re

DEFAULT_RECV_WINDOW_MS = 5_000
MAX_RECV_WINDOW_MS = 60_000
#: How far ahead of the server a timestamp may be (Binance: 1000 ms).
AHEAD_MS = 1_000

_SIGNATURE = re.compile(r"(?:^|&)signature=([^&]*)")


def sign(secret: str, total_params: str) -> str:
    """The hex HMAC-SHA256 of `total_params` keyed by `secret`."""
    return hmac.new(secret.encode(), total_params.encode(), hashlib.sha256).hexdigest()


def split_signature(text: str) -> tuple[str, str | None]:
    """`text` (a raw query string or body) without its signature parameter, and the signature."""
    m = _SIGNATURE.search(text)
    if m is None:
        return text, None
    rest = text[:m.start()] + (text[m.end():] if m.start() else text[m.end() + 1:])
    return rest, m.group(1)


def total_params(query: str, body: str) -> tuple[str, str | None]:
    """Binance's totalParams (query string + body, each without `signature`) and the signature
    found in either (the query's wins when both carry one)."""
    q, sig_q = split_signature(query)
    b, sig_b = split_signature(body)
    return q + b, sig_q if sig_q is not None else sig_b


def verify(secret: str, payload: str, signature: str) -> bool:
    """Whether `signature` is the HMAC of `payload` (constant-time compare, case-insensitive hex)."""
    return hmac.compare_digest(sign(secret, payload), signature.lower())


def fresh(timestamp_ms: int, recv_window_ms: int, now_ms: int) -> bool:
    """Binance's timing rule: not more than AHEAD_MS ahead, not older than recvWindow."""
    return timestamp_ms < now_ms + AHEAD_MS and now_ms - timestamp_ms <= recv_window_ms
