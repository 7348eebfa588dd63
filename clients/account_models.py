"""What the client's account calls return (AccountService): the account and its balances, its
positions with their distance to liquidation, and the structured risk warnings that orders and
previews carry; frozen dataclasses in the style of perpsim.clients.models."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from perpsim.clients.models import _Model, dec, dec0, enum_name
from perpsim.v1 import common_pb2

__all__ = ["Account", "Balance", "Position", "RiskWarning", "SigmaDistance"]


@dataclass(frozen=True, slots=True)
class RiskWarning(_Model):
    """A structured warning: a stable code ("correlated_exposure", "liquidation_within_k_sigma"),
    a sentence and its figures (decimal strings)."""

    code: str
    message: str
    fields: dict[str, str]

    @classmethod
    def from_pb(cls, w) -> RiskWarning:
        """From a `RiskWarning` message, its fields sorted by name."""
        return cls(w.code, w.message, dict(sorted(w.fields.items())))


@dataclass(frozen=True, slots=True)
class SigmaDistance(_Model):
    """Distance to liquidation over one horizon: σ over it (a fraction), z = d / σ and 2 Φ(−z),
    the chance of touching the liquidation price within it (at the last volatility)."""

    horizon_ns: int
    sigma: float
    z: float
    touch_probability: float

    @classmethod
    def from_pb(cls, d) -> SigmaDistance:
        """From a `SigmaDistance` message (σ, z and the probability as floats)."""
        return cls(d.horizon_ns, float(d.sigma), float(d.z), float(d.touch_probability))


@dataclass(frozen=True, slots=True)
class Balance(_Model):
    """One asset's balance. Amounts are exact Decimals in that asset, whole multiples of its money unit:
    wallet, available (margin balance − initial margin in use), withdrawable, margin balance,
    unrealized PnL and the margins in use."""

    asset: str
    wallet: Decimal
    available: Decimal
    withdrawable: Decimal
    margin_balance: Decimal
    unrealized_pnl: Decimal
    maintenance_margin: Decimal
    initial_margin: Decimal
    #: USD the wallet counts for as Multi-Assets collateral (None: no margin asset or no index yet)
    collateral_value: Decimal | None = None

    @classmethod
    def from_pb(cls, b) -> Balance:
        """From a `Balance` message: empty amounts as 0, an empty collateral value as None."""
        return cls(b.asset, dec0(b.wallet.amount), dec0(b.available.amount), dec0(b.withdrawable.amount),
                   dec0(b.margin_balance.amount), dec0(b.unrealized_pnl.amount),
                   dec0(b.maintenance_margin.amount), dec0(b.initial_margin.amount),
                   Decimal(b.collateral_value) if b.collateral_value else None)


@dataclass(frozen=True, slots=True)
class Account(_Model):
    """The caller's account: one Balance per asset (`balance(asset)` finds one, KeyError if absent),
    hedge_mode (True: separate "long" and "short" positions per market; False: one-way, "both")."""

    account_id: int
    balances: tuple[Balance, ...]
    hedge_mode: bool
    multi_assets: bool = False  # Binance's Multi-Assets mode: USDT, USDC and BTC as one collateral

    @classmethod
    def from_pb(cls, r) -> Account:
        """From a `GetAccountResponse`: one Balance per balance message, in the venue's order."""
        return cls(r.account_id, tuple(Balance.from_pb(b) for b in r.balances), r.hedge_mode, r.multi_assets)

    def balance(self, asset: str) -> Balance:
        """The balance of `asset` (KeyError: the account holds none)."""
        for b in self.balances:
            if b.asset == asset:
                return b
        raise KeyError(asset)


@dataclass(frozen=True, slots=True)
class Position(_Model):
    """One position (market and position side): money as exact Decimals in the settlement asset; entry
    price to 8 decimals (rounded half-even); liquidation and bankruptcy prices on the tick grid, rounded
    against the account; None where the venue has none (no mark yet, no liquidation price)."""

    symbol: str
    position_side: str  # "both" | "long" | "short"
    quantity: Decimal  # signed: negative = short
    quantity_lots: int
    entry_price: Decimal | None
    mark_price: Decimal | None
    unrealized_pnl: Decimal
    liquidation_price: Decimal | None
    bankruptcy_price: Decimal | None
    margin_mode: str  # "cross" | "isolated"
    leverage: int
    isolated_margin: Decimal
    adl_quantile: int
    maintenance_margin: Decimal
    #: funding carry: paid (+) or pays (−) at the next funding time, at the current mark and predicted rate
    next_funding_payment: Decimal
    #: distance to liquidation in σ per horizon, and the size-down nudge: the largest size keeping
    #: the liquidation price k σ away and the reduce-only quantity that gets there (None: unknown)
    liquidation_distance_sigma: tuple[SigmaDistance, ...] = ()
    nudge_max_quantity: Decimal | None = None
    nudge_reduce_quantity: Decimal | None = None

    @classmethod
    def from_pb(cls, p) -> Position:
        """From a `Position` message: empty prices and nudge quantities as None, other empty decimals as 0."""
        return cls(p.symbol, enum_name(common_pb2.PositionSide, p.position_side), dec0(p.quantity), p.quantity_lots,
                   dec(p.entry_price), dec(p.mark_price), dec0(p.unrealized_pnl.amount), dec(p.liquidation_price),
                   dec(p.bankruptcy_price), enum_name(common_pb2.MarginMode, p.margin_mode), p.leverage,
                   dec0(p.isolated_margin.amount), p.adl_quantile, dec0(p.maintenance_margin.amount),
                   dec0(p.next_funding_payment.amount),
                   tuple(SigmaDistance.from_pb(d) for d in p.liquidation_distance_sigma), dec(p.nudge_max_quantity),
                   dec(p.nudge_reduce_quantity))
