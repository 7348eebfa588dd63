"""One position in the integer units of its grid, and its liquidation band stage by stage.

`IntegerPosition` binds the risk functions of `risk.margin` and `risk.liqprice` to the
instrument: linear (`Leg`, K) or inverse (`InverseLeg`, K_inv). Its notional, uPnL and
maintenance margin are exact fractions of a money unit, its liquidation and bankruptcy prices
exact fractions of a tick; `max_lots` rounds down (the largest size that fits a cap). The band
(`liquidation_band`, read in `risk.preview.position`, "Liquidation band") realizes the closed
part's PnL rounded down and charges its fee rounded up, both against the account.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from perpsim.risk import liqprice as _lp
from perpsim.risk import margin as _mg
from perpsim.risk.brackets import Brackets
from perpsim.risk.preview.grid import Grid
from perpsim.risk.units import apply_rate_up

_MAX_STAGES = 10_000


class IntegerPosition:
    """One position (signed lots at an integer entry tick) with the risk functions bound to the
    instrument: linear (`Leg`, K) or inverse (`InverseLeg`, K_inv)."""

    def __init__(self, grid: Grid, brackets: Brackets, model: _lp.LiquidationModel, direction: int,
                 entry: int, other_mm: int, other_upnl: int) -> None:
        if grid.inst.inverse and model is not _lp.LiquidationModel.BINANCE:
            raise ValueError("the bybit profile has no inverse (COIN-M) model (risk.liqprice): use binance")
        self.g, self.brackets, self.model = grid, brackets, model
        self.s, self.entry = direction, entry
        self.other_mm, self.other_upnl = other_mm, other_upnl

    def notional(self, lots: int, price: Fraction | int) -> Fraction:
        """Notional of |lots| at ``price`` ticks in money units, exact: |lots| × price × K (linear) or
        |lots| × K_inv / price (inverse)."""
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
        """Maintenance margin of |lots|, exact (money units, not rounded): notional × MMR − cum of its
        bracket, the notional at ``mark`` (binance) or at entry (bybit classic)."""
        return _mg.maintenance_margin_exact(self.mm_notional(lots, mark), self.brackets)

    def liquidation(self, lots: int, wallet: int) -> _lp.LiqPrice | None:
        """Exact liquidation price of |lots| on this position's side against ``wallet`` (money units), the
        other positions' MM and uPnL held fixed; None when no price liquidates it."""
        g, signed = self.g, self.s * lots
        kw = dict(tick_size=g.tick, brackets=self.brackets, other_mm=self.other_mm, other_upnl=self.other_upnl)
        if g.inst.inverse:
            return _lp.inverse_liquidation_price([_lp.InverseLeg(signed, self.entry)], wallet, K_inv=g.K_inv, **kw)
        return _lp.liquidation_price([_lp.Leg(signed, signed * self.entry)], wallet, K=g.K, model=self.model, **kw)

    def bankruptcy(self, lots: int, wallet: int) -> _lp.LiqPrice | None:
        """Exact bankruptcy price of |lots| on this position's side against ``wallet`` plus the other
        positions' uPnL (money units); None when no price makes it bankrupt."""
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
class Stage:
    """One stage of the band: at ``lp`` the position of ``lots_before`` is cut to ``lots_after``."""

    lp: _lp.LiqPrice
    lots_before: int
    lots_after: int


def liquidation_band(pos: IntegerPosition, lots: int, wallet: int, fee_rate: int, lot_step: int) -> list[Stage]:
    """The liquidation band, stage by stage (`risk.preview.position`, "Liquidation band")."""
    stages: list[Stage] = []
    for _ in range(_MAX_STAGES):
        lp = pos.liquidation(lots, wallet)
        if lp is None:
            return stages
        bracket = lp.brackets[0]
        if bracket.number == 1:
            stages.append(Stage(lp, lots, 0))
            return stages
        at = lp.ticks
        cap = pos.brackets[bracket.number - 2].cap
        rest = min(pos.max_lots(cap, at), lots - 1) // lot_step * lot_step
        if rest <= 0:
            stages.append(Stage(lp, lots, 0))
            return stages
        closed = lots - rest
        realized = math.floor(pos.upnl(closed, at))
        fee = apply_rate_up(math.ceil(pos.notional(closed, at)), fee_rate)
        new_wallet = wallet + realized - fee
        balance = _mg.margin_balance(new_wallet, [pos.other_upnl, pos.upnl(rest, at)])  # type: ignore[list-item]
        if _mg.is_liquidatable(pos.other_mm + pos.mm(rest, at), balance):  # §4.2 step 4 fails
            stages.append(Stage(lp, lots, 0))
            return stages
        stages.append(Stage(lp, lots, rest))
        lots, wallet = rest, new_wallet
    raise ArithmeticError("liquidation band did not settle (a bug)")
