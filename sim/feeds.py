"""Index price processes: the exogenous price a scenario's markets follow.

Every feed produces its whole path up front, as a float array of index prices (quote currency
per base unit) at the start of each step: element 0 is the opening price, element k the price
after k steps of `dt_s` seconds. Random feeds draw only from the numpy Generator they are
given (PCG64, seeded by the runner), so a path is a pure function of (parameters, seed).

Scheduled shocks apply to any feed: from `at_s` on, the path is multiplied by (1 + pct/100),
reached linearly over `over_s` seconds (0 = a jump).

The venue's own trading can feed back into the index (arbitrageurs carry the perpetual's moves
to spot): the runner applies `impact_coupling` step by step, see `ImpactCoupling`.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SECONDS_PER_YEAR = 365 * 24 * 3600


@dataclass(frozen=True)
class Shock:
    """A scheduled move: `pct` percent (e.g. -8) starting at `at_s`, spread over `over_s` s."""

    at_s: float
    pct: float
    over_s: float = 0.0


@dataclass(frozen=True)
class Feed:
    """Base: a constant price. Subclasses override `_base_path`."""

    start: float
    shocks: tuple[Shock, ...] = ()

    def path(self, steps: int, dt_s: float, rng: np.random.Generator) -> np.ndarray:
        """Index prices at steps 0..steps (float64, length steps + 1), shocks applied."""
        base = self._base_path(steps, dt_s, rng)
        return base * shock_factors(self.shocks, steps, dt_s)

    def _base_path(self, steps: int, dt_s: float, rng: np.random.Generator) -> np.ndarray:
        return np.full(steps + 1, float(self.start))


@dataclass(frozen=True)
class ConstantFeed(Feed):
    """The index stays at `start` (apart from shocks)."""


@dataclass(frozen=True)
class GBMFeed(Feed):
    """Geometric Brownian motion: drift `mu` and volatility `sigma`, both annualised
    (sigma 0.6 = 60 %/year), exact log-normal steps."""

    mu: float = 0.0
    sigma: float = 0.6

    def _base_path(self, steps: int, dt_s: float, rng: np.random.Generator) -> np.ndarray:
        return self.start * np.exp(np.concatenate(([0.0], np.cumsum(self._log_returns(steps, dt_s, rng)))))

    def _log_returns(self, steps: int, dt_s: float, rng: np.random.Generator) -> np.ndarray:
        dt = dt_s / SECONDS_PER_YEAR
        return (self.mu - 0.5 * self.sigma**2) * dt + self.sigma * math.sqrt(dt) * rng.standard_normal(steps)


@dataclass(frozen=True)
class JumpDiffusionFeed(GBMFeed):
    """Merton jump-diffusion: GBM plus Poisson jumps, `jumps_per_day` on average, each a
    log-return drawn from N(`jump_mean`, `jump_std`) (e.g. -0.02, 0.03). Scheduled shocks come
    on top, at their fixed times."""

    jumps_per_day: float = 2.0
    jump_mean: float = -0.01
    jump_std: float = 0.02

    def _log_returns(self, steps: int, dt_s: float, rng: np.random.Generator) -> np.ndarray:
        diffusion = super()._log_returns(steps, dt_s, rng)
        counts = rng.poisson(self.jumps_per_day * dt_s / 86_400, steps)
        # the sum of n normal jumps is N(n·mean, n·std²): one draw per step
        jumps = counts * self.jump_mean + np.sqrt(counts) * self.jump_std * rng.standard_normal(steps)
        return diffusion + jumps


@dataclass(frozen=True)
class PiecewiseFeed(Feed):
    """A scripted path: (t_s, price) points, linear in between, flat after the last one.
    `start` is the price at t = 0 when the first point is later."""

    points: tuple[tuple[float, float], ...] = ()

    def _base_path(self, steps: int, dt_s: float, rng: np.random.Generator) -> np.ndarray:
        pts = sorted(self.points)
        if not pts or pts[0][0] > 0:
            pts.insert(0, (0.0, float(self.start)))
        times = np.arange(steps + 1) * dt_s
        return np.interp(times, [t for t, _ in pts], [p for _, p in pts])


@dataclass(frozen=True)
class ReplayFeed(Feed):
    """Replay of a price series: each step takes the last observation at or before its time
    (time 0 = the first row); `start` is ignored. `rows` are (t_s, price) pairs; `from_csv`
    reads them from a file with the named columns (defaults "t_s" and "price")."""

    rows: tuple[tuple[float, float], ...] = field(default=())

    @classmethod
    def from_csv(cls, path: str | Path, time_column: str = "t_s", price_column: str = "price",
                 shocks: tuple[Shock, ...] = ()) -> ReplayFeed:
        """A replay of the CSV file at `path`: (t_s, price) rows from the named columns (seconds, quote per
        base); ValueError when it has none. `start` is the first row's price."""
        with open(path, newline="") as f:
            rows = tuple((float(r[time_column]), float(r[price_column])) for r in csv.DictReader(f))
        if not rows:
            raise ValueError(f"{path}: no price rows")
        return cls(start=rows[0][1], shocks=shocks, rows=rows)

    def _base_path(self, steps: int, dt_s: float, rng: np.random.Generator) -> np.ndarray:
        t0 = self.rows[0][0]
        times = np.array([t - t0 for t, _ in self.rows])
        prices = np.array([p for _, p in self.rows])
        at = np.searchsorted(times, np.arange(steps + 1) * dt_s, side="right") - 1
        return prices[np.clip(at, 0, len(prices) - 1)]


