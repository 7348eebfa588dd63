"""Per-key rate limits: a token bucket per API key (the venue's edge, so wall-clock time)."""

from __future__ import annotations

import time


class RateLimiter:
    """`rate` requests per second sustained, bursts up to `burst`; 0 disables the limit."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        # key (None: calls without one) -> (tokens, last refill time)
        self._buckets: dict[str | None, tuple[float, float]] = {}

    def acquire(self, key: str | None, now: float | None = None, weight: int = 1) -> float:
        """Take `weight` tokens (one per order: a batch weighs its orders); 0.0 if allowed, else
        the seconds to wait before a retry. A weight above the burst is never allowed (inf)."""
        if self.rate <= 0:
            return 0.0
        if weight > self.burst:
            return float("inf")
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens >= weight:
            self._buckets[key] = (tokens - weight, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (weight - tokens) / self.rate
