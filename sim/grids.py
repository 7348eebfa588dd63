"""The liquidation heatmap's grid of a scenario run: computed once, drawn by the heatmap PNG
and written into report.json (`heatmaps`), where the dashboard's scenario view reads it."""

from __future__ import annotations

import itertools
import math

import numpy as np

from perpsim.sim import units

MAX_COLUMNS = 300  # heatmap time columns at most: longer runs put several steps in a column
PRICE_ROWS = 48


def liquidation_grid(result, symbol: str, spec) -> tuple | None:
    """(time edges, price edges, notional per cell [time, price]) of the market's liquidations:
    a column per step (several per column past MAX_COLUMNS steps), PRICE_ROWS price rows over
    the bankruptcy prices and the mark; notional in the quote asset. None without liquidations."""
    s, dt = result.series, result.step_s
    end = (max(result.steps, len(s["t_s"])) or 1) * dt
    per_column = max(1, math.ceil(round(end / dt) / MAX_COLUMNS))
    x_edges = np.arange(0, end + per_column * dt / 2, per_column * dt)
    rows = [r for r in result.liquidations if r[1] == symbol]
    if not rows:
        return None
    times = np.array([r[0] * dt for r in rows]) + dt / 2  # inside its step's column
    prices = np.array([units.price_of(spec, r[5]) for r in rows])
    notional = np.array([units.notional(spec, r[4], r[5]) for r in rows])
    mark = np.asarray(s[symbol]["mark"], dtype=float)
    seen = np.concatenate([prices, mark[mark > 0]])
    lo, hi = seen.min(), seen.max()
    pad = max((hi - lo) * 0.03, float(spec.tick_size))
    y_edges = np.linspace(lo - pad, hi + pad, PRICE_ROWS + 1)
    grid, _, _ = np.histogram2d(times, prices, bins=[x_edges, y_edges], weights=notional)
    return x_edges, y_edges, grid


def grid_json(result, symbol: str, spec) -> dict | None:
    """liquidation_grid as report.json holds it: cell centres `x` (s) and `y` (quote per base)
    and the liquidated notional `z` (quote) per [price row][time column], empty cells None."""
    cells = liquidation_grid(result, symbol, spec)
    if cells is None:
        return None
    x_edges, y_edges, grid = cells
    return {"x": [(a + b) / 2 for a, b in itertools.pairwise(x_edges.tolist())],
            "y": [(a + b) / 2 for a, b in itertools.pairwise(y_edges.tolist())],
            "z": [[None if v == 0 else float(v) for v in row] for row in grid.T.tolist()]}
