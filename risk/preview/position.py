"""The position preview: margins, margin ratio, liquidation and bankruptcy price, distance to
liquidation and the liquidation band of one hypothetical position (venue-mechanics §3.1,
§4.1–4.3). Inputs and display rounding: `risk.preview.inputs`; market, contract size and
brackets: `risk.preview.grid`.

* ``profile``: "binance" (MM at the liquidation price, bracket re-picked there) or "bybit" (MM
  at the entry notional, Bybit classic) — `risk.liqprice.LiquidationModel`. The bybit model is
  linear only.

Liquidation band (partial and full liquidation, §4.2 step 3)
------------------------------------------------------------
Binance first tries to bring a position in bracket n > 1 down one tier with one large IOC.
This preview models it as stages, starting with the position as given:

1. The stage's price P is the liquidation price of the current size (bracket re-picked at P;
   the bybit model uses the entry bracket). If the bracket there is 1, the position is fully
   liquidated at P: the last stage.
2. Otherwise one IOC at the mark P reduces the size to the largest multiple of the lot step
   whose notional at P (bybit: at entry) fits bracket n − 1, i.e. ≤ cap of bracket n − 1. The
   closed part realizes its PnL at P (rounded down) and pays ``liquidation_fee`` × its
   notional at P (rounded up; default 0) out of the wallet.
3. §4.2 step 4: if the rest is still liquidatable at P (margin balance ≤ MM, e.g. because of
   the fee), the position is fully liquidated at P. Otherwise the next stage starts from the
   reduced position and the new wallet.

``partial_liquidation_price`` is the first stage's price (= ``liquidation_price``);
``full_liquidation_price`` is the price of the last stage, where the position is closed
entirely. For a position whose liquidation bracket is 1 both are the same. A long's stages
descend, a short's ascend. Where the notional grows as the price moves against the position (a
linear short, an inverse long) the reduced position is back above the lower cap at its next
liquidation price, so one tier can take several, shrinking steps. ``full_liquidation_price``
is None when the reduced position has no liquidation price (its margin covers any price).
Assumptions: the IOC fills at the mark, other cross positions are unchanged, and nothing else
(funding, fees of the account's other trades) moves. Binance publishes no such band; it is this
calculator's reading of §4.2 steps 3–5.

A single position per call (one-way mode; each side of an isolated hedge is one call). Cross
hedge pairs share an LP and need both legs: `risk.liqprice` does that, this calculator does
not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from perpsim.model import decimals as dm
from perpsim.model.enums import Side
from perpsim.model.markets import MarketSpec
from perpsim.risk import liqprice as _lp
from perpsim.risk import margin as _mg
from perpsim.risk.brackets import Bracket, Brackets
from perpsim.risk.preview.grid import (
    Grid,
    bracket_money,
    bracket_row,
    display_money_places,
    display_price_step,
    grid_brackets,
    parse_instrument,
)
from perpsim.risk.preview.inputs import (
    MAX_LEVERAGE,
    Number,
    Rounding,
    RowInput,
    arguments_of,
    parse_decimal,
    parse_direction,
    parse_leverage,
    parse_model,
    parse_positive,
    parse_rate,
    parse_rounding,
    round_money,
    round_pct,
    round_price,
)
from perpsim.risk.preview.integer_position import IntegerPosition, liquidation_band
from perpsim.risk.units import RATE_SCALE


@dataclass(frozen=True, slots=True)
class LiquidationStage:
    """One step of the liquidation band: at ``price`` (display-rounded like the LP) the position
    of ``size_before`` is reduced to ``size_after`` (0: fully liquidated). ``bracket``: the
    bracket at that price (bybit: at entry) before the reduction."""

    kind: str  # "partial" | "full"
    price: Decimal
    bracket: int
    size_before: Decimal
    size_after: Decimal


@dataclass(frozen=True, slots=True)
class PositionPreview:
    """Everything about one hypothetical position. Money in ``asset`` (the settlement asset;
    None when no market names it), prices in quote per base, percentages as numbers of percent.
    Rounding of each field: `risk.preview.inputs`, "Display rounding". None: no such value ("--")."""

    side: str
    size: Decimal
    entry_price: Decimal
    mark_price: Decimal
    leverage: int | None
    margin_mode: str
    profile: str
    asset: str | None
    #: |size| × mark (linear) or |contracts| × contract_size / mark (inverse, in coin).
    notional: Decimal
    unrealized_pnl: Decimal
    #: The wallet the formulas use: the isolated margin, or the cross wallet balance.
    wallet_balance: Decimal
    #: wallet + uPnL (+ other positions' uPnL in cross).
    margin_balance: Decimal
    #: notional at mark / leverage (Binance positionRisk, A5); None without a leverage.
    initial_margin: Decimal | None
    #: This position's MM: notional at mark × mmr − cum (bybit: at entry).
    maintenance_margin: Decimal
    bracket: int
    mmr: Decimal
    cum: Decimal
    #: (MM + other MM) / margin balance × 100; None when the margin balance is <= 0.
    margin_ratio_pct: Decimal | None
    liquidation_price: Decimal | None
    bankruptcy_price: Decimal | None
    #: How far the mark can move against the position before it reaches the exact LP, in % of
    #: the mark; negative when the mark is already beyond it.
    liquidation_distance_pct: Decimal | None
    #: The bracket at the liquidation price (bybit: at entry).
    liquidation_bracket: int | None
    partial_liquidation_price: Decimal | None
    full_liquidation_price: Decimal | None
    stages: tuple[LiquidationStage, ...]
    warnings: tuple[str, ...]


def preview_position(
    *,
    side: Side | str,
    size: Number,
    entry: Number,
    leverage: Number | None = None,
    wallet: Number | None = None,
    mark: Number | None = None,
    margin_mode: str = "isolated",
    other_mm: Number = 0,
    other_upnl: Number = 0,
    market: MarketSpec | str | None = None,
    contract_size: Number | None = None,
    mmr: Number | None = None,
    cum: Number | None = None,
    brackets: Sequence[RowInput] | None = None,
    profile: _lp.LiquidationModel | str = "binance",
    liquidation_fee: Number = 0,
    price_step: Number | None = None,
    money_places: int | None = None,
    rounding: Rounding | str = Rounding.VENUE,
) -> PositionPreview:
    """Preview one position: margins, margin ratio, liquidation and bankruptcy price, distance
    to liquidation and the liquidation band (module docstring; units and rounding:
    `risk.preview.inputs`; brackets: `risk.preview.grid`).

    side, size, entry: the position (one-way). leverage: for the initial margin; in isolated
    mode also the default wallet. wallet: isolated — the position's margin (default: notional
    at entry / leverage, what opening at that leverage puts in); cross — the cross wallet
    balance (required). mark: default the entry. other_mm, other_upnl: maintenance margin and
    uPnL of the account's other cross positions (TMM1, UPNL1; cross only). liquidation_fee: the
    rate charged on the amount closed by a partial liquidation (band only; default 0).
    """
    rnd = parse_rounding(rounding)
    model = parse_model(profile)
    direction = parse_direction(side)
    mode = str(margin_mode).lower()
    if mode not in ("isolated", "cross"):
        raise ValueError(f"margin_mode must be 'isolated' or 'cross', got {margin_mode!r}")
    size_d = parse_positive(size, "size")
    entry_d = parse_positive(entry, "entry")
    mark_d = entry_d if mark is None else parse_positive(mark, "mark")
    lev = None if leverage is None else parse_leverage(leverage)
    wallet_d = None if wallet is None else parse_decimal(wallet, "wallet")
    if wallet_d is not None and wallet_d < 0:
        raise ValueError(f"wallet must be >= 0, got {wallet}")
    other_mm_d, other_upnl_d = parse_decimal(other_mm, "other_mm"), parse_decimal(other_upnl, "other_upnl")
    if other_mm_d < 0:
        raise ValueError(f"other_mm must be >= 0, got {other_mm}")
    if mode == "isolated" and (other_mm_d or other_upnl_d):
        raise ValueError("other positions' MM and uPnL count in cross margin only")
    if mode == "cross" and wallet_d is None:
        raise ValueError("cross margin needs the cross wallet balance")
    if wallet_d is None and lev is None:
        raise ValueError("give the isolated wallet (margin) or the leverage")
    fee_d = parse_decimal(liquidation_fee, "liquidation_fee")
    fee_rate = parse_rate(fee_d, "liquidation_fee")
    if not 0 <= fee_rate < RATE_SCALE:
        raise ValueError(f"liquidation_fee must be in [0, 1), got {liquidation_fee}")

    inst = parse_instrument(market, contract_size)
    moneys = [x for x in (wallet_d, other_mm_d, other_upnl_d) if x is not None] + bracket_money(brackets, cum)
    grid = Grid.build(inst, [entry_d, mark_d], [size_d], moneys)
    table = grid_brackets(grid, mmr, cum, brackets)
    step = display_price_step(price_step, inst, [entry_d, mark_d])
    places = display_money_places(money_places, inst)

    lots, ep, mk = grid.lots(size_d), grid.ticks(entry_d), grid.ticks(mark_d)
    pos = IntegerPosition(grid, table, model, direction, ep, grid.units(other_mm_d), grid.units(other_upnl_d))
    notional_mark, notional_entry = pos.notional(lots, mk), pos.notional(lots, ep)
    wallet_units = grid.units(wallet_d) if wallet_d is not None else _mg.initial_margin(notional_entry, lev)
    im = None if lev is None else _mg.initial_margin(notional_mark, lev)
    upnl = pos.upnl(lots, mk)
    mm_bracket = table.for_notional(pos.mm_notional(lots, mk))
    mm = pos.mm(lots, mk)
    balance = _mg.margin_balance(wallet_units, [pos.other_upnl, upnl])  # type: ignore[list-item]
    ratio = _mg.margin_ratio(pos.other_mm + mm, balance)  # exact; None when balance <= 0

    lp = pos.liquidation(lots, wallet_units)
    bp = pos.bankruptcy(lots, wallet_units)
    stages = liquidation_band(pos, lots, wallet_units, fee_rate, grid.lot_step())

    def money(x: Fraction | int) -> Decimal:
        return round_money(grid.money(x), places, rnd)

    def price(x: _lp.LiqPrice | None) -> Decimal | None:
        return None if x is None else round_price(x.price, step, x.trigger, rnd)

    distance = None
    if lp is not None:
        away = 1 if lp.trigger is _lp.Trigger.AT_OR_BELOW else -1
        distance = round_pct(away * (Fraction(mark_d) - lp.price) / Fraction(mark_d), dm.Round.FLOOR, rnd)
    shown = tuple(
        LiquidationStage("full" if st.lots_after == 0 else "partial",
                         round_price(st.lp.price, step, st.lp.trigger, rnd),
                         st.lp.brackets[0].number, grid.size(st.lots_before), grid.size(st.lots_after))
        for st in stages
    )
    full = shown[-1].price if shown and shown[-1].size_after == 0 else None

    warnings = []
    if lev is not None:
        allowed = table.max_leverage_for(notional_entry)
        if lev > allowed:
            warnings.append(f"leverage {lev}x exceeds the bracket's maximum {allowed}x at this notional")
    if table.max_notional < notional_entry:
        warnings.append("the notional exceeds the last bracket's cap")
    if distance is not None and distance <= 0:
        warnings.append("the mark is already at or beyond the liquidation price")
    if lp is None:
        warnings.append("no liquidation price (shown as --): the mark alone never liquidates this position, "
                        "or it is liquidatable at every price")
    row = bracket_row(grid, mm_bracket, mmr is not None)
    return PositionPreview(
        side="long" if direction > 0 else "short",
        size=size_d,
        entry_price=entry_d,
        mark_price=mark_d,
        leverage=lev,
        margin_mode=mode,
        profile=model.value,
        asset=inst.asset,
        notional=money(notional_mark),
        unrealized_pnl=money(upnl),
        wallet_balance=money(wallet_units),
        margin_balance=money(balance),
        initial_margin=None if im is None else money(im),
        maintenance_margin=money(mm),
        bracket=row.number,
        mmr=row.mmr,
        cum=row.cum,
        margin_ratio_pct=None if ratio is None else round_pct(ratio, dm.Round.CEILING, rnd),
        liquidation_price=price(lp),
        bankruptcy_price=price(bp),
        liquidation_distance_pct=distance,
        liquidation_bracket=None if lp is None else lp.brackets[0].number,
        partial_liquidation_price=shown[0].price if shown else None,
        full_liquidation_price=full,
        stages=shown,
        warnings=tuple(warnings),
    )


@arguments_of(preview_position)
def liquidation_price(**kwargs: object) -> Decimal | None:
    """The liquidation price of `preview_position` (same arguments), display-rounded: to the
    price step, up for a long and down for a short (``rounding="venue"``). None: no positive
    price liquidates the position ("--")."""
    return preview_position(**kwargs).liquidation_price  # type: ignore[arg-type]


def bankruptcy_price(
    *,
    side: Side | str,
    size: Number,
    entry: Number,
    leverage: Number | None = None,
    wallet: Number | None = None,
    margin_mode: str = "isolated",
    other_upnl: Number = 0,
    market: MarketSpec | str | None = None,
    contract_size: Number | None = None,
    price_step: Number | None = None,
    rounding: Rounding | str = Rounding.VENUE,
) -> Decimal | None:
    """The price at which the margin balance is 0 (§4.1 [D]): `risk.liqprice.bankruptcy_price`
    (inverse: `inverse_bankruptcy_price`). Arguments as `preview_position`; brackets play no
    part. Rounded like the liquidation price (up for a long, down for a short). None: no
    positive price (e.g. a 1x long)."""
    rnd = parse_rounding(rounding)
    direction = parse_direction(side)
    mode = str(margin_mode).lower()
    if mode not in ("isolated", "cross"):
        raise ValueError(f"margin_mode must be 'isolated' or 'cross', got {margin_mode!r}")
    size_d, entry_d = parse_positive(size, "size"), parse_positive(entry, "entry")
    lev = None if leverage is None else parse_leverage(leverage)
    wallet_d = None if wallet is None else parse_decimal(wallet, "wallet")
    other_upnl_d = parse_decimal(other_upnl, "other_upnl")
    if mode == "isolated" and other_upnl_d:
        raise ValueError("other positions' uPnL counts in cross margin only")
    if wallet_d is None and (mode == "cross" or lev is None):
        raise ValueError("give the wallet" + ("" if mode == "cross" else " (isolated margin) or the leverage"))
    inst = parse_instrument(market, contract_size)
    grid = Grid.build(inst, [entry_d], [size_d], [x for x in (wallet_d, other_upnl_d) if x is not None])
    fixed = Brackets([Bracket(1, 0, 1, MAX_LEVERAGE, 0, 0)])  # unused: BP has no MM
    pos = IntegerPosition(grid, fixed, _lp.LiquidationModel.BINANCE, direction, grid.ticks(entry_d), 0,
                    grid.units(other_upnl_d))
    lots = grid.lots(size_d)
    wallet_units = grid.units(wallet_d) if wallet_d is not None else _mg.initial_margin(
        pos.notional(lots, pos.entry), lev)
    bp = pos.bankruptcy(lots, wallet_units)
    if bp is None:
        return None
    return round_price(bp.price, display_price_step(price_step, inst, [entry_d]), bp.trigger, rnd)

