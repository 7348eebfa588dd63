"""Margin kernel, reference twin: the integer arithmetic of the hot margin paths of a linear
market, in plain Python ints. The Cython `perpsim.risk.margin_kernel` has the same API and
results (see DESIGN.md "Hot paths"; pick one with `make_bracket_table`).

The exact rational formulas live in `perpsim.risk.liqprice`; this kernel computes only what the
exchange needs on every fill, re-key and sweep, without building a single Fraction:

* ``BracketTable.maint_scaled(notional)`` — maintenance margin × RATE_SCALE of a notional
  (money units) in its bracket: ``notional × mmr − cum × RATE_SCALE``, exact;
* ``BracketTable.liq_tick(lots, costs, base, K, entry_mm)`` — the liquidation price of a set of
  legs rounded to the tick grid as `liqprice.round_to_tick` rounds it (up for a long, down for a
  short), with its direction: ``(+1, tick)`` liquidated at mark ≤ tick, ``(−1, tick)`` at mark ≥
  tick, or None where `liqprice.liquidation_price` is None. ``base = wallet + other_upnl −
  other_mm`` (money units); ``entry_mm`` selects the Bybit model (MM at the entry notional);
* ``BracketTable.liquidatable(balance, lots, costs, mark, K, entry_mm)`` — margin balance ≤
  maintenance margin, both × RATE_SCALE, so nothing is rounded;
* ``bankruptcy_tick(sum_lots, sum_cost, balance, K)`` — the bankruptcy price, rounded and
  signed the same way.

Why this is exact with integers only: a price P = num / den is compared with a bracket through
its notional x = |lots| × K × P, and ``floor < x ≤ cap`` holds for the rational x exactly when it
holds for ⌈x⌉ (floors and caps are integers); the final rounding is a floor or ceiling division.
"""

from __future__ import annotations

from collections.abc import Sequence

from perpsim.risk.brackets import Brackets
from perpsim.risk.units import RATE_SCALE

__all__ = ["LONG", "SHORT", "BracketTable", "bankruptcy_tick"]

RS = RATE_SCALE
LONG, SHORT = 1, -1


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


class BracketTable:
    """One market's bracket table as three integer columns (money units; mmr scaled)."""

    __slots__ = ("_caps", "_cums", "_mmrs")

    def __init__(self, brackets: Brackets) -> None:
        self._caps = tuple(b.cap for b in brackets)
        self._mmrs = tuple(b.mmr for b in brackets)
        self._cums = tuple(b.cum for b in brackets)

    def index(self, notional: int) -> int:
        """0-based bracket of an integer notional: the first with cap ≥ notional (the last
        one above every cap; the first for notional ≤ 0), as `Brackets.for_notional`."""
        caps = self._caps
        lo, hi = 0, len(caps) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if caps[mid] >= notional:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def maint_scaled(self, notional: int) -> int:
        """Maintenance margin × RATE_SCALE of a position of this notional (money units, ≥ 0)."""
        i = self.index(notional)
        return notional * self._mmrs[i] - self._cums[i] * RS

    def liquidatable(self, balance: int, lots: Sequence[int], costs: Sequence[int], mark: int, K: int,
                     entry_mm: bool = False) -> bool:
        """Margin balance (money units) ≤ the legs' maintenance margin, exactly (both sides ×
        RATE_SCALE). Binance: MM at mark; entry_mm (Bybit): MM at the entry notional."""
        mm = 0
        for q, c in zip(lots, costs, strict=True):
            mm += self.maint_scaled(abs(c) * K if entry_mm else abs(q) * mark * K)
        return balance * RS <= mm

    def liq_tick(self, lots: Sequence[int], costs: Sequence[int], base: int, K: int,
                 entry_mm: bool = False) -> tuple[int, int] | None:
        """(direction, tick) of the legs' liquidation price, or None (see the module docstring).
        Legs: signed lots and signed cost basis (Σ price_ticks × lots, same sign, non-zero)."""
        sum_lots, sum_cost = sum(lots), sum(costs)
        if entry_mm:  # Bybit: each leg's MM fixed at its entry notional, no iteration
            num = RS * (K * sum_cost - base)
            for c in costs:
                i = self.index(abs(c) * K)
                num += abs(c) * K * self._mmrs[i] - self._cums[i] * RS
            return _rounded(num, RS * K * sum_lots)
        n = len(lots)
        picks = [0] * n
        rising = None
        for _ in range(2 * len(self._caps) * n + 4):
            cum = mmr = 0
            for q, i in zip(lots, picks, strict=True):
                cum += self._cums[i]
                mmr += abs(q) * self._mmrs[i]
            num = RS * (K * sum_cost - base - cum)
            den = K * (RS * sum_lots - mmr)
            if rising is None:
                rising = den > 0
            if den == 0 or (den > 0) != rising:
                return None  # flat, or past the maximum of balance − MM: always liquidatable
            if den < 0:
                num, den = -num, -den
            if num < 0:
                return None
            repick = [self.index(_ceil_div(abs(q) * K * num, den)) for q in lots]
            if repick == picks:
                return (LONG, _ceil_div(num, den)) if rising else (SHORT, num // den)
            picks = repick
        raise ArithmeticError("liquidation-price bracket iteration did not settle (a bug)")


def bankruptcy_tick(sum_lots: int, sum_cost: int, balance: int, K: int) -> tuple[int, int] | None:
    """(direction, tick) of the price at which the margin balance is 0, or None (a flat net
    position, or no price ≥ 0). ``balance = wallet + other_upnl`` (money units)."""
    return _rounded(K * sum_cost - balance, K * sum_lots)


def _rounded(num: int, den: int) -> tuple[int, int] | None:
    """num / den rounded to the tick against the account: up when den > 0 (long exposure), down
    otherwise; None for den == 0 or a negative price."""
    if den == 0:
        return None
    direction = LONG if den > 0 else SHORT
    if den < 0:
        num, den = -num, -den
    if num < 0:
        return None
    return (LONG, _ceil_div(num, den)) if direction == LONG else (SHORT, num // den)
