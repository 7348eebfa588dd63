"""The one place where the simulation's floats become the engine's integers.

Price processes and agent decisions work in floats (quote currency per base unit, base-asset
quantities, quote-currency notionals). Everything sent to the engine is integer ticks, lots and
money units, converted here, with the rounding each function states.
"""

from __future__ import annotations

import math
from decimal import Decimal

from perpsim.model.markets import MarketKind, MarketSpec


def ticks(spec: MarketSpec, price: float) -> int:
    """Price (quote per base, float) -> ticks, rounded to the nearest tick (ties to even), kept
    inside the market's price limits so that a feed can never produce an unplaceable price."""
    lo, hi, _, _ = spec.book_limits()
    return min(max(round(price / float(spec.tick_size)), lo), hi)


def lots(spec: MarketSpec, qty: float) -> int:
    """Quantity (base units, or contracts for an inverse market) -> lots, rounded down: an agent
    never trades more than it decided to. May be 0 (the caller skips the order)."""
    return max(0, math.floor(qty / float(spec.lot_size)))


def lots_for_notional(spec: MarketSpec, notional: float, price: float) -> int:
    """Lots worth `notional` (quote currency) at `price`, rounded down, at least one lot."""
    if spec.kind is MarketKind.INVERSE:  # a lot is lot_size × contract_size of quote currency
        return max(1, math.floor(notional / float(spec.lot_size * spec.contract_size)))
    return max(1, lots(spec, notional / price))


def money(spec: MarketSpec, amount: float) -> int:
    """Money (settlement asset, float) -> integer units, rounded down (a deposit never exceeds
    what the scenario asked for)."""
    return max(0, math.floor(amount * 10**spec.settle_decimals))


def money_exact(spec: MarketSpec, amount: str | int) -> int:
    """Money written in a scenario file as an exact decimal string -> units (must be exact)."""
    return spec.money_to_units(Decimal(str(amount)))


def price_of(spec: MarketSpec, tick_count: int) -> float:
    """Ticks -> price (float), for metrics and agent decisions."""
    return tick_count * float(spec.tick_size)


def notional(spec: MarketSpec, lot_count: int, tick_count: int) -> float:
    """Notional (quote currency, float) of `lot_count` lots at `tick_count` ticks; for inverse
    markets the face value in quote currency."""
    if spec.kind is MarketKind.INVERSE:
        return abs(lot_count) * float(spec.lot_size * spec.contract_size)
    return abs(lot_count) * float(spec.lot_size) * tick_count * float(spec.tick_size)
