"""A market as the exchange holds it, and the keys its positions are filed under.

`_Market` is one market's state: its book, prices, positions, open-order records, conditional
orders and order lists, the indexes kept over them, and its contract (engine.contracts: the
math of its kind, linear notional = lots × price × K, inverse lots × k_inv / price). `_Open`
is an order live in the book as the risk checks see it, `_List` a live order list, `_Note`
what happened to a list's order.
Every stage of the exchange reads and writes markets through these; nothing here moves money.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import NamedTuple

from perpsim.engine import commands as C
from perpsim.engine.contracts import Contract
from perpsim.engine.triggers import TriggerIndex
from perpsim.model.enums import PositionSide, Side, TriggerSource
from perpsim.model.markets import MarketSpec
from perpsim.risk.brackets import Brackets
from perpsim.risk.funding import FundingConfig
from perpsim.risk.funding_intervals import FundingAccumulator
from perpsim.risk.index import IndexPrice
from perpsim.risk.liqindex import LiquidationIndex
from perpsim.risk.margin_kernel import BracketTable
from perpsim.risk.mark import MarkPrice
from perpsim.risk.positions import Position
from perpsim.risk.units import div_up, rate

#: The insurance fund acts as account 0 when it takes over positions; its wallet is INSURANCE.
IF_ACCOUNT = 0
DEFAULT_LEVERAGE = 20
BOTH, LONG, SHORT = PositionSide.BOTH, PositionSide.LONG, PositionSide.SHORT
_SIDE_BUY = Side.BUY
#: The liquidation-index side of a cross hedge-mode pair's second trigger, on a rise (risk.liqrange):
#: position_key(account, 3), a side no position has; the sweep treats it as the account's cross legs.
_RISE_SIDE = 3


class _Note(NamedTuple):
    """Something that happened to an order of an order list, carried out after the operation
    that caused it (never in the middle of one): "fill" (qty, leaves) or "gone" (cause, reason)."""

    symbol: str
    order_id: int
    what: str
    qty: int = 0
    leaves: int = 0
    cause: str = ""
    reason: int = 0


@dataclass
class _List:
    """A live order list: its entry while it works (order id, 0: none), the lots its exits cover
    (`armed`: what the entry has filled; OCO: its quantity) and have filled (`closed`), and the
    ids of its take-profit and stop-loss legs while they are live (0: not)."""

    cmd: C.PlaceOrderList
    entry: int = 0
    armed: int = 0
    closed: int = 0
    legs: list[int] = field(default_factory=lambda: [0, 0])


def _has_exits(m: _Market, account: int, pside: int) -> bool:
    """Whether reduce-only orders, closing conditional orders or order lists of the account
    may rest against its position (account, pside) in m."""
    key = (account, pside)
    return key in m.reduce_only or key in m.exit_conditionals or account in m.lists_of


def position_key(account: int, pside: int = 0) -> int:
    """The int key of a position (account, position side) in its market: of the positions map,
    of the liquidation index (an isolated position; an account's cross legs under side 0) and
    of an isolated margin's ledger holder. account = key // 4, side = key % 4; keys sort as the
    pairs do. An int, not a pair: no tuple to build, hash and compare at every lookup."""
    return account * 4 + pside


def position_of(key: int) -> tuple[int, int]:
    """(account, position side) of a `position_key`."""
    return divmod(key, 4)


def _trigger_indexes() -> dict[int, TriggerIndex]:
    return {s: TriggerIndex() for s in TriggerSource}


@dataclass
class _Open:
    """An order live in a book, as the risk layer sees it."""

    account: int
    side: int
    price: int
    leaves: int
    reduce_only: bool
    pside: int


@dataclass
class _Market:
    spec: MarketSpec
    book: object
    K: int
    tick: Fraction
    brackets: Brackets
    table: BracketTable  # the brackets as the compiled margin kernel holds them (linear markets)
    index: IndexPrice
    mark_state: MarkPrice
    funding_config: FundingConfig
    funding: FundingAccumulator
    imn: int  # impact margin notional: money units (linear) or quote units × 10**settle_decimals (inverse)
    contract: Contract  # the contract math of the market's kind (engine.contracts)
    liq: LiquidationIndex = field(default_factory=LiquidationIndex)
    positions: dict[int, Position] = field(default_factory=dict)  # by position_key
    orders: dict[int, _Open] = field(default_factory=dict)
    isolated: set[int] = field(default_factory=set)
    # the accounts in hedge mode (the exchange's own set): they hold LONG and SHORT positions,
    # every other account only BOTH (an order's position side must match the account's mode)
    hedge: set[int] = field(default_factory=set)
    # conditional orders: one trigger index per source, the orders, and the last price each
    # source was observed at (a source is only re-examined when its price moved)
    triggers: dict[int, TriggerIndex] = field(default_factory=_trigger_indexes)
    conditionals: dict[int, C.PlaceConditional] = field(default_factory=dict)
    conditionals_of: dict[int, set[int]] = field(default_factory=dict)  # per account: its conditional ids
    # resting reduce-only (and closing) order ids per (account, position side), so trimming
    # and the room check never scan the whole book
    reduce_only: dict[tuple[int, int], set[int]] = field(default_factory=dict)
    observed: dict[int, int] = field(default_factory=dict)
    # closing conditional orders per (account, position side): canceled when that position
    # closes or reverses
    exit_conditionals: dict[tuple[int, int], set[int]] = field(default_factory=dict)
    # order lists: by list id, the list of each live entry and leg id, the list ids per account
    lists: dict[int, _List] = field(default_factory=dict)
    list_of: dict[int, int] = field(default_factory=dict)
    lists_of: dict[int, set[int]] = field(default_factory=dict)
    # per account, the exact notional of its open orders that can open exposure (what their
    # initial margin is computed on), kept as orders are accepted, filled and removed
    order_value: dict[int, int | Fraction] = field(default_factory=dict)
    mark: int | None = None
    # (ts, last, funding rate, next funding time) the mark was last computed at: with the
    # index unchanged, the mark is a function of these (MarkPrice samples only at a new ts)
    marked: tuple | None = None
    last: int | None = None
    rate: int = 0
    next_funding: int = 0

    inverse: bool = False
    #: inverse markets: coin money units × ticks per lot (value of lots at price = lots × k_inv / price)
    k_inv: Fraction = Fraction(0)
    # the spec's fee rates (scaled by RATE_SCALE) and price band, converted once
    taker_fee: int = field(init=False)
    maker_fee: int = field(init=False)
    liquidation_fee: int = field(init=False)
    band_up: Fraction = field(init=False)
    band_down: Fraction = field(init=False)
    band: tuple[int | None, int, int] = (None, 0, 0)  # (mark, up, down) of the last band computed
    min_notional: int = field(init=False)  # linear: money units
    symbol: str = field(init=False)
    asset: str = field(init=False)  # the settlement asset
    price_limits: tuple[int, int] = field(init=False)  # (min, max) price in ticks
    first_cap: int = field(init=False)  # the first bracket's cap (money units): no partial liquidation below
    # the leverage of an account that never set one: 20x, or the market's highest if lower
    default_leverage: int = field(init=False)
    pnl_pool: tuple[str, int] = field(init=False)  # the ledger holder realized PnL is paid from
    iso_name: str = field(init=False)  # the ledger name of the market's isolated margins

    def __post_init__(self) -> None:
        self.taker_fee = rate(self.spec.taker_fee)
        self.maker_fee = rate(self.spec.maker_fee)
        self.liquidation_fee = rate(self.spec.liquidation_fee)
        self.band_up = Fraction(self.spec.price_band_up)
        self.band_down = Fraction(self.spec.price_band_down)
        self.min_notional = 0 if self.inverse else self.spec.money_to_units(self.spec.min_notional)
        self.symbol, self.asset = self.spec.symbol, self.spec.settle
        self.price_limits = self.spec.book_limits()[:2]
        self.first_cap = self.brackets.for_notional(0).cap
        self.default_leverage = min(DEFAULT_LEVERAGE, self.brackets[0].max_leverage)
        self.pnl_pool, self.iso_name = ("pnl:" + self.symbol, 0), "iso:" + self.symbol

    def value(self, lots: int, price: int) -> int | Fraction:
        """Notional of |lots| at price, in money units of the settlement asset: exact int for
        linear markets (|lots| × price × K), exact Fraction for inverse (|lots| × k_inv / price)."""
        return self.contract.value(lots, price)

    def entry(self, p: Position) -> Fraction:
        """Average entry price in ticks, exact (inverse: the contract-weighted harmonic mean)."""
        return self.contract.entry(p)

    def entry_value(self, p: Position) -> int:
        """Notional at the average entry price (money units)."""
        return self.contract.entry_value(p)

    def upnl(self, p: Position) -> int:
        """Unrealized PnL at mark, money units; inverse rounds toward -infinity."""
        return self.contract.upnl(p, self.mark)

    def fill(self, p: Position, qty: int, price: int) -> int:
        """Apply a signed fill to a position; its realized PnL in money units (rounded down)."""
        return self.contract.fill(p, qty, price)

    def funding_price(self, ts: int) -> int:
        """The price (ticks) funding is paid on: the mark, or the index where the venue pays on
        its oracle (the mark while no index is live)."""
        if self.funding_config.price == "index":
            return self.index.value(ts) or self.mark
        return self.mark

    def funding_terms(self, ts: int) -> tuple[int, int | Fraction]:
        """(price, K) for risk.funding_payments at the funding price: linear lots × price × K; inverse
        lots × k_inv / price (as a K at price 1)."""
        return self.contract.funding_terms(self.funding_price(ts))

    def pool_target(self) -> int:
        """What the market's pnl pool must hold: -K × Σ cost (linear) or Σ cost (inverse)."""
        return self.contract.pool_target(sum(p.cost for p in self.positions.values()))

    def lp(self, legs, wallet: int, other_mm: int, other_upnl: int, model):
        """Exact liquidation price of positions `legs` of this market (risk.liqprice)."""
        return self.contract.lp(legs, wallet, other_mm, other_upnl, model)

    def bp_tick(self, legs, wallet: int, other_upnl: int = 0) -> int | None:
        """The bankruptcy price of `legs` rounded to the tick against the account, or None: the
        margin kernel's integers on linear markets, the exact price rounded on inverse ones."""
        return self.contract.bp_tick(legs, wallet, other_upnl)

    def bp(self, legs, wallet: int, other_upnl: int = 0):
        """Exact bankruptcy price of positions `legs` of this market (risk.liqprice)."""
        return self.contract.bp(legs, wallet, other_upnl)

    def iso_holder(self, account: int, pside: int) -> tuple[str, int]:
        """The ledger holder of an isolated position's margin."""
        return (self.iso_name, position_key(account, pside))

    def holds(self, account: int) -> bool:
        """Whether the account has a position in this market."""
        positions = self.positions
        if account in self.hedge:
            return position_key(account, LONG) in positions or position_key(account, SHORT) in positions
        return position_key(account, BOTH) in positions

    def unindex(self, account: int) -> None:
        """Take the account's entries out of the liquidation index: its cross entry (BOTH),
        and for a hedge-mode account its per-side isolated ones and its cross rise entry."""
        key = position_key(account)  # position_key(account, pside) = key + pside
        self.liq.remove(key)
        if account in self.hedge:
            self.liq.remove(key + LONG)
            self.liq.remove(key + SHORT)
            self.liq.remove(key + _RISE_SIDE)

    def legs(self, account: int):
        """(pside, position) of the account in this market, in side order."""
        yield from self.leg_list(account)

    def leg_list(self, account: int) -> list[tuple[int, Position]]:
        """`legs` as a list."""
        if account not in self.hedge:
            p = self.positions.get(position_key(account, BOTH))
            return [] if p is None else [(BOTH, p)]
        found = []
        for pside in (LONG, SHORT):
            p = self.positions.get(position_key(account, pside))
            if p is not None:
                found.append((pside, p))
        return found

    def held(self, account: int) -> int:
        """The lots the account holds in this market, both sides of a hedge-mode account summed."""
        total = 0
        for _, p in self.leg_list(account):
            total += abs(p.lots)
        return total

    def source_price(self, ts: int, source: int) -> int | None:
        """The price (ticks) a trigger source stands at: the mark, the last trade (the mark before
        any), or the index while one of its sources is live at ts (None: no price)."""
        if source == TriggerSource.MARK:
            return self.mark
        if source == TriggerSource.LAST:
            return self.last if self.last is not None else self.mark
        return self.index.value(ts)  # (None while no source is live; memoised per ts)

    def price_band(self) -> tuple[int, int]:
        """PERCENT_PRICE band around mark in ticks: buy limit ≤ up, sell limit ≥ down (kept per
        mark: it changes only when the mark does)."""
        if self.band[0] != self.mark:
            up_rate, down_rate = self.band_up, self.band_down
            up = self.mark * up_rate.numerator // up_rate.denominator  # floor: stays inside the band
            down = div_up(self.mark * down_rate.numerator, down_rate.denominator)
            lo, hi, _, _ = self.spec.book_limits()
            self.band = (self.mark, min(up, hi), max(down, lo))
        return self.band[1], self.band[2]

    def protection(self, side: int) -> int:
        """The limit a market (or forced) order on `side` gets: the band's edge on its side."""
        up, down = self.price_band()
        return up if side == _SIDE_BUY else down
