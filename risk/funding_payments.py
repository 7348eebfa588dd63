"""Funding payments of a settlement (venue-mechanics §2.1): what each open position pays or
receives at a funding time.

    payment = position notional at mark × F; F > 0: longs pay shorts, F < 0: shorts pay longs

Units: prices in integer ticks, quantities in signed lots, money in integer units of the
settlement asset, rates scaled by RATE_SCALE, time in integer nanoseconds. ``K`` is the money
value of one lot at a price of one tick (money units per lot·tick, a positive integer), so a
notional is lots × price_ticks × K money units.

Rounding: payments round against the account: payers round up, receivers round down, and the
difference is returned as dust for the ledger to book.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import NamedTuple, TypeVar

from perpsim.risk.units import RATE_SCALE, div_down

A = TypeVar("A", bound=Hashable)


class FundingPayments(NamedTuple):
    """Balance changes of one funding settlement."""

    deltas: dict
    """account key -> signed money units added to its balance (negative: it pays)."""
    dust: int
    """Paid minus received, ≥ 0: what rounding against the accounts left over, to be booked."""


def funding_payments(positions: Mapping[A, int], mark_ticks: int, rate: int, K: int) -> FundingPayments:
    """Funding of every open position at ``mark_ticks``: exact amount = lots × mark × K × rate /
    RATE_SCALE money units; with ``rate`` > 0 longs pay and shorts receive, with ``rate`` < 0 the
    reverse. Payers' amounts round up, receivers' round down, so sum(deltas) + dust == 0 and
    0 ≤ dust < number of positions.

    ``positions`` maps an account key (e.g. an account id, or (account, side) in hedge mode) to
    signed lots; keys with 0 lots are skipped, the rest come back in sorted key order. The lots
    must sum to zero (every long has a short opposite it), which is what makes dust ≥ 0."""
    if mark_ticks <= 0:
        raise ValueError("mark must be > 0")
    if K <= 0:
        raise ValueError("K must be > 0")
    if sum(positions.values()) != 0:
        raise ValueError("positions must net to zero lots")
    deltas = {}
    for key in sorted(positions):  # type: ignore[type-var]
        lots = positions[key]
        if lots:
            deltas[key] = funding_payment(lots, mark_ticks, rate, K)
    return FundingPayments(deltas, -sum(deltas.values()))


def funding_payment(lots: int, mark_ticks: int, rate: int, K) -> int:
    """One position's funding at ``mark_ticks`` and ``rate``: signed money units added to its
    balance (negative: it pays), exactly as a settlement books it. The exact amount is
    lots × mark × K × rate / RATE_SCALE; a payer's debit rounds up, a receiver's credit down."""
    owed = lots * mark_ticks * K * rate  # > 0: the account pays, in money units × RATE_SCALE
    return div_down(-owed, RATE_SCALE)  # floor(−owed / RATE_SCALE)
