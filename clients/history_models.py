"""What the client's history calls return (HistoryService): frozen dataclasses with Decimal fields,
in the style of perpsim.clients.models (enum values as short lower-case names, "" -> None)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from perpsim.clients.models import _Model, dec, dec0, enum_name
from perpsim.clients.order_models import Order
from perpsim.v1 import common_pb2, history_pb2

__all__ = ["AccountTrade", "ForceOrder", "FundingRate", "HistoricalOrder", "Income", "Kline", "MarketTrade",
           "OpenInterest", "Ticker24h"]


@dataclass(frozen=True, slots=True)
class HistoricalOrder(_Model):
    """An order, open or completed, with its fills' quote sum and average price; orig_type names
    the conditional order that placed it ("stop_market", …; "" when placed directly)."""

    order: Order
    cumulative_quote: Decimal
    average_price: Decimal | None
    orig_type: str
    stop_price: Decimal | None
    conditional_id: int
    time_ns: int
    update_time_ns: int
    working_type: str  # "mark" | "last" | "index": what the placing conditional watched
    price_protect: bool

    @classmethod
    def from_pb(cls, o) -> HistoricalOrder:
        """From a `HistoricalOrder` message: orig_type "" when it was placed directly, empty average and
        stop prices as None."""
        orig = enum_name(common_pb2.ConditionalType, o.orig_type) if o.orig_type else ""
        return cls(Order.from_pb(o.order), dec0(o.cumulative_quote), dec(o.average_price), orig, dec(o.stop_price),
                   o.conditional_id, o.time_ns, o.update_time_ns, enum_name(common_pb2.TriggerSource, o.working_type),
                   o.price_protect)

    @property
    def status(self) -> str:
        """The order's status (its `order.status`)."""
        return self.order.status


@dataclass(frozen=True, slots=True)
class AccountTrade(_Model):
    """One of the account's fills. commission: paid (negative: a maker rebate), in commission_asset."""

    trade_id: int
    order_id: int
    symbol: str
    side: str
    position_side: str
    price: Decimal
    quantity: Decimal
    quote_quantity: Decimal
    commission: Decimal
    commission_asset: str
    realized_pnl: Decimal
    maker: bool
    buyer: bool
    liquidation: bool
    time_ns: int

    @classmethod
    def from_pb(cls, t) -> AccountTrade:
        """From an `AccountTrade` message (commission and realized PnL from their Money)."""
        return cls(t.trade_id, t.order_id, t.symbol, enum_name(common_pb2.Side, t.side),
                   enum_name(common_pb2.PositionSide, t.position_side), dec0(t.price), dec0(t.quantity),
                   dec0(t.quote_quantity), dec0(t.commission.amount), t.commission.asset, dec0(t.realized_pnl.amount),
                   t.maker, t.buyer, t.liquidation, t.time_ns)


@dataclass(frozen=True, slots=True)
class MarketTrade(_Model):
    """A market's trade, or an aggregate trade (first/last_trade_id: the trades it sums)."""

    id: int
    price: Decimal
    quantity: Decimal
    quote_quantity: Decimal
    buyer_maker: bool
    time_ns: int
    first_trade_id: int
    last_trade_id: int

    @classmethod
    def from_pb(cls, t) -> MarketTrade:
        """From a `MarketTrade` message."""
        return cls(t.id, dec0(t.price), dec0(t.quantity), dec0(t.quote_quantity), t.buyer_maker, t.time_ns,
                   t.first_trade_id, t.last_trade_id)


@dataclass(frozen=True, slots=True)
class Income(_Model):
    """A movement of the wallet: type "transfer", "realized_pnl", "funding_fee", "commission",
    "insurance_clear" or "insurance_cover"; amount signed (+ into the wallet)."""

    id: int
    type: str
    asset: str
    amount: Decimal
    symbol: str
    info: str
    trade_id: int
    time_ns: int

    @classmethod
    def from_pb(cls, r) -> Income:
        """From an `IncomeRecord` message: its Money's asset and signed amount."""
        return cls(r.id, enum_name(history_pb2.IncomeType, r.type), r.amount.asset, dec0(r.amount.amount), r.symbol,
                   r.info, r.trade_id, r.time_ns)


