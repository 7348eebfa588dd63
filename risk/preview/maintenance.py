"""Maintenance margin at a price and the bracket table (venue-mechanics §3.1).

MM = notional × MMR − cum with the bracket of that notional (`risk.margin`); the bracket
arguments are those of `risk.preview.grid`. Rounding: notional, maintenance and initial margin
as money (`risk.preview.inputs`, "Display rounding": truncated to ``money_places`` by default);
the bracket table exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from perpsim.model import decimals as dm
from perpsim.model.markets import MarketSpec
from perpsim.risk import liqprice as _lp
from perpsim.risk import margin as _mg
from perpsim.risk.preview.grid import (
    BracketRow,
    Grid,
    bracket_money,
    bracket_row,
    display_money_places,
    grid_brackets,
    parse_instrument,
)
from perpsim.risk.preview.inputs import (
    Number,
    Rounding,
    RowInput,
    arguments_of,
    parse_leverage,
    parse_positive,
    parse_rounding,
    round_money,
)
from perpsim.risk.preview.integer_position import IntegerPosition


@dataclass(frozen=True, slots=True)
class Maintenance:
    """Maintenance margin of a position at ``price``: notional and MM in the settlement asset
    (truncated like all money), the bracket used, and IM = notional / leverage if given."""

    notional: Decimal
    bracket: BracketRow
    maintenance_margin: Decimal
    initial_margin: Decimal | None
    asset: str | None


def maintenance(
    *,
    size: Number,
    price: Number,
    leverage: Number | None = None,
    market: MarketSpec | str | None = None,
    contract_size: Number | None = None,
    mmr: Number | None = None,
    cum: Number | None = None,
    brackets: Sequence[RowInput] | None = None,
    money_places: int | None = None,
    rounding: Rounding | str = Rounding.VENUE,
) -> Maintenance:
    """MM = notional × MMR − cum with the bracket of that notional (§3.1,
    `risk.margin.maintenance_margin_exact`); ``price`` is the mark for a position's MM."""
    rnd = parse_rounding(rounding)
    size_d, price_d = parse_positive(size, "size"), parse_positive(price, "price")
    lev = None if leverage is None else parse_leverage(leverage)
    inst = parse_instrument(market, contract_size)
    grid = Grid.build(inst, [price_d], [size_d], bracket_money(brackets, cum))
    table = grid_brackets(grid, mmr, cum, brackets)
    pos = IntegerPosition(grid, table, _lp.LiquidationModel.BINANCE, 1, grid.ticks(price_d), 0, 0)
    lots, px = grid.lots(size_d), grid.ticks(price_d)
    notional = pos.notional(lots, px)
    places = display_money_places(money_places, inst)
    im = None if lev is None else round_money(grid.money(_mg.initial_margin(notional, lev)), places, rnd)
    return Maintenance(
        notional=round_money(grid.money(notional), places, rnd),
        bracket=bracket_row(grid, table.for_notional(notional), mmr is not None),
        maintenance_margin=round_money(grid.money(pos.mm(lots, px)), places, rnd),
        initial_margin=im,
        asset=inst.asset,
    )


@arguments_of(maintenance)
def maintenance_margin(**kwargs: object) -> Decimal:
    """The maintenance margin of `maintenance` (same arguments), truncated to money_places."""
    return maintenance(**kwargs).maintenance_margin  # type: ignore[arg-type]


def bracket_table(
    *,
    market: MarketSpec | str | None = None,
    contract_size: Number | None = None,
    mmr: Number | None = None,
    cum: Number | None = None,
    brackets: Sequence[RowInput] | None = None,
) -> tuple[BracketRow, ...]:
    """The bracket table a calculation would use, with the cum column of the recursion
    (`risk.brackets.Brackets.from_rows`), exact. Same bracket arguments as the others."""
    inst = parse_instrument(market, contract_size)
    moneys = bracket_money(brackets, cum)
    m = max([8] + [dm.places(x) for x in moneys]) + 8
    grid = Grid(0, 0, m, inst)
    table = grid_brackets(grid, mmr, cum, brackets)
    return tuple(bracket_row(grid, b, mmr is not None) for b in table)

