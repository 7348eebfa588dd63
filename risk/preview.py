"""Previews and a risk calculator: Decimal in, Decimal out.

What a trader asks before sending an order — where would this position be liquidated, what is
its bankruptcy price, its initial and maintenance margin, its margin ratio, how far is the
liquidation from the mark, what does the order cost to open, what is the funding rate — as
functions over exact decimals (venue-mechanics §2, §3.1, §4.1–4.3, §8). The `perpsim calc`
command (cli/calc.py) is a thin shell over them.

No formula lives here. Each function converts its decimal inputs to the integer units of the
risk layer exactly, calls the one implementation in `risk.margin`, `risk.liqprice`,
`risk.brackets` or `risk.funding`, and converts the exact result back for display.

Units of the inputs
-------------------
* prices in quote per base (USDT per BTC; USD per BTC for COIN-M);
* ``size`` > 0 with ``side`` "long"/"short" (orders: "buy"/"sell"): base units for a linear
  market, contracts for an inverse (COIN-M) one;
* money (wallet, other positions' MM and uPnL, ``cum``, bracket caps) in the settlement asset:
  the quote (USDT) for linear, the coin (BTC) for inverse;
* rates as decimal fractions: ``mmr="0.004"`` is 0.4 %, ``premium="-0.00184"``.

Every input is a ``Decimal``, ``str`` or ``int``; a float is refused with TypeError, bad input
raises ValueError with a message naming the field.

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
* ``profile``: "binance" (MM at the liquidation price, bracket re-picked there) or "bybit" (MM
  at the entry notional, Bybit classic) — `risk.liqprice.LiquidationModel`. The bybit model is
  linear only.

Display rounding (each output states it)
----------------------------------------
``rounding="venue"`` (the default):

* liquidation, bankruptcy and band prices: to ``price_step`` in the conservative direction — up
  for a long, down for a short (`risk.liqprice.round_to_tick`) — so the shown price is reached
  no later than the exact one; the engine's liquidation trigger rounds the same way. Default
  step: the market's tick, otherwise 10**-max(2, decimal places of the entry and mark).
* money (margins, cost, notional, PnL, balances): truncated toward zero to ``money_places``
  decimals (default 2 for a quote asset such as USDT, 8 for a coin). Binance shows the initial
  margin 462.665 as 462.66 (A4): not half-up; truncation fits every published figure.
* margin ratio (%): 2 decimals rounded up (the riskier reading); liquidation distance (%):
  2 decimals rounded down (toward −∞: the smaller margin of safety).
* rates (funding): exact — the rate arithmetic of `risk.funding` has no rounding.

``rounding="nearest"`` rounds every one of those half-to-even at the same precision. The
figures the spec derives itself (A2 "19,698.49", A3 "19,076.3052 / 20,916.3347") are nearest
roundings of the exact value; the venue display of the same long is one step higher.

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

import inspect
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from fractions import Fraction

from perpsim.model import decimals as dm
from perpsim.model.enums import Side
from perpsim.model.markets import MarketKind, MarketSpec, default_markets
from perpsim.risk import funding as _funding
from perpsim.risk import liqprice as _lp
from perpsim.risk import margin as _mg
from perpsim.risk.brackets import Bracket, Brackets, default_brackets
from perpsim.risk.units import RATE_SCALE, apply_rate_up, rate

__all__ = [
    "BracketRow",
    "LiquidationStage",
    "Maintenance",
    "OrderCost",
    "PositionPreview",
    "Rounding",
    "bankruptcy_price",
    "bracket_table",
    "funding_rate",
    "impact_notional",
    "liquidation_price",
    "maintenance",
    "maintenance_margin",
    "order_cost",
    "preview_position",
]

Number = Decimal | str | int
RowInput = tuple[Number, Number, Number]

#: Guard digits of the money unit beyond what the inputs need (see "The exact integer grid").
_GUARD = 4
#: Inputs are bounded so that no derived integer is huge: |exponent| <= 30, <= 40 digits.
_MAX_ADJUSTED = 30
_MAX_DIGITS = 40
_MAX_LEVERAGE = 1000
#: A fixed bracket (mmr + cum) covers every notional: its cap, in whole settlement units.
_FIXED_CAP = 10**40
_MAX_STAGES = 10_000


class Rounding(StrEnum):
    #: The venue's display: conservative prices, truncated money (module docstring).
    VENUE = "venue"
    #: Half-to-even everywhere, at the same precision.
    NEAREST = "nearest"


# --- inputs and display rounding (the exact decimal <-> integer edge: model/decimals.py) ------


def _dec(value: object, field: str) -> Decimal:
    """An exact, finite, bounded Decimal from a Decimal, str or int; floats refused."""
    dm.refuse_inexact(value, field)
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{field}: {value!r} is not a decimal number") from None
    if not number.is_finite():
        raise ValueError(f"{field}: {value!r} is not a finite number")
    if len(number.as_tuple().digits) > _MAX_DIGITS or (number and abs(number.adjusted()) > _MAX_ADJUSTED):
        raise ValueError(f"{field}: {value!r} is out of range")
    return number


def _positive(value: object, field: str) -> Decimal:
    number = _dec(value, field)
    if number <= 0:
        raise ValueError(f"{field} must be > 0, got {value}")
    return number


def _money_round(x: Fraction, places: int, rounding: Rounding) -> Decimal:
    how = dm.Round.DOWN if rounding is Rounding.VENUE else dm.Round.HALF_EVEN
    return dm.round_to_step(x, dm.scaled(1, -places), how)


def _price_round(x: Fraction, step: Decimal, trigger: _lp.Trigger, rounding: Rounding) -> Decimal:
    if rounding is Rounding.NEAREST:
        return dm.round_to_step(x, step, dm.Round.HALF_EVEN)
    sn, se = dm.int_exp(step)
    return dm.scaled(_lp.round_to_tick(x / Fraction(step), trigger) * sn, se)


def _pct_round(x: Fraction, how: dm.Round, rounding: Rounding) -> Decimal:
    return dm.round_to_step(x * 100, Decimal("0.01"), how if rounding is Rounding.VENUE else dm.Round.HALF_EVEN)


def _rounding(value: Rounding | str) -> Rounding:
    try:
        return Rounding(value)
    except ValueError:
        raise ValueError(f"rounding must be 'venue' or 'nearest', got {value!r}") from None


def _model(profile: _lp.LiquidationModel | str) -> _lp.LiquidationModel:
    """A LiquidationModel, its value ("binance", "bybit"), or anything carrying one as
    ``liquidation_model`` (a venue profile)."""
    profile = getattr(profile, "liquidation_model", profile)
    if isinstance(profile, _lp.LiquidationModel):
        return profile
    try:
        return _lp.LiquidationModel(str(profile).lower())
    except ValueError:
        raise ValueError(f"profile must be 'binance' or 'bybit', got {profile!r}") from None


def _direction(side: Side | str) -> int:
    """+1 for long/buy, −1 for short/sell."""
    if isinstance(side, Side):
        return 1 if side is Side.BUY else -1
    name = str(side).lower()
    if name in ("long", "buy"):
        return 1
    if name in ("short", "sell"):
        return -1
    raise ValueError(f"side must be long/short (or buy/sell), got {side!r}")


def _leverage(value: object) -> int:
    number = _dec(value, "leverage")
    if number != number.to_integral_value() or not 1 <= number <= _MAX_LEVERAGE:
        raise ValueError(f"leverage must be a whole number in 1..{_MAX_LEVERAGE}, got {value}")
    return int(number)


def _rate(value: object, field: str) -> int:
    number = _dec(value, field)
    try:
        return rate(number)
    except ValueError:
        raise ValueError(f"{field}: {value} is finer than 1e-8") from None


def _market(market: MarketSpec | str | None) -> MarketSpec | None:
    if market is None or isinstance(market, MarketSpec):
        return market
    markets = default_markets()
    spec = markets.get(str(market).upper())
    if spec is None:
        raise ValueError(f"unknown market {market!r}; known: {', '.join(sorted(markets))}")
    return spec


# --- instrument and grid ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Instrument:
    inverse: bool
    contract_size: Decimal  # quote per contract (inverse); 1 for linear
    asset: str | None  # settlement asset, when a market names it
    market: MarketSpec | None
    #: The tradable size step, the granularity of a partial liquidation: the market's lot;
    #: without a market 0.001 (linear, as BTCUSDT) or 1 contract (inverse).
    lot: Decimal


def _instrument(market: MarketSpec | str | None, contract_size: Number | None) -> _Instrument:
    spec = _market(market)
    cs = None if contract_size is None else _positive(contract_size, "contract_size")
    if spec is None:
        if cs is None:
            return _Instrument(False, Decimal(1), None, None, Decimal("0.001"))
        return _Instrument(True, cs, None, None, Decimal(1))
    inverse = spec.kind is MarketKind.INVERSE
    if cs is not None and (not inverse or cs != spec.contract_size):
        raise ValueError(f"contract_size {cs} conflicts with market {spec.symbol}")
    return _Instrument(inverse, spec.contract_size, spec.settle, spec, spec.lot_size)


@dataclass(frozen=True, slots=True)
class _Grid:
    """The integer units of one calculation: tick 10**-p, lot 10**-q, money 10**-m."""

    p: int
    q: int
    m: int
    inst: _Instrument

    @classmethod
    def build(cls, inst: _Instrument, prices: Iterable[Decimal], sizes: Iterable[Decimal],
              moneys: Iterable[Decimal]) -> _Grid:
        spec = inst.market
        p = max([dm.places(x) for x in prices] + [dm.places(spec.tick_size) if spec else 0])
        q = max([dm.places(x) for x in sizes] + [dm.places(inst.lot)])
        money_places = max([dm.places(x) for x in moneys] + [0])
        m = max(p + q + 8, money_places) + _GUARD
        return cls(p, q, m, inst)

    @property
    def tick(self) -> Fraction:
        return Fraction(1, 10**self.p)

    @property
    def money_scale(self) -> int:
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
        return dm.to_int(price, self.p)

    def lots(self, size: Decimal) -> int:
        return dm.to_int(size, self.q)

    def units(self, money: Decimal) -> int:
        return dm.to_int(money, self.m)

    def price(self, ticks: Fraction | int) -> Fraction:
        return Fraction(ticks) * self.tick

    def money(self, units: Fraction | int) -> Fraction:
        return Fraction(units, self.money_scale)

    def size(self, lots: int) -> Decimal:
        return dm.scaled(lots, -self.q)

    def lot_step(self) -> int:
        """Lots per tradable step (`_Instrument.lot`)."""
        return dm.to_int(self.inst.lot, self.q)


def _brackets(grid: _Grid, mmr: Number | None, cum: Number | None,
              rows: Sequence[RowInput] | None) -> Brackets:
    """The bracket table in the grid's money units (module docstring, "The instrument")."""
    if mmr is not None and rows is not None:
        raise ValueError("give either mmr (+ cum) or a bracket table, not both")
    if mmr is not None:
        mmr_scaled = _rate(mmr, "mmr")
        if not 0 <= mmr_scaled < RATE_SCALE:
            raise ValueError(f"mmr must be in [0, 1), got {mmr}")
        cum_dec = _dec(cum if cum is not None else 0, "cum")
        if cum_dec < 0:
            raise ValueError(f"cum must be >= 0, got {cum}")
        cap = _FIXED_CAP * grid.money_scale
        return Brackets([Bracket(1, 0, cap, _MAX_LEVERAGE, mmr_scaled, grid.units(cum_dec))])
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
        out.append((_positive(cap, f"bracket {i} cap"), _leverage(lev), _rate(mmr, f"bracket {i} mmr")))
    return out


