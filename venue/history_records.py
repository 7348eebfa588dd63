"""The records the account and market history answers with, and its retention limits.

Every record is an immutable NamedTuple in engine units: prices in ticks, quantities in lots,
money in integer units of the asset, times in ns since the epoch. A quote amount is kept exact
as price × quantity in tick-lots (`quote`); in the market's decimals it is
quote × tick_size × lot_size (for a linear market that is the notional in the settlement asset;
for an inverse market it is price × contracts).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum
from fractions import Fraction
from typing import NamedTuple

from perpsim.model.enums import TriggerSource


class IncomeKind(StrEnum):
    """What moved an account's wallet (Binance's income types where one exists)."""

    TRANSFER = "TRANSFER"  # deposit, withdrawal, transfer between accounts (`info` says which)
    REALIZED_PNL = "REALIZED_PNL"
    FUNDING_FEE = "FUNDING_FEE"
    COMMISSION = "COMMISSION"  # trading fees; a maker rebate is a positive amount
    INSURANCE_CLEAR = "INSURANCE_CLEAR"  # the liquidation (clearance) fee paid to the fund
    INSURANCE_COVER = "INSURANCE_COVER"  # the fund covering a liquidated account's deficit
    AUTO_EXCHANGE = "AUTO_EXCHANGE"  # Multi-Assets mode: collateral sold to repay a negative wallet


#: BalanceChanged causes -> income kind, of a wallet or an isolated margin alike; causes not listed
#: (moves between a wallet and its isolated margins) are no income.
INCOME_OF_CAUSE = {
    "deposit": IncomeKind.TRANSFER, "withdraw": IncomeKind.TRANSFER, "transfer": IncomeKind.TRANSFER,
    "realized_pnl": IncomeKind.REALIZED_PNL, "funding": IncomeKind.FUNDING_FEE, "fee": IncomeKind.COMMISSION,
    "liquidation_fee": IncomeKind.INSURANCE_CLEAR, "insurance_cover": IncomeKind.INSURANCE_COVER,
    "backstop_margin": IncomeKind.INSURANCE_CLEAR,
    "auto_exchange": IncomeKind.AUTO_EXCHANGE,
}

#: Kline intervals: name -> length in ns (Binance's names).
_MIN = 60 * 10**9
INTERVALS = {"1m": _MIN, "3m": 3 * _MIN, "5m": 5 * _MIN, "15m": 15 * _MIN, "30m": 30 * _MIN, "1h": 60 * _MIN,
             "2h": 120 * _MIN, "4h": 240 * _MIN, "6h": 360 * _MIN, "8h": 480 * _MIN, "12h": 720 * _MIN,
             "1d": 1440 * _MIN}
#: Kline price sources.
SOURCES = ("trade", "mark", "index")
#: Open-interest history periods (Binance's openInterestHist); samples are taken every 5 minutes.
OI_PERIODS = {k: INTERVALS[k] for k in ("5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d")}
OI_SAMPLE_NS = INTERVALS["5m"]


@dataclass(frozen=True)
class HistoryLimits:
    """Retention: how many records of each kind are kept; beyond that the oldest are dropped.

    Orders still open are never dropped (only completed ones count down the cap)."""

    orders_per_account: int = 10_000
    trades_per_account: int = 10_000
    income_per_account: int = 10_000
    trades_per_market: int = 10_000  # public trades (and so aggregated trades)
    klines_per_interval: int = 1_500  # per market, source and interval
    funding_per_market: int = 1_000
    open_interest_per_market: int = 2_000  # 5-minute samples
    force_orders_per_market: int = 1_000

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"history limit {f.name} must be an integer >= 1, not {v!r}")

    @classmethod
    def from_mapping(cls, values: dict | None) -> HistoryLimits:
        """Limits from a config table; unknown names are an error naming them."""
        values = dict(values or {})
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown history limits {sorted(unknown)}")
        return cls(**values)


class OrderRecord(NamedTuple):
    """An order as its owner sees it, open or completed.

    type: OrderKind of the order in the book; orig_type: the ConditionalKind of the conditional
    order that placed it (0 for an order placed directly), with its stop_price (ticks, 0 when
    none: a trailing stop's) and conditional_id. price: the limit price (0 for a market order).
    executed_qty lots; cum_quote tick-lots (Σ price × qty of its fills); status NEW,
    PARTIALLY_FILLED, FILLED, CANCELED or EXPIRED. time_ns: when it was accepted; update_ns:
    its last change."""

    order_id: int
    client_order_id: str
    account: int
    symbol: str
    side: int
    position_side: int
    type: int
    tif: int
    price: int
    orig_qty: int
    executed_qty: int
    cum_quote: int
    status: str
    reduce_only: bool
    orig_type: int
    stop_price: int
    conditional_id: int
    time_ns: int
    update_ns: int
    working_type: int = int(TriggerSource.LAST)  # what the placing conditional watched (LAST: placed directly)
    price_protect: bool = False  # the placing conditional's price protection

    @property
    def avg_price(self) -> Fraction | None:
        """Average fill price in ticks, exact (cum_quote / executed_qty); None before a fill."""
        return Fraction(self.cum_quote, self.executed_qty) if self.executed_qty else None


class AccountTrade(NamedTuple):
    """One fill as one side's account sees it (Binance userTrades).

    id: the market's trade id (shared by both sides); commission in units of
    commission_asset (positive = paid, negative = a maker rebate received); realized_pnl in
    units of the settlement asset (what the fill realized on the position it reduced, 0 when
    it only opened; isolated positions realize into their isolated margin and show 0 here).
    liquidation: the fill of a forced (liquidation) order, or of the liquidated side outside
    the book. order_id 0: a fill outside the book (auto-deleveraging, or the insurance fund
    taking the position over), at the bankruptcy price, without fee; its id is not a market
    trade's."""

    id: int
    symbol: str
    account: int
    order_id: int
    side: int
    position_side: int
    price: int
    qty: int
    quote: int
    commission: int
    commission_asset: str
    realized_pnl: int
    maker: bool
    buyer: bool
    liquidation: bool
    time_ns: int


class PublicTrade(NamedTuple):
    """A trade of a market (Binance trades / aggTrades): the maker's price, the taker's side.

    agg_id groups the fills of one taker order at one price (Binance's aggregate trade)."""

    id: int
    symbol: str
    price: int
    qty: int
    quote: int
    buyer_maker: bool
    time_ns: int
    agg_id: int
    taker_order_id: int


class AggTrade(NamedTuple):
    """An aggregate trade: consecutive fills of one taker order at one price."""

    id: int
    symbol: str
    price: int
    qty: int
    first_trade_id: int
    last_trade_id: int
    buyer_maker: bool
    time_ns: int


class Income(NamedTuple):
    """One movement of an account's wallet (Binance income). amount: signed units of `asset`.
    symbol: the market it came from ("" for transfers); info: the engine's cause (deposit,
    withdraw, transfer, fee, …); trade_id: the trade of a commission or realized PnL, else 0."""

    id: int
    account: int
    kind: str
    asset: str
    amount: int
    symbol: str
    info: str
    trade_id: int
    time_ns: int


class FundingRate(NamedTuple):
    """One funding settlement of a market. rate: scaled by 1e8 (RATE_SCALE); mark: ticks at the
    settlement; funding_ns: the funding time (the interval's end on the grid); time_ns: when the
    venue settled it (the first command at or after funding_ns)."""

    symbol: str
    rate: int
    mark: int
    funding_ns: int
    time_ns: int


class Kline(NamedTuple):
    """One bar of an interval, opening at open_ns (inclusive) and closing at close_ns
    (open + interval - 1 ns, Binance's convention). Prices in ticks; volume lots; quote_volume
    tick-lots; taker_buy_*: the part bought by takers. Mark and index bars have no volume. A bar
    with no trades carries the previous close as open, high, low and close."""

    open_ns: int
    close_ns: int
    open: int
    high: int
    low: int
    close: int
    volume: int
    quote_volume: int
    trades: int
    taker_buy_volume: int
    taker_buy_quote_volume: int


class Ticker24h(NamedTuple):
    """The rolling 24 hours of trades of a market, from its one-minute bars (the current bar
    included): open is the first trade's price in the window, last the latest. Prices in
    ticks, volume lots, quote_volume tick-lots; None prices when nothing traded."""

    symbol: str
    open: int | None
    high: int | None
    low: int | None
    last: int | None
    volume: int
    quote_volume: int
    trades: int
    first_trade_id: int
    last_trade_id: int
    open_ns: int
    close_ns: int

    @property
    def weighted_avg_price(self) -> Fraction | None:
        """Volume-weighted average price in ticks, exact; None without volume."""
        return Fraction(self.quote_volume, self.volume) if self.volume else None


class OpenInterest(NamedTuple):
    """Open interest of a market: the lots of all long positions (= all short ones), with the
    mark (ticks, 0 before the first) at `time_ns`."""

    symbol: str
    lots: int
    mark: int
    time_ns: int


class ForceOrder(NamedTuple):
    """A liquidation (Binance forceOrders): the forced order of `account`'s position. qty lots
    to close at the bankruptcy `price` (ticks); filled: lots the book took, at avg_price
    (exact ticks, None when nothing filled); taken_by_insurance / deleveraged: the rest, by
    the fund or by auto-deleveraging."""

    id: int
    symbol: str
    account: int
    side: int
    qty: int
    price: int
    filled: int
    filled_quote: int
    taken_by_insurance: int
    deleveraged: int
    time_ns: int

    @property
    def avg_price(self) -> Fraction | None:
        """The average price of the book's fills in exact ticks (filled_quote / filled); None when nothing filled."""
        return Fraction(self.filled_quote, self.filled) if self.filled else None
