"""One position across every venue profile, side by side: Decimal in, Decimal out.

For a position (side, size, entry, leverage; the mark and an average premium index), each
profile's own published rules give: the leverage it allows at that notional, the initial margin
to open, the maintenance margin at the mark, the liquidation and bankruptcy prices of the
isolated position opened with that margin, the distance from the mark to the liquidation price,
the fees to open (at entry) and to close (at the mark), and the funding one payment would move
at the given premium. With ``wallet`` every venue's position holds that same isolated margin
instead (the IM column still shows what each venue asks for). A venue that lists no such
contract (OKX, Hyperliquid and dYdX have no inverse perpetuals; a base asset the profile has no
table for) gets a row saying so.

No formula lives here: the margins and prices come from `risk.preview.preview_position` (the
integer risk layer behind it) with each profile's tier rows and liquidation model; the funding
rate from `risk.venue_rules.FundingRule` (integer, exact). What each profile changes:

* tiers: Binance uses the market's own brackets; the others their tables (`risk.venue_tables`);
* leverage: the requested one, lowered to the tier's maximum at the entry notional (a warning
  says so); dYdX's IM is notional × IMF, i.e. its maximum leverage is 1 / IMF;
* maintenance: at the liquidation price (Binance, OKX, Hyperliquid, dYdX, Bybit inverse) or at
  entry (Bybit USDT classic); OKX adds its taker fee to the tier MMR (§3.4);
* cost to open: IM + open loss (Binance, §3.1), IM + fees to open and close (Bybit's order
  cost), the IM alone elsewhere;
* funding: the profile's formula, interval and payment period, on the notional at the mark
  (Binance, Bybit, OKX) or at the oracle (Hyperliquid, dYdX: ``index``, default the mark).

Display rounding (on top of `risk.preview.inputs`'): initial margin, cost to open (Binance's: truncated,
as its published A4 shows) and fees rounded up to
``money_places`` (what the account must put in or pay); the funding payment signed from the
account's side (+ received, − paid) and rounded toward −∞ (against the account); the funding
rate per payment exact. Prices, maintenance margin and distance as `risk.preview` rounds them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from perpsim.model import decimals as dm
from perpsim.model.markets import MarketKind, MarketSpec
from perpsim.risk import preview as pv
from perpsim.risk.liqprice import LiquidationModel
from perpsim.risk.preview.grid import BracketRow, display_money_places, parse_instrument
from perpsim.risk.preview.inputs import (
    Number,
    parse_decimal,
    parse_direction,
    parse_leverage,
    parse_market,
    parse_positive,
    parse_rate,
)
from perpsim.risk.profiles import PROFILES, VenueProfile, profile_named
from perpsim.risk.units import RATE_SCALE
from perpsim.risk.venue_rules import MaintenanceAt, OrderCost

__all__ = ["Comparison", "VenueFigures", "compare", "venue_figures"]


@dataclass(frozen=True, slots=True)
class VenueFigures:
    """One profile's figures for the position (module docstring for rounding). Money in the
    settlement asset, prices in quote, rates as fractions (0.0005 = 0.05 %). ``listed`` False:
    the venue has no such contract here and every figure is None (``note`` says why)."""

    profile: str
    title: str
    listed: bool
    note: str
    leverage: int | None = None
    max_leverage: int | None = None
    initial_margin: Decimal | None = None
    cost_to_open: Decimal | None = None
    maintenance_margin: Decimal | None = None
    maintenance_rate: Decimal | None = None
    liquidation_price: Decimal | None = None
    bankruptcy_price: Decimal | None = None
    liquidation_distance_pct: Decimal | None = None
    fee_rate: Decimal | None = None
    fee_open: Decimal | None = None
    fee_close: Decimal | None = None
    funding_rate: Decimal | None = None
    funding_every_hours: int | None = None
    funding_payment: Decimal | None = None
    liquidation_trigger: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Comparison:
    """One position (its symbol, side, size, entry and mark prices) figured under each venue
    profile: `venues`, one VenueFigures each (units and rounding there)."""

    symbol: str
    side: str
    size: Decimal
    entry_price: Decimal
    mark_price: Decimal
    premium: Decimal
    asset: str
    venues: tuple[VenueFigures, ...]


def _market(market: MarketSpec | str) -> MarketSpec:
    spec = parse_market(market)
    if spec is None:
        raise ValueError("market: give a symbol or a MarketSpec")
    return spec


def _frac(rate_scaled: int) -> Decimal:
    return dm.exact_decimal(Fraction(rate_scaled, RATE_SCALE))


def _rows(profile: VenueProfile, kind: str, base: str) -> list[tuple[Decimal, int, Decimal]] | None:
    """The profile's tier rows as preview input (OKX: tier MMR + taker fee); None: the market's own."""
    table = profile.table(kind, base)
    if table is None:
        return None
    extra = profile.fees.taker if profile.margin and profile.margin.mm_adds_taker_fee and profile.fees else 0
    return [(Decimal(cap), lev, _frac(mmr + extra)) for cap, lev, mmr in table.rows]


def _max_leverage(rows: Iterable[BracketRow], notional: Fraction) -> int | None:
    """Max leverage of the first tier whose cap covers the notional (the last tier beyond it)."""
    last = None
    for row in rows:
        last = row.max_leverage
        if row.cap is None or notional <= row.cap:
            return row.max_leverage
    return last


def _notional(spec: MarketSpec, size: Decimal, price: Decimal) -> Fraction:
    """Exact notional in the settlement asset: size × price, or contracts × face / price."""
    if spec.kind is MarketKind.INVERSE:
        return Fraction(size) * Fraction(spec.contract_size) / Fraction(price)
    return Fraction(size) * Fraction(price)


def _up(x: Fraction, places: int) -> Decimal:
    return dm.round_to_step(x, dm.scaled(1, -places), dm.Round.CEILING)


def _cost_to_open(p: VenueProfile, spec: MarketSpec, direction: int, size: Decimal, price: Decimal, mark: Decimal,
                  lev: int, places: int, rounding: str) -> Decimal:
    """What the venue asks for to open the order at ``price`` (`risk.venue_rules.OrderCost`)."""
    notional = _notional(spec, size, price)
    if p.order_cost is OrderCost.IM_PLUS_OPEN_LOSS:  # Binance's own display: truncated (A4)
        return pv.order_cost(side="buy" if direction > 0 else "sell", size=size, price=price, mark=mark, leverage=lev,
                             model=p.cost_model, market=spec, money_places=places, rounding=rounding).cost
    if p.order_cost is OrderCost.IM_PLUS_FEES and p.fees is not None:
        taker = Fraction(p.fees.taker, RATE_SCALE)
        # the close is priced at the bankruptcy side: a buy's value × (1 − 1/L) in quote, a coin
        # value × (1 + 1/L) for an inverse buy (its bankruptcy price is lower), the reverse for a sell
        toward = -direction if spec.kind is MarketKind.LINEAR else direction
        close = notional * (1 + Fraction(toward, lev)) * taker
        return _up(notional / lev + notional * taker + close, places)
    return _up(notional / lev, places)


def venue_figures(
    profile: VenueProfile | str,
    *,
    side: str,
    size: Number,
    entry: Number,
    leverage: Number,
    mark: Number | None = None,
    index: Number | None = None,
    premium: Number = 0,
    market: MarketSpec | str = "BTCUSDT",
    maker: bool = False,
    wallet: Number | None = None,
    mmr: Number | None = None,
    money_places: int | None = None,
    rounding: str = "venue",
) -> VenueFigures:
    """One profile's figures (see `compare`). ``mmr``: one fixed tier instead of the profile's
    table (to check a venue's worked example stated with a single MMR; the OKX fee is added)."""
    p = profile if isinstance(profile, VenueProfile) else profile_named(profile)
    spec = _market(market)
    kind, base = spec.kind.value, spec.base
    if not p.lists(kind, base) and mmr is None:
        why = "no inverse perpetuals" if kind == "inverse" else f"no {base} {kind} tier table in this profile"
        return VenueFigures(p.name, p.title, False, why)
    size_d, entry_d = parse_positive(size, "size"), parse_positive(entry, "entry")
    mark_d = entry_d if mark is None else parse_positive(mark, "mark")
    index_d = mark_d if index is None else parse_positive(index, "index")
    asked = parse_leverage(leverage)
    places = display_money_places(money_places, parse_instrument(spec, None))
    warnings: list[str] = []

    rows = _rows(p, kind, base)
    fixed: dict = {}
    if mmr is not None:
        extra = p.fees.taker if p.margin and p.margin.mm_adds_taker_fee and p.fees else 0
        fixed = {"mmr": _frac(parse_rate(mmr, "mmr") + extra)}
        rows = None
    notional_entry = _notional(spec, size_d, entry_d)
    table = pv.bracket_table(market=spec, brackets=rows, **fixed)
    allowed = _max_leverage(table, notional_entry) if not fixed else None
    lev = asked if allowed is None else min(asked, allowed)
    if lev < asked:
        warnings.append(f"{p.name} allows at most {allowed}x at this notional: {lev}x used")

    at = p.margin.linear_mm_at if p.margin and kind == "linear" else (
        p.margin.inverse_mm_at if p.margin else MaintenanceAt.LIQUIDATION_PRICE)
    model = LiquidationModel.BYBIT if at is MaintenanceAt.ENTRY else LiquidationModel.BINANCE
    pre = pv.preview_position(side=side, size=size_d, entry=entry_d, leverage=lev, wallet=wallet, mark=mark_d,
                              market=spec,
                              brackets=rows, profile=model, money_places=places, rounding=rounding, **fixed)
    warnings += [w for w in pre.warnings if "exceeds the bracket" not in w]
    if wallet is not None and parse_decimal(wallet, "wallet") < notional_entry / lev:
        warnings.append(f"the margin {wallet} is below {p.name}'s initial margin at {lev}x: it could not open this")

    fee_scaled = (p.fees.maker if maker else p.fees.taker) if p.fees else parse_rate(
        spec.maker_fee if maker else spec.taker_fee, "fee")
    fee = Fraction(fee_scaled, RATE_SCALE)
    direction = parse_direction(side)
    out_funding: dict = {}
    if p.funding is not None:
        per = p.funding.rate_per_payment(parse_rate(parse_decimal(premium, "premium"), "premium"))
        at_price = index_d if p.funding.price == "oracle" else mark_d
        payment = -direction * per * _notional(spec, size_d, at_price)
        out_funding = dict(funding_rate=dm.exact_decimal(per), funding_every_hours=p.funding.payment_hours,
                           funding_payment=dm.round_to_step(payment, dm.scaled(1, -places), dm.Round.FLOOR))
    trigger = p.liquidation.trigger if p.liquidation else p.liquidation_trigger
    return VenueFigures(
        p.name, p.title, True, "" if not fixed else "one fixed tier (mmr given)",
        leverage=lev, max_leverage=allowed,
        initial_margin=_up(notional_entry / lev, places),
        cost_to_open=_cost_to_open(p, spec, direction, size_d, entry_d, mark_d, lev, places, rounding),
        maintenance_margin=pre.maintenance_margin, maintenance_rate=pre.mmr,
        liquidation_price=pre.liquidation_price, bankruptcy_price=pre.bankruptcy_price,
        liquidation_distance_pct=pre.liquidation_distance_pct,
        fee_rate=dm.exact_decimal(fee), fee_open=_up(notional_entry * fee, places),
        fee_close=_up(_notional(spec, size_d, mark_d) * fee, places),
        liquidation_trigger=trigger, warnings=tuple(warnings), **out_funding,
    )


def compare(
    *,
    side: str,
    size: Number,
    entry: Number,
    leverage: Number,
    mark: Number | None = None,
    index: Number | None = None,
    premium: Number = 0,
    market: MarketSpec | str = "BTCUSDT",
    profiles: Iterable[str] | None = None,
    maker: bool = False,
    wallet: Number | None = None,
    money_places: int | None = None,
    rounding: str = "venue",
) -> Comparison:
    """The position under each profile (all of `risk.profiles.PROFILES` by default, Binance
    first). side "long"/"short" (or "buy"/"sell" for an order about to open); size in base units
    (linear) or contracts (inverse); entry, mark (default entry) and index (the oracle of
    Hyperliquid and dYdX funding, default the mark) in quote; leverage a whole number; premium
    the average premium index of the funding interval as a fraction; maker: fees at the maker
    rate instead of the taker rate. Isolated margin: each venue's position holds the initial
    margin that venue asks for, or ``wallet`` (the same margin at every venue, in the settlement
    asset) when given. Bad input raises ValueError naming the field."""
    spec = _market(market)
    names = list(PROFILES) if profiles is None else [profile_named(n).name for n in profiles]
    if not names:
        raise ValueError("profiles: name at least one")
    side_name = "long" if parse_direction(side) > 0 else "short"
    size_d, entry_d = parse_positive(size, "size"), parse_positive(entry, "entry")
    mark_d = entry_d if mark is None else parse_positive(mark, "mark")
    premium_d = parse_decimal(premium, "premium")
    rows = tuple(venue_figures(n, side=side_name, size=size_d, entry=entry_d, leverage=leverage, mark=mark_d,
                               index=index, premium=premium_d, market=spec, maker=maker, wallet=wallet,
                               money_places=money_places, rounding=rounding) for n in names)
    return Comparison(spec.symbol, side_name, size_d, entry_d, mark_d, premium_d, spec.settle, rows)
