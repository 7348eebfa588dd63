"""The PNG plots of a run (matplotlib; the caller selects a non-interactive backend).

Time axes are the run's seconds: step k covers [k·step_s, (k+1)·step_s), so a liquidation of
step k is drawn there, in the bars and in the heatmap alike. Prices are in the quote asset,
notionals in the quote asset (inverse: the contracts' face value), amounts in their asset.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from perpsim.sim.grids import liquidation_grid


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _qty_unit(spec) -> str:
    return "contracts" if spec.kind.name == "INVERSE" else spec.base


def price(result, specs: dict, path: Path) -> Path:
    """Mark (solid) and index (dashed) with the liquidated notional per step; the basis in bps below."""
    s, dt = result.series, result.step_s
    t = np.asarray(s["t_s"])
    fig, axes = plt.subplots(2 * len(specs), 1, figsize=(11, 5.5 * len(specs)), squeeze=False,
                             gridspec_kw={"height_ratios": [3, 1] * len(specs)})
    for i, (sym, spec) in enumerate(specs.items()):
        ax, basis_ax = axes[2 * i, 0], axes[2 * i + 1, 0]
        mark, index = np.asarray(s[sym]["mark"]), np.asarray(s[sym]["index"])
        bars = ax.twinx()
        bars.bar(t, s[sym]["liquidated_notional"], width=dt, align="edge", color="tab:red", alpha=0.35,
                 label=f"liquidated notional ({spec.quote})")
        bars.set_ylabel(f"liquidated notional per step ({spec.quote})")
        ax.set_zorder(bars.get_zorder() + 1)  # the price lines over the bars
        ax.patch.set_visible(False)
        ax.plot(t, mark, color="tab:blue", lw=1.8, label="mark")
        ax.plot(t, index, color="tab:orange", lw=1.2, ls=(0, (4, 3)), label="index")
        ax.set_ylabel(f"{sym} price ({spec.quote})")
        ax.set_title(f"{result.scenario}: {sym} price and liquidations")
        handles = ax.get_legend_handles_labels()[0] + bars.get_legend_handles_labels()[0]
        ax.legend(handles=handles, loc="best")
        with np.errstate(divide="ignore", invalid="ignore"):
            basis = np.where(index > 0, (mark - index) / index * 1e4, np.nan)
        basis_ax.axhline(0, color="0.6", lw=0.8)
        basis_ax.plot(t, basis, color="tab:purple", lw=1)
        basis_ax.set_ylabel("mark − index (bps)")
        basis_ax.set_xlabel("time (s)")
        basis_ax.set_xlim(ax.get_xlim())
    return _save(fig, path)


def heatmap(result, specs: dict, path: Path) -> Path:
    """Liquidated notional by bankruptcy price and time (liquidation_grid), the mark over it."""
    s, dt = result.series, result.step_s
    t = np.asarray(s["t_s"])
    end = (max(result.steps, len(t)) or 1) * dt
    fig, axes = plt.subplots(len(specs), 1, figsize=(12, 4.5 * len(specs)), squeeze=False)
    for ax, (sym, spec) in zip(axes[:, 0], specs.items(), strict=True):
        cells = liquidation_grid(result, sym, spec)
        per_column = 1 if cells is None else round((cells[0][1] - cells[0][0]) / dt)
        ax.set_title(f"{sym}: liquidated notional by bankruptcy price and time"
                     + (f" ({per_column} steps per column)" if per_column > 1 else ""))
        ax.set_xlabel("time (s)")
        ax.set_ylabel(f"bankruptcy price ({spec.quote})")
        mark = np.asarray(s[sym]["mark"], dtype=float)
        if cells is None:
            ax.text(0.5, 0.5, "no liquidations", ha="center", va="center", transform=ax.transAxes)
        else:
            x_edges, y_edges, grid = cells
            cmap = plt.get_cmap("inferno_r").with_extremes(bad="white")  # cells without liquidations stay blank
            mesh = ax.pcolormesh(x_edges, y_edges, np.ma.masked_equal(grid.T, 0), cmap=cmap, shading="flat")
            fig.colorbar(mesh, ax=ax, label=f"liquidated notional per cell ({spec.quote})")
        ax.step(t, mark, where="post", color="tab:blue", lw=1, label="mark")
        ax.legend(loc="upper right")
        ax.set_xlim(0, end)
    return _save(fig, path)


def insurance(result, path: Path) -> Path:
    """The insurance fund of each settlement asset over the run."""
    t = np.asarray(result.series["t_s"])
    assets = result.series["insurance"]
    fig, axes = plt.subplots(len(assets) or 1, 1, figsize=(10, 3.5 * max(1, len(assets))), squeeze=False)
    for ax, (asset, values) in zip(axes[:, 0], assets.items(), strict=False):
        ax.plot(t, values, color="tab:green", lw=1.4)
        ax.set_title(f"insurance fund ({asset})")
        ax.set_xlabel("time (s)")
        ax.set_ylabel(f"balance ({asset})")
    return _save(fig, path)


def oi_funding(result, specs: dict, path: Path) -> Path:
    """Open interest per market (its unit), and the funding rate: predicted (what the next
    settlement would apply, solid) and last settled (dashed), in % per interval."""
    s = result.series
    t = np.asarray(s["t_s"])
    fig, axes = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True)
    for sym, spec in specs.items():
        axes[0].plot(t, s[sym]["open_interest"], lw=1.4, label=f"{sym} ({_qty_unit(spec)})")
        line, = axes[1].plot(t, np.asarray(s[sym].get("predicted_funding_rate", [np.nan] * len(t))) * 100, lw=1.4,
                             label=f"{sym} predicted")
        axes[1].step(t, np.asarray(s[sym]["funding_rate"]) * 100, where="post", ls="--", lw=1.1,
                     color=line.get_color(), label=f"{sym} last settled")
    axes[0].legend(loc="best")
    axes[0].set_ylabel("open interest")
    axes[0].set_title("open interest and funding")
    axes[1].axhline(0, color="0.6", lw=0.8)
    axes[1].set_ylabel("funding rate (% per interval)")
    axes[1].set_xlabel("time (s)")
    axes[1].legend(loc="best")
    return _save(fig, path)
