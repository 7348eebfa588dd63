"""Liquidation and bankruptcy prices (venue-mechanics §4.1, §4.3), exact.

The liquidation price LP of a set of legs of one symbol is the mark at which the margin balance
equals the maintenance margin; the bankruptcy price BP is the mark at which it is 0:

    WB + UPNL1 + Σ uPnL_i(LP) = TMM1 + Σ MM_i(LP)          (liquidation)
    WB + UPNL1 + Σ uPnL_i(BP) = 0                          (bankruptcy)

* WB: the cross wallet (cross) or the position's isolated wallet (isolated);
* TMM1, UPNL1 (``other_mm``, ``other_upnl``): MM and uPnL of every **other** cross position of
  the account, held constant; 0 in isolated mode;
* legs: one leg in one-way mode (BOTH) and for each side of an isolated hedge; both the LONG
  and SHORT legs in cross hedge mode, which share one LP.

Solving for LP gives Binance's formula (§4.1); with K = notional_per_tick_lot and a leg's
signed cost basis cost_i = lots_i × EP_i (ticks × lots):

    LP = RS × (K Σcost_i − WB − UPNL1 + TMM1 − Σcum_i) / (K × (RS Σlots_i − Σ|lots_i| mmr_i))

Models (`LiquidationModel`): BINANCE evaluates each MM at the liquidation price (notional
|lots| × LP × K) and re-picks the bracket there until the choice is consistent ("substitute
the MMR and maintenance amount of the level at the liquidation price and recalculate").
BYBIT (classic) evaluates MM at the entry notional with the bracket of the entry notional, so
there is nothing to iterate.

The re-pick is Newton's method on g(P) = balance − MM, which is concave and piecewise linear
(MM is convex in notional: the maximum of the bracket lines). It starts from bracket 1 — the
line that holds where the notional tends to 0 (P → 0 linear, P → ∞ inverse) — rather than
Binance's bracket at the opening price: each line lies above g, so the first candidate is on
the notional-0 side of the nearest root, and every later step moves monotonically toward that
root without overshooting; the iteration settles within len(brackets) × len(legs) + 2 steps.
When g is monotone (one leg: one-way or isolated; a net-short linear or net-long inverse
hedge) the root is unique and both starting points give the same LP. A net-long linear hedge
(net-short inverse) can have a second root at an enormous notional, where MMR_L·Q_L +
MMR_S·Q_S exceeds the net size; that root is not reported (the venue's direct margin check
still covers it), and neither is any root when g > 0 at the notional-0 end. If a line's slope
changes sign before a consistent root is found, the iterates have passed the maximum of g
with g <= 0 throughout: g <= 0 everywhere and the result is None.

COIN-M (inverse, §4.1 [D]): balances in coin, N_i = contracts_i × contract_size, and

    LP = (Σ s_i N_i + Σ N_i MMR_i) / (WB − TMM1 + UPNL1 + Σcum_i + Σ s_i N_i / EP_i)

with the bracket re-picked at the coin notional N_i / LP.

Results are exact Fractions (ticks, and quote per base via ``tick_size``). None means no
positive price solves the equation — Binance shows "--" ("LP < 0"): the position is then never
or always liquidatable by the mark alone, and the venue's direct margin check decides.

Rounding to the tick grid (`round_to_tick`) is conservative: a price the account is liquidated
at or below (long exposure) rounds **up**, one it is liquidated at or above (short exposure)
rounds **down**, so the venue never liquidates later than the formula. Bankruptcy prices round
the same way, so a liquidation order at the rounded BP never closes at a loss beyond the
account's balance and the insurance fund does not pay for rounding.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from fractions import Fraction

from perpsim.risk.brackets import Bracket, Brackets
from perpsim.risk.units import RATE_SCALE

__all__ = [
    "InverseLeg",
    "Leg",
    "LiqPrice",
    "LiquidationModel",
    "Trigger",
    "bankruptcy_price",
    "inverse_bankruptcy_price",
    "inverse_liquidation_price",
    "liquidation_price",
    "round_to_tick",
]

RS = RATE_SCALE


class LiquidationModel(Enum):
    """Which notional the maintenance margin of a liquidation price is taken at."""

    #: MM at the liquidation price, bracket re-picked at LP (Binance USDⓈ-M / COIN-M).
    BINANCE = "binance"
    #: MM fixed at the entry notional (Bybit classic, §4.3).
    BYBIT = "bybit"


class Trigger(Enum):
    """On which side of the price the position is liquidated (or bankrupt)."""

    #: Net long exposure: liquidated when mark <= price. Rounds up to the tick.
    AT_OR_BELOW = "at_or_below"
    #: Net short exposure: liquidated when mark >= price. Rounds down to the tick.
    AT_OR_ABOVE = "at_or_above"


@dataclass(frozen=True, slots=True)
class Leg:
    """A linear position leg: signed lots and its signed cost basis Σ price_ticks × lots."""

    lots: int
    cost: int


@dataclass(frozen=True, slots=True)
class InverseLeg:
    """An inverse position leg: signed contracts and the entry price in ticks (exact; the
    harmonic mean of the fills is generally a Fraction)."""

    contracts: int
    entry: int | Fraction


@dataclass(frozen=True, slots=True)
class LiqPrice:
    """An exact liquidation or bankruptcy price.

    ticks: price in ticks; price: quote currency per base (ticks × tick_size); trigger: which
    side liquidates; brackets: the bracket of each leg at the solution (BINANCE: at LP, BYBIT:
    at entry; empty for a bankruptcy price)."""

    ticks: Fraction
    price: Fraction
    trigger: Trigger
    brackets: tuple[Bracket, ...] = ()

    @property
    def tick(self) -> int:
        """The price rounded to an integer tick in the conservative direction."""
        return round_to_tick(self.ticks, self.trigger)


def round_to_tick(ticks: Fraction | int, trigger: Trigger) -> int:
    """Round an exact price in ticks to the grid: up for AT_OR_BELOW, down for AT_OR_ABOVE.

    Either way the rounded price is reached no later than the exact one."""
    return math.ceil(ticks) if trigger is Trigger.AT_OR_BELOW else math.floor(ticks)


def _exact(x: int | Fraction | Decimal | str) -> Fraction:
    if isinstance(x, float):
        raise TypeError("floats are not accepted: pass an int, Fraction, Decimal or str")
    return Fraction(x)


def _result(
    ticks: Fraction, trigger: Trigger, tick_size: Fraction, picks: tuple[Bracket, ...] = ()
) -> LiqPrice | None:
    if ticks < 0:
        return None
    return LiqPrice(ticks, ticks * tick_size, trigger, picks)


def _check_legs(legs: Sequence[Leg]) -> None:
    if not legs:
        raise ValueError("at least one leg")
    for leg in legs:
        # cost = Σ price × lots with prices > 0: same sign as lots, never zero.
        if leg.lots == 0 or leg.cost * leg.lots <= 0:
            raise ValueError(f"bad leg {leg}: lots must be non-zero and cost of the same sign")


def _check_inverse_legs(legs: Sequence[InverseLeg]) -> None:
    if not legs:
        raise ValueError("at least one leg")
    for leg in legs:
        if leg.contracts == 0 or leg.entry <= 0:
            raise ValueError(f"bad leg {leg}: contracts must be non-zero and entry > 0")


def _iteration_bound(brackets: Brackets, n_legs: int) -> int:
    # Candidates move monotonically away from notional 0, so each leg's bracket only rises
    # (see the module docstring); twice that, plus slack, is a generous bound.
    return 2 * len(brackets) * n_legs + 4


# --- linear ----------------------------------------------------------------------------------


def liquidation_price(
    legs: Sequence[Leg],
    wallet: int,
    *,
    K: int,
    tick_size: Fraction | Decimal | str | int,
    brackets: Brackets,
    other_mm: int = 0,
    other_upnl: int = 0,
    model: LiquidationModel = LiquidationModel.BINANCE,
) -> LiqPrice | None:
    """Liquidation price of the legs of one linear symbol, exact.

    wallet, other_mm, other_upnl: money units (see module docstring: isolated → wallet of the
    position and others 0; cross → cross wallet, TMM1, UPNL1). K: notional_per_tick_lot.
    tick_size: quote per tick (exact). Returns None when no price >= 0 solves the equation."""
    _check_legs(legs)
    tick = _exact(tick_size)
    base = wallet + other_upnl - other_mm
    sum_lots = sum(leg.lots for leg in legs)
    sum_cost = sum(leg.cost for leg in legs)
    if model is LiquidationModel.BYBIT:
        picks = tuple(brackets.for_notional(abs(leg.cost) * K) for leg in legs)
        mm_entry = sum(
            Fraction(abs(leg.cost) * K * b.mmr, RS) - b.cum for leg, b in zip(legs, picks, strict=True)
        )
        den = K * sum_lots
        if den == 0:
            return None
        ticks = (K * sum_cost - base + mm_entry) / den
        return _result(ticks, _trigger(den), tick, picks)

    picks = (brackets[0],) * len(legs)
    rising: bool | None = None  # slope sign of the first line
    for _ in range(_iteration_bound(brackets, len(legs))):
        num = RS * (K * sum_cost - base - sum(b.cum for b in picks))
        den = K * (RS * sum_lots - sum(abs(leg.lots) * b.mmr for leg, b in zip(legs, picks, strict=True)))
        if rising is None:
            rising = den > 0
        if den == 0 or (den > 0) != rising:
            # Flat line, or the iterates passed the maximum of g with g <= 0 all the way:
            # g <= 0 at every price, so no liquidation price (always liquidatable).
            return None
        ticks = Fraction(num, den)
        if ticks < 0:
            # Only possible on the first (bracket-1) line: g has the sign of that line all
            # the way from P = 0, so the position is never (or always) liquidatable.
            return None
        repick = tuple(brackets.for_notional(abs(leg.lots) * ticks * K) for leg in legs)
        if repick == picks:
            return _result(ticks, _trigger(den), tick, picks)
        picks = repick
    raise ArithmeticError("liquidation-price bracket iteration did not settle (a bug)")


def bankruptcy_price(
    legs: Sequence[Leg],
    wallet: int,
    *,
    K: int,
    tick_size: Fraction | Decimal | str | int,
    other_upnl: int = 0,
) -> LiqPrice | None:
    """Bankruptcy price of the legs of one linear symbol: margin balance = 0, exact.

    Same units as `liquidation_price`. Other positions' MM does not enter (a balance of 0 is
    bankrupt whatever MM is); their uPnL does, in cross. None when no price >= 0 solves it
    (e.g. a fully hedged pair, or a long that cannot lose its margin)."""
    _check_legs(legs)
    sum_lots = sum(leg.lots for leg in legs)
    if sum_lots == 0:
        return None
    den = K * sum_lots
    ticks = Fraction(K * sum(leg.cost for leg in legs) - wallet - other_upnl, den)
    return _result(ticks, _trigger(den), _exact(tick_size))


def _trigger(slope: int | Fraction) -> Trigger:
    # slope = d(balance − MM)/d(price) up to a positive factor: rising → long exposure.
    return Trigger.AT_OR_BELOW if slope > 0 else Trigger.AT_OR_ABOVE


# --- inverse (COIN-M) ------------------------------------------------------------------------


def inverse_liquidation_price(
    legs: Sequence[InverseLeg],
    wallet: int,
    *,
    K_inv: Fraction | int,
    tick_size: Fraction | Decimal | str | int,
    brackets: Brackets,
    other_mm: int = 0,
    other_upnl: int = 0,
) -> LiqPrice | None:
    """COIN-M liquidation price (Binance model: MM at LP, bracket re-picked), exact.

    wallet, other_mm, other_upnl: coin money units; brackets in coin money units; K_inv from
    `perpsim.risk.margin.inverse_k` (coin money units × ticks per contract)."""
    _check_inverse_legs(legs)
    tick = _exact(tick_size)
    K_inv = Fraction(K_inv)
    base = wallet + other_upnl - other_mm
    value_at_entry = K_inv * sum(Fraction(leg.contracts) / leg.entry for leg in legs)
    sum_contracts = sum(leg.contracts for leg in legs)
    picks = (brackets[0],) * len(legs)
    rising: bool | None = None  # slope sign of the first line
    for _ in range(_iteration_bound(brackets, len(legs))):
        # balance − MM = den − num / P: increasing in P (long exposure) when num > 0.
        mmr_sum = sum(abs(leg.contracts) * b.mmr for leg, b in zip(legs, picks, strict=True))
        num = K_inv * (RS * sum_contracts + mmr_sum) / RS
        den = base + sum(b.cum for b in picks) + value_at_entry
        if rising is None:
            rising = num > 0
        if num == 0 or den == 0 or (num > 0) != rising:
            return None  # as in the linear case: g <= 0 at every price
        ticks = num / den
        if ticks < 0:
            return None  # as in the linear case, only on the first line
        repick = tuple(brackets.for_notional(abs(leg.contracts) * K_inv / ticks) for leg in legs)
        if repick == picks:
            return _result(ticks, _trigger(num), tick, picks)
        picks = repick
    raise ArithmeticError("liquidation-price bracket iteration did not settle (a bug)")


def inverse_bankruptcy_price(
    legs: Sequence[InverseLeg],
    wallet: int,
    *,
    K_inv: Fraction | int,
    tick_size: Fraction | Decimal | str | int,
    other_upnl: int = 0,
) -> LiqPrice | None:
    """COIN-M bankruptcy price: coin margin balance = 0, exact (units as above)."""
    _check_inverse_legs(legs)
    K_inv = Fraction(K_inv)
    num = K_inv * sum(leg.contracts for leg in legs)
    den = wallet + other_upnl + K_inv * sum(Fraction(leg.contracts) / leg.entry for leg in legs)
    if num == 0 or den == 0:
        return None
    return _result(num / den, _trigger(num), _exact(tick_size))
