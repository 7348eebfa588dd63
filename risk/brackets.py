"""Leverage and maintenance-margin brackets (Binance "notional and leverage brackets", §3.1).

A bracket covers position notionals ``floor < notional <= cap`` (money units of the settlement
asset: USDT units for a linear market, coin units for an inverse one) and fixes the maximum
leverage and the maintenance rate ``mmr`` (scaled by RATE_SCALE) there. The maintenance amount
``cum`` makes MM = notional × mmr − cum continuous across brackets:

    cum_1 = 0,   cum_n = floor_n × (mmr_n − mmr_{n−1}) + cum_{n−1}

Rounding: floor_n × Δmmr / RATE_SCALE is exact for the published tables (round floors, rates
in steps of 1e-4); when it is not, cum rounds **down**. cum is subtracted from MM, so a smaller
cum means a larger maintenance margin — the direction against the account (rounding up would
lower every MM above that floor, in the account's favour).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import overload

from perpsim.risk.units import RATE_SCALE, div_down, rate

__all__ = [
    "BTCUSDT_ROWS",
    "COIN_ROWS",
    "Bracket",
    "Brackets",
    "btcusdt_brackets",
    "coin_brackets",
    "default_brackets",
    "market_brackets",
]


@dataclass(frozen=True, slots=True)
class Bracket:
    """One tier. floor, cap, cum: money units; mmr: rate scaled by RATE_SCALE.

    ``number`` is Binance's 1-based bracket number."""

    number: int
    floor: int
    cap: int
    max_leverage: int
    mmr: int
    cum: int

    def contains(self, notional: int | Fraction) -> bool:
        """floor < notional <= cap (Binance's boundary rule)."""
        return self.floor < notional <= self.cap


class Brackets(Sequence[Bracket]):
    """An ordered, validated bracket table.

    Invariants (checked): the first floor is 0; each floor is the previous cap; caps strictly
    increase; mmr does not decrease and is below 100 %; leverage >= 1. A non-decreasing mmr
    with the cum recursion makes MM a continuous convex function of notional (the maximum of
    the bracket lines), which the liquidation-price iteration relies on."""

    __slots__ = ("_caps", "_items")

    def __init__(self, brackets: Iterable[Bracket]) -> None:
        items = tuple(brackets)
        if not items:
            raise ValueError("a bracket table needs at least one bracket")
        prev: Bracket | None = None
        for i, b in enumerate(items):
            if b.number != i + 1:
                raise ValueError(f"bracket {i + 1} is numbered {b.number}")
            if b.floor != (0 if prev is None else prev.cap):
                raise ValueError(f"bracket {b.number}: floor {b.floor} is not the previous cap")
            if b.cap <= b.floor:
                raise ValueError(f"bracket {b.number}: cap {b.cap} must exceed floor {b.floor}")
            if b.max_leverage < 1:
                raise ValueError(f"bracket {b.number}: max_leverage must be >= 1")
            if not 0 <= b.mmr < RATE_SCALE:
                raise ValueError(f"bracket {b.number}: mmr must be in [0, 100 %)")
            if prev is not None and b.mmr < prev.mmr:
                raise ValueError(f"bracket {b.number}: mmr decreases")
            if b.cum < 0:
                raise ValueError(f"bracket {b.number}: cum must be >= 0")
            prev = b
        self._items = items
        self._caps = tuple(b.cap for b in items)  # ascending: for_notional bisects them

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[int, int, int]]) -> Brackets:
        """Build a table from ``(cap, max_leverage, mmr)`` rows in order.

        cap: money units; mmr: scaled rate. Floors follow from the previous cap (the first is
        0) and cum from the recursion in the module docstring, rounded down (against the
        account) if not exact."""
        out: list[Bracket] = []
        floor = cum = prev_mmr = 0
        for number, (cap, max_leverage, mmr) in enumerate(rows, start=1):
            if out:
                # floor × Δmmr can only be inexact for odd tables; down = larger MM.
                cum = div_down(floor * (mmr - prev_mmr), RATE_SCALE) + cum
            out.append(Bracket(number, floor, cap, max_leverage, mmr, cum))
            floor, prev_mmr = cap, mmr
        return cls(out)

    # Sequence protocol -----------------------------------------------------------------------

    @overload
    def __getitem__(self, index: int) -> Bracket: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[Bracket, ...]: ...
    def __getitem__(self, index: int | slice) -> Bracket | tuple[Bracket, ...]:
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Bracket]:
        return iter(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Brackets) and self._items == other._items

    def __hash__(self) -> int:
        return hash(self._items)

    def __repr__(self) -> str:
        return f"Brackets({list(self._items)!r})"

    # Lookups ---------------------------------------------------------------------------------

    @property
    def max_notional(self) -> int:
        """The last cap (money units): the largest notional the table admits."""
        return self._items[-1].cap

    def for_notional(self, notional: int | Fraction) -> Bracket:
        """The bracket with floor < notional <= cap (notional in money units, exact).

        A notional <= 0 gets the first bracket; one above the last cap gets the last bracket
        (MM stays defined; refusing such a position is the caller's job, see max_notional)."""
        # the first bracket whose cap >= notional, the last one beyond every cap
        return self._items[min(bisect_left(self._caps, notional), len(self._items) - 1)]

    def max_leverage_for(self, notional: int | Fraction) -> int:
        """Maximum leverage allowed at this notional (money units)."""
        return self.for_notional(notional).max_leverage


