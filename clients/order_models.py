"""What the client's trading calls return (TradingService): orders with their fills, order lists
(OCO, OTO, bracket) and an order's preview; frozen dataclasses in the style of
perpsim.clients.models."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from perpsim.clients.account_models import RiskWarning, SigmaDistance
from perpsim.clients.models import _Model, dec, dec0, enum_name
from perpsim.v1 import common_pb2

__all__ = ["Fill", "Order", "OrderList", "OrderListLeg", "Preview"]


@dataclass(frozen=True, slots=True)
class Fill(_Model):
    """One fill of an order: price and quantity as exact Decimals with price_ticks and quantity_lots their
    integer forms; the slippages show 2 decimals, None when unknown."""

    order_id: int
    price: Decimal
    quantity: Decimal
    liquidity: str  # "maker" | "taker"
    price_ticks: int
    quantity_lots: int
    #: slippage in bps against the mid and the mark at the order's arrival (positive: worse)
    slippage_mid_bps: Decimal | None = None
    slippage_mark_bps: Decimal | None = None

    @classmethod
    def from_pb(cls, f) -> Fill:
        """From a `Fill` message: empty slippages as None."""
        return cls(f.order_id, dec0(f.price), dec0(f.quantity), enum_name(common_pb2.Liquidity, f.liquidity),
                   f.price_ticks, f.quantity_lots, dec(f.slippage_mid_bps), dec(f.slippage_mark_bps))


@dataclass(frozen=True, slots=True)
class Order(_Model):
    """An order as the venue holds it: price and quantities as exact Decimals with their tick and lot
    integer forms; price None when price_ticks is 0 (a market order). `open`: new or partially filled;
    `remaining_quantity` = quantity − filled_quantity."""

    order_id: int
    client_order_id: str
    symbol: str
    side: str  # "buy" | "sell"
    type: str  # "limit" | "market"
    status: str  # "new" | "partially_filled" | "filled" | "canceled" | "expired" | "rejected"
    price: Decimal | None
    quantity: Decimal
    filled_quantity: Decimal
    time_in_force: str  # "gtc" | "ioc" | "fok" | "gtx" | "gtd"
    reduce_only: bool
    position_side: str  # "both" | "long" | "short"
    price_ticks: int
    quantity_lots: int
    filled_quantity_lots: int
    #: the fills of this order while it was placed (PlaceOrder only; empty elsewhere)
    fills: tuple[Fill, ...] = ()
    #: the preview's warnings when it was placed (PlaceOrder only)
    warnings: tuple[RiskWarning, ...] = ()

    @classmethod
    def from_pb(cls, o, fills=(), warnings=()) -> Order:
        """From an `Order` message, with the `Fill` and `RiskWarning` messages PlaceOrder answers with; price
        None when price_ticks is 0."""
        return cls(o.order_id, o.client_order_id, o.symbol, enum_name(common_pb2.Side, o.side),
                   enum_name(common_pb2.OrderType, o.type), enum_name(common_pb2.OrderStatus, o.status),
                   dec(o.price) if o.price_ticks else None, dec0(o.quantity), dec0(o.filled_quantity),
                   enum_name(common_pb2.TimeInForce, o.time_in_force), o.reduce_only,
                   enum_name(common_pb2.PositionSide, o.position_side), o.price_ticks, o.quantity_lots,
                   o.filled_quantity_lots, tuple(Fill.from_pb(f) for f in fills),
                   tuple(RiskWarning.from_pb(w) for w in warnings))

    @property
    def open(self) -> bool:
        """Whether the order still rests in the book (new or partially filled)."""
        return self.status in ("new", "partially_filled")

    @property
    def remaining_quantity(self) -> Decimal:
        """Quantity not filled yet (exact, in the market's quantity unit)."""
        return self.quantity - self.filled_quantity


@dataclass(frozen=True, slots=True)
class OrderListLeg(_Model):
    """One exit of an order list. A trailing stop's trigger price is its activation price."""

    type: str  # "limit" | "stop_market" | "stop_limit" | "take_profit_market" | "take_profit_limit"
    #            | "trailing_stop_market"
    trigger_price: Decimal | None
    price: Decimal | None
    callback_rate: Decimal | None = None  # trailing stop: a fraction (0.01 = 1 %)

    @classmethod
    def from_pb(cls, leg) -> OrderListLeg | None:
        """From an `OrderListLeg` message; None when its type is unset (the list has no such exit)."""
        if not leg.type:
            return None
        return cls(enum_name(common_pb2.LegType, leg.type), dec(leg.trigger_price), dec(leg.price),
                   dec(leg.callback_rate))


@dataclass(frozen=True, slots=True)
class OrderList(_Model):
    """An OCO, OTO or bracket order list. `status` is "working" while it lives, else how it
    ended ("done", "canceled", "expired"); the ids are those of its live orders (0: none)."""

    list_id: int
    symbol: str
    type: str  # "oco" | "oto" | "bracket"
    side: str
    quantity: Decimal
    entry_price: Decimal | None  # None: a market entry (or an OCO)
    take_profit: OrderListLeg | None
    stop_loss: OrderListLeg | None
    trigger_source: str
    reduce_only: bool
    good_till_ns: int
    client_order_id: str
    status: str
    entry_order_id: int
    take_profit_id: int
    stop_loss_id: int
    covered_quantity: Decimal  # what the exits cover now

    @classmethod
    def from_pb(cls, o) -> OrderList:
        """From an `OrderList` message: status lower-cased, an empty entry price and unset exits as None."""
        return cls(o.list_id, o.symbol, enum_name(common_pb2.OrderListType, o.type),
                   enum_name(common_pb2.Side, o.side), dec0(o.quantity), dec(o.entry_price),
                   OrderListLeg.from_pb(o.take_profit), OrderListLeg.from_pb(o.stop_loss),
                   enum_name(common_pb2.TriggerSource, o.trigger_source), o.reduce_only, o.good_till_time_ns,
                   o.client_order_id, o.status.lower(), o.entry_order_id, o.take_profit_id, o.stop_loss_id,
                   dec0(o.covered_quantity))


@dataclass(frozen=True, slots=True)
class Preview(_Model):
    """What an order would do to the account's risk (nothing is placed)."""

    cost: Decimal  # initial margin + open loss + fee reserve
    available: Decimal
    affordable: bool
    resulting_quantity: Decimal
    liquidation_price: Decimal | None
    bankruptcy_price: Decimal | None
    maintenance_margin: Decimal
    liquidation_distance_percent: Decimal | None
    asset: str
    #: funding carry of the resulting position: the predicted rate (a fraction), what it would be
    #: paid (+) or pay (−) at the next funding time at the current mark and that rate, and that time
    funding_rate: Decimal
    funding_payment: Decimal
    next_funding_time_ns: int
    #: the liquidation band: first (partial, down one bracket) and last (full) liquidation price
    partial_liquidation_price: Decimal | None
    full_liquidation_price: Decimal | None
    #: the resulting position's distance to liquidation in σ per horizon, the largest quantity of
    #: this order keeping it k σ away (None: unknown), and the warnings
    liquidation_distance_sigma: tuple[SigmaDistance, ...] = ()
    max_quantity_within_k_sigma: Decimal | None = None
    warnings: tuple[RiskWarning, ...] = ()

    @classmethod
    def from_pb(cls, r) -> Preview:
        """From a `PreviewOrderResponse`: amounts from its Money fields (the asset: `cost`'s), empty prices
        as None."""
        return cls(dec0(r.cost.amount), dec0(r.available.amount), r.affordable, dec0(r.resulting_quantity),
                   dec(r.liquidation_price), dec(r.bankruptcy_price), dec0(r.maintenance_margin.amount),
                   dec(r.liquidation_distance_percent), r.cost.asset, dec0(r.funding_rate),
                   dec0(r.funding_payment.amount), r.next_funding_time_ns, dec(r.partial_liquidation_price),
                   dec(r.full_liquidation_price), tuple(SigmaDistance.from_pb(d) for d in r.liquidation_distance_sigma),
                   dec(r.max_quantity_within_k_sigma), tuple(RiskWarning.from_pb(w) for w in r.warnings))
