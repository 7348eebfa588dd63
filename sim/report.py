"""Reports of a run: a terminal summary (rich), a JSON file, and PNG plots (matplotlib, Agg).

Files written by `write(result, out_dir)`:

  report.json            the whole RunResult (summary, per-step series, liquidations, ADL, hashes)
  price.png              mark (solid) and index (dashed) with the liquidated notional per step, and
                         the basis mark − index in bps beneath (the two lines overlap in calm markets)
  heatmap.png            liquidated notional (quote asset) by bankruptcy price × time, one column
                         per step (or per few steps in long runs), the mark drawn over it
  insurance.png          insurance fund balance per asset
  oi_funding.png         open interest, and the predicted funding rate with the settled one
  risk.png               the market risk signals over time: temperature, open interest (notional),
                         1h volatility, average leverage with the accounts flagged for a leverage
                         spike, and a strip of each flag's active steps (perpsim.sim.risk_series)
  series.csv             every per-step series, one row a step, a column per market and figure
                         (the flags as their codes joined by "+")

A run over gRPC sees the venue through the client: each liquidation with its account (so the
split by leverage is the same as in process), but no fills, ADL, funding or position events.
Figures built from those are shown as "n/a" (not 0). Open interest and the risk signals are the
venue's own (GetOpenInterest, GetMarketRisk).
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from perpsim.sim.grids import grid_json
from perpsim.sim.runner import RunResult

NA = "n/a"

#: summary figures of a market a gRPC run cannot know (see the module doc)
GRPC_UNAVAILABLE = frozenset({
    "forced_fills", "forced_fill_slippage_bps", "forced_fill_worst_bps", "fund_offload_fills", "adl_events",
    "adl_lots", "funding_settlements", "funding_rate_max",
})

#: the unit of a summary figure, by a part of its key: "quote" is the market's quote asset
_UNITS = (("_notional", "quote"), ("_lots", "lots"), ("_bps", "bps"), ("_pct", "%"))


def over_grpc(result: RunResult) -> bool:
    """Whether the run drove a venue over gRPC (its engine's state hash is then unknown: "")."""
    return not result.state_hash


def _spec(symbol: str):
    from perpsim.model.market_files import default_markets

    return default_markets()[symbol]


def _unit(key: str, spec) -> str:
    if key.startswith("mark_"):
        return spec.quote
    for part, unit in _UNITS:
        if part in key:
            return spec.quote if unit == "quote" else unit
    return ""


def summary_table(result: RunResult) -> Table:
    """The headline figures of a run, one row per metric and a column per market, with units;
    "n/a" where the run could not observe a figure."""
    markets = result.summary["markets"]
    grpc = over_grpc(result)
    t = Table(title=f"{result.scenario} (seed {result.seed}, {result.steps} steps of {result.step_s:g} s"
                    f"{', over gRPC' if grpc else ''})")
    t.add_column("metric")
    for s in markets:
        t.add_column(s, justify="right")
    specs = {s: _spec(s) for s in markets}
    keys = [k for k in next(iter(markets.values())) if k != "by_leverage"]
    for k in keys:
        t.add_row(k, *(NA if grpc and k in GRPC_UNAVAILABLE else _with_unit(_fmt(markets[s][k]), _unit(k, specs[s]))
                       for s in markets))
    for s, m in markets.items():
        for b, v in m["by_leverage"].items():
            t.add_row(f"liquidations {b}", *(f"{v['count']} ({v['notional']:,.0f} {specs[s].quote})" if x == s else ""
                                             for x in markets))
    pad = [""] * (len(markets) - 1)
    for asset, f in result.summary["insurance_fund"].items():
        t.add_row(f"insurance {asset} start/min/end",
                  f"{f['start']:,.2f} / {f['min']:,.2f} / {f['end']:,.2f} {asset}", *pad)
    if grpc:
        t.add_row("funding paid / received", NA, *pad)
    for k, v in result.summary["funding_flows"].items():
        asset, _, way = k.partition(":")
        t.add_row(f"funding {way}", f"{v:,.4f} {asset}", *pad)
    for k, v in result.summary["rejections"].items():
        command, _, reason = k.partition(":")
        t.add_row(f"rejected {command}", f"{v} {reason.lower()}", *pad)
    _risk_rows(t, result, list(markets))
    return t


def _risk_rows(t: Table, result: RunResult, symbols: list[str]) -> None:
    """The risk signals' headline figures, and when each flag was first raised (step and time)."""
    risk = result.summary.get("risk")
    if not risk:
        return
    units = {"temperature_max": "/ 100", "volatility_1h_max_pct": "%", "average_leverage_max": "x"}
    for k in ("temperature_max", "volatility_1h_max_pct", "average_leverage_max", "spike_accounts_max"):
        t.add_row(k, *(_with_unit(_fmt(risk[s].get(k)), units.get(k, "")) if risk.get(s) else NA for s in symbols))
    codes = sorted({c for s in symbols for c in (risk.get(s) or {}).get("flags", {})})
    for code in codes:
        cells = []
        for s in symbols:
            f = (risk.get(s) or {}).get("flags", {}).get(code)
            cells.append("-" if f is None else
                         f"from t {f['first_step'] * result.step_s:g} s (step {f['first_step']}), {f['steps']} steps")
        t.add_row(f"flag {code}", *cells)


def _with_unit(text: str, unit: str) -> str:
    return text if not unit or text == "-" else f"{text} {unit}" if unit != "%" else f"{text} %"


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
    if over_grpc(result):
        console.print(f"events seen over gRPC {result.events:,}  report hash {result.report_hash}")
    else:
        console.print(f"events {result.events:,}  event hash {result.event_hash}  report hash {result.report_hash}")
    t = result.timings
    if t:
        console.print(f"setup {t['setup_s']:.2f} s, steps {t['steps_s']:.2f} s, checks {t['check_s']:.2f} s")


def write_json(result: RunResult, path: Path) -> None:
    """The RunResult, plus `heatmaps`: each market's liquidation grid (sim.grids.grid_json)."""
    data = asdict(result)
    data["heatmaps"] = {s: grid_json(result, s, _spec(s)) for s in result.summary["markets"]}
    path.write_text(json.dumps(data, indent=1, sort_keys=True))


def write_csv(result: RunResult, path: Path) -> Path:
    """series.csv: a row per step; columns t_s, then SYMBOL.figure for every market's series
    (units as in report.json), then insurance.ASSET; flags as their codes joined by "+", an
    empty cell for a figure not known yet (None)."""
    s = result.series
    columns: list[tuple[str, list]] = [("t_s", s["t_s"])]
    for sym in result.summary["markets"]:
        columns += [(f"{sym}.{k}", v) for k, v in s[sym].items() if isinstance(v, list)]
    columns += [(f"insurance.{a}", v) for a, v in s["insurance"].items()]

    def cell(x) -> str:
        if isinstance(x, list):
            return "+".join(x)
        return "" if x is None else repr(x) if isinstance(x, float) else str(x)

    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([name for name, _ in columns])
        for i in range(len(s["t_s"])):
            w.writerow([cell(v[i]) if i < len(v) else "" for _, v in columns])
    return path


def write_plots(result: RunResult, out: Path) -> list[Path]:
    """The PNGs (see the module doc; risk.png only when the run sampled the risk signals); the
    paths written."""
    import matplotlib

    matplotlib.use("Agg")
    from perpsim.sim import plots

    markets = list(result.summary["markets"])
    specs = {s: _spec(s) for s in markets}
    written = [plots.price(result, specs, out / "price.png"), plots.heatmap(result, specs, out / "heatmap.png"),
               plots.insurance(result, out / "insurance.png"), plots.oi_funding(result, specs, out / "oi_funding.png")]
    if any("flags" in result.series[s] for s in markets):
        from perpsim.sim import risk_plots

        written.append(risk_plots.risk(result, specs, out / "risk.png"))
    return written


def write(result: RunResult, out: Path) -> list[Path]:
    """report.json, series.csv and the PNGs into `out` (created); the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    write_json(result, out / "report.json")
    return [out / "report.json", write_csv(result, out / "series.csv"), *write_plots(result, out)]
