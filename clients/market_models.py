"""What the client's market data calls return (MarketService): a market's contract, its book,
its prices and its trades; frozen dataclasses in the style of perpsim.clients.models (exact
Decimals, enum values as short lower-case names, "" -> None)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from perpsim.clients.models import _Model, dec, dec0, enum_name
from perpsim.v1 import common_pb2

__all__ = ["BookLevel", "Mark", "Market", "OrderBook", "Trade"]


@dataclass(frozen=True, slots=True)
class Market(_Model):
    """One market's contract. Exact Decimals: tick_size in quote per base unit; lot_size and the quantity
    limits in base units (linear) or contracts of contract_size quote (inverse); min_notional in quote.
    Fee rates are fractions (0.0002 = 0.02 %; a negative maker fee is a rebate); price bands multiply the mark."""

    symbol: str
    kind: str  # "linear" | "inverse"
    base_asset: str
    quote_asset: str
    settle_asset: str
    tick_size: Decimal
    lot_size: Decimal
    min_quantity: Decimal
    max_quantity: Decimal
    min_notional: Decimal
    contract_size: Decimal
    maker_fee_rate: Decimal
    taker_fee_rate: Decimal
    liquidation_fee_rate: Decimal
    price_band_up: Decimal  # a limit price may be at most mark * price_band_up
    price_band_down: Decimal
    #: which price triggers what: the price liquidation compares against ("mark" or "last"), the
    #: prices a conditional order may watch, and the one it watches when it names none
    liquidation_trigger: str = ""
    conditional_trigger_sources: tuple[str, ...] = ()
    default_conditional_trigger_source: str = ""

    @classmethod
    def from_pb(cls, m) -> Market:
        """From a `Market` message: trigger sources as short names (e.g. "mark")."""
        def source(v: int) -> str:
            return enum_name(common_pb2.TriggerSource, v)

        return cls(m.symbol, m.kind, m.base_asset, m.quote_asset, m.settle_asset, dec0(m.tick_size),
                   dec0(m.lot_size), dec0(m.min_quantity), dec0(m.max_quantity), dec0(m.min_notional),
                   dec0(m.contract_size), dec0(m.maker_fee_rate), dec0(m.taker_fee_rate),
                   dec0(m.liquidation_fee_rate), dec0(m.price_band_up), dec0(m.price_band_down),
                   source(m.liquidation_trigger), tuple(source(v) for v in m.conditional_trigger_sources),
                   source(m.default_conditional_trigger_source))


@dataclass(frozen=True, slots=True)
class BookLevel(_Model):
    """One price level of a book side: price and total quantity as exact Decimals, price_ticks and
    quantity_lots their integer forms, order_count the orders resting there."""

    price: Decimal
    quantity: Decimal  # 0 in a book delta: the level is gone
    order_count: int
    price_ticks: int
    quantity_lots: int

    @classmethod
    def from_pb(cls, lv) -> BookLevel:
        """From a `PriceLevel` message."""
        return cls(dec0(lv.price), dec0(lv.quantity), lv.order_count, lv.price_ticks, lv.quantity_lots)


def _levels(levels) -> tuple[BookLevel, ...]:
    return tuple(BookLevel.from_pb(lv) for lv in levels)


@dataclass(frozen=True, slots=True)
class OrderBook(_Model):
    """One market's book, the top levels of each side best first (best_bid / best_ask: None for an
    empty side); sequence: the venue's count of durable commands when it answered."""

    symbol: str
    bids: tuple[BookLevel, ...]  # best first
    asks: tuple[BookLevel, ...]
    sequence: int

    @classmethod
    def from_pb(cls, r) -> OrderBook:
        """From a `GetOrderBookResponse`: each side's levels best first."""
        return cls(r.symbol, _levels(r.bids), _levels(r.asks), r.sequence)

    @property
    def best_bid(self) -> Decimal | None:
        """The best bid price; None with no bid."""
        return self.bids[0].price if self.bids else None

    @property
    def best_ask(self) -> Decimal | None:
        """The best ask price; None with no ask."""
        return self.asks[0].price if self.asks else None


@dataclass(frozen=True, slots=True)
class Mark(_Model):
    """One market's prices: mark, index and last as exact Decimals in quote (None before there is one);
    funding rates are fractions per interval (0.0001 = 0.01 %); times are venue time in ns."""

    symbol: str
    mark_price: Decimal | None
    index_price: Decimal | None
    last_price: Decimal | None
    funding_rate: Decimal  # the last settled rate (of the interval that closed last)
    next_funding_time_ns: int
    #: the rate the next settlement applies if its interval closed now (what traders watch); None
    #: from a venue that does not send it
    predicted_funding_rate: Decimal | None = None
    time_ns: int = 0  # venue time of these prices (0: not sent)

    @classmethod
    def from_pb(cls, r) -> Mark:
        """From a `GetMarkPriceResponse`: empty prices and an empty predicted rate as None."""
        return cls(r.symbol, dec(r.mark_price), dec(r.index_price), dec(r.last_price), dec0(r.funding_rate),
                   r.next_funding_time_ns, dec(r.predicted_funding_rate), r.time_ns)


@dataclass(frozen=True, slots=True)
class Trade(_Model):
    """One public trade (the trade stream): price and quantity as exact Decimals with price_ticks and
    quantity_lots their integer forms, the taker's side, venue time in ns; liquidation: a liquidation's
    trade. `sequence` numbers the stream's messages without gaps."""

    sequence: int
    symbol: str
    price: Decimal
    quantity: Decimal
    taker_side: str
    time_ns: int
    liquidation: bool
    price_ticks: int
    quantity_lots: int

    @classmethod
    def from_pb(cls, t) -> Trade:
        """From a `StreamTradesResponse`: the taker's side as "buy" or "sell"."""
        return cls(t.sequence, t.symbol, dec0(t.price), dec0(t.quantity), enum_name(common_pb2.Side, t.taker_side),
                   t.time_ns, t.liquidation, t.price_ticks, t.quantity_lots)
