"""Positions with an exact integer cost basis.

A position is `lots` (signed: + long, - short) and `cost`, the signed sum of price_ticks × lots
of the fills that opened it, so the average entry is exactly cost / lots. Linear money follows
by multiplying tick-lots by K = notional_per_tick_lot.

Rounding: when a fill closes part of a position, the cost taken out is C × closed / lots
rounded toward +infinity, so the realized PnL of that fill rounds down (against the account).
The cost that stays absorbs the remainder, so over a position's life the realized PnL sums
exactly to the fills' cash flows and nothing leaks.

Inverse (coin-margined) positions keep `cost` as the signed coin value of the opening fills,
Σ floor(lots × K_inv / price) money units (K_inv: coin money units × ticks per lot), so that
uPnL = cost − lots × K_inv / mark. Every rounding there goes down (against the account); the
engine books what the two sides of a fill lose to rounding as dust.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from perpsim.risk.units import div_down, div_up


@dataclass
class Position:
    """One position: signed lots and signed cost (ticks × lots)."""

    lots: int = 0
    cost: int = 0

    def apply_fill(self, qty: int, price: int) -> int:
        """Apply a fill of signed `qty` lots (+ buy, - sell) at `price` ticks.

        Returns the realized PnL in tick-lots (multiply by K for money), rounded down."""
        if self.lots == 0 or (qty > 0) == (self.lots > 0):
            self.lots += qty
            self.cost += price * qty
            return 0
        # closing part (or all) of the position, maybe flipping through zero
        closed = -qty if abs(qty) <= abs(self.lots) else self.lots  # signed like the position
        removed = div_up(self.cost * closed, self.lots)
        realized = price * closed - removed
        self.lots -= closed
        self.cost -= removed
        rest = qty + closed  # what remains of the fill after closing
        if rest:  # flipped: a fresh position at the fill price
            self.lots, self.cost = rest, price * rest
        return realized

    def closing_qty(self, qty: int) -> int:
        """The part of a signed order quantity that would reduce this position (signed like qty)."""
        if self.lots == 0 or (qty > 0) == (self.lots > 0):
            return 0
        return qty if abs(qty) <= abs(self.lots) else -self.lots

    def apply_inverse_fill(self, qty: int, price: int, k_inv: Fraction) -> int:
        """Inverse counterpart of `apply_fill`: realized PnL in coin money units, rounded down.

        An opening fill adds floor(qty × k_inv / price) to the cost; a closing fill takes out
        cost × closed / lots rounded down and realizes it minus the closed part's value."""
        if self.lots == 0 or (qty > 0) == (self.lots > 0):
            self.lots += qty
            self.cost += math.floor(Fraction(qty) * k_inv / price)
            return 0
        closed = -qty if abs(qty) <= abs(self.lots) else self.lots
        removed = div_down(self.cost * closed, self.lots)
        realized = math.floor(removed - Fraction(closed) * k_inv / price)
        self.lots -= closed
        self.cost -= removed
        rest = qty + closed
        if rest:
            self.lots, self.cost = rest, math.floor(Fraction(rest) * k_inv / price)
        return realized
