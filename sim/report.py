"""Reports of a run: a terminal summary (rich), a JSON file, and PNG plots (matplotlib, Agg).

Files written by `write(result, out_dir)`:

  report.json            the whole RunResult (summary, per-step series, liquidations, ADL, hashes)
  price.png              mark and index with liquidated notional per step
  heatmap.png            liquidated notional by bankruptcy price × time
  insurance.png          insurance fund balance per asset
  oi_funding.png         open interest and funding rate
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from perpsim.sim.runner import RunResult


def summary_table(result: RunResult) -> Table:
    """The headline figures of a run, one row per metric and a column per market."""
    markets = result.summary["markets"]
    t = Table(title=f"{result.scenario} (seed {result.seed}, {result.steps} steps of {result.step_s:g} s)")
    t.add_column("metric")
    for s in markets:
        t.add_column(s, justify="right")
    keys = [k for k in next(iter(markets.values())) if k != "by_leverage"]
    for k in keys:
        t.add_row(k, *(_fmt(markets[s][k]) for s in markets))
    for s, m in markets.items():
        for b, v in m["by_leverage"].items():
            t.add_row(f"liquidations {b}", *(f"{v['count']} ({v['notional']:,.0f})" if x == s else ""
                                             for x in markets))
    for asset, f in result.summary["insurance_fund"].items():
        t.add_row(f"insurance {asset} start/min/end", f"{f['start']:,.2f} / {f['min']:,.2f} / {f['end']:,.2f}",
                  *[""] * (len(markets) - 1))
    for k, v in result.summary["funding_flows"].items():
        t.add_row(f"funding {k}", f"{v:,.4f}", *[""] * (len(markets) - 1))
    for k, v in result.summary["rejections"].items():
        t.add_row(f"rejected {k}", str(v), *[""] * (len(markets) - 1))
    return t


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:,.4f}".rstrip("0").rstrip(".")
    if isinstance(v, list):
        return " ".join(str(x) for x in v[:12]) + (" …" if len(v) > 12 else "")
    return "-" if v is None else f"{v:,}" if isinstance(v, int) else str(v)


def print_summary(result: RunResult, console: Console | None = None) -> None:
    """Print the summary table and the run's hashes and timings."""
    console = console or Console()
    console.print(summary_table(result))
    console.print(f"events {result.events:,}  event hash {result.event_hash}  report hash {result.report_hash}")
    t = result.timings
    if t:
        console.print(f"setup {t['setup_s']:.2f} s, steps {t['steps_s']:.2f} s, checks {t['check_s']:.2f} s")


def write_json(result: RunResult, path: Path) -> None:
    path.write_text(json.dumps(asdict(result), indent=1, sort_keys=True))


def write_plots(result: RunResult, out: Path) -> list[Path]:
    """The four PNGs (see the module doc); the paths written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    s = result.series
    t = np.asarray(s["t_s"])
    markets = list(result.summary["markets"])
    paths = []

    fig, axes = plt.subplots(len(markets), 1, figsize=(10, 4 * len(markets)), squeeze=False)
    for ax, sym in zip(axes[:, 0], markets, strict=True):
        ax.plot(t, s[sym]["mark"], label="mark", lw=1)
        ax.plot(t, s[sym]["index"], label="index", lw=0.8, alpha=0.7)
        ax.set_ylabel(f"{sym} price")
        ax.set_xlabel("time (s)")
        ax2 = ax.twinx()
        ax2.bar(t, s[sym]["liquidated_notional"], width=result.step_s, color="tab:red", alpha=0.5,
                label="liquidated notional")
        ax2.set_ylabel("liquidated notional per step")
        ax.legend(loc="upper right")
        ax.set_title(f"{result.scenario}: price and liquidations")
    paths.append(_save(fig, out / "price.png"))

    fig, axes = plt.subplots(len(markets), 1, figsize=(10, 4 * len(markets)), squeeze=False)
    for ax, sym in zip(axes[:, 0], markets, strict=True):
        rows = [r for r in result.liquidations if r[1] == sym]
        ax.set_title(f"{sym}: liquidated notional by bankruptcy price and time")
        ax.set_xlabel("time (s)")
        ax.set_ylabel("bankruptcy price")
        if rows:
            times = np.array([r[0] * result.step_s for r in rows])
            prices = np.array([r[5] for r in rows], dtype=float) * _tick_size(sym)
            weights = np.array([abs(r[4]) * p for r, p in zip(rows, prices, strict=True)])
            h = ax.hist2d(times, prices, bins=[min(60, max(5, len(set(times)))), 40], weights=weights, cmap="inferno",
                          range=[[0, max(t[-1], 1)], [prices.min() * 0.999, prices.max() * 1.001]])
            fig.colorbar(h[3], ax=ax, label="notional (lots × price)")
        else:
            ax.text(0.5, 0.5, "no liquidations", ha="center", va="center", transform=ax.transAxes)
    paths.append(_save(fig, out / "heatmap.png"))

    fig, ax = plt.subplots(figsize=(10, 4))
    for asset, path in s["insurance"].items():
        ax.plot(t, path, label=asset)
    ax.set_title("insurance fund")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("balance")
    ax.legend()
    paths.append(_save(fig, out / "insurance.png"))

    fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    for sym in markets:
        axes[0].plot(t, s[sym]["open_interest"], label=sym)
        axes[1].step(t, np.asarray(s[sym]["funding_rate"]) * 100, where="post", label=sym)
    axes[0].set_ylabel("open interest (base)")
    axes[0].legend()
    axes[1].set_ylabel("funding rate (%)")
    axes[1].set_xlabel("time (s)")
    axes[0].set_title("open interest and funding")
    paths.append(_save(fig, out / "oi_funding.png"))
    return paths


def _tick_size(symbol: str) -> float:
    from perpsim.model.markets import default_markets

    return float(default_markets()[symbol].tick_size)


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write(result: RunResult, out: Path) -> list[Path]:
    """report.json and the PNGs into `out` (created); the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    write_json(result, out / "report.json")
    return [out / "report.json", *write_plots(result, out)]
