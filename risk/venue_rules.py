"""The rules a venue profile is made of, as integer data plus the few formula variants venues
publish (venue-mechanics §2–§6).

Units: rates are integers scaled by `risk.units.RATE_SCALE` (1e-8: 0.05 % = 50_000); tier caps
are whole units of the settlement asset; intervals in hours. Nothing here rounds except where a
docstring says so: the funding arithmetic is exact (a rate paid in parts is an exact Fraction).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from fractions import Fraction

from perpsim.risk.dydx_deleveraging import DeleveragingRule
from perpsim.risk.dydx_fillable import FillablePriceConfig
from perpsim.risk.funding import funding_rate
from perpsim.risk.units import RATE_SCALE


class FundingForm(Enum):
    """How the rate of one interval follows from the interval's average premium index P̄."""

    #: F = P̄ + clamp(I − P̄, −clamp, +clamp), then [floor, cap] (Binance §2.1, Bybit §2.3,
    #: Hyperliquid §2.6).
    CLAMPED_INTEREST = "clamped_interest"
    #: F = clamp(P̄ − I, floor, cap), no clamp band around the interest (OKX §2.4, I = 0).
    PREMIUM_CAPPED = "premium_capped"
    #: F = clamp(P̄ + I, −cap, +cap): the interest is added, not clamped (dYdX v4 §2.5,
    #: rate_8h = premium + default_funding_ppm).
    PREMIUM_PLUS_DEFAULT = "premium_plus_default"


@dataclass(frozen=True, slots=True)
class FundingRule:
    """Funding of one venue. ``interval_hours``: the period the rate is quoted for;
    ``payment_hours``: how often a part of it is paid (Hyperliquid and dYdX quote an 8 h rate and
    pay 1/8 of it every hour); ``payment_cap``: a bound on each payment's rate (Hyperliquid 4 %
    per hour); ``price``: the price the paid notional is taken at ("mark" or "oracle")."""

    form: FundingForm
    interval_hours: int
    payment_hours: int
    interest: int
    clamp: int
    cap: int | None
    floor: int | None
    price: str
    payment_cap: int | None = None
    source: str = ""

    def rate(self, premium: int) -> int:
        """The rate of one interval from its average premium index (scaled rates, exact)."""
        if self.form is FundingForm.CLAMPED_INTEREST:
            return funding_rate(premium, self.interest, self.clamp, self.cap, self.floor)
        raw = premium - self.interest if self.form is FundingForm.PREMIUM_CAPPED else premium + self.interest
        if self.cap is not None:
            raw = min(raw, self.cap)
        if self.floor is not None:
            raw = max(raw, self.floor)
        return raw

    def rate_per_payment(self, premium: int) -> Fraction:
        """The rate of one payment as an exact fraction (not scaled): the interval's rate ×
        payment_hours / interval_hours, then bounded by ``payment_cap``. No rounding."""
        r = Fraction(self.rate(premium) * self.payment_hours, RATE_SCALE * self.interval_hours)
        if self.payment_cap is not None:
            cap = Fraction(self.payment_cap, RATE_SCALE)
            r = max(-cap, min(cap, r))
        return r


class OrderCost(Enum):
    """What a venue asks for to open an order, beyond nothing but the initial margin."""

    #: IM + open loss |min(0, dir × (mark − price))| × size (Binance cost to open, §3.1, A4).
    IM_PLUS_OPEN_LOSS = "im_plus_open_loss"
    #: IM + fee to open + fee to close at the bankruptcy side (Bybit "Order Cost", buy:
    #: price × (1 − 1/leverage), sell: × (1 + 1/leverage); inverse the other way round).
    IM_PLUS_FEES = "im_plus_fees"
    #: the initial margin alone (no other published component).
    IM = "im"


class MarginKind(Enum):
    """How a venue sets the initial margin of a position."""

    #: IM = notional / leverage, the leverage chosen up to the tier's maximum.
    LEVERAGE = "leverage"
    #: IM = notional × IMF: a fixed fraction (dYdX v4); the tier's max leverage is 1 / IMF.
    FRACTION = "fraction"