def _table(grid: _Grid, rows: Sequence[RowInput]) -> Brackets:
    parsed = _parse_rows(rows)
    return Brackets.from_rows((grid.units(cap), lev, mmr) for cap, lev, mmr in parsed)


def _row_money(rows: Sequence[RowInput] | None, cum: Number | None) -> list[Decimal]:
    out = [] if cum is None else [_dec(cum, "cum")]
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


def _row(grid: _Grid, b: Bracket, fixed: bool) -> BracketRow:
    def money(units: int) -> Decimal:
        return dm.exact_decimal(grid.money(units))

    return BracketRow(b.number, money(b.floor), None if fixed else money(b.cap), None if fixed else b.max_leverage,
                      dm.exact_decimal(Fraction(b.mmr, RATE_SCALE)), money(b.cum))


# --- the position, in integer units ----------------------------------------------------------


class _Position:
    """One position (signed lots at an integer entry tick) with the risk functions bound to the
    instrument: linear (`Leg`, K) or inverse (`InverseLeg`, K_inv)."""

    def __init__(self, grid: _Grid, brackets: Brackets, model: _lp.LiquidationModel, direction: int,
                 entry: int, other_mm: int, other_upnl: int) -> None:
        if grid.inst.inverse and model is not _lp.LiquidationModel.BINANCE:
            raise ValueError("the bybit profile has no inverse (COIN-M) model (risk.liqprice): use binance")
        self.g, self.brackets, self.model = grid, brackets, model
        self.s, self.entry = direction, entry
        self.other_mm, self.other_upnl = other_mm, other_upnl

    def notional(self, lots: int, price: Fraction | int) -> Fraction:
        g = self.g
        if g.inst.inverse:
            return _mg.inverse_notional_exact(lots, price, g.K_inv)
        return Fraction(_mg.notional(lots, price, g.K))

    def upnl(self, lots: int, price: Fraction | int) -> Fraction:
        """uPnL of |lots| on this position's side at ``price`` ticks, exact."""
        g, signed = self.g, self.s * lots
        if g.inst.inverse:
            return _mg.inverse_upnl_exact(signed, self.entry, price, g.K_inv)
        return Fraction(_mg.upnl(signed, signed * self.entry, price, g.K))

    def mm_notional(self, lots: int, mark: Fraction | int) -> Fraction:
        """The notional MM is computed on: at the mark (binance), at entry (bybit classic)."""
        at = self.entry if self.model is _lp.LiquidationModel.BYBIT else mark
        return self.notional(lots, at)

    def mm(self, lots: int, mark: Fraction | int) -> Fraction:
        return _mg.maintenance_margin_exact(self.mm_notional(lots, mark), self.brackets)

    def liquidation(self, lots: int, wallet: int) -> _lp.LiqPrice | None:
        g, signed = self.g, self.s * lots
        kw = dict(tick_size=g.tick, brackets=self.brackets, other_mm=self.other_mm, other_upnl=self.other_upnl)
        if g.inst.inverse:
            return _lp.inverse_liquidation_price([_lp.InverseLeg(signed, self.entry)], wallet, K_inv=g.K_inv, **kw)
        return _lp.liquidation_price([_lp.Leg(signed, signed * self.entry)], wallet, K=g.K, model=self.model, **kw)

    def bankruptcy(self, lots: int, wallet: int) -> _lp.LiqPrice | None:
        g, signed = self.g, self.s * lots
        if g.inst.inverse:
            return _lp.inverse_bankruptcy_price([_lp.InverseLeg(signed, self.entry)], wallet, K_inv=g.K_inv,
                                                tick_size=g.tick, other_upnl=self.other_upnl)
        return _lp.bankruptcy_price([_lp.Leg(signed, signed * self.entry)], wallet, K=g.K, tick_size=g.tick,
                                    other_upnl=self.other_upnl)

    def max_lots(self, cap: int, price: Fraction | int) -> int:
        """Largest lots whose MM notional at ``price`` is <= cap (money units)."""
        g = self.g
        if self.model is _lp.LiquidationModel.BYBIT:
            price = self.entry
        if g.inst.inverse:
            return math.floor(Fraction(cap) * price / g.K_inv)
        return math.floor(Fraction(cap) / (Fraction(price) * g.K))


