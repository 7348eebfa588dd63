"""What the client returns: small frozen dataclasses with exact Decimal fields.

Each has a `from_pb` classmethod converting the protobuf message. Enum values become short
lower-case names ("buy", "limit", "partially_filled", "cross"); an empty decimal string on the
wire (no liquidation price, no mark yet) becomes None. `to_dict()` gives plain JSON-ready data
(Decimals as strings).

This module holds their shared base and wire helpers, and the sandbox controls' results. The
others live by what they hold: market_models (market, book, mark, trade), order_models (orders,
fills, order lists, previews), account_models (account, balances, positions, risk warnings),
stream_models (stream updates), history_models, risk_models, account_risk_models and
clock_models; perpsim.clients.client re-exports the ones its calls return.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any, NamedTuple

from perpsim.v1 import sandbox_pb2

__all__ = [
    "IndexUpdate",
    "NewAccount",
    "ShockResult",
    "VenueState",
    "enum_name",
    "enum_prefix",
    "to_jsonable",
]


def dec(text: str) -> Decimal | None:
    """A wire decimal string as Decimal; "" -> None."""
    return Decimal(text) if text else None


def dec0(text: str) -> Decimal:
    """A wire decimal string as Decimal; "" -> 0."""
    return Decimal(text) if text else Decimal(0)


def enum_name(enum_type, value: int) -> str:
    """SIDE_BUY -> "buy", ORDER_STATUS_PARTIALLY_FILLED -> "partially_filled"; unknown -> str(value)."""
    try:
        name = enum_type.Name(value)
    except ValueError:
        return str(value)
    prefix = enum_prefix(enum_type)
    return name[len(prefix):].lower() if name.startswith(prefix) else name.lower()


def enum_prefix(enum_type) -> str:
    """The prefix of an enum's value names (buf style: OrderListType -> "ORDER_LIST_TYPE_")."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", enum_type.DESCRIPTOR.name).upper() + "_"


def to_jsonable(value: Any) -> Any:
    """Dataclasses, tuples, dicts and Decimals as plain JSON data (Decimals as exact strings)."""
    if isinstance(value, Decimal):
        return format(value, "f")  # exact, never in exponent form ("0E-8" -> "0.00000000")
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {k: to_jsonable(v) for k, v in value._asdict().items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    return value


class _Model:
    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)


class NewAccount(NamedTuple):
    """A sandbox account: `account_id, api_key, api_secret = client.create_account()`. The key
    authenticates gRPC calls and REST calls (`X-MBX-APIKEY`); the secret signs REST requests."""

    account_id: int
    api_key: str
    api_secret: str


@dataclass(frozen=True, slots=True)
class IndexUpdate(_Model):
    """What `set_index_price` did: the mark price after it as an exact Decimal (None: no mark) and the
    number of liquidations the move set off."""

    mark_price: Decimal | None
    liquidations: int


@dataclass(frozen=True, slots=True)
class ShockResult(_Model):
    """What `shock_price` did: the index and mark price after it as exact Decimals (None: no mark), the
    number of liquidations it set off, and their forced orders."""

    index_price: Decimal | None
    mark_price: Decimal | None
    liquidations: int
    forced_orders: tuple[Any, ...] = ()  # clients.forced_orders.ForcedOrder, in the order placed


@dataclass(frozen=True, slots=True)
class VenueState(_Model):
    """The venue's time (ns since the Unix epoch, its last command's), state hash, durable
    journal sequence, insurance funds by asset, and clock mode: "wall" (wall-clock time plus
    every AdvanceClock) or "held" (moved only by AdvanceClock; perpsim.clients.clock_models);
    held with a lease, the milliseconds left before it lapses unless renewed (0: no lease)."""

    now_ns: int
    state_hash: str
    journal_sequence: int
    insurance_funds: dict[str, Decimal]
    clock_mode: str
    clock_lease_remaining_ms: int = 0

    @classmethod
    def from_pb(cls, r) -> VenueState:
        """From a `GetVenueStateResponse`: insurance funds by asset, the clock mode as a short name."""
        return cls(r.now_ns, r.state_hash, r.journal_sequence,
                   {m.asset: dec0(m.amount) for m in r.insurance_funds}, enum_name(sandbox_pb2.ClockMode, r.clock_mode),
                   r.clock_lease_remaining_ms)
