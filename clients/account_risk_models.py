"""Typed results of the account risk calls: distance to liquidation in σ, the size-down nudge,
correlated exposure, warnings, thresholds and fills with their slippage.

Figures are measurements at the venue's last volatility and correlations, never forecasts.
Prices and quantities are exact Decimals; σ, z, probabilities, leverage and bps are floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from perpsim.clients.account_models import RiskWarning, SigmaDistance
from perpsim.clients.models import _Model, dec, dec0, enum_name
from perpsim.v1 import common_pb2


def warnings_of(ws) -> tuple[RiskWarning, ...]:
    """The RiskWarning messages `ws` as RiskWarnings, in the venue's order."""
    return tuple(RiskWarning.from_pb(w) for w in ws)


def distances_of(ds) -> tuple[SigmaDistance, ...]:
    """The SigmaDistance messages `ds` as SigmaDistances, one per horizon, in the venue's order."""
    return tuple(SigmaDistance.from_pb(d) for d in ds)


@dataclass(frozen=True, slots=True)
class RiskThresholds(_Model):
    """k σ of distance over horizon_ns; correlation rho and effective leverage max_leverage (x)."""

    k: float
    horizon_ns: int
    rho: float
    max_leverage: float

    @classmethod
    def from_pb(cls, t) -> RiskThresholds:
        """From an `AccountRiskThresholds` message."""
        return cls(t.k, t.horizon_ns, t.rho, t.max_leverage)


@dataclass(frozen=True, slots=True)
class Nudge(_Model):
    """The largest size keeping the liquidation price k σ away, and the reduce-only quantity
    that gets there (0: within k σ)."""

    max_quantity: Decimal
    reduce_quantity: Decimal
    within_k_sigma: bool


@dataclass(frozen=True, slots=True)
class PositionRisk(_Model):
    """One position's risk: distance_pct = |mark − liquidation| / mark in percent, the distance in σ per
    horizon (empty before the market has a volatility) and the size-down nudge; without a liquidation
    price distance_pct is 0.0 and the nudge None (also None before the market has a volatility)."""

    symbol: str
    position_side: str
    quantity: Decimal  # signed
    mark_price: Decimal | None
    liquidation_price: Decimal | None
    distance_pct: float
    distance_sigma: tuple[SigmaDistance, ...]
    nudge: Nudge | None
    notional: float  # signed, at mark, settlement asset

    @classmethod
    def from_pb(cls, p) -> PositionRisk:
        """From an `AccountPositionRisk` message: the nudge None unless `has_nudge`, empty prices as None."""
        n = p.nudge
        return cls(p.symbol, enum_name(common_pb2.PositionSide, p.position_side), dec0(p.quantity), dec(p.mark_price),
                   dec(p.liquidation_price), p.distance_pct, distances_of(p.distance_sigma),
                   Nudge(dec0(n.max_quantity), dec0(n.reduce_quantity), n.within_k_sigma) if p.has_nudge else None,
                   p.notional)


@dataclass(frozen=True, slots=True)
class AssetRisk(_Model):
    """The account's risk in one settlement asset, as floats: equity (cross margin balance + isolated
    margins and their uPnL), margin_ratio_pct (cross maintenance margin / margin balance, percent),
    effective_leverage = exposure / equity (x); None: no such figure. clusters: held markets linked by ρ."""

    asset: str
    equity: float
    margin_ratio_pct: float | None
    exposure: float  # correlation-adjusted: sqrt(e' R e)
    gross_notional: float
    effective_leverage: float | None
    clusters: tuple[tuple[str, ...], ...]

    @classmethod
    def from_pb(cls, a) -> AssetRisk:
        """From an `AccountAssetRisk` message: margin ratio and effective leverage None unless the venue set
        them (`has_*`)."""
        return cls(a.asset, a.equity, a.margin_ratio_pct if a.has_margin_ratio else None, a.exposure,
                   a.gross_notional, a.effective_leverage if a.has_effective_leverage else None,
                   tuple(tuple(c.symbols) for c in a.clusters))


@dataclass(frozen=True, slots=True)
class AccountRisk(_Model):
    """The caller's risk at venue time `time_ns` (ns since the epoch): its thresholds, each position's
    distance to liquidation, each settlement asset's exposure, and the warnings."""

    account_id: int
    time_ns: int
    thresholds: RiskThresholds
    positions: tuple[PositionRisk, ...]
    assets: tuple[AssetRisk, ...]
    warnings: tuple[RiskWarning, ...]

    @classmethod
    def from_pb(cls, r) -> AccountRisk:
        """From a `GetAccountRiskResponse`: positions, assets and warnings in the venue's order."""
        return cls(r.account_id, r.time_ns, RiskThresholds.from_pb(r.thresholds),
                   tuple(PositionRisk.from_pb(p) for p in r.positions), tuple(AssetRisk.from_pb(a) for a in r.assets),
                   warnings_of(r.warnings))


@dataclass(frozen=True, slots=True)
class FillQuality(_Model):
    """A fill of one of the account's orders and its slippage in bps against the mid and the
    mark at the order's arrival (positive: worse for the account; None: unknown)."""

    order_id: int
    symbol: str
    side: str
    price: Decimal
    quantity: Decimal
    liquidity: str
    liquidation: bool
    time_ns: int
    arrival_mid_price: Decimal | None
    arrival_mark_price: Decimal | None
    slippage_mid_bps: float | None
    slippage_mark_bps: float | None

    @classmethod
    def from_pb(cls, f) -> FillQuality:
        """From a `FillQuality` message: the slippages None unless the venue set them (`has_*`), empty
        arrival prices as None."""
        return cls(f.order_id, f.symbol, enum_name(common_pb2.Side, f.side), dec0(f.price), dec0(f.quantity),
                   enum_name(common_pb2.Liquidity, f.liquidity), f.liquidation, f.time_ns, dec(f.arrival_mid_price),
                   dec(f.arrival_mark_price), f.slippage_mid_bps if f.has_slippage_mid else None,
                   f.slippage_mark_bps if f.has_slippage_mark else None)