class MaintenanceAt(Enum):
    """Where the maintenance margin of a liquidation price is evaluated."""

    #: At the liquidation price (Binance, OKX, Hyperliquid, dYdX; Bybit inverse under UTA).
    LIQUIDATION_PRICE = "liquidation_price"
    #: At the entry notional (Bybit classic USDT, §4.3).
    ENTRY = "entry"


@dataclass(frozen=True, slots=True)
class TierTable:
    """A venue's margin tiers for one contract: rows of (cap in whole settlement units, max
    leverage, MMR scaled); the maintenance amount (cum / deduction) of each row follows from the
    recursion cum_n = cum_{n−1} + floor_n × (MMR_n − MMR_{n−1}) that Binance, Bybit and
    Hyperliquid publish alike. ``source``: where the rows were read, and how sure they are."""

    rows: tuple[tuple[int, int, int], ...]
    source: str


@dataclass(frozen=True, slots=True)
class MarginRule:
    """A venue's margin: how the initial margin is set and how the maintenance margin is
    evaluated for a liquidation price."""

    kind: MarginKind
    #: linear contracts: where MM is evaluated for the liquidation price
    linear_mm_at: MaintenanceAt
    #: inverse contracts: likewise, or None if the venue lists no inverse perpetuals
    inverse_mm_at: MaintenanceAt | None
    #: OKX counts the taker fee of closing into the maintenance requirement (§3.4):
    #: MM = notional × (MMR_tier + taker fee)
    mm_adds_taker_fee: bool
    source: str = ""


@dataclass(frozen=True, slots=True)
class FeeRule:
    """Base-tier trading fees (scaled rates) of the venue's perpetuals."""

    maker: int
    taker: int
    source: str = ""


@dataclass(frozen=True, slots=True)
class LiquidationRule:
    """How a liquidation runs. ``trigger``: the price compared with the liquidation price
    ("mark" or "oracle"); ``partial``: the partial step the venue takes first; ``fills``: where
    the forced order goes; ``fee_rate``: the clearance fee on the liquidated notional (scaled;
    None: the venue's per-market fee; 0: none); ``fee_note`` qualifies it."""

    trigger: str
    partial: str
    fills: str
    fee_rate: int | None
    fee_note: str
    source: str = ""
    steps: PartialSteps | None = None
    #: the forced order's kind: "ioc_limit" (at the bankruptcy or a fillable price), "resting_limit" (OKX's
    #: step: a GTC limit for its minute, risk.okx_orders), "fok" (down a
    #: tier), "market" (Hyperliquid), "takeover" (the backstop takes it at the bankruptcy price)
    order: str = "ioc_limit"
    #: the forced order's limit when not the bankruptcy price: dYdX v4's fillable price
    #: (risk.dydx_fillable); None: the bankruptcy price
    fillable: FillablePriceConfig | None = None
    #: a bankrupt position the forced order left whole goes to the opposite side, all of it, and
    #: never to the insurance fund (dYdX v4; risk.dydx_deleveraging); None: the fund, then ADL
    deleveraging: DeleveragingRule | None = None
    #: a cross account's long and short in the market are closed against each other first, at the
    #: mark, and the rest goes on only while still under water (OKX; risk.okx_liquidation)
    nets_hedged_pairs: bool = False
    #: a full liquidation (no partial step) sends no order: the backstop takes the position over at
    #: the bankruptcy price and unwinds it (OKX tier 1–2; risk.okx_takeover)
    full_taken_over: bool = False
    #: (n, d): an account whose equity is below n/d of its maintenance margin hands its positions and
    #: their margin to the backstop (Hyperliquid's liquidator vault, (2, 3); risk.hyperliquid_backstop)
    backstop_below: tuple[int, int] | None = None


class StepKind(Enum):
    """How a venue's liquidation cuts a position down, step by step."""

    #: down to the largest size of the next lower tier (Binance one IOC, Bybit one FOK, OKX per tier)
    DOWN_A_TIER = "down_a_tier"
    #: a fixed fraction of the position per attempt (Hyperliquid above a notional)
    FRACTION = "fraction"
    #: from tier ``from_tier`` up, down to the first tier's largest size, then a wait of
    #: ``interval_s`` before the account is checked again (OKX); below it, all at once
    TO_FIRST_TIER = "to_first_tier"
    #: one order per position and block of ``interval_s``: a fraction, not below ``min_notional``,
    #: within the account's ``block_notional`` per block (dYdX v4)
    PER_BLOCK = "per_block"


