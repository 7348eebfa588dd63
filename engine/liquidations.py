"""What each forced order of a command's liquidations traded at, read from its events.

A liquidation places a forced LIMIT IOC order at the bankruptcy price (engine.exchange
`_liquidate`); its fills are the OrderEvents flagged `liquidation` whose taker is the
liquidated account, followed by the Liquidation notice of that step. This pairs each notice
with its fills: the quantity filled in the book, their average price, and how far that lies
from the bankruptcy price in the liquidated account's favour (positive: it sold above, or
bought below, the bankruptcy price; what a fill gains over that price is collateral left to
the account and the insurance fund).

Prices are exact Fractions of ticks; the improvement is in basis points of the bankruptcy
price, exact: `side · (bankruptcy − fill) / bankruptcy × 10⁴` with side +1 for a buy, −1 for a
sell. A read model of events: it changes nothing.
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

from perpsim.engine.events import Liquidation, OrderEvent
from perpsim.model.enums import EventKind, Side

_FILL = int(EventKind.FILL)


class ForcedOrder(NamedTuple):
    """One forced order of a liquidation: lots and ticks as in the Liquidation notice;
    fill_price None when nothing filled in the book."""

    symbol: str
    account: int
    side: int
    qty: int
    bankruptcy_price: int
    filled: int
    fill_price: Fraction | None
    improvement_bps: Fraction | None
    taken_by_insurance: int
    deleveraged: int


def forced_orders(events: list) -> list[ForcedOrder]:
    """The forced orders among `events` (one command's), in the order they were placed."""
    fills: dict[tuple[str, int], list[tuple[int, int]]] = {}
    out = []
    for e in events:
        if type(e) is OrderEvent:
            if e.liquidation and e.event.kind == _FILL:
                fills.setdefault((e.symbol, e.event.account), []).append((e.event.qty, e.event.price))
        elif type(e) is Liquidation:
            # this step's own fills are the last ones (a partial step that left the account
            # under water emits no notice of its own; its fills come before)
            mine, lots = [], 0
            for q, p in reversed(fills.pop((e.symbol, e.account), [])):
                if lots >= e.filled:
                    break
                mine.append((q, p))
                lots += q
            price = improvement = None
            if lots:
                price = Fraction(sum(q * p for q, p in mine), lots)
                sign = 1 if e.side == Side.BUY else -1
                improvement = sign * (e.bankruptcy_price - price) / e.bankruptcy_price * 10_000
            out.append(ForcedOrder(e.symbol, e.account, e.side, e.qty, e.bankruptcy_price, lots, price, improvement,
                                   e.taken_by_insurance, e.deleveraged))
    return out
