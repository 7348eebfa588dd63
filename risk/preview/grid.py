"""The instrument of a calculation and its exact integer grid (the units of `risk.preview`).

The exact integer grid
----------------------
The tick, lot and money unit are derived from the inputs so that each input is an integer on
them: tick = 10**-p with p the most decimal places of any price input, lot = 10**-q likewise for
sizes and the lot step, and money unit = 10**-m with m = max(p + q + 8, places of any money input) + 4, so that
K = tick × lot × 10**m is an integer and notional × MMR (MMR has 8 decimals) is exact. No input
is ever rounded. The risk functions round what they must (margins up, PnL down) at that money
unit, four digits finer than the inputs need (the default display is far coarser), and the
liquidation and bankruptcy prices come back as exact fractions.

The instrument
--------------
* ``market``: a symbol of `default_markets()` ("BTCUSDT", "ETHUSDT", "BTCUSD") or a
  `MarketSpec`. It fixes linear vs inverse, the contract size, the settlement asset, the price
  step used for display and the lot step of a partial liquidation. Prices need not lie on its
  tick: an average entry price usually does not.
* ``contract_size`` without a market: an inverse (COIN-M) contract of that face value in quote
  (100 for BTCUSD). Neither: a linear contract. Without a market the lot step is 0.001 (linear)
  or 1 contract (inverse).
* brackets: ``mmr`` (+ ``cum``, default 0) is one fixed bracket — MM = notional × mmr − cum at
  every notional, nothing is re-picked. ``brackets`` is a table of ``(cap, max_leverage, mmr)``
  rows (caps in the settlement asset) whose cum column comes from the recursion in
  `risk.brackets`. Neither: the venue's default table (`default_brackets`): the illustrative
  BTCUSDT table of §3.1 for a linear contract, the COIN-M table (caps in coin) for an inverse one.
  A bracket shown back (`BracketRow`) is exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from perpsim.model import decimals as dm
from perpsim.model.markets import MarketKind, MarketSpec
from perpsim.risk import margin as _mg
from perpsim.risk.brackets import Bracket, Brackets, default_brackets
from perpsim.risk.preview.inputs import (
    MAX_LEVERAGE,
    Number,
    RowInput,
    parse_decimal,
    parse_leverage,
    parse_market,
    parse_positive,
    parse_rate,
)
from perpsim.risk.units import RATE_SCALE

#: Guard digits of the money unit beyond what the inputs need (see "The exact integer grid").
_GUARD = 4
#: A fixed bracket (mmr + cum) covers every notional: its cap, in whole settlement units.
_FIXED_CAP = 10**40


@dataclass(frozen=True, slots=True)
class Instrument:
    """What the market (or contract_size) fixes: linear or inverse, contract size, settlement
    asset, lot step (module docstring, "The instrument")."""

    inverse: bool
    contract_size: Decimal  # quote per contract (inverse); 1 for linear
    asset: str | None  # settlement asset, when a market names it
    market: MarketSpec | None
    #: The tradable size step, the granularity of a partial liquidation: the market's lot;
    #: without a market 0.001 (linear, as BTCUSDT) or 1 contract (inverse).
    lot: Decimal


def parse_instrument(market: MarketSpec | str | None, contract_size: Number | None) -> Instrument:
    """The instrument of a market (symbol or spec) or contract size; neither: linear."""
    spec = parse_market(market)
    cs = None if contract_size is None else parse_positive(contract_size, "contract_size")
    if spec is None:
        if cs is None:
            return Instrument(False, Decimal(1), None, None, Decimal("0.001"))
        return Instrument(True, cs, None, None, Decimal(1))
    inverse = spec.kind is MarketKind.INVERSE
    if cs is not None and (not inverse or cs != spec.contract_size):
        raise ValueError(f"contract_size {cs} conflicts with market {spec.symbol}")
    return Instrument(inverse, spec.contract_size, spec.settle, spec, spec.lot_size)


@dataclass(frozen=True, slots=True)
class Grid:
    """The integer units of one calculation: tick 10**-p, lot 10**-q, money 10**-m."""

    p: int
    q: int
    m: int
    inst: Instrument

    @classmethod
    def build(cls, inst: Instrument, prices: Iterable[Decimal], sizes: Iterable[Decimal],
              moneys: Iterable[Decimal]) -> Grid:
        """The grid of `inst` for these inputs: p, q the most decimals of any price (and the market's tick)
        and size (and the lot step); m = max(p + q + 8, decimals of any money) + 4 guard digits."""
        spec = inst.market
        p = max([dm.places(x) for x in prices] + [dm.places(spec.tick_size) if spec else 0])
        q = max([dm.places(x) for x in sizes] + [dm.places(inst.lot)])
        money_places = max([dm.places(x) for x in moneys] + [0])
        m = max(p + q + 8, money_places) + _GUARD
        return cls(p, q, m, inst)

    @property
    def tick(self) -> Fraction:
        """The tick as a price (quote per base): 10**-p, exact."""
        return Fraction(1, 10**self.p)

    @property
    def money_scale(self) -> int:
        """Money units per whole unit of the settlement asset: 10**m."""
        return 10**self.m

    @property
    def K(self) -> int:
        """Linear: money units of one lot at one tick."""
        return 10 ** (self.m - self.p - self.q)

    @property
    def K_inv(self) -> Fraction:
        """Inverse: `risk.margin.inverse_k` of one lot (10**-q contracts)."""
        return _mg.inverse_k(Fraction(self.inst.contract_size) / 10**self.q, self.tick, self.money_scale)

    def ticks(self, price: Decimal) -> int:
        """`price` in ticks, exact (ValueError if it has more than p decimals)."""
        return dm.to_int(price, self.p)

    def lots(self, size: Decimal) -> int:
        """`size` in lots, exact (ValueError if it has more than q decimals)."""
        return dm.to_int(size, self.q)

    def units(self, money: Decimal) -> int:
        """`money` in money units, exact (ValueError if it has more than m decimals)."""
        return dm.to_int(money, self.m)

    def price(self, ticks: Fraction | int) -> Fraction:
        """The price (quote per base) of `ticks` ticks, exact."""
        return Fraction(ticks) * self.tick

    def money(self, units: Fraction | int) -> Fraction:
        """`units` money units as an amount of the settlement asset, exact."""
        return Fraction(units, self.money_scale)

    def size(self, lots: int) -> Decimal:
        """`lots` lots as a size: a Decimal with exactly q decimals."""
        return dm.scaled(lots, -self.q)

    def lot_step(self) -> int:
        """Lots per tradable step (`Instrument.lot`)."""
        return dm.to_int(self.inst.lot, self.q)


def grid_brackets(grid: Grid, mmr: Number | None, cum: Number | None,
                  rows: Sequence[RowInput] | None) -> Brackets:
    """The bracket table in the grid's money units (module docstring, "The instrument")."""
    if mmr is not None and rows is not None:
        raise ValueError("give either mmr (+ cum) or a bracket table, not both")
    if mmr is not None:
        mmr_scaled = parse_rate(mmr, "mmr")
        if not 0 <= mmr_scaled < RATE_SCALE:
            raise ValueError(f"mmr must be in [0, 1), got {mmr}")
        cum_dec = parse_decimal(cum if cum is not None else 0, "cum")
        if cum_dec < 0:
            raise ValueError(f"cum must be >= 0, got {cum}")
        cap = _FIXED_CAP * grid.money_scale
        return Brackets([Bracket(1, 0, cap, MAX_LEVERAGE, mmr_scaled, grid.units(cum_dec))])
    if cum is not None:
        raise ValueError("cum needs mmr")
    if rows is not None:
        return _table(grid, rows)
    if grid.inst.market is not None and grid.inst.market.brackets:  # the market's own table
        return _table(grid, grid.inst.market.brackets)
    return default_brackets(grid.inst.inverse, grid.money_scale)


def _parse_rows(rows: Sequence[RowInput]) -> list[tuple[Decimal, int, int]]:
    out = []
    if not rows:
        raise ValueError("a bracket table needs at least one row")
    for i, row in enumerate(rows, start=1):
        if len(row) != 3:
            raise ValueError(f"bracket row {i}: expected (cap, max_leverage, mmr), got {row!r}")
        cap, lev, mmr = row
        out.append((parse_positive(cap, f"bracket {i} cap"), parse_leverage(lev), parse_rate(mmr, f"bracket {i} mmr")))
    return out


def _table(grid: Grid, rows: Sequence[RowInput]) -> Brackets:
    parsed = _parse_rows(rows)
    return Brackets.from_rows((grid.units(cap), lev, mmr) for cap, lev, mmr in parsed)


def bracket_money(rows: Sequence[RowInput] | None, cum: Number | None) -> list[Decimal]:
    """The money inputs among the bracket arguments (cum, caps): they size the money unit."""
    out = [] if cum is None else [parse_decimal(cum, "cum")]
    if rows is not None:
        out += [cap for cap, _, _ in _parse_rows(rows)]
    return out


@dataclass(frozen=True, slots=True)
class BracketRow:
    """One bracket for display. floor, cap, cum in the settlement asset (exact); mmr a fraction
    (0.004 = 0.4 %). A fixed bracket (mmr + cum) has cap and max_leverage None (no limit)."""

    number: int
    floor: Decimal
    cap: Decimal | None
    max_leverage: int | None
    mmr: Decimal
    cum: Decimal


def bracket_row(grid: Grid, b: Bracket, fixed: bool) -> BracketRow:
    """A bracket of the grid's money units for display, exact."""

    def money(units: int) -> Decimal:
        return dm.exact_decimal(grid.money(units))

    return BracketRow(b.number, money(b.floor), None if fixed else money(b.cap), None if fixed else b.max_leverage,
                      dm.exact_decimal(Fraction(b.mmr, RATE_SCALE)), money(b.cum))


def display_price_step(price_step: Number | None, inst: Instrument, prices: Sequence[Decimal]) -> Decimal:
    """The step display prices are rounded to: given, the market's tick, or 10**-max(2, places)."""
    if price_step is not None:
        return parse_positive(price_step, "price_step")
    if inst.market is not None:
        return inst.market.tick_size
    return dm.scaled(1, -max([2] + [dm.places(x) for x in prices]))


def display_money_places(money_places: int | None, inst: Instrument) -> int:
    """Decimals money is shown with: given (0..30), else 2 (quote asset) or 8 (coin)."""
    if money_places is None:
        return 8 if inst.inverse else 2
    if isinstance(money_places, bool) or not isinstance(money_places, int) or not 0 <= money_places <= 30:
        raise ValueError(f"money_places must be an integer in 0..30, got {money_places!r}")
    return money_places