@dataclass(frozen=True, slots=True)
class PartialSteps:
    """The partial liquidation a venue takes before a full one, as numbers an engine can read:
    ``fraction`` of the position per step (scaled rate; FRACTION only), not below
    ``min_notional`` and only for positions above ``above_notional`` (whole settlement units,
    0: any), at most one step per ``interval_s`` seconds (0: at once); ``from_tier``: the lowest
    tier that steps (TO_FIRST_TIER); ``block_notional``, ``block_insurance``: what one account
    may have liquidated, and cost the insurance fund, per block (PER_BLOCK; whole units);
    ``block_accounts``: how many accounts one block liquidates (PER_BLOCK; 0: every one)."""

    kind: StepKind
    fraction: int = 0
    min_notional: int = 0
    above_notional: int = 0
    interval_s: int = 0
    from_tier: int = 0
    block_notional: int = 0
    block_insurance: int = 0
    #: at most this many accounts liquidated per block, the rest next block (PER_BLOCK; 0: no cap)
    block_accounts: int = 0


@dataclass(frozen=True, slots=True)
class BackstopRule:
    """What absorbs a bankrupt position: an insurance fund (and its scope) or a vault."""

    kind: str
    scope: str
    source: str = ""


class AdlRanking(Enum):
    """How a venue orders the opposite side's positions for auto-deleveraging."""

    #: max(0, uPnL) / max(1, wallet) × MM / (wallet + uPnL) (§6.1).
    BINANCE_LEVERAGE_PNL = "binance_leverage_pnl"
    #: PnL% × effective leverage (profit) or PnL% / effective leverage (loss) (BitMEX §6.2;
    #: Bybit publishes a profit × leverage ranking of this shape, exact text unread §6.3).
    PNL_TIMES_LEVERAGE = "pnl_times_leverage"
    #: (mark / entry) × (notional / account value) (Hyperliquid §6.6).
    MARK_OVER_ENTRY_TIMES_LEVERAGE = "mark_over_entry_times_leverage"
    #: no ranking: opposite positions from a pseudo-random start (dYdX v4 §6.5).
    RANDOM_START = "random_start"
    #: a ranking whose formula the venue does not publish (OKX §6.4).
    UNPUBLISHED = "unpublished"


@dataclass(frozen=True, slots=True)
class AdlRule:
    """A venue's auto-deleveraging: its ranking and the price counterparties are closed at."""

    ranking: AdlRanking
    #: the price counterparties are closed at: "bankruptcy", "mark" or "previous mark"
    price: str
    source: str = ""


def adl_score(ranking: AdlRanking, *, upnl: Fraction, wallet: Fraction, maintenance: Fraction,
              mark: Fraction, entry: Fraction, notional: Fraction, entry_notional: Fraction) -> Fraction | None:
    """A position's ADL queue score (higher is deleveraged first) per the venue's ranking, exact;
    money in the settlement asset, prices in quote; `notional` at the mark, `entry_notional` at
    entry. `wallet`: the margin behind the position (isolated) or the wallet balance (cross).
    None when the venue has no ranking (random start, unpublished) or the account is under water.
    The effective leverage of PNL_TIMES_LEVERAGE, |mark value| / (mark value − bankrupt value),
    is notional / (wallet + uPnL) for one position."""
    account = wallet + upnl
    if ranking is AdlRanking.BINANCE_LEVERAGE_PNL:
        pnl_pct = max(Fraction(0), upnl) / max(Fraction(1), wallet)
        return pnl_pct * (Fraction(0) if account <= 0 else maintenance / account)
    if account <= 0 or entry <= 0 or entry_notional <= 0:
        return None
    if ranking is AdlRanking.MARK_OVER_ENTRY_TIMES_LEVERAGE:
        return (mark / entry) * (notional / account)
    if ranking is AdlRanking.PNL_TIMES_LEVERAGE:
        pnl_pct, eff_lev = upnl / entry_notional, notional / account
        return pnl_pct * eff_lev if pnl_pct > 0 else pnl_pct / eff_lev
    return None
