"""The market risk signals of a run, sampled once a step beside the other metrics.

The figures are the venue's own risk read models (perpsim.venue.signals): in process, a
`Signals` listener fed by every command's events (InProcessVenue attaches it to its command
flow, as the venue's sequencer does); over gRPC, the venue's GetMarketRisk answer read through
the client. Either way a step's row holds, per market:

  temperature           0 (cold) .. 100 (hot): 100 · Φ(mean of the parts' z-scores clipped to ±3)
  open_interest_notional  the lots held long at the mark, in the settlement asset
  volatility_1h_pct     σ of the mark over 1h from the EWMA of 1-s log returns, in % (None
                        before two samples); volatility_annual_pct the same annualised
  average_leverage      OI-weighted average effective leverage (x)
  long_short_ratio      accounts net long / accounts net short (None without a short)
  funding_z             the predicted funding rate's z-score against its minute history
  near_liquidation_5_pct  share of OI (%) a 5 % move of the mark would liquidate
  spike_accounts        accounts whose leverage-spike flag is active; spike_oi_pct their share of OI (%)
  flags                 the codes of the market's active flags (crowded_funding_oi,
                        oi_near_liquidation, leverage_spike, fills_will_be_worse)

Timing: the signals measure leverage once per Δ (1 s) of venue time, when a command of the
next Δ closes the interval, so a leverage change made by a step's commands shows in the row
of the step after (one Δ later), in either mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: the numeric figures of a row, in the order of the report's columns
FIGURES = ("temperature", "open_interest_notional", "volatility_1h_pct", "volatility_annual_pct",
           "average_leverage", "long_short_ratio", "funding_z", "near_liquidation_5_pct", "spike_accounts",
           "spike_oi_pct")


def _pct(x: float | None) -> float | None:
    return None if x is None else x * 100.0


def row_of_signals(r) -> dict:
    """A row from the venue's own `perpsim.venue.signals.report.MarketRisk` (in process)."""
    return {
        "temperature": r.temperature.score, "open_interest_notional": r.open_interest_notional,
        "volatility_1h_pct": _pct(r.volatility.get("1h")), "volatility_annual_pct": _pct(r.volatility.get("annual")),
        "average_leverage": r.average_leverage, "long_short_ratio": r.long_short_ratio, "funding_z": r.funding_z,
        "near_liquidation_5_pct": r.near_liquidation_pct[5], "spike_accounts": r.spike_accounts,
        "spike_oi_pct": r.spike_oi_pct, "flags": [f.code for f in r.flags],
    }


def row_of_client(r) -> dict:
    """A row from the client's `perpsim.clients.risk_models.MarketRisk` (GetMarketRisk over gRPC)."""
    return {
        "temperature": r.temperature, "open_interest_notional": r.open_interest_notional,
        "volatility_1h_pct": r.volatility_pct.get("1h"), "volatility_annual_pct": r.volatility_pct.get("annual"),
        "average_leverage": r.average_leverage, "long_short_ratio": r.long_short_ratio, "funding_z": r.funding_z,
        "near_liquidation_5_pct": r.near_liquidation_pct.get("5", 0.0), "spike_accounts": r.spike_accounts,
        "spike_oi_pct": r.spike_oi_pct, "flags": [f.code for f in r.flags],
    }


@dataclass
class RiskSeries:
    """Per-step rows of one market: each figure a list (one value a step, rounded to 9 decimals:
    the report's JSON stays short and no figure is that precise), flags a list of code lists."""

    values: dict[str, list] = field(default_factory=lambda: {k: [] for k in FIGURES})
    flags: list[list[str]] = field(default_factory=list)

    def append(self, row: dict | None) -> None:
        """One step's row; None (signals off) appends nothing."""
        if row is None:
            return
        for k in FIGURES:
            x = row[k]
            self.values[k].append(None if x is None else round(float(x), 9))
        self.flags.append(list(row["flags"]))

    def out(self) -> dict:
        """The series as the report holds them (empty when the run had no signals)."""
        if not self.flags:
            return {}
        return {**{k: list(v) for k, v in self.values.items()}, "flags": [list(f) for f in self.flags]}


def flag_summary(series: dict, steps: list[int]) -> dict:
    """Per flag code: the first step it was active at, and in how many steps (from a market's
    report series; {} without signals)."""
    out: dict = {}
    for step, codes in zip(steps, series.get("flags", []), strict=False):
        for code in codes:
            f = out.setdefault(code, {"first_step": step, "steps": 0})
            f["steps"] += 1
    return dict(sorted(out.items()))


def risk_summary(series: dict, steps: list[int]) -> dict:
    """Headline risk figures of a market's report series: the highest temperature, 1h σ and
    average leverage, the most accounts flagged for a leverage spike at once, the first step of
    each flag ({} without signals)."""
    if not series.get("flags"):
        return {}

    def peak(key: str) -> float | None:
        xs = [x for x in series[key] if x is not None]
        return round(max(xs), 4) if xs else None

    return {
        "temperature_max": peak("temperature"), "volatility_1h_max_pct": peak("volatility_1h_pct"),
        "average_leverage_max": peak("average_leverage"), "spike_accounts_max": int(peak("spike_accounts") or 0),
        "flags": flag_summary(series, steps),
    }
