"""The premium index of a perpetual from its book's impact prices (venue-mechanics §2.1): the
impact margin notional, the average fill price of a market order of that size on either side,
and the premium of those prices over the index.

    P  = [max(0, ImpactBid − Index) − max(0, Index − ImpactAsk)] / Index

Units: prices in integer ticks, quantities in signed lots, money in integer units of the
settlement asset, rates scaled by RATE_SCALE, time in integer nanoseconds. ``K`` is the money
value of one lot at a price of one tick (money units per lot·tick, a positive integer), so a
notional is lots × price_ticks × K money units.

Rounding: impact prices are exact Fractions; the premium is a reference rate (neither side of
a payment is favoured by it), rounded to the nearest 1e-8 with ties to even; the impact
notional is a reference size, rounded down to a money unit.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

from perpsim.risk.units import RATE_SCALE, div_down

IMPACT_MARGIN = 200
"""Binance's impact margin: IMN = 200 USDT / initial margin rate at max leverage."""


def impact_notional(imr: int, money_per_quote: int, impact_margin: int = IMPACT_MARGIN) -> int:
    """Impact margin notional in money units: ``impact_margin`` (quote currency, 200 USDT) divided
    by ``imr``, the initial margin rate at maximum leverage (scaled rate); ``money_per_quote`` is
    the number of money units in one unit of the quote currency (10**settle_decimals).

    Rounded down to a money unit (a reference size, not an amount owed; 200 / 5 % is exact)."""
    if imr <= 0:
        raise ValueError("imr must be > 0")
    return div_down(impact_margin * money_per_quote * RATE_SCALE, imr)


def impact_price(levels: Iterable[tuple[int, int]], impact_notional_units: int, K: int) -> Fraction | None:
    """Average fill price, exact, in ticks, of a market order for ``impact_notional_units`` of
    notional (money units) against ``levels`` = [(price_ticks, lots)], best price first (bids
    descending for the impact bid, asks ascending for the impact ask). The last level touched is
    filled fractionally so the filled notional is exactly the impact notional. None when the book
    cannot fill it. ``K``: money units per lot·tick."""
    if impact_notional_units <= 0:
        raise ValueError("impact notional must be > 0")
    if K <= 0:
        raise ValueError("K must be > 0")
    remaining = impact_notional_units  # money units still to fill
    filled = Fraction(0)  # lots, exact
    for price, lots in levels:
        if price <= 0 or lots <= 0:
            raise ValueError(f"bad depth level ({price}, {lots})")
        level_notional = price * lots * K
        if level_notional >= remaining:
            filled += Fraction(remaining, price * K)
            return Fraction(impact_notional_units) / (filled * K)
        filled += lots
        remaining -= level_notional
    return None


def impact_price_contracts(levels: Iterable[tuple[int, int]], lots: int) -> Fraction | None:
    """Inverse markets: average fill price, exact, in ticks, of a market order for ``lots``
    contracts (its size is a face value in the quote currency, so it is a number of contracts).
    An inverse contract's average price is the contract-weighted harmonic mean: contracts /
    Σ (contracts_i / price_i). The last level is filled fractionally. None when the book is short."""
    if lots <= 0:
        raise ValueError("impact size must be > 0 contracts")
    remaining, coin = lots, Fraction(0)  # coin: Σ contracts / price, in contracts per tick
    for price, size in levels:
        if price <= 0 or size <= 0:
            raise ValueError(f"bad depth level ({price}, {size})")
        take = min(size, remaining)
        coin += Fraction(take, price)
        remaining -= take
        if remaining == 0:
            return lots / coin
    return None


def premium_index(impact_bid: Fraction | int | None, impact_ask: Fraction | int | None, index: int) -> int:
    """P = [max(0, ImpactBid − Index) − max(0, Index − ImpactAsk)] / Index as a scaled rate,
    rounded to the nearest 1e-8, ties to even. Prices in ticks (impact prices may be exact
    Fractions). A side the book cannot fill contributes 0, as in dYdX v4's GetPricePremium
    (a missing impact bid acts as 0, a missing impact ask as +infinity)."""
    if index <= 0:
        raise ValueError("index must be > 0")
    up = max(Fraction(0), impact_bid - index) if impact_bid is not None else Fraction(0)
    down = max(Fraction(0), index - impact_ask) if impact_ask is not None else Fraction(0)
    return round((up - down) * RATE_SCALE / index)