@dataclass(frozen=True, slots=True)
class _Stage:
    lp: _lp.LiqPrice
    lots_before: int
    lots_after: int


def _stages(pos: _Position, lots: int, wallet: int, fee_rate: int, lot_step: int) -> list[_Stage]:
    """The liquidation band, stage by stage (module docstring, "Liquidation band")."""
    stages: list[_Stage] = []
    for _ in range(_MAX_STAGES):
        lp = pos.liquidation(lots, wallet)
        if lp is None:
            return stages
        bracket = lp.brackets[0]
        if bracket.number == 1:
            stages.append(_Stage(lp, lots, 0))
            return stages
        at = lp.ticks
        cap = pos.brackets[bracket.number - 2].cap
        rest = min(pos.max_lots(cap, at), lots - 1) // lot_step * lot_step
        if rest <= 0:
            stages.append(_Stage(lp, lots, 0))
            return stages
        closed = lots - rest
        realized = math.floor(pos.upnl(closed, at))
        fee = apply_rate_up(math.ceil(pos.notional(closed, at)), fee_rate)
        new_wallet = wallet + realized - fee
        balance = _mg.margin_balance(new_wallet, [pos.other_upnl, pos.upnl(rest, at)])  # type: ignore[list-item]
        if _mg.is_liquidatable(pos.other_mm + pos.mm(rest, at), balance):  # §4.2 step 4 fails
            stages.append(_Stage(lp, lots, 0))
            return stages
        stages.append(_Stage(lp, lots, rest))
        lots, wallet = rest, new_wallet
    raise ArithmeticError("liquidation band did not settle (a bug)")