#: The illustrative Binance BTCUSDT table of venue-mechanics §3.1 (2021; [U] as current values,
#: used as a recursion test and a default): (cap in USDT, max leverage, MMR as a decimal string).
BTCUSDT_ROWS: tuple[tuple[int, int, str], ...] = (
    (50_000, 125, "0.004"),
    (250_000, 100, "0.005"),
    (1_000_000, 50, "0.01"),
    (10_000_000, 20, "0.025"),
    (20_000_000, 10, "0.05"),
    (50_000_000, 5, "0.10"),
    (100_000_000, 4, "0.125"),
    (200_000_000, 3, "0.15"),
    (300_000_000, 2, "0.25"),
    (500_000_000, 1, "0.50"),
)


def btcusdt_brackets(money_scale: int) -> Brackets:
    """The §3.1 BTCUSDT table with caps in money units (``money_scale`` units per USDT,
    e.g. 10**8). Its cum column comes out of the recursion: 0, 50, 1,300, 16,300, … USDT."""
    return Brackets.from_rows((cap * money_scale, lev, rate(Decimal(mmr))) for cap, lev, mmr in BTCUSDT_ROWS)


#: An illustrative COIN-M table (caps in coin, max leverage, MMR), Binance's BTCUSD shape.
COIN_ROWS: tuple[tuple[int, int, str], ...] = (
    (10, 125, "0.004"),
    (20, 100, "0.005"),
    (30, 50, "0.01"),
    (50, 20, "0.025"),
    (100, 10, "0.05"),
    (200, 5, "0.10"),
    (400, 4, "0.125"),
    (1_000, 2, "0.25"),
    (1_500, 1, "0.50"),
)


def coin_brackets(money_scale: int) -> Brackets:
    """The COIN_ROWS table with caps in coin money units (``money_scale`` units per coin)."""
    return Brackets.from_rows((cap * money_scale, lev, rate(Decimal(mmr))) for cap, lev, mmr in COIN_ROWS)


def default_brackets(inverse: bool, money_scale: int) -> Brackets:
    """The venue's default table for a market: COIN-M style for inverse, BTCUSDT for linear."""
    return coin_brackets(money_scale) if inverse else btcusdt_brackets(money_scale)


def market_brackets(spec) -> Brackets:
    """A market's own table (`MarketSpec.brackets`: rows of cap in the settlement asset, max
    leverage, mmr, from the markets file) with caps in its money units (exact: the spec checked
    each cap is a multiple of the settlement unit), or the default table of its kind."""
    scale = 10**spec.settle_decimals
    if not spec.brackets:
        return default_brackets(spec.kind.value == "inverse", scale)
    return Brackets.from_rows((spec.money_to_units(cap), lev, rate(mmr)) for cap, lev, mmr in spec.brackets)
