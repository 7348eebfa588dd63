"""The immutable values engine/views.py returns (see its module doc for units): frozen slotted
dataclasses for the views, NamedTuples for the rows read in bulk (book levels, holdings)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

from perpsim.engine import commands as C
from perpsim.model.markets import MarketSpec

_frozen = dataclass(frozen=True, slots=True)


class UnknownSymbol(KeyError):
    """A symbol the exchange does not list (`symbol`: what was asked for)."""

    def __init__(self, symbol: str) -> None:
        super().__init__(symbol)
        self.symbol = symbol

    def __str__(self) -> str:
        return f"unknown symbol {self.symbol!r}"


class Level(NamedTuple):
    """One book price level: price (ticks), total lots resting, number of orders."""

    price: int
    lots: int
    orders: int


class Holding(NamedTuple):
    """A position as `all_positions` lists it: account, position side, signed lots, whether it
    is isolated, and the trigger (ticks) the liquidation index holds for it (an isolated
    position's own; a cross account's for all its legs in the market), None if not indexed.
    A cross hedge-mode pair may have a second trigger, above the mark: see
    `liquidation_entries`."""

    account: int
    position_side: int
    lots: int
    isolated: bool
    trigger: int | None


class LiquidationEntry(NamedTuple):
    """One entry of a market's liquidation index: the account, the position side it stands for
    (0: the account's cross legs; 3: a cross hedge-mode pair's trigger on a rise), direction
    (+1: liquidated at or below the trigger, −1: at or above) and trigger (ticks)."""

    account: int
    position_side: int
    direction: int
    trigger: int


class OpenOrder(NamedTuple):
    """An order resting in a book: leaves in lots, price in ticks, expire_ts ns (0: none)."""

    order_id: int
    symbol: str
    account: int
    side: int
    price: int
    leaves: int
    reduce_only: bool
    position_side: int
    tif: int
    expire_ts: int


@_frozen
class PriceView:
    """A market's prices (ticks; None before there is one), touch, the last settled funding
    rate (scaled 1e8) and the next funding time (ns)."""

    symbol: str
    mark: int | None
    index: int | None
    last: int | None
    best_bid: int | None
    best_ask: int | None
    funding_rate: int
    next_funding_ts: int


@_frozen
class FundingView:
    """Funding of a market: last settled and predicted rate (scaled 1e8), next funding time and
    interval (ns), premium samples recorded in the open interval."""

    symbol: str
    rate: int
    predicted_rate: int
    next_funding_ts: int
    interval_ns: int
    samples: int
    interest: int = 0  # the interest component per quoted interval (scaled 1e8)
    cap: int | None = None  # bounds of the quoted rate (scaled 1e8; None: unbounded)
    floor: int | None = None


@_frozen
class LiquidationFacts:
    """A market's liquidation state: what price triggers liquidation ("mark" or "last"), entries
    in the liquidation index, the nearest trigger not yet crossed at the mark on each side
    (ticks, None: none), the positions being liquidated right now (only ever non-empty inside
    a command), and the liquidations ever done in the market are in the event stream."""

    symbol: str
    trigger_source: str
    indexed: int
    nearest_long_trigger: int | None
    nearest_short_trigger: int | None
    in_liquidation: tuple[tuple[int, int], ...]  # (account, position side)


@_frozen
class MarketView:
    """A market: its spec, prices, funding, open interest (lots held long, the insurance fund's
    included), positions and isolated accounts counted, the insurance fund of its settlement
    asset (units) and its liquidation facts."""

    symbol: str
    spec: MarketSpec
    asset: str
    inverse: bool
    prices: PriceView
    funding: FundingView
    open_interest: int
    positions: int
    isolated_accounts: int
    insurance: int
    liquidation: LiquidationFacts


@_frozen
class BookView:
    """A book's top `depth` levels per side, best first; order_count: all resting orders;
    trades / volume (lots): the book's totals since start; last_ts: its last event (ns)."""

    symbol: str
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    order_count: int
    trades: int
    volume: int
    last_ts: int


@_frozen
class BalanceView:
    """One asset of an account (money units): wallet; unrealized PnL, maintenance and initial
    margin of its cross positions (initial also of its open orders); margin balance = wallet +
    upnl; available = margin balance − initial (may be negative); withdrawable (never counts
    unrealized profit)."""

    asset: str
    wallet: int
    available: int
    margin_balance: int
    upnl: int
    initial_margin: int
    maintenance_margin: int
    withdrawable: int


@_frozen
class PositionView:
    """A position. lots signed; entry: exact average entry (ticks, a Fraction); upnl and
    maintenance_margin at mark (units; 0 before a mark); isolated_margin (units, 0 if cross);
    liquidation / bankruptcy: exact prices (ticks, Fraction, None: none) and `_tick` rounded
    against the account; adl_quantile 0..4 (4 = first); funding_estimate: paid (+) or paying
    (−) at the next funding time at mark and the predicted rate (units)."""

    symbol: str
    account: int
    position_side: int
    lots: int
    entry: Fraction
    mark: int | None
    upnl: int
    isolated: bool
    isolated_margin: int
    leverage: int
    liquidation: Fraction | None
    liquidation_tick: int | None
    bankruptcy: Fraction | None
    bankruptcy_tick: int | None
    maintenance_margin: int
    adl_quantile: int
    funding_estimate: int


@_frozen
class ConditionalView:
    """A resting conditional order: its id and the command that placed it (ticks, lots)."""

    conditional_id: int
    order: C.PlaceConditional


@_frozen
class OrderListView:
    """A working order list: its id, the command that placed it, its live entry and leg order
    ids (0: none), and the lots its exits cover (armed) and have closed."""

    list_id: int
    order: C.PlaceOrderList
    entry_order_id: int
    take_profit_id: int
    stop_loss_id: int
    armed: int
    closed: int

    @property
    def covered(self) -> int:
        """Lots the exits still cover."""
        return self.armed - self.closed


@_frozen
class AssetFlows:
    """Ledger totals of an asset (units): deposited and withdrawn through the venue, and what
    the insurance fund, the fee account and the rounding dust hold."""

    asset: str
    deposited: int
    withdrawn: int
    insurance: int
    fees: int
    dust: int
