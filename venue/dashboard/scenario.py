"""The scenario view: a report written by `perpsim scenario run` (its report.json) as the series
of its PNG plots (sim/plots.py), ready for interactive charts.

Reports are found in folders under the configured reports folder (any depth up to 3) holding a
report.json, or uploaded by the page. Units as in the plots: time in the run's seconds, prices and
notionals in the quote asset, open interest in the market's quantity unit, funding rates in % per
interval, insurance in its asset. A report with the risk signals (perpsim.sim.risk_series) adds
per market `risk`: temperature (0-100), open interest at the mark (settlement asset), σ over 1h
(%), average leverage (x), accounts flagged for a leverage spike, and each step's flag codes.
"""

from __future__ import annotations

import math
from pathlib import Path

import orjson

from perpsim.model.market_files import default_markets

REPORT = "report.json"
MAX_DEPTH = 3
_FIELDS = ("scenario", "seed", "steps", "step_s", "summary", "series", "liquidations", "adl")
#: a market's risk series charted (perpsim.sim.risk_series), when the report has them
_RISK = ("temperature", "open_interest_notional", "volatility_1h_pct", "average_leverage", "spike_accounts", "flags")


class BadReport(ValueError):
    """Not a report this view can read (the message says what is wrong)."""


def list_reports(root: Path | None) -> list[dict]:
    """The report folders under `root`, newest first: name (relative path), scenario, modified (ns)."""
    if root is None or not root.is_dir():
        return []
    found = []
    for depth in range(MAX_DEPTH):
        for path in root.glob("/".join(["*"] * depth + [REPORT])):
            if path.is_file():
                found.append((path.stat().st_mtime_ns, path.parent.relative_to(root).as_posix() or "."))
    return [{"name": name, "modified_ns": mtime} for mtime, name in sorted(found, reverse=True)]


def load_report(root: Path | None, name: str) -> dict:
    """The charts of the report folder `name` (relative to `root`); BadReport for a name outside
    the folder or a folder without a report."""
    if root is None:
        raise BadReport("no reports folder is configured (dashboard_reports)")
    base = root.resolve()
    path = (base / name / REPORT).resolve()
    if base not in path.parents or not path.is_file():
        raise BadReport(f"no report named {name!r} under the reports folder")
    return charts(path.read_bytes())


def charts(raw: bytes) -> dict:
    """The chart series of one report.json's bytes; BadReport when it is not a report."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise BadReport(f"not JSON: {e}") from None
    if not isinstance(data, dict) or any(k not in data for k in _FIELDS):
        raise BadReport(f"not a scenario report: it needs the fields {', '.join(_FIELDS)}")
    series, specs = data["series"], default_markets()
    symbols = [s for s in data["summary"].get("markets", {}) if s in specs and s in series]
    if not isinstance(series.get("t_s"), list) or not symbols:
        raise BadReport("the report has no time series of a known market")
    markets = {}
    for sym in symbols:
        spec, s = specs[sym], series[sym]
        markets[sym] = {
            "quote": spec.quote, "settle": spec.settle, "price_decimals": spec.price_decimals,
            "qty_unit": "contracts" if spec.kind.name == "INVERSE" else spec.base,
            "mark": s["mark"], "index": s["index"], "liquidated_notional": s["liquidated_notional"],
            "open_interest": s.get("open_interest"),
            "funding_rate_pct": [_pct(x) for x in s["funding_rate"]],
            "predicted_funding_rate_pct": [_pct(x) for x in s.get("predicted_funding_rate", [])],
            "heatmap": (data.get("heatmaps") or {}).get(sym),  # written by the run (sim.grids)
            "risk": {k: s[k] for k in _RISK if k in s} if "flags" in s else None,
        }
    return {"type": "scenario", "scenario": data["scenario"], "seed": data["seed"], "steps": data["steps"],
            "step_s": data["step_s"], "t_s": series["t_s"], "markets": markets,
            "insurance": series.get("insurance", {}), "summary": data["summary"],
            "over_grpc": not data.get("state_hash"), "liquidations": len(data["liquidations"]),
            "adl": len(data["adl"])}


def _pct(x) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x * 100


