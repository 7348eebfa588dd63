"""What the client returns for the RiskService: frozen dataclasses like `models`.

Prices and quantities are exact Decimals; the risk figures are floats as the venue computed
them (read models: measurements and stress tests, never forecasts). A figure the venue cannot
give yet (no short account for a ratio, a book too thin for the slippage) is None.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from perpsim.clients.models import _Model, dec, dec0

__all__ = ["LiquidationBucket", "MarketRisk", "MarketRiskUpdate", "RiskFlag", "StressTest"]


@dataclass(frozen=True, slots=True)
class LiquidationBucket(_Model):
    """One non-empty price bucket of a market's liquidation map, and the open interest it holds by
    side: notionals as floats at each position's price, lots as integers."""

    price_low: Decimal  # [low, high)
    price_high: Decimal
    long_notional: float  # liquidated if the mark fell to the bucket (settlement asset)
    short_notional: float  # ... rose to it
    long_lots: int
    short_lots: int


@dataclass(frozen=True, slots=True)
class StressTest(_Model):
    """If the mark moved `shock_pct` at once, against the book as it stands."""

    shock_pct: float
    shocked_price: Decimal
    liquidated_lots: int
    liquidated_notional: float
    unabsorbed_lots: int
    fund_draw: float  # loss beyond bankruptcy prices (a lower bound)
    fund_balance: float
    coverage: float | None  # fund / draw; None when nothing is drawn
    adl_share: float


@dataclass(frozen=True, slots=True)
class RiskFlag(_Model):
    """An active market-risk flag: code (crowded_funding_oi, oi_near_liquidation, leverage_spike or
    fills_will_be_worse), a sentence, and its figure and threshold as floats (leverage_spike: the
    number of spiked accounts against the spike z threshold)."""

    code: str
    message: str
    value: float
    threshold: float


@dataclass(frozen=True, slots=True)
class MarketRisk(_Model):
    """One market's risk figures at venue time `time_ns` (ns). Floats as the venue computed them: `_pct`
    in percent, `_bps` in basis points, predicted_funding_rate a fraction; notionals in the settlement
    asset, but depth_quote and slippage_notional in quote. None: no figure yet."""

    symbol: str
    time_ns: int
    mark_price: Decimal | None
    open_interest: Decimal  # quantity held long (= held short)
    open_interest_lots: int
    open_interest_notional: float
    open_interest_change_1h_pct: float | None
    open_interest_change_24h_pct: float | None
    predicted_funding_rate: float
    funding_z: float
    long_accounts: int
    short_accounts: int
    long_short_ratio: float | None
    average_leverage: float
    temperature: float  # 0 cold .. 100 hot
    temperature_parts: dict[str, float]  # part -> z-score
    volatility_pct: dict[str, float | None]  # "1h", "8h", "24h", "annual" -> σ in percent
    spread_bps: float | None
    depth_quote: dict[str, float]  # "bid_10bps", "ask_10bps", "bid_50bps", "ask_50bps"
    slippage_notional: float
    buy_slippage_bps: float | None
    sell_slippage_bps: float | None
    fills_will_be_worse: bool
    stress: tuple[StressTest, ...]
    bucket_pct: float
    liquidation_map: tuple[LiquidationBucket, ...]
    near_liquidation_pct: dict[str, float]  # "2", "5", "10" (% move) -> share of OI in percent
    spike_accounts: int
    spike_oi_pct: float
    correlations: dict[str, float]
    flags: tuple[RiskFlag, ...]

    @classmethod
    def from_pb(cls, r) -> MarketRisk:
        """From a `MarketRisk` message: a figure the venue marks absent (`has_*` unset, a volatility not
        `ready`, no book) as None."""
        oi, q, t, lm = r.open_interest, r.execution, r.temperature, r.liquidation_map
        return cls(
            r.symbol, r.time_ns, dec(r.mark_price), dec0(oi.quantity), oi.lots, oi.notional,
            oi.change_1h_pct if oi.has_change_1h else None, oi.change_24h_pct if oi.has_change_24h else None,
            r.funding.predicted_rate, r.funding.z_score, r.long_accounts, r.short_accounts,
            r.long_short_ratio if r.has_long_short_ratio else None, r.average_leverage, t.score,
            {"funding": t.funding_z, "open_interest": t.open_interest_z, "leverage": t.leverage_z,
             "proximity": t.proximity_z},
            {v.horizon: (v.sigma_pct if v.ready else None) for v in r.volatility},
            q.spread_bps if q.has_book else None,
            {"bid_10bps": q.bid_depth_10bps_quote, "ask_10bps": q.ask_depth_10bps_quote,
             "bid_50bps": q.bid_depth_50bps_quote, "ask_50bps": q.ask_depth_50bps_quote},
            q.slippage_notional_quote, q.buy_slippage_bps if q.buy_fillable else None,
            q.sell_slippage_bps if q.sell_fillable else None, q.fills_will_be_worse,
            tuple(StressTest(s.shock_pct, dec0(s.shocked_price), s.liquidated_lots, s.liquidated_notional,
                             s.unabsorbed_lots, s.fund_draw, s.fund_balance, s.coverage if s.has_coverage else None,
                             s.adl_share) for s in r.insurance_stress),
            lm.bucket_pct,
            tuple(LiquidationBucket(dec0(b.price_low), dec0(b.price_high), b.long_notional, b.short_notional,
                                    b.long_lots, b.short_lots) for b in lm.buckets),
            {"2": lm.within_2_pct, "5": lm.within_5_pct, "10": lm.within_10_pct},
            r.spike_accounts, r.spike_oi_pct, {c.symbol: c.rho for c in r.correlations},
            tuple(RiskFlag(f.code, f.message, f.value, f.threshold) for f in r.flags))


@dataclass(frozen=True, slots=True)
class MarketRiskUpdate(_Model):
    """One message of the market-risk stream: its number in the stream (from 1) and the figures."""

    sequence: int
    risk: MarketRisk

    @classmethod
    def from_pb(cls, r) -> MarketRiskUpdate:
        """From a `StreamMarketRiskResponse`."""
        return cls(r.sequence, MarketRisk.from_pb(r.risk))
