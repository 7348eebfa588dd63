"""What a market's risk looks like to a reader: plain values, human units (see each field)."""

from __future__ import annotations

from dataclasses import dataclass, field

from perpsim.venue.signals.execution import ExecutionQuality
from perpsim.venue.signals.liqmap import Bucket
from perpsim.venue.signals.stress import StressResult


@dataclass
class Flag:
    """An active market flag: its code, a sentence, and the figure that raised it with its
    threshold, both in the code's unit: funding z; percent of OI; flagged accounts (one raises
    it); bps of the mid, of the worse side's expected slippage or of the spread (`_worse_fills`)."""

    code: str  # crowded_funding_oi, oi_near_liquidation, leverage_spike, fills_will_be_worse
    message: str
    value: float
    threshold: float


@dataclass
class Temperature:
    """score = 100 · Φ(mean of the parts' z-scores, each clipped to ±3), 0 cold .. 100 hot;
    each part's z against its own minute history."""

    score: float
    funding_z: float
    open_interest_z: float
    leverage_z: float
    proximity_z: float


@dataclass
class MarketRisk:
    """One market's figures at venue time `time_ns` (ns); units per field. Percent fields are
    percent (5.0 = 5 %), rates and σ fractions; OI changes are against the history sample 1h or
    24h back (the oldest kept if fewer), None without one or when it was 0 lots."""

    symbol: str
    time_ns: int
    mark: int | None  # ticks
    open_interest_lots: int
    open_interest_notional: float  # settlement asset, at mark
    oi_change_1h_pct: float | None
    oi_change_24h_pct: float | None
    predicted_funding_rate: float  # fraction per interval
    funding_z: float
    long_accounts: int
    short_accounts: int
    long_short_ratio: float | None  # None without a short account
    average_leverage: float  # x, OI-weighted
    near_liquidation_pct: dict[int, float]  # move % -> share of OI (percent) liquidated by it
    temperature: Temperature
    volatility: dict[str, float | None]  # horizon -> σ (fraction); "annual" too
    execution: ExecutionQuality
    stress: list[StressResult]
    buckets: list[Bucket]
    bucket_pct: float
    spike_accounts: int
    spike_oi_pct: float
    correlations: dict[str, tuple[float, float]]  # other symbol -> (ρ, weight of the measured part)
    flags: list[Flag] = field(default_factory=list)


def market_flags(cfg, r: MarketRisk, spikes) -> list[Flag]:
    """The market's active flags (Flag.code), from its figures `r`, the active spike flags and
    the thresholds of `cfg` (a SignalConfig)."""
    out = []
    growth = r.oi_change_1h_pct
    if abs(r.funding_z) > cfg.crowd_funding_z and growth is not None and growth > cfg.crowd_oi_growth_pct:
        side = "longs" if r.funding_z > 0 else "shorts"
        out.append(Flag("crowded_funding_oi", f"crowded {side}: funding z {r.funding_z:+.1f} with open interest "
                        f"up {growth:.1f} % over 1h", r.funding_z, cfg.crowd_funding_z))
    if r.near_liquidation_pct[5] > cfg.crowd_near_liq_pct:
        out.append(Flag("oi_near_liquidation", f"{r.near_liquidation_pct[5]:.1f} % of open interest would be "
                        "liquidated by a 5 % move", r.near_liquidation_pct[5], cfg.crowd_near_liq_pct))
    if spikes:
        longs = sum(1 for f in spikes if f.side > 0)
        out.append(Flag("leverage_spike", f"{len(spikes)} account(s) spiked their leverage ({longs} long, "
                        f"{len(spikes) - longs} short), {r.spike_oi_pct:.1f} % of open interest",
                        float(len(spikes)), 1.0))
    q = r.execution
    if q.alert:
        value, threshold = _worse_fills(cfg, q)
        out.append(Flag("fills_will_be_worse", f"fills will be worse: spread {q.spread_bps or 0:.1f} bps, "
                        f"expected slippage of {q.notional:,.0f} buy {_bps(q.buy_slippage_bps)} / sell "
                        f"{_bps(q.sell_slippage_bps)}", value, threshold))
    return out


def _worse_fills(cfg, q: ExecutionQuality) -> tuple[float, float]:
    """The figure of a worse-fills alert and its threshold (bps of the mid): the worse side's
    expected slippage when the spread is within its threshold and the book fills both sides,
    else the spread (a side beyond the book has no slippage figure; the message says so)."""
    spread = q.spread_bps or 0.0
    buy, sell = q.buy_slippage_bps, q.sell_slippage_bps
    if spread <= cfg.spread_alert_bps and buy is not None and sell is not None:
        return max(buy, sell), cfg.slippage_alert_bps
    return spread, cfg.spread_alert_bps


def _bps(x: float | None) -> str:
    return "beyond the book" if x is None else f"{x:.1f} bps"
