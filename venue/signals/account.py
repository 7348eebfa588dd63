"""Account risk signals as pure functions: distance to liquidation in σ, the size-down nudge,
correlation-adjusted exposure, and the structured warnings a preview or an order carries.

These are read-model figures outside the core, in floating point: each depends only on its
arguments, evaluated in a fixed order, so the same venue state gives the same figures. None of
them predicts prices; each is a measurement at the volatility and correlations it is given.

Definitions (spec/risk-signals.md):

- distance of a long with liquidation price ``L`` at mark ``M``: ``d = ln(M / L)``; a short:
  ``d = ln(L / M)``; in percent ``|M − L| / M × 100`` (as the preview reports it);
- over a horizon ``h``: ``σ_h = σ_1h × sqrt(h / 1h)``, ``z_h = d / σ_h``, and the chance of
  touching ``L`` within ``h`` under a driftless log-normal walk (reflection principle)
  ``P_h = 2 Φ(−z_h) = erfc(z_h / √2)``;
- the nudge: the largest size whose liquidation price keeps ``z_h ≥ k``, found by bisection on
  the lot grid with the venue's own liquidation-price function (passed in as a callable);
- correlation-adjusted exposure of signed notionals ``e``: ``E = sqrt(eᵀ R e)``; effective
  leverage ``E / equity``; an order's exposure ``Δ`` is correlated with the held ``e`` by
  ``ρ(Δ, e) = Δᵀ R e / (sqrt(Δᵀ R Δ) sqrt(eᵀ R e))``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

HOUR_NS = 3_600 * 10**9
#: The horizons every distance is reported over: 1h, 8h and 24h.
HORIZONS_NS = (HOUR_NS, 8 * HOUR_NS, 24 * HOUR_NS)

WITHIN_K_SIGMA = "liquidation_within_k_sigma"
CORRELATED_EXPOSURE = "correlated_exposure"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """What a trader sets: ``k`` σ of distance over ``horizon_ns``, the correlation ``rho``
    above which exposures count as stacked, and the effective leverage ``max_leverage`` (L)
    above which stacking them is warned about."""

    k: float = 3.0
    horizon_ns: int = 8 * HOUR_NS
    rho: float = 0.7
    max_leverage: float = 10.0

    def problems(self) -> dict[str, str]:
        """Each out-of-range field with what it must be (empty: valid)."""
        out = {}
        if not (math.isfinite(self.k) and 0 < self.k <= 20):
            out["k"] = "must be in (0, 20]"
        if not 0 < self.horizon_ns <= 30 * 24 * HOUR_NS:
            out["horizon_ns"] = "must be in (0, 30 days]"
        if not (math.isfinite(self.rho) and 0 < self.rho < 1):
            out["rho"] = "must be in (0, 1)"
        if not (math.isfinite(self.max_leverage) and 0 < self.max_leverage <= 1_000):
            out["max_leverage"] = "must be in (0, 1000]"
        return out


@dataclass(frozen=True, slots=True)
class Warning:
    """A structured warning: a stable ``code``, a sentence for people, and its figures."""

    code: str
    message: str
    fields: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------- distance in σ


def sigma_over(sigma_1h: float, horizon_ns: int) -> float:
    """Volatility of log returns over ``horizon_ns`` from the 1h figure: ``σ_1h × sqrt(h / 1h)``."""
    return sigma_1h * math.sqrt(horizon_ns / HOUR_NS)


def log_distance(long: bool, mark: float, liquidation: float) -> float:
    """``ln(M / L)`` for a long, ``ln(L / M)`` for a short: negative once the mark is past ``L``."""
    return math.log(mark / liquidation) if long else math.log(liquidation / mark)


def touch_probability(z: float) -> float:
    """``2 Φ(−z)``: the chance a driftless log-normal walk touches a level ``z`` σ away within
    the horizon (1 when it is already there)."""
    return 1.0 if z <= 0 else math.erfc(z / math.sqrt(2))


@dataclass(frozen=True, slots=True)
class HorizonDistance:
    """Distance over one horizon: σ of that horizon (a fraction), ``z`` and ``P`` of touching."""

    horizon_ns: int
    sigma: float
    z: float
    touch_probability: float


@dataclass(frozen=True, slots=True)
class Distance:
    """Distance from the mark to a liquidation price: in percent of the mark, as a log
    distance, and in σ over each horizon (empty without a volatility)."""

    percent: float
    log: float
    horizons: tuple[HorizonDistance, ...]

    def z(self, horizon_ns: int) -> float | None:
        """``z`` over ``horizon_ns`` if it is one of the reported horizons."""
        return next((h.z for h in self.horizons if h.horizon_ns == horizon_ns), None)


def distance(long: bool, mark: float, liquidation: float, sigma_1h: float | None,
             horizons: Sequence[int] = HORIZONS_NS) -> Distance:
    """The distance of a position (``long`` or short) at ``mark`` from ``liquidation`` (both
    prices in the same unit), in σ over ``horizons`` at ``sigma_1h`` (None or 0: no σ figures)."""
    d = log_distance(long, mark, liquidation)
    out = []
    if sigma_1h:
        for h in horizons:
            s = sigma_over(sigma_1h, h)
            z = d / s
            out.append(HorizonDistance(h, s, z, touch_probability(z)))
    return Distance(abs(mark - liquidation) / mark * 100, d, tuple(out))


def within_k_sigma(long: bool, mark: float, liquidation: float | None, sigma_h: float, k: float) -> bool:
    """Whether a liquidation price keeps ``z_h ≥ k`` (no liquidation price: always)."""
    if liquidation is None or liquidation <= 0:
        return True
    return log_distance(long, mark, liquidation) >= k * sigma_h


# ---------------------------------------------------------------- the size-down nudge


def largest_within(lo: int, hi: int, ok: Callable[[int], bool]) -> int | None:
    """The largest ``q`` in ``[lo, hi]`` with ``ok(q)``, by bisection, for an ``ok`` that holds up
    to some size and fails beyond it (None when it fails at ``lo``). O(log(hi − lo)) calls."""
    if lo > hi or not ok(lo):
        return None
    if ok(hi):
        return hi
    good, bad = lo, hi  # ok(good) holds, ok(bad) fails
    while bad - good > 1:
        mid = (good + bad) // 2  # rounded down: the bisection ends on the lot grid either way
        if ok(mid):
            good = mid
        else:
            bad = mid
    return good


@dataclass(frozen=True, slots=True)
class Nudge:
    """The largest size (lots) whose liquidation price keeps ``z ≥ k`` over the horizon, and the
    reduce-only quantity (lots) that gets there: 0 when the position is already within kσ."""

    max_lots: int
    reduce_lots: int


def size_down(lots: int, mark: float, sigma_h: float, k: float,
              liquidation_at: Callable[[int], float | None]) -> Nudge:
    """The nudge for a position of ``|lots|`` (sign: side) at ``mark``: ``liquidation_at(q)`` is
    the venue's liquidation price of the same position reduced to ``q`` lots at the account's
    current margin and leverage (None: none). A flat position is always within kσ."""
    size, long = abs(lots), lots > 0

    def ok(q: int) -> bool:
        return q == 0 or within_k_sigma(long, mark, liquidation_at(q), sigma_h, k)

    best = largest_within(0, size, ok)
    assert best is not None  # ok(0) holds: never None from 0
    return Nudge(best, size - best)


# ---------------------------------------------------------------- correlated exposure


def quadratic(a: Sequence[float], b: Sequence[float], rho: Callable[[int, int], float]) -> float:
    """``aᵀ R b`` with ``R[i][j] = rho(i, j)``, summed in index order (a fixed evaluation order)."""
    total = 0.0
    for i, x in enumerate(a):
        if x:
            for j, y in enumerate(b):
                if y:
                    total += x * y * (1.0 if i == j else rho(i, j))
    return total


def exposure(e: Sequence[float], rho: Callable[[int, int], float]) -> float:
    """Correlation-adjusted exposure ``sqrt(eᵀ R e)`` of signed notionals ``e``: the sum of two
    perfectly correlated longs, near zero for a hedge."""
    return math.sqrt(max(0.0, quadratic(e, e, rho)))


def exposure_correlation(a: Sequence[float], b: Sequence[float], rho: Callable[[int, int], float]) -> float | None:
    """``ρ(a, b) = aᵀ R b / (|a|_R |b|_R)`` in [−1, 1]; None when either has no exposure."""
    na, nb = exposure(a, rho), exposure(b, rho)
    if na == 0 or nb == 0:
        return None
    return max(-1.0, min(1.0, quadratic(a, b, rho) / (na * nb)))


def clusters(names: Sequence[str], rho: Callable[[int, int], float], rho_min: float) -> list[list[str]]:
    """Groups of ``names`` linked (transitively) by ``ρ > rho_min``, each in the given order,
    singletons left out."""
    parent = list(range(len(names)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            if rho(i, j) > rho_min:
                parent[root(j)] = root(i)
    groups: dict[int, list[str]] = {}
    for i, name in enumerate(names):
        groups.setdefault(root(i), []).append(name)
    return [g for g in groups.values() if len(g) > 1]


def effective_leverage(e: Sequence[float], rho: Callable[[int, int], float], equity: float) -> float | None:
    """``E / equity`` (None when the equity is not positive)."""
    return exposure(e, rho) / equity if equity > 0 else None


def correlation_warning(names: Sequence[str], held: Sequence[float], delta: Sequence[float],
                        rho: Callable[[int, int], float], equity: float | Callable[[], float],
                        t: Thresholds) -> Warning | None:
    """The warning for an order adding signed notional ``delta`` to ``held`` (both per market in
    ``names``, in the settlement asset at mark): it fires when the order adds exposure (``E``
    grows), that exposure's correlation with the held one is above ``t.rho``, and the effective
    leverage after the order is above ``t.max_leverage``. ``equity``: the account's equity in the
    asset, or a function giving it, called only once the first two conditions hold."""
    corr = exposure_correlation(delta, held, rho)
    if corr is None or corr <= t.rho:
        return None
    after = [h + d for h, d in zip(held, delta, strict=True)]
    before_e, after_e = exposure(held, rho), exposure(after, rho)
    if after_e <= before_e:
        return None
    if callable(equity):
        equity = equity()
    lev = after_e / equity if equity > 0 else math.inf
    if lev <= t.max_leverage:
        return None
    markets = [n for n, h, d in zip(names, held, delta, strict=True) if h or d]
    return Warning(
        CORRELATED_EXPOSURE,
        f"this order adds exposure {corr:.2f} correlated with positions held; correlation-adjusted effective "
        f"leverage would be {lev:.1f}x (above {t.max_leverage:g}x)",
        {"correlation": f"{corr:.4f}", "effective_leverage": f"{lev:.4f}", "exposure_after": f"{after_e:.8g}",
         "exposure_before": f"{before_e:.8g}", "rho_threshold": f"{t.rho:g}",
         "leverage_threshold": f"{t.max_leverage:g}", "markets": ",".join(markets)})


def k_sigma_warning(symbol: str, z: float, t: Thresholds, touch: float) -> Warning:
    """The warning for a position whose liquidation price is closer than ``k`` σ."""
    hours = t.horizon_ns / HOUR_NS
    return Warning(
        WITHIN_K_SIGMA,
        f"{symbol}: liquidation {z:.2f}σ away over {hours:g}h (below {t.k:g}σ), about {touch:.1%} chance of "
        f"touching it at the last volatility",
        {"symbol": symbol, "z": f"{z:.4f}", "k": f"{t.k:g}", "horizon_ns": str(t.horizon_ns),
         "touch_probability": f"{touch:.6f}"})
