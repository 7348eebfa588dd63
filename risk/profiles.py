"""Venue profiles: the rules a trader rehearses, as data.

A profile fixes what the engine reads — which price triggers liquidation (`liquidation_trigger`),
where maintenance margin is evaluated when the liquidation price is solved
(`liquidation_model`), how the cost to open an order is computed (`cost_model`) — and the rest
of the venue's published rules, which the calculator (`risk.compare`, `perpsim calc compare`)
applies and the live venue applies where it can (`venue.initial_state.make_exchange`: each market's
tiers and fees): margin tiers (`risk.venue_tables`), mark and funding, liquidation steps and
fee, the backstop, the ADL ranking (`risk.venue_rules`). Rates are integers scaled by 1e-8.

Sources: /work/shared/spec/venue-mechanics.md sections named in each rule, and the addresses
in `risk.venue_tables`. Binance is the default.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal

from perpsim.model.markets import MarketSpec
from perpsim.risk import venue_tables as vt
from perpsim.risk.dydx_deleveraging import DeleveragingRule
from perpsim.risk.dydx_fillable import FillablePriceConfig
from perpsim.risk.liqprice import LiquidationModel
from perpsim.risk.margin import CostModel
from perpsim.risk.mark import MarkForm
from perpsim.risk.venue_rules import (
    AdlRanking,
    AdlRule,
    BackstopRule,
    FeeRule,
    FundingForm,
    FundingRule,
    LiquidationRule,
    MaintenanceAt,
    MarginKind,
    MarginRule,
    OrderCost,
    PartialSteps,
    StepKind,
    TierTable,
)

__all__ = ["BINANCE", "BYBIT", "DYDX", "HYPERLIQUID", "OKX", "PROFILES", "VenueProfile", "market_under",
           "profile_named"]


@dataclass(frozen=True, slots=True)
class VenueProfile:
    """One venue's rules, formula for formula: liquidation, margin, costs, the liquidation
    process, insurance, ADL, funding and mark (risk/venue_rules.py holds each rule's kinds)."""

    name: str
    #: MM at the liquidation price (Binance) or at the entry notional (Bybit classic).
    liquidation_model: LiquidationModel
    #: "mark" (Binance, Bybit), "index" (the oracle: dYdX) or "last": the price the liquidation
    #: sweep compares against.
    liquidation_trigger: str
    cost_model: CostModel
    title: str = ""
    #: what the venue calls its mark, and what its liquidations and funding watch
    mark: str = ""
    #: the mark's formula (risk.mark.mark_state_for builds its state): the median of three
    #: (Binance) or the oracle itself (dYdX)
    mark_form: MarkForm = MarkForm.MEDIAN
    margin: MarginRule | None = None
    #: tiers per (kind, base asset); empty: each market's own brackets (Binance)
    tables: dict[tuple[str, str], TierTable] = field(default_factory=dict, hash=False)
    #: None: each market's own fees (the markets file)
    fees: FeeRule | None = None
    funding: FundingRule | None = None
    liquidation: LiquidationRule | None = None
    backstop: BackstopRule | None = None
    adl: AdlRule | None = None
    order_cost: OrderCost = OrderCost.IM

    def table(self, kind: str, base: str) -> TierTable | None:
        """The venue's tiers for a contract of this kind ("linear"/"inverse") and base asset;
        None when the venue publishes none here (the market's own brackets apply for Binance)."""
        return self.tables.get((kind, base))

    def lists(self, kind: str, base: str) -> bool:
        """Whether the venue lists such a contract (a profile without tables lists every market)."""
        if self.margin is not None and kind == "inverse" and self.margin.inverse_mm_at is None:
            return False
        return not self.tables or (kind, base) in self.tables


_CLAMP = 50_000  # ±0.05 %
_I_8H = 10_000  # 0.01 % per 8 h

BINANCE = VenueProfile(
    "binance", LiquidationModel.BINANCE, "mark", CostModel.CLASSIC,
    title="Binance USDⓈ-M / COIN-M",
    mark="median(index × (1 + F × t/T), index + 5-min basis MA, last) (§1.1)",
    margin=MarginRule(MarginKind.LEVERAGE, MaintenanceAt.LIQUIDATION_PRICE, MaintenanceAt.LIQUIDATION_PRICE, False,
                      "§3.1: IM = notional / leverage; MM = notional × MMR − cum at the mark"),
    funding=FundingRule(FundingForm.CLAMPED_INTEREST, 8, 8, _I_8H, _CLAMP, None, None, "mark",
                        source="§2.1: F = P + clamp(I − P, ±0.05 %), I = 0.01 %/8 h; per-symbol caps by API"),
    liquidation=LiquidationRule(
        "mark", "one large IOC to bring the position down a bracket (§4.2 step 3)",
        "LIMIT IOC to the book; the rest taken over by the insurance fund at the bankruptcy price", None,
        "the market's liquidationFee on the liquidated notional", "§4.2",
        PartialSteps(StepKind.DOWN_A_TIER), "ioc_limit"),
    backstop=BackstopRule("insurance fund", "per margin asset, shared by groups of symbols", "§5"),
    adl=AdlRule(AdlRanking.BINANCE_LEVERAGE_PNL, "bankruptcy", "§6.1"),
    order_cost=OrderCost.IM_PLUS_OPEN_LOSS,
)

BYBIT = VenueProfile(
    "bybit", LiquidationModel.BYBIT, "mark", CostModel.CLASSIC,
    title="Bybit USDT (classic) and inverse perpetuals",
    mark="median(index × (1 + F × t/8), index + 5-min basis MA, last) (§1.3)",
    margin=MarginRule(MarginKind.LEVERAGE, MaintenanceAt.ENTRY, MaintenanceAt.LIQUIDATION_PRICE, False,
                      "§3.3/§4.3: USDT classic LP, MM at entry (testnet.bybit.com Liquidation-Price-USDT-Contract); "
                      "inverse under UTA isolated with position value at the mark, so MM at the liquidation price "
                      "(kbybit.com Liquidation-Price-Calculation-under-Isolated-Mode-Unified-Trading-Account)"),
    tables=dict(vt.BYBIT),
    fees=FeeRule(20_000, 55_000, "Bybit non-VIP USDT perpetuals 0.02 % maker / 0.055 % taker [C-copy]: Bybit's "
                 "fee help restated at http://refeshop.com/fanyong/futuojituan/2015/1112/277.html (2024-07-31), "
                 "worked example 10 BTC × 8,000 × 0.055 % = 44 USDT taker, × 0.02 % = 16 USDT maker"),
    funding=FundingRule(FundingForm.CLAMPED_INTEREST, 8, 8, _I_8H, _CLAMP, None, None, "mark",
                        source="§2.3: same form as Binance, P averaged with weights 1..N; interest 0.03 %/day"),
    liquidation=LiquidationRule(
        "mark", "cancel orders; above tier 1 a FillOrKill down to the lower risk limit (§4.3)",
        "the liquidation engine takes the rest at the bankruptcy price", 0,
        "no separate fee: the remaining maintenance margin goes to the insurance fund", "§4.3",
        PartialSteps(StepKind.DOWN_A_TIER), "fok"),
    backstop=BackstopRule("insurance fund", "per contract", "§5"),
    adl=AdlRule(AdlRanking.PNL_TIMES_LEVERAGE, "bankruptcy", "§6.3 [U]: profit × leverage, exact text unread"),
    order_cost=OrderCost.IM_PLUS_FEES,  # https://testnet.bybit.com/en/help-center/article/Order-Cost-USDT-Contract
)

OKX = VenueProfile(
    "okx", LiquidationModel.BINANCE, "mark", CostModel.CLASSIC,
    title="OKX USDT-margined swaps",
    mark="index + moving average of the basis (§1.4 [U])",
    margin=MarginRule(MarginKind.LEVERAGE, MaintenanceAt.LIQUIDATION_PRICE, None, True,
                      "§3.4: margin ratio = (margin + uPnL) / (notional at mark × (tier MMR + taker fee))"),
    tables=dict(vt.OKX),
    fees=FeeRule(20_000, 50_000, "OKX Lv1 swaps 0.02 % maker / 0.05 % taker [U]: okx.com/fees as stored shows "
                 "its spot tab only; the swap rates are third parties' restatements"),
    funding=FundingRule(FundingForm.PREMIUM_CAPPED, 8, 8, 0, 0, 375_000, -375_000, "mark",
                        source="§2.4: F = clamp(MA(P − I), floor, cap), I = 0, BTC cap ±0.375 %"),
    liquidation=LiquidationRule(
        "mark", "cross hedged pairs closed against each other first; tier 3 and up: cut to tier 1's size, the "
        "position re-checked 60 s later and repeated; tier 1–2 in one order (§4.5)",
        "orders 0.1 % better than the mark, resting for the minute; tier 1–2 taken over at the bankruptcy price and "
        "offloaded at the entrusted price", 50_000,
        "the taker fee on the liquidated notional, also counted in the maintenance requirement",
        "§4.5: OKX help 'Forced Partial or Full Liquidation' (supdljgzdhc.okx.com/hc/en-us/articles/360020411711): "
        "15,000 swaps − tier 1's 2,000 = 13,000 closed; 'About a minute later' the re-check; 'the pairs of "
        "long/short positions will be closed immediately'",
        PartialSteps(StepKind.TO_FIRST_TIER, interval_s=60, from_tier=3), "resting_limit", nets_hedged_pairs=True,
        full_taken_over=True),
    backstop=BackstopRule("insurance fund (risk reserve)", "per currency / instrument family [U]", "§5"),
    adl=AdlRule(AdlRanking.UNPUBLISHED, "mark", "§6.4: at the current mark price"),
)

HYPERLIQUID = VenueProfile(
    "hyperliquid", LiquidationModel.BINANCE, "mark", CostModel.CLASSIC,
    title="Hyperliquid perpetuals (USDC)",
    mark="median(oracle + 150 s EMA of mid − oracle, median(bid, ask, last), CEX perp mids) (§1.6)",
    # no CEX perp mids here: the rule's own fallback, median((1), (2), 30-s EMA of (2)) (risk.hyperliquid_mark)
    mark_form=MarkForm.HYPERLIQUID,
    margin=MarginRule(MarginKind.LEVERAGE, MaintenanceAt.LIQUIDATION_PRICE, None, False,
                      "§3.6: MM = ½ IM at max leverage per tier, deduction by the same recursion as cum"),
    tables=dict(vt.HYPERLIQUID),
    fees=FeeRule(15_000, 45_000, "tier 0 perps 0.015 % maker / 0.045 % taker [C-copy]: "
                 "https://hyperliquid.gitbook.io/hyperliquid-docs/trading/fees, table read in "
                 "https://sltp.gitbook.io/sltp-docs/documentation/perp-dexes-aggregator/perpetual-fee"),
    funding=FundingRule(FundingForm.CLAMPED_INTEREST, 8, 1, _I_8H, _CLAMP, None, None, "oracle",
                        payment_cap=4_000_000,
                        source="§2.6: F_8h = P + clamp(I − P, ±0.05 %), paid hourly at F_8h / 8 on size × oracle, "
                               "capped at 4 %/h"),
    liquidation=LiquidationRule(
        "mark", "market orders for the whole position; above 100k USDC 20 % per attempt, 30 s apart (§4.7)",
        "market orders to the book, 10 % through the mark, what they leave sent again at the next mark publication; "
        "below ⅔ of MM the liquidator vault takes the position and its margin", 0,
        "no clearance fee", "§4.7",
        PartialSteps(StepKind.FRACTION, fraction=20_000_000, above_notional=100_000, interval_s=30), "market",
        backstop_below=(2, 3)),
    backstop=BackstopRule("liquidator vault (HLP)", "takes cross positions with their margin", "§5"),
    adl=AdlRule(AdlRanking.MARK_OVER_ENTRY_TIMES_LEVERAGE, "previous mark", "§6.6"),
)

DYDX = VenueProfile(
    "dydx", LiquidationModel.BINANCE, "index", CostModel.CLASSIC,
    title="dYdX v4 perpetuals (USDC)",
    mark="the oracle price: no separate mark (§1.5); margin, account value and liquidation at the oracle",
    # dydxprotocol/v4-documentation @ 3e475b73 (2026-04-22): docs/pages/concepts/trading/margin.mdx
    # ("P is the oracle price for the market", for IM, MM and Total Account Value),
    # liquidations.mdx ("Oracle Price is used to estimate the value of an account's positions"),
    # oracle.mdx (the oracle decides collateralization, liquidation and trigger orders)
    mark_form=MarkForm.ORACLE,
    margin=MarginRule(MarginKind.FRACTION, MaintenanceAt.LIQUIDATION_PRICE, None, False,
                      "§3.5: IM = notional × IMF, MM = notional × IMF × maintenance fraction, at the oracle"),
    tables=dict(vt.DYDX),
    fees=FeeRule(10_000, 50_000, "dYdX v4 fee tier 1 (< 1M USD 30-day volume): 1.0 bps maker / 5.0 bps taker [C]: "
                 "dydxprotocol/v4-documentation old-docs/pages/introduction-trading_fees.md @ 307159d2 (2025-09-15); "
                 "governance sets the live tiers (feetiers/perpetual_fee_params)"),
    # rate_8h = premium + default_funding_ppm (0), clamped to 600 % × (IMF − MMF) = 12 % for Large-Cap
    funding=FundingRule(FundingForm.PREMIUM_PLUS_DEFAULT, 8, 1, 0, 0,
                        6 * (vt.DYDX_LARGE_CAP_IMF - vt.DYDX_LARGE_CAP_MMF),
                        -6 * (vt.DYDX_LARGE_CAP_IMF - vt.DYDX_LARGE_CAP_MMF), "oracle",
                        source="§2.5: hourly settlement of an 8 h rate through the funding index; clamp factor 600 %"),
    liquidation=LiquidationRule(
        "oracle", "one order per position and block (1 s): at most 10 % of it, at least 1,000 USDC; at most "
        "100,000 USDC per account and block (§4.6)",
        "IOC at the fillable price against the book", 1_500_000,
        "up to 1.5 % of the quote, only out of a fill better than the bankruptcy price",
        "§4.6: dydxprotocol/v4-chain @ 84d4664b protocol/x/clob/keeper/liquidations.go "
        "(GetLiquidatablePositionSizeDelta), protocol/testing/mainnet/genesis.json liquidations_config; "
        "blocks 'every ~1 second' (docs.dydx.exchange getting_started/onboarding_faqs)",
        PartialSteps(StepKind.PER_BLOCK, fraction=10_000_000, min_notional=1_000, interval_s=1,
                     block_notional=100_000, block_insurance=1_000_000, block_accounts=50), "ioc_limit",
        FillablePriceConfig(1_000_000, 1_500_000, "mainnet genesis.json fillable_price_config (risk.dydx_fillable)"),
        deleveraging=DeleveragingRule(source="deleveraging.go MaybeDeleverageSubaccount ('the full position size "
                                      "will get deleveraged'), OffsetSubaccountPerpetualPosition; flags.go "
                                      "(500 subaccounts iterated; 50 liquidation attempts a block)")),
    backstop=BackstopRule("insurance fund", "one for cross markets, one per isolated market; it pays liquidation "
                          "fills' shortfalls and never holds a position (deleveraging closes those)", "§5"),
    adl=AdlRule(AdlRanking.RANDOM_START, "bankruptcy", "§6.5: no ranking, pseudo-random start"),
)

PROFILES = {p.name: p for p in (BINANCE, BYBIT, OKX, HYPERLIQUID, DYDX)}


def profile_named(name: str) -> VenueProfile:
    """The profile called `name` (case-insensitive); ValueError naming the known ones."""
    p = PROFILES.get(str(name).strip().lower())
    if p is None:
        raise ValueError(f"unknown venue profile {name!r}; known: {', '.join(PROFILES)}")
    return p


def _rate(scaled: int) -> Decimal:
    return Decimal(scaled) / 100_000_000  # exact: 8 decimal places at most


def market_under(profile: VenueProfile, spec: MarketSpec) -> MarketSpec:
    """The market as the profile's venue would run it: its tier table as the market's brackets
    (OKX: tier MMR + taker fee, §3.4), its fees and its liquidation fee. A market the profile has
    no table for keeps its own brackets; a profile without fees keeps the market's (Binance)."""
    changes: dict = {}
    table = profile.table(spec.kind.value, spec.base)
    if table is not None:
        extra = profile.fees.taker if profile.margin and profile.margin.mm_adds_taker_fee and profile.fees else 0
        changes["brackets"] = tuple((Decimal(cap), lev, _rate(mmr + extra)) for cap, lev, mmr in table.rows)
    if profile.fees is not None:
        changes.update(maker_fee=_rate(profile.fees.maker), taker_fee=_rate(profile.fees.taker))
    if profile.liquidation is not None and profile.liquidation.fee_rate is not None:
        changes["liquidation_fee"] = _rate(profile.liquidation.fee_rate)
    return replace(spec, **changes) if changes else spec