@dataclass(frozen=True, slots=True)
class FundingRate(_Model):
    """One settled funding: the mark price then (None: no mark), funding_time_ns the funding time on the
    grid and settled_time_ns when the venue settled it (venue time, ns)."""

    symbol: str
    rate: Decimal  # a fraction per interval
    mark_price: Decimal | None
    funding_time_ns: int
    settled_time_ns: int

    @classmethod
    def from_pb(cls, r) -> FundingRate:
        """From a `FundingRateRecord` message: an empty mark price as None."""
        return cls(r.symbol, dec0(r.funding_rate), dec(r.mark_price), r.funding_time_ns, r.settled_time_ns)


@dataclass(frozen=True, slots=True)
class Kline(_Model):
    """One candle of trades, mark or index from open_time_ns to close_time_ns (open + interval − 1 ns):
    exact Decimal OHLC (an interval without a change repeats the previous close); volume is 0 for mark
    and index klines."""

    open_time_ns: int
    close_time_ns: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal
    trades: int
    taker_buy_volume: Decimal
    taker_buy_quote_volume: Decimal

    @classmethod
    def from_pb(cls, k) -> Kline:
        """From a `Kline` message."""
        return cls(k.open_time_ns, k.close_time_ns, dec0(k.open), dec0(k.high), dec0(k.low), dec0(k.close),
                   dec0(k.volume), dec0(k.quote_volume), k.trades, dec0(k.taker_buy_volume),
                   dec0(k.taker_buy_quote_volume))


@dataclass(frozen=True, slots=True)
class Ticker24h(_Model):
    """The last 24 hours of trades; prices None when nothing traded."""

    symbol: str
    open_price: Decimal | None
    high_price: Decimal | None
    low_price: Decimal | None
    last_price: Decimal | None
    price_change: Decimal | None
    price_change_percent: Decimal | None
    weighted_average_price: Decimal | None
    volume: Decimal
    quote_volume: Decimal
    trades: int
    first_trade_id: int
    last_trade_id: int
    open_time_ns: int
    close_time_ns: int

    @classmethod
    def from_pb(cls, t) -> Ticker24h:
        """From a `GetTicker24hResponse`: empty prices (nothing traded) as None."""
        return cls(t.symbol, dec(t.open_price), dec(t.high_price), dec(t.low_price), dec(t.last_price),
                   dec(t.price_change), dec(t.price_change_percent), dec(t.weighted_average_price), dec0(t.volume),
                   dec0(t.quote_volume), t.trades, t.first_trade_id, t.last_trade_id, t.open_time_ns, t.close_time_ns)


@dataclass(frozen=True, slots=True)
class OpenInterest(_Model):
    """A market's open interest at venue time `time_ns` (ns): the quantity held long (= held short) as an
    exact Decimal and in lots; value None before the first mark."""

    symbol: str
    open_interest: Decimal
    value: Decimal | None  # at the mark price
    mark_price: Decimal | None
    time_ns: int
    open_interest_lots: int = 0

    @classmethod
    def from_pb(cls, r) -> OpenInterest:
        """From an `OpenInterest` message: an empty value or mark price as None."""
        return cls(r.symbol, dec0(r.open_interest), dec(r.open_interest_value), dec(r.mark_price), r.time_ns,
                   r.open_interest_lots)


@dataclass(frozen=True, slots=True)
class ForceOrder(_Model):
    """A liquidation of the account: the forced order at the bankruptcy price and its outcome."""

    id: int
    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    filled_quantity: Decimal
    average_price: Decimal | None
    taken_by_insurance: Decimal
    auto_deleveraged: Decimal
    time_ns: int

    @classmethod
    def from_pb(cls, f) -> ForceOrder:
        """From a `ForceOrder` message: an empty average price as None."""
        return cls(f.id, f.symbol, enum_name(common_pb2.Side, f.side), dec0(f.quantity), dec0(f.price),
                   dec0(f.filled_quantity), dec(f.average_price), dec0(f.taken_by_insurance),
                   dec0(f.auto_deleveraged), f.time_ns)
