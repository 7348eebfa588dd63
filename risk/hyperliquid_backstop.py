"""Hyperliquid's backstop liquidation: below 2/3 of the maintenance margin, the liquidator vault
takes the positions and their margin.

Source: hyperliquid-docs, "Liquidations" (https://hyperliquid.gitbook.io/hyperliquid-docs/trading/liquidations):

- "When the account equity drops below maintenance margin, the positions are first attempted to be
  entirely closed by sending market orders to the book."
- "If the account equity drops below 2/3 of the maintenance margin without successful liquidation
  through the book, a backstop liquidation happens through the liquidator vault."
- "When a cross position is backstop liquidated, the trader's cross positions and cross margin are
  all transferred to the liquidator. In particular, if the trader has no isolated positions, the
  trader ends up with zero account equity."
- "When an isolated position is backstop liquidated, that isolated position and isolated margin
  are transferred to the liquidator. The user's cross margin and positions are untouched."
- "During backstop liquidation, the maintenance margin is not returned to the user."

The engine's backstop account is the insurance fund's (the vault: the fund's positions and its
balance per settlement asset), so the vault unwinds what it took as the fund does. A transfer of
a position with its margin is a move of the position at the mark (its uPnL realized into the
margin, exact on a linear market: the whole cost is closed) and then of the whole margin: the
vault ends with the position at the mark and the account's equity, the account with nothing.

When: the engine checks at each liquidation attempt, before the book order (equity already below
2/3 of MM: the book did not liquidate it in time). Above it the market order goes to the book
(risk.hyperliquid_liquidation: 10 % through the mark). What the order does not fill stays with the
account ("the positions are first attempted to be entirely closed by sending market orders to the
book"; the vault only "without successful liquidation through the book"): no takeover at the
bankruptcy price; the next mark publication sends the order again, the whole position inside the
30-s window after a partial step ("During this cooldown period, all market liquidation orders for
that user will be for the entire position", "Partial liquidations"), until the book takes it or
the equity falls below 2/3 of MM and the vault does (`verdict`). Below 2/3 with the vault unable to
take it (a negative equity and an empty fund) the liquidation goes the usual way: the order at the
bankruptcy price, then the fund or ADL.

Units: money in integer units of the settlement asset; maintenance margin × RATE_SCALE as the
engine keeps it exactly. No rounding: the comparison is exact.
"""

from __future__ import annotations

from perpsim.risk.units import RATE_SCALE

__all__ = ["BOOK", "USUAL", "VAULT", "backstop_ratio", "backstopped", "verdict"]

#: `verdict`: the market order goes to the book and what it leaves stays with the account (retried)
BOOK = 0
#: `verdict`: the vault takes the positions and their margin, no order
VAULT = 1
#: `verdict`: below the share but the vault cannot take it: the order, then the fund or ADL
USUAL = 2


def backstop_ratio(rule) -> tuple[int, int] | None:
    """(n, d) of a profile's liquidation rule (risk.venue_rules.LiquidationRule, or None): the
    share of maintenance margin below which the backstop takes over; None when the profile has
    no such backstop."""
    return None if rule is None else rule.backstop_below


def backstopped(equity: int, mm_scaled: int, ratio: tuple[int, int]) -> bool:
    """Whether `equity` (money units) is below n/d of the maintenance margin `mm_scaled` / RATE_SCALE:
    equity × d × RATE_SCALE < n × mm_scaled, exact (no rounding). With no maintenance margin
    (no position) never."""
    n, d = ratio
    return mm_scaled > 0 and equity * d * RATE_SCALE < n * mm_scaled


def verdict(equity: int, mm_scaled: int, ratio: tuple[int, int], fund: int) -> int:
    """What a liquidation under a backstop profile does: VAULT when `equity` (money units) is
    below n/d of the maintenance margin `mm_scaled` / RATE_SCALE (`backstopped`, exact) and the
    vault can take it (the equity is not negative, or the fund's balance `fund` is above zero to
    absorb it); USUAL when below but it cannot; BOOK otherwise (the market order, retried)."""
    if not backstopped(equity, mm_scaled, ratio):
        return BOOK
    return VAULT if equity >= 0 or fund > 0 else USUAL