# --- position preview ------------------------------------------------------------------------


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
    Rounding of each field: module docstring, "Display rounding". None: no such value ("--")."""

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
    to liquidation and the liquidation band (module docstring for units, brackets, rounding).

    side, size, entry: the position (one-way). leverage: for the initial margin; in isolated
    mode also the default wallet. wallet: isolated — the position's margin (default: notional
    at entry / leverage, what opening at that leverage puts in); cross — the cross wallet
    balance (required). mark: default the entry. other_mm, other_upnl: maintenance margin and
    uPnL of the account's other cross positions (TMM1, UPNL1; cross only). liquidation_fee: the
    rate charged on the amount closed by a partial liquidation (band only; default 0).
    """
    rnd = _rounding(rounding)
    model = _model(profile)
    direction = _direction(side)
    mode = str(margin_mode).lower()
    if mode not in ("isolated", "cross"):
        raise ValueError(f"margin_mode must be 'isolated' or 'cross', got {margin_mode!r}")
    size_d = _positive(size, "size")
    entry_d = _positive(entry, "entry")
    mark_d = entry_d if mark is None else _positive(mark, "mark")
    lev = None if leverage is None else _leverage(leverage)
    wallet_d = None if wallet is None else _dec(wallet, "wallet")
    if wallet_d is not None and wallet_d < 0:
        raise ValueError(f"wallet must be >= 0, got {wallet}")
    other_mm_d, other_upnl_d = _dec(other_mm, "other_mm"), _dec(other_upnl, "other_upnl")
    if other_mm_d < 0:
        raise ValueError(f"other_mm must be >= 0, got {other_mm}")
    if mode == "isolated" and (other_mm_d or other_upnl_d):
        raise ValueError("other positions' MM and uPnL count in cross margin only")
    if mode == "cross" and wallet_d is None:
        raise ValueError("cross margin needs the cross wallet balance")
    if wallet_d is None and lev is None:
        raise ValueError("give the isolated wallet (margin) or the leverage")
    fee_d = _dec(liquidation_fee, "liquidation_fee")
    fee_rate = _rate(fee_d, "liquidation_fee")
    if not 0 <= fee_rate < RATE_SCALE:
        raise ValueError(f"liquidation_fee must be in [0, 1), got {liquidation_fee}")

    inst = _instrument(market, contract_size)
    moneys = [x for x in (wallet_d, other_mm_d, other_upnl_d) if x is not None] + _row_money(brackets, cum)
    grid = _Grid.build(inst, [entry_d, mark_d], [size_d], moneys)
    table = _brackets(grid, mmr, cum, brackets)
    step = _price_step(price_step, inst, [entry_d, mark_d])
    places = _money_places(money_places, inst)

    lots, ep, mk = grid.lots(size_d), grid.ticks(entry_d), grid.ticks(mark_d)
    pos = _Position(grid, table, model, direction, ep, grid.units(other_mm_d), grid.units(other_upnl_d))
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
    stages = _stages(pos, lots, wallet_units, fee_rate, grid.lot_step())

    def money(x: Fraction | int) -> Decimal:
        return _money_round(grid.money(x), places, rnd)

    def price(x: _lp.LiqPrice | None) -> Decimal | None:
        return None if x is None else _price_round(x.price, step, x.trigger, rnd)

    distance = None
    if lp is not None:
        away = 1 if lp.trigger is _lp.Trigger.AT_OR_BELOW else -1
        distance = _pct_round(away * (Fraction(mark_d) - lp.price) / Fraction(mark_d), dm.Round.FLOOR, rnd)
    shown = tuple(
        LiquidationStage("full" if st.lots_after == 0 else "partial",
                         _price_round(st.lp.price, step, st.lp.trigger, rnd),
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
    row = _row(grid, mm_bracket, mmr is not None)
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
        margin_ratio_pct=None if ratio is None else _pct_round(ratio, dm.Round.CEILING, rnd),
        liquidation_price=price(lp),
        bankruptcy_price=price(bp),
        liquidation_distance_pct=distance,
        liquidation_bracket=None if lp is None else lp.brackets[0].number,
        partial_liquidation_price=shown[0].price if shown else None,
        full_liquidation_price=full,
        stages=shown,
        warnings=tuple(warnings),
    )


def _price_step(price_step: Number | None, inst: _Instrument, prices: Sequence[Decimal]) -> Decimal:
    if price_step is not None:
        return _positive(price_step, "price_step")
    if inst.market is not None:
        return inst.market.tick_size
    return dm.scaled(1, -max([2] + [dm.places(x) for x in prices]))


def _money_places(money_places: int | None, inst: _Instrument) -> int:
    if money_places is None:
        return 8 if inst.inverse else 2
    if isinstance(money_places, bool) or not isinstance(money_places, int) or not 0 <= money_places <= 30:
        raise ValueError(f"money_places must be an integer in 0..30, got {money_places!r}")
    return money_places


def _arguments_of(source: Callable[..., object]) -> Callable[[Callable[..., object]], Callable[..., object]]:
    """Give a thin alias the keyword signature of the function it reads one field of (help())."""

    def wrap(fn: Callable[..., object]) -> Callable[..., object]:
        ret = inspect.signature(fn).return_annotation
        fn.__signature__ = inspect.signature(source).replace(return_annotation=ret)  # type: ignore[attr-defined]
        return fn

    return wrap


@_arguments_of(preview_position)
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
    rnd = _rounding(rounding)
    direction = _direction(side)
    mode = str(margin_mode).lower()
    if mode not in ("isolated", "cross"):
        raise ValueError(f"margin_mode must be 'isolated' or 'cross', got {margin_mode!r}")
    size_d, entry_d = _positive(size, "size"), _positive(entry, "entry")
    lev = None if leverage is None else _leverage(leverage)
    wallet_d = None if wallet is None else _dec(wallet, "wallet")
    other_upnl_d = _dec(other_upnl, "other_upnl")
    if mode == "isolated" and other_upnl_d:
        raise ValueError("other positions' uPnL counts in cross margin only")
    if wallet_d is None and (mode == "cross" or lev is None):
        raise ValueError("give the wallet" + ("" if mode == "cross" else " (isolated margin) or the leverage"))
    inst = _instrument(market, contract_size)
    grid = _Grid.build(inst, [entry_d], [size_d], [x for x in (wallet_d, other_upnl_d) if x is not None])
    fixed = Brackets([Bracket(1, 0, 1, _MAX_LEVERAGE, 0, 0)])  # unused: BP has no MM
    pos = _Position(grid, fixed, _lp.LiquidationModel.BINANCE, direction, grid.ticks(entry_d), 0,
                    grid.units(other_upnl_d))
    lots = grid.lots(size_d)
    wallet_units = grid.units(wallet_d) if wallet_d is not None else _mg.initial_margin(
        pos.notional(lots, pos.entry), lev)
    bp = pos.bankruptcy(lots, wallet_units)
    if bp is None:
        return None
    return _price_round(bp.price, _price_step(price_step, inst, [entry_d]), bp.trigger, rnd)


# --- maintenance margin and brackets ---------------------------------------------------------


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
    rnd = _rounding(rounding)
    size_d, price_d = _positive(size, "size"), _positive(price, "price")
    lev = None if leverage is None else _leverage(leverage)
    inst = _instrument(market, contract_size)
    grid = _Grid.build(inst, [price_d], [size_d], _row_money(brackets, cum))
    table = _brackets(grid, mmr, cum, brackets)
    pos = _Position(grid, table, _lp.LiquidationModel.BINANCE, 1, grid.ticks(price_d), 0, 0)
    lots, px = grid.lots(size_d), grid.ticks(price_d)
    notional = pos.notional(lots, px)
    places = _money_places(money_places, inst)
    im = None if lev is None else _money_round(grid.money(_mg.initial_margin(notional, lev)), places, rnd)
    return Maintenance(
        notional=_money_round(grid.money(notional), places, rnd),
        bracket=_row(grid, table.for_notional(notional), mmr is not None),
        maintenance_margin=_money_round(grid.money(pos.mm(lots, px)), places, rnd),
        initial_margin=im,
        asset=inst.asset,
    )


@_arguments_of(maintenance)
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
    inst = _instrument(market, contract_size)
    moneys = _row_money(brackets, cum)
    m = max([8] + [dm.places(x) for x in moneys]) + 8
    grid = _Grid(0, 0, m, inst)
    table = _brackets(grid, mmr, cum, brackets)
    return tuple(_row(grid, b, mmr is not None) for b in table)


# --- cost to open ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderCost:
    """Cost to open an order (§3.1, A4): initial_margin + open_loss = cost, money truncated to
    money_places; assumed_price is the exact price the initial margin was computed at."""

    initial_margin: Decimal
    open_loss: Decimal
    cost: Decimal
    assumed_price: Decimal
    asset: str | None


def order_cost(
    *,
    side: Side | str,
    size: Number,
    price: Number,
    mark: Number,
    leverage: Number,
    last: Number | None = None,
    model: _mg.CostModel | str = _mg.CostModel.CLASSIC,
    market: MarketSpec | str | None = None,
    contract_size: Number | None = None,
    money_places: int | None = None,
    rounding: Rounding | str = Rounding.VENUE,
) -> OrderCost:
    """Binance's cost to open (`risk.margin.cost_to_open`):

        IM = size × AssumedPrice / leverage,   OpenLoss = size × |min(0, dir × (mark − price))|

    model "classic" assumes the order price; "revised_2024" assumes, for a sell,
    max(last × 1.0015, mark, price) and needs ``last``. For a market order pass the assumed fill
    price as ``price``. Inverse (COIN-M) [D by analogy, the COIN-M FAQ is not in the spec]:
    IM = contracts × contract_size / price / leverage and OpenLoss = the negative part of the
    uPnL of entering at ``price`` while the mark is ``mark`` (`risk.margin` inverse functions);
    classic model only."""
    rnd = _rounding(rounding)
    direction = _direction(side)
    try:
        cost_model = model if isinstance(model, _mg.CostModel) else _mg.CostModel(str(model).lower().replace("-", "_"))
    except ValueError:
        raise ValueError(f"model must be 'classic' or 'revised_2024', got {model!r}") from None
    size_d, price_d, mark_d = _positive(size, "size"), _positive(price, "price"), _positive(mark, "mark")
    last_d = None if last is None else _positive(last, "last")
    lev = _leverage(leverage)
    inst = _instrument(market, contract_size)
    grid = _Grid.build(inst, [x for x in (price_d, mark_d, last_d) if x is not None], [size_d], [])
    places = _money_places(money_places, inst)
    lots, px, mk = grid.lots(size_d), grid.ticks(price_d), grid.ticks(mark_d)
    if inst.inverse:
        if cost_model is not _mg.CostModel.CLASSIC:
            raise ValueError("the 2024 revision is published for USDⓈ-M (linear) contracts only")
        im = _mg.initial_margin(_mg.inverse_notional_exact(lots, px, grid.K_inv), lev)
        loss = math.ceil(max(Fraction(0), -_mg.inverse_upnl_exact(direction * lots, px, mk, grid.K_inv)))
        assumed: Fraction | int = px
    else:
        oc = _mg.cost_to_open(Side.BUY if direction > 0 else Side.SELL, lots, px, mk, lev, grid.K, model=cost_model,
                              last=None if last_d is None else grid.ticks(last_d))
        im, loss, assumed = oc.initial_margin, oc.open_loss, oc.assumed_price
    return OrderCost(
        initial_margin=_money_round(grid.money(im), places, rnd),
        open_loss=_money_round(grid.money(loss), places, rnd),
        cost=_money_round(grid.money(im + loss), places, rnd),
        assumed_price=dm.exact_decimal(grid.price(assumed)),
        asset=inst.asset,
    )


# --- funding ---------------------------------------------------------------------------------


def funding_rate(
    premium: Number,
    *,
    interest: Number = Decimal("0.0001"),
    clamp: Number = Decimal("0.0005"),
    cap: Number | None = None,
    floor: Number | None = None,
    interval_hours: int = 8,
    payment_hours: int | None = None,
) -> Decimal:
    """F = P̄ + clamp(I − P̄, −clamp, +clamp), then limited to [floor, cap]
    (`risk.funding.funding_rate`, §2.1; BitMEX §2.2 and Hyperliquid §2.6 use the same form).

    premium: the average premium index P̄ of the interval; interest: I per interval (0.01 %
    per 8 h); all rates as fractions, at most 8 decimals; the result is exact. payment_hours:
    the rate of one payment when the interval's rate is paid in parts (Hyperliquid pays F_8h / 8
    every hour: interval_hours=8, payment_hours=1); it must divide interval_hours."""
    f = _funding.funding_rate(
        _rate(premium, "premium"),
        _rate(interest, "interest"),
        _rate(clamp, "clamp"),
        None if cap is None else _rate(cap, "cap"),
        None if floor is None else _rate(floor, "floor"),
    )
    exact = Fraction(f, RATE_SCALE)
    if payment_hours is not None:
        for name, h in (("interval_hours", interval_hours), ("payment_hours", payment_hours)):
            if isinstance(h, bool) or not isinstance(h, int) or h < 1:
                raise ValueError(f"{name} must be a whole number of hours >= 1, got {h!r}")
        if interval_hours % payment_hours:
            raise ValueError(f"payment_hours {payment_hours} must divide interval_hours {interval_hours}")
        exact = exact * payment_hours / interval_hours
    try:
        return dm.exact_decimal(exact)
    except ValueError:
        raise ValueError(f"the rate per {payment_hours} h has no exact decimal form") from None


def impact_notional(initial_margin_rate: Number, impact_margin: Number = 200) -> Decimal:
    """Binance's impact margin notional IMN = impact_margin / IMR at max leverage, in quote
    (`risk.funding.impact_notional`; 200 USDT / 5 % = 4,000 USDT), exact to 1e-8 (rounded down)."""
    imr = _rate(initial_margin_rate, "initial_margin_rate")
    if not 0 < imr <= RATE_SCALE:
        raise ValueError(f"initial_margin_rate must be in (0, 1], got {initial_margin_rate}")
    margin = _positive(impact_margin, "impact_margin")
    pm = dm.places(margin)
    # impact_margin in units of 10**-pm quote, money_per_quote 10**8: the result is in 10**-(pm + 8).
    units = _funding.impact_notional(imr, 10**8, dm.to_int(margin, pm))
    return dm.exact_decimal(Fraction(units, 10 ** (pm + 8)))
