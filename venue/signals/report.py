"""What a market's risk looks like to a reader: plain values, human units (see each field)."""

from __future__ import annotations

from dataclasses import dataclass, field

from perpsim.venue.signals.execution import ExecutionQuality
from perpsim.venue.signals.liqmap import Bucket
from perpsim.venue.signals.stress import StressResult


@dataclass
class Flag:
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