def shock_factors(shocks: Sequence[Shock], steps: int, dt_s: float) -> np.ndarray:
    """Multiplicative factor per step of the scheduled shocks (1.0 where none applies)."""
    times = np.arange(steps + 1) * dt_s
    out = np.ones(steps + 1)
    for s in shocks:
        ramp = np.clip((times - s.at_s) / s.over_s, 0.0, 1.0) if s.over_s > 0 else (times >= s.at_s).astype(float)
        out *= 1.0 + ramp * s.pct / 100.0
    return out


class ImpactCoupling:
    """Feedback of the venue's trading into the index: after each step the factor f moves by
    `coupling` × (last trade / index − 1) and relaxes toward 1 by `decay` per step; the next
    index is the exogenous price × f. coupling 0 = a purely exogenous index."""

    def __init__(self, coupling: float = 0.0, decay: float = 0.05) -> None:
        self.coupling, self.decay, self.factor = coupling, decay, 1.0

    def update(self, last: float | None, index: float) -> float:
        """Fold the step's last trade price in; the factor for the next step."""
        if self.coupling and last is not None and index > 0:
            self.factor = 1.0 + (self.factor - 1.0) * (1.0 - self.decay) + self.coupling * (last / index - 1.0)
        return self.factor


FEEDS = {"constant": ConstantFeed, "gbm": GBMFeed, "jump_diffusion": JumpDiffusionFeed,
         "piecewise": PiecewiseFeed, "replay": ReplayFeed}


def feed_from_table(table: Mapping, base_dir: Path | None = None) -> Feed:
    """A feed from a scenario's [feed.SYMBOL] table (kind, start, its parameters, shocks).
    A replay's `csv` path is relative to the scenario file's folder."""
    t = dict(table)
    kind = t.pop("kind", "constant")
    t.pop("impact_coupling", None)
    t.pop("impact_decay", None)
    shocks = tuple(Shock(**s) for s in t.pop("shocks", ()))
    if kind not in FEEDS:
        raise ValueError(f"unknown feed kind {kind!r}; one of {sorted(FEEDS)}")
    if kind == "replay":
        path = Path(t.pop("csv"))
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        return ReplayFeed.from_csv(path, t.pop("time_column", "t_s"), t.pop("price_column", "price"), shocks)
    if kind == "piecewise":
        t["points"] = tuple((float(a), float(b)) for a, b in t.pop("points", ()))
        t.setdefault("start", t["points"][0][1] if t["points"] else 0.0)
    try:
        return FEEDS[kind](shocks=shocks, **t)
    except TypeError as e:  # an unknown or missing parameter of the kind
        raise ValueError(f"feed {kind}: {e}") from None
