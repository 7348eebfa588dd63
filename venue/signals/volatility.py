"""Realized volatility of a market's mark: EWMA (RiskMetrics) of log returns on a fixed grid.

Sampling: venue time is cut into steps of Δ (`sample_ns`, 1 s by default); a step's sample is
the last mark seen in it, and a step without a mark event repeats the last mark (a zero
return), so a quiet market does not look calm by having no samples. The return of a step is
`r_t = ln(M_t / M_{t−Δ})`.

Estimator: `σ²_t = λ σ²_{t−Δ} + (1 − λ) r_t²` with `λ = 2^(−Δ / half_life)` (half-life 30 min by
default). It is seeded with the first window's sample variance (the unbiased variance around
the mean of the first `seed_samples` returns); until that window is full σ² is the sample
variance of the returns so far (none before two returns).

Horizons: `σ_h = σ_Δ · sqrt(h / Δ)`; annualised `σ_Δ · sqrt(365 d / Δ)`. All figures are
fractions (0.01 = 1 %), per step variance in fraction². A measurement, never a forecast.
"""

from __future__ import annotations

import math

HOUR_NS = 3_600 * 10**9
YEAR_NS = 365 * 24 * HOUR_NS
HORIZONS = {"1h": HOUR_NS, "8h": 8 * HOUR_NS, "24h": 24 * HOUR_NS}


def decay(sample_ns: int, half_life_ns: int) -> float:
    """λ = 2^(−Δ / half_life)."""
    return 2.0 ** (-sample_ns / half_life_ns)


class EwmaVariance:
    """The per-step variance of one series of returns (see the module docstring)."""

    def __init__(self, lam: float, seed_samples: int) -> None:
        if not 0.0 < lam < 1.0 or seed_samples < 2:
            raise ValueError("need 0 < λ < 1 and a seed window of at least 2 returns")
        self.lam, self.seed_samples = lam, seed_samples
        self.seed: list[float] | None = []  # returns of the seed window; None once seeded
        self.var = 0.0
        self.n = 0  # returns seen

    def update(self, r: float) -> None:
        """Fold in one log return (fraction): the seed window takes it until full (σ² its sample variance from two
        returns on), then the EWMA."""
        self.n += 1
        if self.seed is not None:
            self.seed.append(r)
            if len(self.seed) >= 2:
                self.var = _sample_variance(self.seed)
            if len(self.seed) == self.seed_samples:
                self.seed = None
            return
        self.var = self.lam * self.var + (1.0 - self.lam) * r * r

    def zeros(self, k: int) -> None:
        """k zero returns at once: the seed window takes them one by one, the EWMA as λ^k."""
        while k > 0 and self.seed is not None:
            self.update(0.0)
            k -= 1
        if k > 0:
            self.n += k
            self.var *= self.lam ** k

    @property
    def ready(self) -> bool:
        """Whether two returns have come in (σ is known)."""
        return self.n >= 2

    def sigma(self, horizon_ns: int, sample_ns: int) -> float | None:
        """σ over `horizon_ns` (fraction), or None before two returns."""
        if not self.ready:
            return None
        return math.sqrt(self.var * horizon_ns / sample_ns)


def _sample_variance(xs: list[float]) -> float:
    n = len(xs)
    mean = sum(xs) / n
    return sum((x - mean) ** 2 for x in xs) / (n - 1)


class MarkGrid:
    """Cuts mark events of several markets onto one grid of Δ and hands each closed step's
    returns to `on_step(returns, gap)`: one per market, None for a market without two samples
    yet; `gap` more steps follow in which every market with a sample repeats it (zero returns)."""

    def __init__(self, symbols: list[str], sample_ns: int, on_step) -> None:
        self.symbols, self.sample_ns, self.on_step = list(symbols), sample_ns, on_step
        self.step: int | None = None  # the open step (ts // Δ)
        self.last: dict[str, int] = {}  # the last mark seen (ticks), the open step's sample so far
        self.prev: dict[str, int] = {}  # the previous step's sample

    def mark(self, ts: int, symbol: str, mark: int) -> None:
        """A mark (ticks) of `symbol` at `ts` (ns): the steps before ts's are closed first, then it is the open step's
        sample so far."""
        self.advance(ts)
        self.last[symbol] = mark

    def advance(self, ts: int) -> None:
        """Close every step before the one `ts` falls in."""
        step = ts // self.sample_ns
        if self.step is None:
            self.step = step
            return
        if step <= self.step:
            return
        returns = []
        for s in self.symbols:
            m, p = self.last.get(s), self.prev.get(s)
            returns.append(math.log(m / p) if m is not None and p is not None and m > 0 and p > 0 else None)
            if m is not None:
                self.prev[s] = m
        gap = step - self.step - 1
        self.step = step
        self.on_step(returns, gap)
