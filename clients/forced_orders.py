"""A shock's forced orders as the client returns them (ShockResult.forced_orders)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from perpsim.clients.models import _Model, dec, dec0, enum_name
from perpsim.v1 import common_pb2


@dataclass(frozen=True, slots=True)
class ForcedOrder(_Model):
    """A liquidation's forced order (LIMIT IOC at the bankruptcy price): quantities in the
    market's units; `fill_price` the average of its fills in the book on the tick grid (None
    when none filled); `improvement_bps` how far that lies from the bankruptcy price in the
    liquidated account's favour, in basis points (None when none filled)."""

    symbol: str
    account_id: int
    side: str
    quantity: Decimal
    bankruptcy_price: Decimal
    filled_quantity: Decimal
    fill_price: Decimal | None
    improvement_bps: Decimal | None
    taken_by_insurance: Decimal
    deleveraged: Decimal

    @classmethod
    def from_pb(cls, f) -> ForcedOrder:
        """From a `ForcedOrder` message: an empty fill price or improvement as None."""
        return cls(f.symbol, f.account_id, enum_name(common_pb2.Side, f.side), dec0(f.quantity),
                   dec0(f.bankruptcy_price), dec0(f.filled_quantity), dec(f.fill_price), dec(f.improvement_bps),
                   dec0(f.taken_by_insurance), dec0(f.deleveraged))
