"""What the client's streams yield: a market's book deltas, marks, liquidations and risk alerts,
and the account stream's updates; frozen dataclasses in the style of perpsim.clients.models."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from perpsim.clients.market_models import BookLevel, Mark, _levels
from perpsim.clients.models import _Model, dec, dec0, enum_name
from perpsim.v1 import common_pb2, market_pb2

__all__ = ["AccountUpdate", "Alert", "BookUpdate", "Liquidation", "MarkUpdate"]


@dataclass(frozen=True, slots=True)
class BookUpdate(_Model):
    """One message of the book stream: the first a snapshot, then the changed levels; `sequence`
    numbers this subscription's messages from 1 without gaps."""

    sequence: int
    snapshot: bool  # True: the whole book; False: changed levels (quantity 0 = removed)
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]

    @classmethod
    def from_pb(cls, r) -> BookUpdate:
        """From a `StreamOrderBookResponse`."""
        return cls(r.sequence, r.snapshot, _levels(r.bids), _levels(r.asks))


@dataclass(frozen=True, slots=True)
class MarkUpdate(_Model):
    """One message of the mark-price stream: the market's prices (a Mark) at venue time `time_ns` (ns);
    `sequence` numbers the stream's messages without gaps."""

    sequence: int
    mark: Mark
    time_ns: int

    @classmethod
    def from_pb(cls, r) -> MarkUpdate:
        """From a `StreamMarkPriceResponse`: its prices as a Mark."""
        return cls(r.sequence, Mark.from_pb(r.price), r.time_ns)


@dataclass(frozen=True, slots=True)
class Liquidation(_Model):
    """A public liquidation: the forced order's side and quantity, its bankruptcy price (None: not sent),
    and how the quantity went: filled by the book, taken by the insurance fund, auto-deleveraged
    (exact Decimals in the market's quantity units); venue time in ns."""

    sequence: int
    symbol: str
    side: str
    quantity: Decimal
    bankruptcy_price: Decimal | None
    filled_quantity: Decimal
    taken_by_insurance: Decimal
    auto_deleveraged: Decimal
    time_ns: int

    @classmethod
    def from_pb(cls, r) -> Liquidation:
        """From a `StreamLiquidationsResponse`: an empty bankruptcy price as None."""
        return cls(r.sequence, r.symbol, enum_name(common_pb2.Side, r.side), dec0(r.quantity),
                   dec(r.bankruptcy_price), dec0(r.filled_quantity), dec0(r.taken_by_insurance),
                   dec0(r.auto_deleveraged), r.time_ns)


@dataclass(frozen=True, slots=True)
class Alert(_Model):
    """A market-risk alert: "raised" when the spread is wide and the predicted funding rate
    extreme together, "cleared" when either relents."""

    sequence: int
    symbol: str
    state: str  # "raised" | "cleared"
    spread_bps: Decimal | None  # None: a side of the book is empty
    predicted_funding_rate: Decimal
    spread_threshold_bps: Decimal
    funding_rate_threshold: Decimal
    time_ns: int

    @classmethod
    def from_pb(cls, r) -> Alert:
        """From a `StreamAlertsResponse`: its alert with the message's sequence and time; an empty spread as
        None."""
        a = r.alert
        return cls(r.sequence, a.symbol, enum_name(market_pb2.AlertState, a.state), dec(a.spread_bps),
                   dec0(a.predicted_funding_rate), dec0(a.spread_threshold_bps), dec0(a.funding_rate_threshold),
                   r.time_ns)


@dataclass(frozen=True, slots=True)
class AccountUpdate(_Model):
    """One message of the account stream. `kind` names what changed: "order", "position",
    "balance", "margin_warning", "liquidation", "conditional", "order_list", "risk_alert" or
    "leverage_spike"; `data` holds the
    fields the venue set (decimals as Decimal, money as {"asset", "amount"}, enums as short names)."""

    sequence: int
    time_ns: int
    kind: str
    data: dict[str, Any]

    @classmethod
    def from_pb(cls, r) -> AccountUpdate:
        """From a `StreamAccountResponse`: `kind` the update it sets ("" and no data when none), `data` that
        update's set fields."""
        kind = r.WhichOneof("update") or ""
        return cls(r.sequence, r.time_ns, kind, _set_fields(getattr(r, kind)) if kind else {})


_DECIMAL_FIELDS = frozenset({"price", "quantity", "remaining_quantity", "amount", "margin_ratio_percent",
                             "covered_quantity", "slippage_mid_bps", "slippage_mark_bps"})


def _set_fields(msg) -> dict[str, Any]:
    """The fields a message sets: nested messages as dicts, enums by short name, decimal strings
    as Decimal; the integer twins of decimals (`*_lots`, `*_units`) are left out."""
    out: dict[str, Any] = {}
    for fd, value in msg.ListFields():
        if fd.name.endswith(("_lots", "_units")):
            continue
        if fd.message_type is not None:
            out[fd.name] = _set_fields(value)
        elif fd.enum_type is not None:
            name = fd.enum_type.values_by_number[value].name if value in fd.enum_type.values_by_number else str(value)
            prefix = re.sub(r"(?<!^)(?=[A-Z])", "_", fd.enum_type.name).upper() + "_"
            out[fd.name] = name.removeprefix(prefix).lower()
        elif fd.name in _DECIMAL_FIELDS:
            out[fd.name] = dec(value)
        else:
            out[fd.name] = value
    return out
