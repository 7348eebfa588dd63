"""The liquidation band of one position: where its partial and its full liquidation happen, in
the venue's integer units (venue-mechanics §4.2 steps 3-5).

Binance first tries to bring a position in bracket n > 1 down one bracket with one large IOC.
The band models it as stages, starting from the position as it stands:

1. The stage's price P is the exact liquidation price of the current size (`risk.liqprice`;
   bracket re-picked at P, or at entry under the Bybit model). In bracket 1 the position is
   liquidated in full at P: the last stage.
2. Otherwise one IOC at P cuts the size to the largest whole number of lots whose notional at P
   (Bybit: at entry) fits bracket n − 1 (rounded down). The closed part realizes its PnL at P
   (rounded down) and pays the liquidation fee on its notional at P (the notional rounded up,
   then the fee rounded up) out of the wallet; the rest keeps the exact average entry.
3. If the rest is still liquidatable at P (margin balance <= MM, e.g. because of the fee), the
   position goes in full at P; else the next stage starts from the rest and the new wallet.

`partial` is the first stage's price (the liquidation price), `full` the last stage's, where the
position closes entirely; None when there is none (no liquidation price, or a rest whose margin
covers every price). Both in ticks, rounded against the account like every displayed
liquidation price: a long's up, a short's down (`LiqPrice.tick`). Inside, prices are exact
Fractions of ticks and money is integer units of the settlement asset, so only those two
roundings and the stated money roundings happen. Assumptions (Binance publishes no band): the
IOC fills at P, the account's other cross positions stay as they are, nothing else moves.

This is the same reading as `risk.preview.preview_position`'s band (the `perpsim calc`
calculator, which works on a finer decimal grid); this one is what the engine asks.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import NamedTuple

from perpsim.risk.brackets import Brackets
from perpsim.risk.liqprice import (
    InverseLeg,
    Leg,
    LiqPrice,
    LiquidationModel,
    inverse_liquidation_price,
    liquidation_price,
)
from perpsim.risk.margin import is_liquidatable, maintenance_margin_exact
from perpsim.risk.units import apply_rate_up

_BYBIT = LiquidationModel.BYBIT
#: No real table takes more stages than it has brackets times a few shrinking steps.
_MAX_STAGES = 10_000


class Band(NamedTuple):
    """(partial, full) liquidation price in ticks, rounded against the account; None: none."""

    partial: int | None
    full: int | None


NO_BAND = Band(None, None)


class _Contract:
    """One position's side, entry and contract math, for sizes in |lots|."""

    __slots__ = ("brackets", "direction", "entry", "inverse", "k", "model", "other_mm", "other_upnl")

    def __init__(self, lots: int, cost: int, K: int, k_inv: Fraction | int, inverse: bool, brackets: Brackets,
                 model: LiquidationModel, other_mm: int, other_upnl: int) -> None:
        self.direction = 1 if lots > 0 else -1
        self.inverse, self.brackets, self.model = inverse, brackets, model
        self.k = Fraction(k_inv) if inverse else K
        # exact average entry in ticks: cost / lots, or the harmonic mean lots × k_inv / cost
        self.entry = Fraction(lots) * self.k / cost if inverse else Fraction(cost, lots)
        self.other_mm, self.other_upnl = other_mm, other_upnl

    def notional(self, size: int, price: Fraction) -> Fraction:
        return size * self.k / price if self.inverse else size * price * self.k

    def upnl(self, size: int, price: Fraction) -> Fraction:
        if self.inverse:
            return self.direction * size * self.k * (1 / self.entry - 1 / price)
        return self.direction * size * (price - self.entry) * self.k

    def mm(self, size: int, price: Fraction) -> Fraction:
        return maintenance_margin_exact(self.notional(size, self.entry if self.model is _BYBIT else price),
                                        self.brackets)

    def liquidation(self, size: int, wallet: int) -> LiqPrice | None:
        signed = self.direction * size
        if self.inverse:
            return inverse_liquidation_price([InverseLeg(signed, self.entry)], wallet, K_inv=self.k, tick_size=1,
                                             brackets=self.brackets, other_mm=self.other_mm,
                                             other_upnl=self.other_upnl)
        return liquidation_price([Leg(signed, signed * self.entry)], wallet, K=self.k, tick_size=1,
                                 brackets=self.brackets, other_mm=self.other_mm, other_upnl=self.other_upnl,
                                 model=self.model)

    def fitting(self, cap: int, price: Fraction) -> int:
        """The largest |lots| whose MM notional at `price` (Bybit: at entry) is <= cap, rounded down."""
        at = self.entry if self.model is _BYBIT else price
        return math.floor(cap * at / self.k if self.inverse else cap / (at * self.k))


def liquidation_band(lots: int, cost: int, wallet: int, *, K: int, k_inv: Fraction | int, inverse: bool,
                     brackets: Brackets, fee_rate: int, model: LiquidationModel = LiquidationModel.BINANCE,
                     other_mm: int = 0, other_upnl: int = 0) -> Band:
    """The band of the position (lots signed, cost its basis as `risk.positions` keeps it) against
    `wallet`: its isolated margin, or the cross wallet with the account's other cross positions'
    maintenance margin `other_mm` and uPnL `other_upnl` held fixed (money units). K: money units
    per lot·tick (linear); k_inv: coin money units × ticks per lot (inverse); fee_rate: the
    liquidation fee, scaled by RATE_SCALE. NO_BAND for a wallet below zero or the Bybit model on
    an inverse contract (which `risk.liqprice` has no model for), as the calculator refuses them."""
    if not lots or wallet < 0 or (inverse and model is _BYBIT):
        return NO_BAND
    c = _Contract(lots, cost, K, k_inv, inverse, brackets, model, other_mm, other_upnl)
    size, partial = abs(lots), None
    for _ in range(_MAX_STAGES):
        lp = c.liquidation(size, wallet)
        if lp is None:  # the rest is safe at every price (or none was ever liquidatable)
            return Band(partial, None)
        tick = lp.tick
        if partial is None:
            partial = tick
        number = lp.brackets[0].number
        if number == 1:
            return Band(partial, tick)
        at = lp.ticks
        rest = min(c.fitting(brackets[number - 2].cap, at), size - 1)
        if rest <= 0:
            return Band(partial, tick)
        closed = size - rest
        fee = apply_rate_up(math.ceil(c.notional(closed, at)), fee_rate)
        wallet += math.floor(c.upnl(closed, at)) - fee
        balance = wallet + other_upnl + c.upnl(rest, at)
        if is_liquidatable(other_mm + c.mm(rest, at), balance):  # §4.2 step 4: the rest goes too
            return Band(partial, tick)
        size = rest
    raise ArithmeticError("liquidation band did not settle (a bug)")
