"""The exchange: the venue's deterministic state machine.

`Exchange.apply(command) -> list[event]` is the only thing that changes state. It reads no
clock, draws no random number and does no I/O: time comes in on each command (ns).

Pipeline for an order: validate -> pre-trade risk (position side, band, min notional,
reduce-only clamp, cost to open) -> match in the market's book -> settle fills (positions,
realized PnL, fees, isolated margin) -> mark. A mark change runs: liquidation sweep through the
liquidation index -> forced IOC orders at the bankruptcy price (first down to a lower bracket
where that is enough) -> the insurance fund takes what the book could not -> ADL if the fund
cannot -> the fund offloads what it holds. Funding settles when a command reaches a funding time.

Conditional orders rest in a trigger index per source and are placed as orders when they fire.
Order lists (OCO, OTO, brackets) tie orders together: what happens to one of their orders (a
fill, an order leaving the book or a conditional leg canceled) is noted during an operation and
acted on between operations (`_run_lists`), never inside one; a conditional leg that fires
cancels the list's other orders before its own is placed (`_fire`); a position that closes or
reverses ends the lists and cancels the closing conditional orders against it (`_fit_exits`).
GTD conditional orders and lists expire when a command at or after their time arrives
(`_expire`).

Scope: linear and inverse (coin-margined) markets; one-way and hedge positions; cross and
isolated margin.

Money flows are ledger movements between named holders, so conservation holds by
construction: wallets, isolated margins, the insurance fund (account 0 when it holds
positions), fees, rounding dust, and per market a "pnl" pool whose balance is always
-K × Σ cost of the market's positions (realized PnL is paid out of it; see check_integrity).
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import heapq
import math
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import NamedTuple

from perpsim.engine import commands as C
from perpsim.engine import multi_assets as MA
from perpsim.engine.book_types import BookLimits, make_book
from perpsim.engine.events import (
    AutoDeleveraged,
    BalanceChanged,
    CommandRejected,
    ConditionalEvent,
    DailyLossLimitHit,
    DailyLossLimitSet,
    FundingSettled,
    InsuranceFundChanged,
    Liquidation,
    ListEvent,
    MarkPriceChanged,
    OrderEvent,
    OrderPlaced,
    PositionChanged,
)
from perpsim.engine.records import new_record
from perpsim.engine.triggers import TriggerIndex, stop_direction, would_activate, would_trigger
from perpsim.model.enums import (
    ConditionalKind,
    EventKind,
    ExpireCause,
    LegType,
    ListKind,
    OrderKind,
    PositionSide,
    Side,
    StpMode,
    TimeInForce,
    TriggerSource,
)
from perpsim.model.markets import MarketKind, MarketSpec
from perpsim.model.reasons import RejectReason as R
from perpsim.risk import margin as M
from perpsim.risk.brackets import Brackets
from perpsim.risk.funding import (
    PREMIUM_SAMPLE_NS,
    FundingAccumulator,
    FundingConfig,
    funding_payment,
    funding_payments,
    impact_notional,
    impact_price,
    impact_price_contracts,
    next_funding_ts,
    premium_index,
)
from perpsim.risk.index import IndexPrice
from perpsim.risk.ledger import DUST, FEES, INSURANCE, OUTSIDE, Ledger
from perpsim.risk.liqindex import LiquidationIndex
from perpsim.risk.liqprice import (
    InverseLeg,
    Leg,
    LiquidationModel,
    Trigger,
    bankruptcy_price,
    inverse_bankruptcy_price,
    inverse_liquidation_price,
    liquidation_price,
)
from perpsim.risk.liqrange import rise_tick
from perpsim.risk.losslimit import LossLimit, LossLimitState, loss, next_day
from perpsim.risk.margin import SHORT_LAST_BUFFER, initial_margin, open_cost, upnl
from perpsim.risk.margin_kernel import BracketTable, bankruptcy_tick
from perpsim.risk.mark import MarkPrice
from perpsim.risk.positions import Position
from perpsim.risk.preview import preview_position
from perpsim.risk.profiles import BINANCE, VenueProfile
from perpsim.risk.units import RATE_SCALE, apply_rate_down, apply_rate_up, div_up, rate
from perpsim.risk.venue_rules import AdlRanking, StepKind, adl_score

#: The insurance fund acts as account 0 when it takes over positions; its wallet is INSURANCE.
IF_ACCOUNT = 0
DEFAULT_LEVERAGE = 20
#: How long an ADL quantile's ranking stands (ns of venue time): Binance's "update every 30s".
ADL_WINDOW_NS = 30 * 10**9
BOTH, LONG, SHORT = PositionSide.BOTH, PositionSide.LONG, PositionSide.SHORT
_NEVER_STALE = 1 << 62
#: Trailing callback rate bounds (0.1 %..10 %) and price protection (mark vs last), scaled 1e8.
CALLBACK_MIN, CALLBACK_MAX, TRIGGER_PROTECT = 100_000, 10_000_000, 5_000_000
#: Book levels read for an impact price; deeper than any impact notional needs in practice.
_IMPACT_LEVELS = 1_000
_HANDLERS: dict[type, object] = {}  # command type -> Exchange method, filled on first use
# book event kinds and sides as plain ints, for the per-fill loop
_ACCEPTED, _FILL, _CANCELED, _EXPIRED, _AMENDED = (int(k) for k in (
    EventKind.ACCEPTED, EventKind.FILL, EventKind.CANCELED, EventKind.EXPIRED, EventKind.AMENDED))
# Enum members bound once as module names: on Python 3.11 reading one off its class goes
# through EnumType.__getattr__'s slot hook, a few hundred instructions on every hot-path use.
_SIDE_BUY, _SIDE_SELL = Side.BUY, Side.SELL
_MARKET, _LIMIT = OrderKind.MARKET, OrderKind.LIMIT
_IOC, _FOK, _GTC, _GTD = TimeInForce.IOC, TimeInForce.FOK, TimeInForce.GTC, TimeInForce.GTD
_NO_STP, _BYBIT, _AT_OR_BELOW = StpMode.NONE, LiquidationModel.BYBIT, Trigger.AT_OR_BELOW
_IN_LIQUIDATION = R.USER_IN_LIQUIDATION
_FRACTION_STEPS = StepKind.FRACTION
_ADL_BINANCE, _ADL_UNPUBLISHED, _ADL_RANDOM = (AdlRanking.BINANCE_LEVERAGE_PNL, AdlRanking.UNPUBLISHED,
                                               AdlRanking.RANDOM_START)
# dYdX's pseudo-random start: position keys in order from a start drawn from venue time, modulo
# this prime (keys are far below it)
_ADL_CYCLE = 2**61 - 1
_ADL_LAST = Fraction(-(10**30))  # below every score: an account under water ranks last
_LOSS_LIMIT = "daily_loss_limit"
_REQUOTE = "requote"
#: The most levels a liquidity provider's requote places per side (SetIndexPrice.quote_levels).
_MAX_QUOTE_LEVELS = 100
#: The liquidation-index side of a cross hedge-mode pair's second trigger, on a rise (risk.liqrange):
#: position_key(account, 3), a side no position has; the sweep treats it as the account's cross legs.
_RISE_SIDE = 3


#: The conditional order kind of each conditional leg type of an order list.
_LEG_KIND = {LegType.STOP_MARKET: ConditionalKind.STOP_MARKET, LegType.STOP_LIMIT: ConditionalKind.STOP_LIMIT,
             LegType.TAKE_PROFIT_MARKET: ConditionalKind.TAKE_PROFIT_MARKET,
             LegType.TAKE_PROFIT_LIMIT: ConditionalKind.TAKE_PROFIT_LIMIT,
             LegType.TRAILING_STOP_MARKET: ConditionalKind.TRAILING_STOP_MARKET}
#: The leg types allowed as an order list's take-profit (index 0) and stop-loss (index 1) leg.
_LEG_TYPES = ({LegType.NONE, LegType.LIMIT, LegType.TAKE_PROFIT_MARKET, LegType.TAKE_PROFIT_LIMIT},
              {LegType.NONE, LegType.STOP_MARKET, LegType.STOP_LIMIT, LegType.TRAILING_STOP_MARKET})
#: Why an order left the book, as an order list's cause.
_GONE = {EventKind.CANCELED: "canceled", ExpireCause.GTD: "expired", ExpireCause.UNFILLED: "unfilled",
         ExpireCause.SELF_TRADE: "self_trade"}


def _legs(c: C.PlaceOrderList) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """(type, trigger, price) of the take-profit and the stop-loss leg (type NONE: absent; a
    trailing stop's trigger is its activation price, 0 = none)."""
    return (c.tp_type, c.tp_trigger, c.tp_price), (c.sl_type, c.sl_trigger, c.sl_price)


def _exit_side(c: C.PlaceOrderList) -> int:
    return c.side if c.kind == ListKind.OCO else 1 - c.side


def _closing(c: C.PlaceConditional) -> bool:
    """True if a conditional order only closes its position: reduce-only, close-position, or
    in hedge mode a SELL on LONG / BUY on SHORT."""
    hedge_close = c.position_side != BOTH and (c.position_side == LONG) != (c.side == _SIDE_BUY)
    return c.reduce_only or c.close_position or hedge_close


def _plain(cmd) -> tuple:
    """A command's fields as plain ints and strs (an IntEnum and its value hash alike)."""
    return tuple(v if isinstance(v, str) else int(v) for v in dataclasses.astuple(cmd))


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


def _beyond(side: int, level: int, limit: int) -> bool:
    """Whether an order on `side` with limit price `limit` cannot trade at price `level`."""
    return level > limit if side == _SIDE_BUY else level < limit


def _has_exits(m: _Market, account: int, pside: int) -> bool:
    """Whether reduce-only orders, closing conditional orders or order lists of the account
    may rest against its position (account, pside) in m."""
    key = (account, pside)
    return key in m.reduce_only or key in m.exit_conditionals or account in m.lists_of


def _inverse_leg(m: _Market, p: Position) -> InverseLeg:
    return InverseLeg(p.lots, m.entry(p))


def _growing(read, *args):
    """The items `read(*args, n)` lists (the first n of a sequence, best first), read a few at a
    time: a walk through the book's levels, or through a level of 100,000 resting orders, copies
    out only about what it meets."""
    n, seen = 8, 0
    while True:
        items = read(*args, n)
        yield from items[seen:]
        if len(items) < n:
            return
        seen, n = len(items), n * 4


def position_key(account: int, pside: int = 0) -> int:
    """The int key of a position (account, position side) in its market: of the positions map,
    of the liquidation index (an isolated position; an account's cross legs under side 0) and
    of an isolated margin's ledger holder. account = key // 4, side = key % 4; keys sort as the
    pairs do. An int, not a pair: no tuple to build, hash and compare at every lookup."""
    return account * 4 + pside


def position_of(key: int) -> tuple[int, int]:
    """(account, position side) of a `position_key`."""
    return divmod(key, 4)


def _fraction_cut(m: _Market, lots: int, notional, steps) -> int:
    """Lots a fraction-per-step profile (Hyperliquid 20 % above 100k, dYdX 10 %, at least 1,000
    of notional) closes first: the fraction of |lots| rounded up (a step closes at least its
    share), raised to the lots worth min_notional at the mark (rounded up); 0 when the position
    is at or under above_notional or the step would close all of it. Pacing (one step per 30 s
    or per block) is not modelled: a position still under water is then liquidated in full."""
    scale = 10**m.spec.settle_decimals
    if notional <= steps.above_notional * scale:
        return 0
    size = abs(lots)
    cut = -(-size * steps.fraction // RATE_SCALE)
    if steps.min_notional and not m.inverse:
        cut = max(cut, -(-steps.min_notional * scale // (m.mark * m.K)))
    return cut if cut < size else 0


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
        if self.inverse:
            return Fraction(abs(lots)) * self.k_inv / price
        return abs(lots) * price * self.K

    def entry(self, p: Position) -> Fraction:
        """Average entry price in ticks, exact (inverse: the contract-weighted harmonic mean)."""
        return Fraction(p.lots) * self.k_inv / p.cost if self.inverse else Fraction(p.cost, p.lots)

    def entry_value(self, p: Position) -> int:
        """Notional at the average entry price (money units)."""
        return abs(p.cost) if self.inverse else abs(p.cost) * self.K

    def upnl(self, p: Position) -> int:
        """Unrealized PnL at mark, money units; inverse rounds toward -infinity."""
        if self.inverse:
            return math.floor(p.cost - Fraction(p.lots) * self.k_inv / self.mark)
        return upnl(p.lots, p.cost, self.mark, self.K)

    def fill(self, p: Position, qty: int, price: int) -> int:
        """Apply a signed fill to a position; its realized PnL in money units (rounded down)."""
        if self.inverse:
            return p.apply_inverse_fill(qty, price, self.k_inv)
        return p.apply_fill(qty, price) * self.K

    def funding_price(self, ts: int) -> int:
        """The price (ticks) funding is paid on: the mark, or the index where the venue pays on
        its oracle (the mark while no index is live)."""
        if self.funding_config.price == "index":
            return self.index.value(ts) or self.mark
        return self.mark

    def funding_terms(self, ts: int) -> tuple[int, int | Fraction]:
        """(price, K) for risk.funding at the funding price: linear lots × price × K; inverse
        lots × k_inv / price (as a K at price 1)."""
        price = self.funding_price(ts)
        return (1, self.k_inv / price) if self.inverse else (price, self.K)

    def pool_target(self) -> int:
        """What the market's pnl pool must hold: -K × Σ cost (linear) or Σ cost (inverse)."""
        total = sum(p.cost for p in self.positions.values())
        return total if self.inverse else -self.K * total

    def lp(self, legs, wallet: int, other_mm: int, other_upnl: int, model):
        """Exact liquidation price of positions `legs` of this market (risk.liqprice)."""
        if self.inverse:
            return inverse_liquidation_price([_inverse_leg(self, p) for p in legs], wallet, K_inv=self.k_inv,
                                             tick_size=self.tick, brackets=self.brackets, other_mm=other_mm,
                                             other_upnl=other_upnl)
        return liquidation_price([Leg(p.lots, p.cost) for p in legs], wallet, K=self.K, tick_size=self.tick,
                                 brackets=self.brackets, other_mm=other_mm, other_upnl=other_upnl, model=model)

    def bp_tick(self, legs, wallet: int, other_upnl: int = 0) -> int | None:
        """The bankruptcy price of `legs` rounded to the tick against the account, or None: the
        margin kernel's integers on linear markets, the exact price rounded on inverse ones."""
        if self.inverse:
            bp = self.bp(legs, wallet, other_upnl)
            return None if bp is None else bp.tick
        lots = cost = 0
        for p in legs:
            lots += p.lots
            cost += p.cost
        solved = bankruptcy_tick(lots, cost, wallet + other_upnl, self.K)
        return None if solved is None else solved[1]

    def bp(self, legs, wallet: int, other_upnl: int = 0):
        """Exact bankruptcy price of positions `legs` of this market (risk.liqprice)."""
        if self.inverse:
            return inverse_bankruptcy_price([_inverse_leg(self, p) for p in legs], wallet, K_inv=self.k_inv,
                                            tick_size=self.tick, other_upnl=other_upnl)
        return bankruptcy_price([Leg(p.lots, p.cost) for p in legs], wallet, K=self.K, tick_size=self.tick,
                                other_upnl=other_upnl)

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


class Exchange:
    """The venue's state: markets, accounts' positions and orders, the ledger."""

    def __init__(self, markets: dict[str, MarketSpec], brackets: dict[str, Brackets], *,
                 book_impl: str = "cython", profile: VenueProfile = BINANCE, start_ts: int = 0,
                 index_sources: dict[str, dict[str, int]] | None = None,
                 funding: dict[str, FundingConfig] | None = None) -> None:
        """`index_sources`: per symbol, the index constituents and their weights; a market
        without an entry is driven by one "sandbox" source that never goes stale.
        `funding`: per symbol, the funding interval and rate cap/floor (default: the profile's
        funding rule, risk.funding.FundingConfig.of_rule; Binance's is 8 h, no cap)."""
        self.profile = profile
        default_funding = FundingConfig() if profile.funding is None else FundingConfig.of_rule(profile.funding)
        self.markets: dict[str, _Market] = {}
        for symbol in sorted(markets):
            spec = markets[symbol]
            sources = (index_sources or {}).get(symbol)
            index = IndexPrice(sources) if sources else IndexPrice({"sandbox": 1}, stale_after_ns=_NEVER_STALE)
            b = brackets[symbol]
            inverse = spec.kind is MarketKind.INVERSE
            self.markets[symbol] = _Market(
                spec=spec,
                inverse=inverse,
                k_inv=M.inverse_k(spec.contract_size * spec.lot_size, spec.tick_size, 10**spec.settle_decimals)
                if inverse else Fraction(0),
                book=make_book(book_impl, BookLimits(*spec.book_limits())),
                K=0 if inverse else spec.notional_per_tick_lot,
                tick=Fraction(spec.tick_size),
                brackets=b,
                table=BracketTable(b),
                index=index,
                mark_state=MarkPrice(start_ts=start_ts),
                funding_config=(cfg := (funding or {}).get(symbol, default_funding)),
                funding=FundingAccumulator(start_ts=start_ts, interval_ns=cfg.interval_ns),
                # Binance IMN = 200 USDT / IMR at the highest leverage
                imn=impact_notional(RATE_SCALE // b[0].max_leverage, 10**spec.settle_decimals),
                next_funding=next_funding_ts(start_ts, cfg.interval_ns),
            )
        self.ledger = Ledger()
        self.leverage: dict[tuple[int, str], int] = {}
        self.hedge: set[int] = set()
        # Multi-Assets accounts (engine.multi_assets), the USD index (RATE_SCALE-scaled) of the
        # collateral asset and the market whose index it is
        self.multi_assets: set[int] = set()
        self._collateral_index: dict[str, int] = {}
        self._collateral_market = MA.price_market(self.markets)
        # RATE_SCALE units per tick of that market: an integer (ticks are multiples of 1e-8), so
        # an index update costs one integer product here, not Fraction arithmetic on every tick
        self._collateral_scale = None
        if self._collateral_market is not None:
            scale = self.markets[self._collateral_market].tick * RATE_SCALE
            if scale.denominator != 1:
                raise ValueError(f"{self._collateral_market}: tick size below 1e-8")
            self._collateral_scale = int(scale)
        for m in self.markets.values():
            m.hedge = self.hedge  # one set: a market looks up only the position sides a mode allows
        self.funding_history: list[tuple[int, FundingSettled]] = []
        self.insurance_history: list[tuple[int, InsuranceFundChanged]] = []
        self.ts = start_ts
        self.next_order_id = 1
        self._markets_of: dict[int, set[str]] = {}
        # per market, the accounts that also hold positions elsewhere: a mark change there moves
        # their liquidation prices in the other markets (kept up to date, never scanned for)
        self._multi: dict[str, set[int]] = {s: set() for s in self.markets}
        self._events: list = []
        self._touched: set[int] = set()
        self._positions_moved: set[tuple[str, int, int]] = set()  # (symbol, account, pside) this command
        # isolated positions being liquidated: their margin is settled by _liquidate, not _trade
        self._liquidating: set[tuple[str, int, int]] = set()
        self._adl_queue: dict[tuple[str, bool], list] = {}
        # (symbol, long) -> (window, ascending ADL scores): what adl_quantile ranks among
        self._adl_ranked: dict[tuple[str, bool], tuple[int, list[Fraction]]] = {}
        self._sweep_due = False  # a mark moved: every market is swept at the next settle
        self._holding = False  # a liquidity provider is requoting: the sweep waits for it
        # (expire_ts, symbol, id) of GTD conditional orders and order lists; stale entries are skipped
        self._expiries: list[tuple[int, str, int]] = []
        self._notes: deque[_Note] = deque()  # what order lists still have to act on
        self._due: list[tuple[str, int, int]] = []  # (symbol, id, price): armed legs that fire at once
        # daily loss limits: per (account, asset) the limit's state; per asset and account with
        # a limit the day's PnL so far (realized + funding - fees), kept at each ledger move so
        # that the order check is O(1); the limits whose loss may have moved in this command;
        # the limits that count unrealized PnL (re-checked when a mark moves); when today ends
        self._loss_limits: dict[tuple[int, str], LossLimitState] = {}
        self._day_pnl: dict[str, dict[int, int]] = {}
        self._loss_watch: set[tuple[int, str]] = set()
        self._unrealized_limits: set[tuple[int, str]] = set()
        self._day_end = next_day(start_ts)

    # ================================================================== commands

    def apply(self, cmd: C.Command) -> list:
        """Apply one command; returns its events. A rejected command changes nothing except
        the clock (time-driven work due at its timestamp still happens).

        The cyclic garbage collector is paused for the command: the engine makes no reference
        cycles (reference counting frees all it drops: tests/scenarios/test_liquidation_tables.py),
        while a shock's command allocates millions of events and each collection would re-scan
        the venue's live objects for nothing."""
        if not gc.isenabled():
            return self._apply(cmd)
        gc.disable()
        try:
            return self._apply(cmd)
        finally:
            gc.enable()

    def _apply(self, cmd: C.Command) -> list:
        self._events = []
        if cmd.ts < self.ts:
            return [CommandRejected(type(cmd).__name__, getattr(cmd, "account", 0), R.STALE_TIMESTAMP,
                                    (("ts", cmd.ts), ("last_ts", self.ts)))]
        if cmd.ts >= self._day_end:
            self._roll_day(cmd.ts)
        self._advance(cmd.ts)
        if self._expiries and self._expiries[0][0] <= self.ts:
            self._expire()
        handler = _HANDLERS.get(type(cmd))
        if handler is None:  # each command type's handler is the method named after it
            handler = _HANDLERS[type(cmd)] = getattr(Exchange, "_" + type(cmd).__name__)
        handler(self, cmd)
        self._settle()
        self._fire_triggers()
        self._trim_reduce_only()
        if self._notes or self._due:
            self._run_lists()
        if self._loss_watch:
            self._check_loss_limits()
        return self._events

    def _settle(self) -> None:
        """Re-key every account whose positions or balances changed, then sweep; repeat while
        liquidations touch further accounts (a liquidation order can fill a stale quote and
        push its maker under maintenance margin: the cascade). Costs O(touched positions); nothing
        when no account was touched and no mark moved since the last sweep."""
        if not self._touched and not self._sweep_due:
            return
        self._sweep_due = False
        while True:
            if self._touched:
                touched, self._touched = self._touched, set()
                for account in sorted(touched):
                    self._rekey_account(account)
            liquidated = False
            for m in self.markets.values():
                if m.mark is not None:
                    liquidated |= self._sweep(m)
            if not liquidated and not self._touched:
                return

    def _reject(self, cmd, reason: R, **fields) -> None:
        self._events.append(CommandRejected(type(cmd).__name__, getattr(cmd, "account", 0), int(reason),
                                            tuple(fields.items())))

    def _market(self, cmd) -> _Market | None:
        """The command's market, or None after rejecting the command with UNKNOWN_SYMBOL."""
        m = self.markets.get(cmd.symbol)
        if m is None:
            self._reject(cmd, R.UNKNOWN_SYMBOL, symbol=cmd.symbol)
        return m

    def _Deposit(self, cmd: C.Deposit) -> None:
        if cmd.amount <= 0 or cmd.account <= 0:
            return self._reject(cmd, R.INVALID_QUANTITY, amount=cmd.amount)
        self._move(cmd.asset, OUTSIDE, cmd.account, cmd.amount, "deposit")

    def _Withdraw(self, cmd: C.Withdraw) -> None:
        if self._check_outflow(cmd):
            self._move(cmd.asset, cmd.account, OUTSIDE, cmd.amount, "withdraw")

    def _Transfer(self, cmd: C.Transfer) -> None:
        if cmd.to_account <= 0 or cmd.to_account == cmd.account:
            return self._reject(cmd, R.UNKNOWN_ACCOUNT, to_account=cmd.to_account)
        if self._check_outflow(cmd):
            self._move(cmd.asset, cmd.account, cmd.to_account, cmd.amount, "transfer")

    def _check_outflow(self, cmd) -> bool:
        if cmd.amount <= 0 or cmd.account <= 0:
            self._reject(cmd, R.INVALID_QUANTITY, amount=cmd.amount)
            return False
        free = self.withdrawable(cmd.account, cmd.asset)
        if cmd.amount > free:
            self._reject(cmd, R.BALANCE_INSUFFICIENT, required=cmd.amount, available=free)
            return False
        return True

    def _FundInsurance(self, cmd: C.FundInsurance) -> None:
        if cmd.amount <= 0:
            return self._reject(cmd, R.INVALID_QUANTITY, amount=cmd.amount)
        self._move(cmd.asset, OUTSIDE, INSURANCE, cmd.amount, "insurance_deposit")

    def _SetLeverage(self, cmd: C.SetLeverage) -> None:
        if (m := self._market(cmd)) is None:
            return None
        held = m.held(cmd.account)
        notional = m.value(held, m.mark) if m.mark and held else 0
        allowed = m.brackets.max_leverage_for(notional)
        if not 1 <= cmd.leverage <= allowed:
            return self._reject(cmd, R.INVALID_LEVERAGE, leverage=cmd.leverage, max_leverage=allowed)
        old = self.leverage.get((cmd.account, cmd.symbol), m.default_leverage)
        if cmd.leverage < old and cmd.account in m.isolated and m.holds(cmd.account):
            return self._reject(cmd, R.INVALID_LEVERAGE, leverage=cmd.leverage,
                                problem="cannot lower the leverage of an open isolated position")
        self.leverage[(cmd.account, cmd.symbol)] = cmd.leverage
        if cmd.leverage < old and self.available(cmd.account, m.asset) < 0:
            self.leverage[(cmd.account, cmd.symbol)] = old
            return self._reject(cmd, R.MARGIN_INSUFFICIENT, leverage=cmd.leverage)

    def _SetMarginMode(self, cmd: C.SetMarginMode) -> None:
        if (m := self._market(cmd)) is None:
            return None
        if m.holds(cmd.account):
            return self._reject(cmd, R.POSITION_EXISTS, symbol=cmd.symbol)
        if m.book.open_orders(cmd.account):
            return self._reject(cmd, R.OPEN_ORDERS_EXIST, symbol=cmd.symbol)
        if cmd.isolated and cmd.account in self.multi_assets:
            return self._reject(cmd, R.MULTI_ASSETS_ISOLATED, symbol=cmd.symbol)
        if cmd.isolated:
            m.isolated.add(cmd.account)
        else:
            m.isolated.discard(cmd.account)

    def _SetPositionMode(self, cmd: C.SetPositionMode) -> None:
        if any(m.holds(cmd.account) for m in self.markets.values()):
            return self._reject(cmd, R.POSITION_EXISTS, account=cmd.account)
        if any(m.book.open_orders(cmd.account) for m in self.markets.values()):
            return self._reject(cmd, R.OPEN_ORDERS_EXIST, account=cmd.account)
        if cmd.hedge:
            self.hedge.add(cmd.account)
        else:
            self.hedge.discard(cmd.account)

    def _SetMultiAssetsMode(self, cmd: C.SetMultiAssetsMode) -> None:
        account = cmd.account
        if account <= 0:
            return self._reject(cmd, R.UNKNOWN_ACCOUNT, account=account)
        if cmd.on == (account in self.multi_assets):
            return self._reject(cmd, R.MULTI_ASSETS_UNCHANGED, multi_assets=cmd.on)
        if any(m.holds(account) for m in self.markets.values()):
            return self._reject(cmd, R.POSITION_EXISTS, account=account)
        if any(m.book.open_orders(account) or account in m.conditionals_of for m in self.markets.values()):
            return self._reject(cmd, R.OPEN_ORDERS_EXIST, account=account)
        for asset in MA.MARGIN_ASSETS:  # a debt the pool covered must be repaid first
            if self.wallet(account, asset) < 0:
                return self._reject(cmd, R.BALANCE_INSUFFICIENT, asset=asset, wallet=self.wallet(account, asset))
        if not cmd.on:
            self.multi_assets.discard(account)
            return None
        if problem := MA.unsupported(self):
            return self._reject(cmd, R.INVALID_VALUE, field="multi_assets", problem=problem)
        isolated = [m.symbol for m in self.markets.values() if account in m.isolated]
        if isolated:
            return self._reject(cmd, R.MULTI_ASSETS_ISOLATED, symbol=isolated[0])
        self.multi_assets.add(account)

    def _AdjustIsolatedMargin(self, cmd: C.AdjustIsolatedMargin) -> None:
        if (m := self._market(cmd)) is None:
            return None
        p = m.positions.get(position_key(cmd.account, cmd.position_side))
        if cmd.account not in m.isolated or p is None:
            return self._reject(cmd, R.NOT_ISOLATED, symbol=cmd.symbol, position_side=cmd.position_side)
        if cmd.amount > 0:
            avail = self.available(cmd.account, m.asset)
            if cmd.amount > avail:
                return self._reject(cmd, R.MARGIN_INSUFFICIENT, required=cmd.amount, available=avail)
        elif cmd.amount < 0:
            # what may leave keeps the initial margin at mark and never counts unrealized profit
            iso = self._iso_margin(m, cmd.account, cmd.position_side)
            lev = self.leverage.get((cmd.account, cmd.symbol), m.default_leverage)
            need = initial_margin(m.value(p.lots, m.mark), lev)
            removable = max(0, iso + min(0, m.upnl(p)) - need)
            if -cmd.amount > removable:
                return self._reject(cmd, R.ISOLATED_MARGIN_INSUFFICIENT, required=-cmd.amount, available=removable)
        else:
            return self._reject(cmd, R.INVALID_QUANTITY, amount=0)
        self._move(m.asset, cmd.account, m.iso_holder(cmd.account, cmd.position_side), cmd.amount, "isolated_margin")

    def _SetIndexPrice(self, cmd: C.SetIndexPrice) -> None:
        if (m := self._market(cmd)) is None:
            return None
        lo, hi = m.price_limits
        if not lo <= cmd.price <= hi:
            return self._reject(cmd, R.PRICE_TOO_HIGH if cmd.price > hi else R.PRICE_TOO_LOW, price=cmd.price)
        quoting = cmd.quote_account != 0 or cmd.quote_levels != 0
        if quoting and not (cmd.quote_account > 0 and 0 < cmd.quote_levels <= _MAX_QUOTE_LEVELS
                            and cmd.quote_step > 0 and cmd.quote_lots > 0):
            return self._reject(cmd, R.INVALID_VALUE, field="quote", quote_account=cmd.quote_account,
                                quote_levels=cmd.quote_levels, quote_step=cmd.quote_step, quote_lots=cmd.quote_lots)
        try:
            m.index.update(cmd.source, cmd.price, cmd.ts)
        except (KeyError, ValueError):
            return self._reject(cmd, R.UNKNOWN_SYMBOL, source=cmd.source)
        m.marked = None  # a new index input: recompute
        if self.profile.liquidation_trigger == "index":  # the trigger itself moved, the mark or not
            self._sweep_due = True
        if m.symbol == self._collateral_market:  # Multi-Assets accounts' BTC collateral moves with it
            ticks = m.index.value(cmd.ts)
            if ticks is not None:
                self._collateral_index[MA.COLLATERAL] = int(ticks * self._collateral_scale)
                if self.multi_assets:
                    MA.touch_on_index(self)
        if not quoting:
            self._remark(m)
            return None
        # the liquidity provider requotes around the new index before the sweep runs
        self._holding = True
        try:
            self._remark(m)
            self._requote(m, cmd)
        finally:
            self._holding = False
        self._settle()
        self._offload(m)

    def _requote(self, m: _Market, cmd: C.SetIndexPrice) -> None:
        """Cancel the quote account's orders in m and place its ladder around cmd.price
        (OrderPlaced, cause requote); a level outside the price limits or refused is left out."""
        account = cmd.quote_account
        if m.book.open_orders(account):
            m.book.cancel_all(account, self.ts)
            self._book_events(m)
        lo, hi = m.price_limits
        for level in range(1, cmd.quote_levels + 1):
            for side, price in ((_SIDE_BUY, cmd.price - level * cmd.quote_step),
                                (_SIDE_SELL, cmd.price + level * cmd.quote_step)):
                if lo <= price <= hi:
                    self._place_for(m, 0, C.PlaceOrder(self.ts, account, m.symbol, side, level * cmd.quote_lots, price,
                                                       _LIMIT, _GTC), _REQUOTE)

    def _AdvanceClock(self, cmd: C.AdvanceClock) -> None:
        for m in self.markets.values():
            m.book.advance(cmd.ts)
            self._book_events(m)

    def _order_market(self, cmd) -> _Market | None:
        """The market of an order-type command after the checks every order shares (market,
        account, side, position side against the account's mode), or None after rejecting it."""
        if (m := self._market(cmd)) is None:
            return None
        if cmd.account <= 0:
            return self._reject(cmd, R.UNKNOWN_ACCOUNT, account=cmd.account)
        if cmd.side not in (_SIDE_BUY, _SIDE_SELL):
            return self._reject(cmd, R.INVALID_SIDE, side=cmd.side)
        if m.inverse and cmd.account in self.multi_assets:
            return self._reject(cmd, R.MULTI_ASSETS_COIN_M, symbol=m.symbol)
        hedge = cmd.account in self.hedge
        if (cmd.position_side == BOTH) == hedge or cmd.position_side not in (BOTH, LONG, SHORT):
            return self._reject(cmd, R.INVALID_POSITION_SIDE, position_side=cmd.position_side, hedge=hedge)
        return m

    def _PlaceConditional(self, cmd: C.PlaceConditional) -> None:
        if (m := self._order_market(cmd)) is None:
            return None
        if self._loss_limits and not _closing(cmd) and self._loss_refused(cmd, m.asset):
            return None
        if cmd.kind not in set(ConditionalKind) or cmd.source not in set(TriggerSource):
            return self._reject(cmd, R.INVALID_ORDER_TYPE, kind=cmd.kind, source=cmd.source)
        market_kind = cmd.kind in (ConditionalKind.STOP_MARKET, ConditionalKind.TAKE_PROFIT_MARKET,
                                   ConditionalKind.TRAILING_STOP_MARKET)
        if cmd.close_position and (cmd.qty or cmd.reduce_only or not market_kind):
            return self._reject(cmd, R.INVALID_QUANTITY, problem="close_position: a market kind, no quantity")
        if not cmd.close_position and cmd.qty <= 0:
            return self._reject(cmd, R.INVALID_QUANTITY, qty=cmd.qty)
        lo, hi, _, max_qty = m.spec.book_limits()
        if cmd.qty > max_qty:
            return self._reject(cmd, R.QUANTITY_TOO_LARGE, qty=cmd.qty)
        if not market_kind and not lo <= cmd.price <= hi:
            return self._reject(cmd, R.INVALID_PRICE, price=cmd.price)
        if (cmd.tif == _GTD) != bool(cmd.expire_ts) or (cmd.expire_ts and cmd.expire_ts <= cmd.ts):
            return self._reject(cmd, R.INVALID_GTD_TIME, tif=cmd.tif, expire_ts=cmd.expire_ts, ts=cmd.ts)
        now = self._source_price(m, cmd.source)
        if now is None:
            return self._reject(cmd, R.INVALID_PRICE, problem="the trigger source has no price yet")
        if not self._room_for_algo(cmd, m, 1):
            return None
        index, cid = m.triggers[cmd.source], self.next_order_id
        if cmd.kind == ConditionalKind.TRAILING_STOP_MARKET:
            if not CALLBACK_MIN <= cmd.callback_rate <= CALLBACK_MAX:
                return self._reject(cmd, R.INVALID_VALUE, callback_rate=cmd.callback_rate)
            activation = cmd.activation_price or None
            if activation is not None and (not lo <= activation <= hi or would_activate(cmd.side, activation, now)):
                return self._reject(cmd, R.WOULD_IMMEDIATELY_TRIGGER, activation_price=activation, price=now)
            index.add_trailing(cid, Side(cmd.side), cmd.callback_rate, activation, now)
        else:
            take_profit = cmd.kind in (ConditionalKind.TAKE_PROFIT_MARKET, ConditionalKind.TAKE_PROFIT_LIMIT)
            direction = stop_direction(Side(cmd.side), take_profit)
            if not lo <= cmd.trigger_price <= hi:
                return self._reject(cmd, R.INVALID_PRICE, trigger_price=cmd.trigger_price)
            if would_trigger(direction, cmd.trigger_price, now):
                return self._reject(cmd, R.WOULD_IMMEDIATELY_TRIGGER, trigger_price=cmd.trigger_price, price=now)
            index.add_stop(cid, direction, cmd.trigger_price)
        self.next_order_id += 1
        self._keep_conditional(m, cid, cmd)
        m.observed[cmd.source] = now
        self._events.append(ConditionalEvent(m.symbol, cid, cmd.account, "NEW"))

    def _CancelConditional(self, cmd: C.CancelConditional) -> None:
        if (m := self._market(cmd)) is None:
            return None
        c = m.conditionals.get(cmd.order_id)
        if c is None or c.account != cmd.account:  # never reveal another account's order
            return self._reject(cmd, R.UNKNOWN_ORDER, order_id=cmd.order_id)
        self._drop_conditional(m, cmd.order_id, "CANCELED")

    def _room_for_algo(self, cmd, m: _Market, algo: int) -> bool:
        """Whether the account may add `algo` conditional orders (MAX_NUM_ALGO_ORDERS, counting
        the legs its order lists have yet to arm) and as many orders in all (MAX_NUM_ORDERS,
        open and conditional together); rejects the command if not."""
        used = len(m.conditionals_of.get(cmd.account, ())) + sum(
            self._unarmed_algo(m.lists[gid]) for gid in m.lists_of.get(cmd.account, ()))
        if used + algo > m.spec.max_algo_orders:
            self._reject(cmd, R.MAX_ALGO_ORDERS, limit=m.spec.max_algo_orders)
            return False
        if m.book.open_orders(cmd.account) + used + algo > m.spec.max_open_orders:
            self._reject(cmd, R.MAX_OPEN_ORDERS, limit=m.spec.max_open_orders)
            return False
        return True

    @staticmethod
    def _unarmed_algo(g: _List) -> int:
        """Conditional legs an order list will arm once its entry fills (0 once armed)."""
        return 0 if g.armed else sum(t not in (LegType.NONE, LegType.LIMIT) for t, _, _ in _legs(g.cmd))

    def _keep_conditional(self, m: _Market, cid: int, c: C.PlaceConditional) -> None:
        m.conditionals[cid] = c
        m.conditionals_of.setdefault(c.account, set()).add(cid)
        if _closing(c):
            m.exit_conditionals.setdefault((c.account, c.position_side), set()).add(cid)
        if c.expire_ts:
            heapq.heappush(self._expiries, (c.expire_ts, m.symbol, cid))

    def _pop_conditional(self, m: _Market, cid: int) -> C.PlaceConditional:
        c = m.conditionals.pop(cid)
        ids = m.conditionals_of[c.account]
        ids.discard(cid)
        if not ids:
            del m.conditionals_of[c.account]
        if _closing(c):
            ids = m.exit_conditionals[(c.account, c.position_side)]
            ids.discard(cid)
            if not ids:
                del m.exit_conditionals[(c.account, c.position_side)]
        return c

    def _drop_conditional(self, m: _Market, cid: int, status: str, reason: int = 0) -> None:
        c = self._pop_conditional(m, cid)
        m.triggers[c.source].remove(cid)
        self._events.append(ConditionalEvent(m.symbol, cid, c.account, status, reason=int(reason)))
        if cid in m.list_of:
            self._notes.append(_Note(m.symbol, cid, "gone", cause="expired" if status == "EXPIRED" else "canceled",
                                     reason=int(reason)))

    def _expire(self) -> None:
        """GTD conditional orders and order lists whose time has come (expire_ts ≤ now) expire,
        in expiry, market, id order; a list's orders in the book expire there (book.advance)."""
        while self._expiries and self._expiries[0][0] <= self.ts:
            at, symbol, oid = heapq.heappop(self._expiries)
            m = self.markets[symbol]
            c = m.conditionals.get(oid)
            if c is not None and c.expire_ts == at:
                self._drop_conditional(m, oid, "EXPIRED")
            elif oid in m.lists:
                m.book.advance(self.ts)
                self._book_events(m)
                self._end_list(m, oid, "EXPIRED", "expired")

    def _trim_reduce_only(self) -> None:
        """Resting reduce-only (and hedge-mode closing) orders may never increase or flip a
        position: after a position moved, its closing orders beyond its size are knocked out and
        any on the opening side are canceled."""
        if not self._positions_moved:
            return
        moved, self._positions_moved = self._positions_moved, set()
        # only positions something closing rests against have anything to fit (fitting never
        # adds such orders, so the rest can be left out before sorting)
        markets = self.markets
        fitted = []
        for k in moved:
            if _has_exits(markets[k[0]], k[1], k[2]):
                fitted.append(k)
        for symbol, account, pside in sorted(fitted):
            m = markets[symbol]
            p = m.positions.get(position_key(account, pside))
            lots = 0 if p is None else p.lots
            closing = _SIDE_SELL if lots > 0 else _SIDE_BUY
            self._fit_exits(m, account, pside, lots, closing)
            for oid in self._reduce_only_ids(m, account, pside):
                if not lots or m.orders[oid].side != closing:
                    m.book.cancel(oid, self.ts)
                    self._book_events(m)
            if lots:
                resting = self._reduce_only_resting(m, account, pside, closing)
                if resting > abs(lots):
                    self._knock_out(m, account, pside, closing, resting - abs(lots))

    def _reduce_only_ids(self, m: _Market, account: int, pside: int) -> list[int]:
        """The account's resting reduce-only order ids against one position, oldest first."""
        return sorted(m.reduce_only.get((account, pside), ()))

    def _reduce_only_resting(self, m: _Market, account: int, pside: int, side: int) -> int:
        """Lots of the account's resting reduce-only orders on `side` against one position."""
        return sum(m.orders[oid].leaves for oid in m.reduce_only.get((account, pside), ())
                   if m.orders[oid].side == side)

    def _knock_out(self, m: _Market, account: int, pside: int, side: int, excess: int) -> None:
        """Take `excess` lots off the account's resting reduce-only orders on `side`, newest first
        (Binance cancels them; the last one touched is reduced in place, keeping its priority)."""
        for oid in reversed(self._reduce_only_ids(m, account, pside)):
            o = m.orders[oid]
            if excess <= 0:
                return
            if o.side != side:
                continue
            if excess >= o.leaves:
                excess -= o.leaves
                m.book.cancel(oid, self.ts)
            else:
                m.book.amend(oid, o.price, o.leaves - excess, self.ts)
                excess = 0
            self._book_events(m)

    def _source_price(self, m: _Market, source: int) -> int | None:
        if source == TriggerSource.MARK:
            return m.mark
        if source == TriggerSource.LAST:
            return m.last if m.last is not None else m.mark
        return m.index.value(self.ts) if m.index.live_sources(self.ts) else None

    def _fire_triggers(self) -> None:
        """Feed every moved trigger source to its index and place what fires, until nothing more
        fires (a triggered order's trade moves the last price). Markets in name order, sources in
        MARK, LAST, INDEX order, each index's firing order within (deterministic). Order lists
        act on what happened before each firing, so a leg another leg's fill ended never fires."""
        moved = True
        while moved:
            moved = self._run_lists() if self._notes or self._due else False
            for m in self.markets.values():
                if not m.conditionals:
                    continue
                for source in TriggerSource:
                    price = self._source_price(m, source)
                    if price is None or m.observed.get(source) == price:
                        continue
                    m.observed[source] = price
                    for cid in m.triggers[source].on_price(price):
                        if cid not in m.conditionals:
                            continue  # ended with its order list by an earlier one
                        moved = True
                        self._fire(m, cid, price)
                        self._run_lists()
            if moved:
                self._settle()

    def _fire(self, m: _Market, cid: int, price: int) -> None:
        """A conditional order fired: place its order (with the usual checks) or say why not."""
        c = self._pop_conditional(m, cid)
        if c.price_protect and m.mark and m.last and abs(m.mark - m.last) * RATE_SCALE > m.mark * TRIGGER_PROTECT:
            self._keep_conditional(m, cid, c)  # held back while mark and last diverge; stays armed
            if c.kind == ConditionalKind.TRAILING_STOP_MARKET:
                m.triggers[c.source].add_trailing(cid, Side(c.side), c.callback_rate, None, price)
            else:
                take_profit = c.kind in (ConditionalKind.TAKE_PROFIT_MARKET, ConditionalKind.TAKE_PROFIT_LIMIT)
                m.triggers[c.source].add_stop(cid, stop_direction(Side(c.side), take_profit), c.trigger_price)
            self._events.append(ConditionalEvent(m.symbol, cid, c.account, "SUPPRESSED"))
            return
        gid = m.list_of.pop(cid, None)
        if gid is not None:  # one-cancels-the-other: the list's other orders go before this one is placed
            g = m.lists[gid]
            g.legs[g.legs.index(cid)] = 0
            self._cancel_list_orders(m, g, "CANCELED")
        qty = c.qty
        if c.close_position:
            pos = m.positions.get(position_key(c.account, c.position_side), Position())
            qty = abs(pos.closing_qty((1 if c.side == _SIDE_BUY else -1) * abs(pos.lots)))
        market = c.kind in (ConditionalKind.STOP_MARKET, ConditionalKind.TAKE_PROFIT_MARKET,
                            ConditionalKind.TRAILING_STOP_MARKET)
        if qty == 0:
            oid, reason = 0, int(R.REDUCE_ONLY_REJECTED)
        else:
            gtd = not market and c.tif == _GTD
            oid, reason = self._place_for(m, cid, C.PlaceOrder(
                self.ts, c.account, c.symbol, c.side, qty, 0 if market else c.price,
                _MARKET if market else _LIMIT, _IOC if market else c.tif, _NO_STP,
                # hedge mode closes through the position side, never reduce_only
                (c.reduce_only or c.close_position) and c.account not in self.hedge, c.expire_ts if gtd else 0,
                c.position_side, c.client_order_id))
        self._events.append(ConditionalEvent(m.symbol, cid, c.account, "REJECTED_AT_TRIGGER" if reason else
                                             "TRIGGERED", order_id=oid, reason=reason))
        if gid is not None:
            self._end_list(m, gid, "DONE", "exit_rejected" if reason else "exit_triggered", oid, reason)

    def _place_for(self, m: _Market, by: int, order: C.PlaceOrder, cause: str = "") -> tuple[int, int]:
        """Place an order the venue makes on an account's behalf (`by`: a fired conditional
        order, an order list; 0 with `cause` for a flatten order) with the usual checks: (order
        id, 0), or (0, reason). A refusal is
        taken out of the events: it belongs to the conditional order or list, not to the command
        that caused it (a price move, a fill)."""
        before, oid = len(self._events), self.next_order_id
        self._PlaceOrder(order)
        for e in self._events[before:]:
            if isinstance(e, CommandRejected):
                self._events.remove(e)
                return 0, e.reason
            if isinstance(e, OrderEvent) and e.event.kind == EventKind.REJECTED and e.event.order_id == oid:
                return 0, e.event.reason
        self._events.append(OrderPlaced(m.symbol, oid, by, order, cause))
        return oid, 0

    # ================================================================== order lists

    def _PlaceOrderList(self, cmd: C.PlaceOrderList) -> None:
        if (m := self._order_market(cmd)) is None:
            return None
        # only an OCO of exits that close can add no exposure (an entry always can)
        closes = cmd.kind == ListKind.OCO and (cmd.reduce_only or (
            cmd.position_side != BOTH and (cmd.position_side == LONG) != (cmd.side == _SIDE_BUY)))
        if self._loss_limits and not closes and self._loss_refused(cmd, m.asset):
            return None
        legs = _legs(cmd)
        if cmd.kind not in set(ListKind) or any(t not in allowed for (t, _, _), allowed in zip(legs, _LEG_TYPES,
                                                                                               strict=True)):
            return self._reject(cmd, R.INVALID_ORDER_TYPE, kind=cmd.kind, tp_type=cmd.tp_type, sl_type=cmd.sl_type)
        if sum(t != LegType.NONE for t, _, _ in legs) != (1 if cmd.kind == ListKind.OTO else 2):
            return self._reject(cmd, R.INVALID_ORDER_TYPE, problem="OCO and BRACKET take both legs, OTO one")
        if cmd.source not in set(TriggerSource):
            return self._reject(cmd, R.INVALID_ORDER_TYPE, source=cmd.source)
        lo, hi, _, max_qty = m.spec.book_limits()
        if not 0 < cmd.qty <= max_qty:
            return self._reject(cmd, R.INVALID_QUANTITY, qty=cmd.qty)
        entry = cmd.kind != ListKind.OCO
        if entry and cmd.entry_price and not lo <= cmd.entry_price <= hi:
            return self._reject(cmd, R.INVALID_PRICE, entry_price=cmd.entry_price)
        if not entry and (cmd.entry_price or cmd.entry_tif != _GTC):
            return self._reject(cmd, R.INVALID_VALUE, problem="an OCO list has no entry order")
        if ((cmd.expire_ts and (cmd.expire_ts <= cmd.ts or cmd.entry_tif not in (_GTC, _GTD)))
                or (not cmd.expire_ts and cmd.entry_tif == _GTD)):
            return self._reject(cmd, R.INVALID_GTD_TIME, expire_ts=cmd.expire_ts, entry_tif=cmd.entry_tif)
        trailing = cmd.sl_type == LegType.TRAILING_STOP_MARKET
        if (not CALLBACK_MIN <= cmd.sl_callback_rate <= CALLBACK_MAX) if trailing else cmd.sl_callback_rate:
            return self._reject(cmd, R.INVALID_VALUE, field="stop_loss_callback_rate", value=cmd.sl_callback_rate)
        if trailing and cmd.sl_trigger and not lo <= cmd.sl_trigger <= hi:
            return self._reject(cmd, R.INVALID_PRICE, field="stop_loss_trigger", value=cmd.sl_trigger)
        for name, (t, trigger, price) in zip(("take_profit", "stop_loss"), legs, strict=True):
            # a LIMIT leg has only a price, market kinds only a trigger, limit kinds both; a
            # trailing stop's activation price (its trigger) is optional, checked above
            if t == LegType.TRAILING_STOP_MARKET:
                trigger = 0
            for value, needed, what in ((trigger, t not in (LegType.NONE, LegType.LIMIT,
                                                            LegType.TRAILING_STOP_MARKET), "trigger"),
                                        (price, t in (LegType.LIMIT, LegType.STOP_LIMIT, LegType.TAKE_PROFIT_LIMIT),
                                         "price")):
                if (not lo <= value <= hi) if needed else value:
                    return self._reject(cmd, R.INVALID_PRICE, field=f"{name}_{what}", value=value)
        now = self._source_price(m, cmd.source)
        if now is None and any(t not in (LegType.NONE, LegType.LIMIT) for t, _, _ in legs):
            return self._reject(cmd, R.INVALID_PRICE, problem="the trigger source has no price yet")
        # exits sit on either side of the entry's limit price (of the source price for a market
        # entry or an OCO): none may be due at once (-2021)
        ref = cmd.entry_price if entry and cmd.entry_price else now
        for i, (t, trigger, price) in enumerate(legs):
            level = price if t == LegType.LIMIT else trigger
            if t == LegType.TRAILING_STOP_MARKET:  # its activation price may not be reached yet
                if trigger and ref is not None and would_activate(_exit_side(cmd), trigger, ref):
                    return self._reject(cmd, R.WOULD_IMMEDIATELY_TRIGGER, leg="stop_loss", activation_price=trigger,
                                        price=ref)
            elif t != LegType.NONE and ref is not None and \
                    would_trigger(stop_direction(Side(_exit_side(cmd)), i == 0), level, ref):
                return self._reject(cmd, R.WOULD_IMMEDIATELY_TRIGGER, leg=("take_profit", "stop_loss")[i],
                                    trigger=level, price=ref)
        g = _List(cmd, armed=0 if entry else cmd.qty)
        # every conditional leg counts: an OCO's are placed now, the others' once the entry fills
        if not self._room_for_algo(cmd, m, self._unarmed_algo(_List(cmd))):
            return None
        gid = self.next_order_id
        self.next_order_id += 1
        before = len(self._events)
        m.lists[gid] = g
        m.lists_of.setdefault(cmd.account, set()).add(gid)
        if entry:
            g.entry = self.next_order_id
            m.list_of[g.entry] = gid
            self._events.append(ListEvent(m.symbol, gid, cmd.account, "NEW", order_id=g.entry))
            gtd = _GTD if cmd.expire_ts else cmd.entry_tif
            _, reason = self._place_for(m, gid, C.PlaceOrder(
                self.ts, cmd.account, cmd.symbol, cmd.side, cmd.qty, cmd.entry_price,
                _LIMIT if cmd.entry_price else _MARKET,
                gtd if cmd.entry_price else _IOC, _NO_STP, False,
                cmd.expire_ts if cmd.entry_price else 0, cmd.position_side, cmd.client_order_id))
        else:
            self._events.append(ListEvent(m.symbol, gid, cmd.account, "NEW", qty=cmd.qty))
            reason = self._arm(m, gid, g, cmd.qty)
        if reason:  # an order of the list was refused: undo the list, its legs and its ids
            for lid in (g.entry, *g.legs):
                m.list_of.pop(lid, None)
                if lid in m.conditionals:
                    self._pop_conditional(m, lid)
                    m.triggers[cmd.source].remove(lid)
            del m.lists[gid]
            self._end_list_index(m, cmd.account, gid)
            self.next_order_id = gid
            self._events[before:] = [e for e in self._events[before:] if not (
                (isinstance(e, ListEvent) and e.list_id == gid)
                or (isinstance(e, ConditionalEvent) and e.conditional_id > gid))]
            return self._reject(cmd, R(reason), problem="an order of the list was refused")
        if cmd.expire_ts:
            heapq.heappush(self._expiries, (cmd.expire_ts, m.symbol, gid))

    def _CancelOrderList(self, cmd: C.CancelOrderList) -> None:
        if (m := self._market(cmd)) is None:
            return None
        g = m.lists.get(cmd.list_id)
        if g is None or g.cmd.account != cmd.account:  # never reveal another account's list
            return self._reject(cmd, R.UNKNOWN_ORDER, list_id=cmd.list_id)
        self._end_list(m, cmd.list_id, "CANCELED", "canceled")

    def _run_lists(self) -> bool:
        """Carry out, in order, what happened to order lists' orders since the last call (fills,
        orders gone, legs fired) and fire legs that were armed past their trigger. Runs between
        operations, never inside one. True if anything was done."""
        did = False
        while self._notes or self._due:
            if not self._notes:  # what already happened first, then legs armed past their trigger
                symbol, cid, price = self._due.pop(0)
                m = self.markets[symbol]
                if cid in m.conditionals:
                    did = True
                    self._fire(m, cid, price)
                continue
            n = self._notes.popleft()
            m = self.markets[n.symbol]
            gid = m.list_of.get(n.order_id)
            if gid is None:
                continue  # the list ended meanwhile
            did = True
            g = m.lists[gid]
            if n.order_id == g.entry:
                self._entry_note(m, gid, g, n)
            else:
                self._leg_note(m, gid, g, n)
        return did

    def _entry_note(self, m: _Market, gid: int, g: _List, n: _Note) -> None:
        account = g.cmd.account
        if n.what == "fill":
            g.armed += n.qty
            if not n.leaves:
                del m.list_of[g.entry]
                g.entry = 0
            self._events.append(ListEvent(m.symbol, gid, account, "ARMED", "entry_partially_filled" if n.leaves
                                          else "entry_filled", g.armed - g.closed))
            reason = self._arm(m, gid, g, n.qty)
            if reason:
                self._events.append(ListEvent(m.symbol, gid, account, "LEG_REJECTED", "leg_rejected",
                                              g.armed - g.closed, reason=reason))
                if not g.entry and not any(g.legs):  # nothing left to arm it again
                    self._end_list(m, gid, "CANCELED", "leg_rejected", reason=reason)
            return
        del m.list_of[g.entry]
        g.entry = 0
        if n.cause == "expired":
            self._end_list(m, gid, "EXPIRED", "expired")
        elif not any(g.legs):
            self._end_list(m, gid, "CANCELED", "entry_" + n.cause)
        else:
            self._events.append(ListEvent(m.symbol, gid, account, "ENTRY_CLOSED", "entry_" + n.cause,
                                          g.armed - g.closed))

    def _leg_note(self, m: _Market, gid: int, g: _List, n: _Note) -> None:
        i = g.legs.index(n.order_id)
        if n.what == "fill" and n.leaves:  # a limit leg filled partly: the other covers less
            g.closed += n.qty
            if g.legs[1 - i]:
                self._grow_leg(m, g, 1 - i, -n.qty)
            self._events.append(ListEvent(m.symbol, gid, g.cmd.account, "REDUCED", "leg_filled", g.armed - g.closed))
            return
        del m.list_of[n.order_id]
        g.legs[i] = 0
        if n.what == "fill":
            g.closed += n.qty
            self._end_list(m, gid, "DONE", "exit_filled")
        elif n.cause == "expired":
            self._end_list(m, gid, "EXPIRED", "expired")
        else:
            self._end_list(m, gid, "CANCELED", "leg_canceled", reason=n.reason)

    def _arm(self, m: _Market, gid: int, g: _List, qty: int) -> int:
        """Put the list's exits in force for `qty` more lots: a live leg grows by qty, a leg not
        live yet is placed for all the list covers. 0, or the RejectReason of a leg that could
        not be placed (the others are in force)."""
        refused = 0
        for i, (t, _, _) in enumerate(_legs(g.cmd)):
            if t == LegType.NONE:
                continue
            if g.legs[i]:
                self._grow_leg(m, g, i, qty)
            else:
                refused = self._open_leg(m, gid, g, i, g.armed - g.closed) or refused
        return refused

    def _open_leg(self, m: _Market, gid: int, g: _List, i: int, qty: int) -> int:
        """Place leg i (0 take-profit, 1 stop-loss) for qty lots; 0 or the RejectReason. A
        conditional leg whose trigger the source has already crossed fires at once."""
        c, (t, trigger, price) = g.cmd, _legs(g.cmd)[i]
        side, tif = _exit_side(c), _GTD if c.expire_ts else _GTC
        reduce_only = (c.reduce_only or c.kind == ListKind.BRACKET) and c.account not in self.hedge
        now = self._source_price(m, c.source)
        if t == LegType.TRAILING_STOP_MARKET and now is None:
            return int(R.INVALID_PRICE)  # no source price to trail from (a stale index)
        lid = g.legs[i] = self.next_order_id
        m.list_of[lid] = gid
        if t == LegType.LIMIT:
            _, reason = self._place_for(m, gid, C.PlaceOrder(self.ts, c.account, c.symbol, side, qty, price,
                                                             _LIMIT, tif, _NO_STP, reduce_only,
                                                             c.expire_ts, c.position_side))
            if reason:
                del m.list_of[lid]
                g.legs[i] = 0
            return reason
        self.next_order_id += 1
        kind = _LEG_KIND[t]
        trailing = kind == ConditionalKind.TRAILING_STOP_MARKET
        # a trailing stop's trigger field is its activation price
        self._keep_conditional(m, lid, C.PlaceConditional(
            self.ts, c.account, c.symbol, side, qty, kind, 0 if trailing else trigger,
            price if kind in (ConditionalKind.STOP_LIMIT, ConditionalKind.TAKE_PROFIT_LIMIT) else 0, c.source,
            reduce_only, callback_rate=c.sl_callback_rate if trailing else 0,
            activation_price=trigger if trailing else 0, position_side=c.position_side, tif=tif,
            expire_ts=c.expire_ts))
        self._events.append(ConditionalEvent(m.symbol, lid, c.account, "NEW"))
        if trailing:  # trails from the source price at arming (or from its activation price once reached)
            m.triggers[c.source].add_trailing(lid, Side(side), c.sl_callback_rate, trigger or None, now)
            return 0
        direction = stop_direction(Side(side), i == 0)
        if now is not None and would_trigger(direction, trigger, now):
            self._due.append((m.symbol, lid, now))
        else:
            m.triggers[c.source].add_stop(lid, direction, trigger)
        return 0

    def _grow_leg(self, m: _Market, g: _List, i: int, delta: int) -> None:
        """Resize leg i by delta lots (a leg brought to nothing is canceled; the list goes on)."""
        lid = g.legs[i]
        c, o = m.conditionals.get(lid), m.orders.get(lid)
        size = c.qty if c is not None else o.leaves if o is not None else 0
        if not size:
            return  # filled or gone within this command: its own note follows
        if size + delta <= 0:
            del m.list_of[lid]
            g.legs[i] = 0
            if c is not None:
                self._drop_conditional(m, lid, "CANCELED")
            else:
                m.book.cancel(lid, self.ts)
                self._book_events(m)
        elif c is not None:
            m.conditionals[lid] = dataclasses.replace(c, qty=size + delta)
        else:
            m.book.amend(lid, o.price, size + delta, self.ts)
            self._book_events(m)

    def _end_list(self, m: _Market, gid: int, status: str, cause: str, order_id: int = 0, reason: int = 0) -> None:
        """End an order list: its live legs and the entry's unfilled rest are canceled (expired),
        with `reason` on the legs' events; then the list's event (order_id: the order a fired
        leg placed)."""
        g = m.lists.pop(gid)
        self._end_list_index(m, g.cmd.account, gid)
        self._cancel_list_orders(m, g, "EXPIRED" if status == "EXPIRED" else "CANCELED", reason)
        self._events.append(ListEvent(m.symbol, gid, g.cmd.account, status, cause, g.armed - g.closed, order_id,
                                      int(reason)))

    def _cancel_list_orders(self, m: _Market, g: _List, status: str, reason: int = 0) -> None:
        """Cancel a list's live legs and its entry's unfilled rest (unlinked first, so that
        their own events do not come back to the list)."""
        for lid in (*g.legs, g.entry):
            if not lid:
                continue
            del m.list_of[lid]
            if lid in m.conditionals:
                self._drop_conditional(m, lid, status, reason)
            elif lid in m.orders:
                m.book.cancel(lid, self.ts)
                self._book_events(m)
        g.legs, g.entry = [0, 0], 0

    @staticmethod
    def _end_list_index(m: _Market, account: int, gid: int) -> None:
        ids = m.lists_of[account]
        ids.discard(gid)
        if not ids:
            del m.lists_of[account]

    def _end_lists_of(self, m: _Market, account: int, cause: str, reason: int = 0, booked: bool = False) -> None:
        """Cancel the account's order lists in m (booked: only those with an order in the book)."""
        gids = m.lists_of.get(account)
        if not gids:  # most accounts have none (a liquidation asks for every one it closes)
            return
        for gid in sorted(gids):
            g = m.lists[gid]
            if not booked or not m.orders.keys().isdisjoint((g.entry, *g.legs)):  # one of its orders rests
                self._end_list(m, gid, "CANCELED", cause, reason=reason)

    def _fit_exits(self, m: _Market, account: int, pside: int, lots: int, closing: int) -> None:
        """A position moved: order lists whose armed exits close it end when it is closed or
        reversed, else their conditional legs shrink to its size; lone closing conditional
        orders (reduce-only, close-position) against it are canceled when it closed or reversed."""
        for gid in sorted(m.lists_of.get(account, ())):
            g = m.lists.get(gid)
            c = g.cmd if g is not None else None
            if c is None or c.position_side != pside or g.armed == g.closed or not (
                    (c.reduce_only or c.kind == ListKind.BRACKET) if pside == BOTH
                    else (pside == LONG) != (_exit_side(c) == _SIDE_BUY)):
                continue
            if not lots or _exit_side(c) != closing:
                self._end_list(m, gid, "CANCELED", "position_closed")
                continue
            for lid in g.legs:
                leg = m.conditionals.get(lid)
                if leg is not None and leg.qty > abs(lots):
                    m.conditionals[lid] = dataclasses.replace(leg, qty=abs(lots))
        for cid in sorted(m.exit_conditionals.get((account, pside), ())):
            if cid not in m.list_of and (not lots or m.conditionals[cid].side != closing):
                self._drop_conditional(m, cid, "CANCELED", R.REDUCE_ONLY_REJECTED)

    def _CancelOrder(self, cmd: C.CancelOrder) -> None:
        if (m := self._market(cmd)) is None:
            return None
        o = m.orders.get(cmd.order_id)
        if o is None or o.account != cmd.account:  # never reveal another account's order
            return self._reject(cmd, R.UNKNOWN_ORDER, order_id=cmd.order_id)
        m.book.cancel(cmd.order_id, self.ts)
        self._book_events(m)

    def _AmendOrder(self, cmd: C.AmendOrder) -> None:
        """The new price and quantity go through what a new order's do (band, reduce-only room,
        margin for what the order adds); then the book amends it (-5027 for no change)."""
        if (m := self._market(cmd)) is None:
            return None
        o = m.orders.get(cmd.order_id)
        if o is None or o.account != cmd.account:  # never reveal another account's order
            return self._reject(cmd, R.UNKNOWN_ORDER, order_id=cmd.order_id)
        # past a daily loss limit an opening order may only shrink where it stands
        if self._loss_limits and not o.reduce_only and not (cmd.price == o.price and cmd.qty < o.leaves) \
                and self._loss_refused(cmd, m.asset):
            return None
        if self._outside_band(cmd, m, o.side, cmd.price):
            return None
        pos = m.positions.get(position_key(cmd.account, o.pside), Position())
        if o.reduce_only:
            # its room: the position less the other reduce-only orders on its side
            room = abs(pos.lots) - self._reduce_only_resting(m, cmd.account, o.pside, o.side) + o.leaves
            if cmd.qty > room:
                return self._reject(cmd, R.REDUCE_ONLY_REJECTED, position=pos.lots, room=room)
        elif cmd.qty > 0 and cmd.price > 0 and m.mark is not None:
            # margin as for the order placed anew, against what is available without the old one
            lev, value = self._lev(cmd.account, m), m.order_value.get(cmd.account, 0)
            freed = self._orders_margin(m, value, lev) - self._orders_margin(m, value - m.value(o.leaves, o.price), lev)
            sign = 1 if o.side == _SIDE_BUY else -1
            opening = cmd.qty - abs(pos.closing_qty(sign * cmd.qty))
            if opening > 0:
                order = C.PlaceOrder(cmd.ts, cmd.account, cmd.symbol, o.side, cmd.qty, cmd.price,
                                     position_side=o.pside)
                cost = self._order_cost(m, order, cmd.qty, opening, cmd.price, lev)
                avail = self.available(cmd.account, m.asset) + freed
                if cost > avail:
                    return self._reject(cmd, R.MARGIN_INSUFFICIENT, required=cost, available=avail)
        reason = m.book.amend(cmd.order_id, cmd.price, cmd.qty, self.ts)
        if reason:
            m.book.events()  # the book's own REJECTED event: the command's rejection says it
            return self._reject(cmd, R(reason), order_id=cmd.order_id, price=cmd.price, qty=cmd.qty)
        self._book_events(m)
        self._remark(m)  # a re-priced order may have traded: the last price is one input of the mark

    def _orders_margin(self, m: _Market, value, lev: int) -> int:
        """The initial margin and fee reserve held for open orders of this notional (what
        initial_margin adds per market)."""
        return initial_margin(value, lev) + self._fee_reserve(m, value) if value else 0

    def _CancelAll(self, cmd: C.CancelAll) -> None:
        if (m := self._market(cmd)) is None:
            return None
        m.book.cancel_all(cmd.account, self.ts)
        self._book_events(m)

    def _PlaceOrder(self, cmd: C.PlaceOrder) -> None:
        if (m := self._order_market(cmd)) is None:
            return None
        hedge = cmd.account in self.hedge
        if hedge and cmd.reduce_only:  # Binance: reduceOnly cannot be sent in hedge mode
            return self._reject(cmd, R.REDUCE_ONLY_REJECTED, problem="reduce_only is not used in hedge mode")
        spec, sign = m.spec, 1 if cmd.side == _SIDE_BUY else -1
        price = cmd.price
        if cmd.kind == _MARKET:
            if m.mark is None:
                return self._reject(cmd, R.INVALID_PRICE, problem="no mark price yet for a market order")
            # risk checks use the assumed fill price; the book gets the band's protection price
            price = self._assumed_price(m, cmd.side)
        elif cmd.kind == _LIMIT and price > 0 and self._outside_band(cmd, m, cmd.side, price):
            return None
        pos = m.positions.get(position_key(cmd.account, cmd.position_side), Position())
        # in hedge mode a SELL on LONG (BUY on SHORT) closes: it behaves as reduce-only
        closing_only = cmd.reduce_only or (hedge and (cmd.position_side == LONG) != (cmd.side == _SIDE_BUY))
        qty = cmd.qty
        if closing_only:
            # room left by the position and the reduce-only orders already resting against it
            resting = self._reduce_only_resting(m, cmd.account, cmd.position_side, cmd.side)
            closable = abs(pos.closing_qty(sign * qty))
            if cmd.kind == _MARKET and resting + closable > abs(pos.lots):
                # a reduce-only market order knocks resting reduce-only orders out (Binance)
                self._knock_out(m, cmd.account, cmd.position_side, cmd.side, resting + closable - abs(pos.lots))
                resting = abs(pos.lots) - closable
            closable = min(closable, abs(pos.lots) - resting)
            if closable <= 0:
                return self._reject(cmd, R.REDUCE_ONLY_REJECTED, position=pos.lots, resting_reduce_only=resting)
            qty = closable  # never increases or flips the position
        else:
            if self._loss_limits and self._loss_refused(cmd, m.asset):
                return None
            ref_price = m.mark if cmd.kind == _MARKET else price
            if m.inverse:  # the minimum is a face value in the quote currency (USD)
                face = qty * spec.lot_size * spec.contract_size
                if face < spec.min_notional:
                    return self._reject(cmd, R.MIN_NOTIONAL, notional=str(face), min_notional=str(spec.min_notional))
            elif ref_price > 0 and qty > 0 and m.value(qty, ref_price) < m.min_notional:
                return self._reject(cmd, R.MIN_NOTIONAL, notional=m.value(qty, ref_price), min_notional=m.min_notional)
            if m.book.open_orders(cmd.account) + len(m.conditionals_of.get(cmd.account, ())) >= spec.max_open_orders:
                return self._reject(cmd, R.MAX_OPEN_ORDERS, limit=spec.max_open_orders)
            lev = self.leverage.get((cmd.account, cmd.symbol), m.default_leverage)
            held = m.held(cmd.account)
            if m.mark is not None and qty > 0 and price > 0:
                cap = m.brackets.max_notional
                worst = min(price, m.mark) if m.inverse else max(price, m.mark)  # the larger notional
                if m.value(held + qty, worst) > cap:
                    return self._reject(cmd, R.INVALID_LEVERAGE, problem="position would exceed the largest bracket",
                                        max_notional=cap)
                if m.brackets.max_leverage_for(m.value(held + qty, m.mark)) < lev:
                    return self._reject(cmd, R.INVALID_LEVERAGE, leverage=lev,
                                        problem="leverage above the bracket of the resulting position")
            opening = qty - abs(pos.closing_qty(sign * qty))
            if opening > 0 and price > 0 and m.mark is not None:
                cost = self._order_cost(m, cmd, qty, opening, price, lev)
                avail = self.available(cmd.account, spec.settle)
                if cost > avail:
                    return self._reject(cmd, R.MARGIN_INSUFFICIENT, required=cost, available=avail)
        oid = self.next_order_id
        limit = self._protection(m, cmd.side) if cmd.kind == _MARKET else price
        if m.book.place(oid, cmd.account, cmd.side, cmd.kind, limit, qty, cmd.tif, cmd.stp,
                        cmd.expire_ts, self.ts) == 0:
            self.next_order_id += 1
        self._book_events(m, closing_only, cmd.position_side)
        self._remark(m)  # the last price is one input of the mark

    # ================================================================== daily loss limit

    def _SetDailyLossLimit(self, cmd: C.SetDailyLossLimit) -> None:
        if cmd.account <= 0:
            return self._reject(cmd, R.UNKNOWN_ACCOUNT, account=cmd.account)
        if not any(m.asset == cmd.asset for m in self.markets.values()):
            return self._reject(cmd, R.INVALID_VALUE, field="asset", asset=cmd.asset,
                                problem="no market settles in this asset")
        if cmd.amount < 0:
            return self._reject(cmd, R.INVALID_VALUE, field="amount", amount=cmd.amount,
                                problem="a limit is a positive amount (0 removes it)")
        key = (cmd.account, cmd.asset)
        state = self._loss_limits.get(key)
        if state is None:
            state = LossLimitState()
        counted = state.limit is not None and state.limit.include_unrealized
        new = LossLimit(cmd.amount, bool(cmd.include_unrealized), bool(cmd.flatten)) if cmd.amount else None
        if state.change(new) and new is not None and new.include_unrealized and not counted:
            # unrealized PnL counts from now: its level at 00:00 was not kept for this account
            state.upnl_base = self._upnl_all(cmd.account, cmd.asset)
        self._keep_limit(key, state)
        self._limit_event(cmd.account, cmd.asset, state, "set")
        self._loss_watch.add(key)  # a lower limit may be hit already

    def _keep_limit(self, key: tuple[int, str], state: LossLimitState) -> None:
        """Store a limit's state (or drop it when it holds nothing) and its unrealized flag."""
        if state.limit is None and not state.has_pending:
            self._loss_limits.pop(key, None)
        else:
            self._loss_limits[key] = state
        if state.limit is not None and state.limit.include_unrealized:
            self._unrealized_limits.add(key)
        else:
            self._unrealized_limits.discard(key)

    def _limit_event(self, account: int, asset: str, state: LossLimitState, cause: str) -> None:
        limit, pending = state.limit, state.pending
        self._events.append(DailyLossLimitSet(
            account, asset, 0 if limit is None else limit.amount, limit is not None and limit.include_unrealized,
            limit is not None and limit.flatten, 0 if pending is None else pending.amount,
            self._day_end if state.has_pending else 0, cause))

    def _roll_day(self, ts: int) -> None:
        """A command reached 00:00 UTC (or later): a new venue day for every limit. The day's
        PnL starts again from 0, hits clear, waiting changes come into force, and unrealized
        PnL is measured from its level now (the marks before this command). O(limits)."""
        self._day_end = next_day(ts)
        self._day_pnl = {}
        for key in sorted(self._loss_limits):
            state = self._loss_limits[key]
            waited = state.has_pending
            state.roll()
            account, asset = key
            if state.limit is not None and state.limit.include_unrealized:
                state.upnl_base = self._upnl_all(account, asset)
            self._keep_limit(key, state)
            if waited:
                self._limit_event(account, asset, state, "day_start")

    def _day_move(self, account, asset: str, delta) -> None:
        """Add a PnL movement (realized PnL, funding, a fee as a negative) to the account's day,
        if it has a limit in `asset`: accounts without one are not tracked, so that trading
        without a limit costs one check per movement (callers test `_loss_limits` first)."""
        key = (account, asset)
        if key not in self._loss_limits:
            return
        day = self._day_pnl.get(asset)
        if day is None:
            day = self._day_pnl[asset] = {}
        day[account] = day.get(account, 0) + delta
        self._loss_watch.add(key)

    def _upnl_all(self, account: int, asset: str) -> int:
        """Unrealized PnL at mark of every position (cross and isolated) of the account in
        `asset`, money units."""
        total = 0
        for symbol in sorted(self._markets_of.get(account, ())):
            m = self.markets[symbol]
            if m.asset == asset and m.mark is not None:
                for _, p in m.leg_list(account):
                    total += m.upnl(p)
        return total

    def _day_loss(self, account: int, asset: str, state: LossLimitState) -> int:
        """The account's loss today in `asset` as its limit measures it (risk.losslimit.loss)."""
        day = self._day_pnl.get(asset)
        pnl = 0 if day is None else day.get(account, 0)
        counted = state.limit is not None and state.limit.include_unrealized
        return loss(pnl, self._upnl_all(account, asset) if counted else 0, state.upnl_base, counted)

    def _loss_refused(self, cmd, asset: str) -> bool:
        """Whether the account's daily loss limit in `asset` is hit (after rejecting `cmd` with
        DAILY_LOSS_LIMIT: limit, loss so far, resets_at). O(1) for a limit of realized PnL."""
        state = self._loss_limits.get((cmd.account, asset))
        if state is None or state.limit is None:
            return False
        lost = self._day_loss(cmd.account, asset, state)
        if state.hit is None and lost < state.limit.amount:
            return False
        self._reject(cmd, R.DAILY_LOSS_LIMIT, asset=asset, limit=state.limit.amount, loss=lost,
                     resets_at=self._day_end)
        return True

    def _check_loss_limits(self) -> None:
        """The limits whose loss moved in this command: the ones hit now are marked hit until
        the day ends (DailyLossLimitHit) and, with flatten, their positions are closed."""
        while self._loss_watch:
            watch, self._loss_watch = sorted(self._loss_watch), set()
            flattened = False
            for key in watch:
                state = self._loss_limits.get(key)
                if state is None or state.limit is None or state.hit is not None:
                    continue
                account, asset = key
                lost = self._day_loss(account, asset, state)
                if lost < state.limit.amount:
                    continue
                state.hit = lost
                self._events.append(DailyLossLimitHit(account, asset, state.limit.amount, lost, self._day_end,
                                                      state.limit.flatten))
                if state.limit.flatten:
                    self._flatten(account, asset)
                    flattened = True
            if flattened:  # what the flatten orders set off, as after any command
                self._settle()
                self._fire_triggers()
                self._trim_reduce_only()
                if self._notes or self._due:
                    self._run_lists()

    def _flatten(self, account: int, asset: str) -> None:
        """Once, at a hit: cancel the account's orders, conditional orders and lists in every
        market of `asset`, then close each position with a reduce-only market order (hedge
        mode: a closing order on its side), placed as OrderPlaced with cause daily_loss_limit."""
        for m in self.markets.values():
            if m.asset != asset:
                continue
            self._end_lists_of(m, account, _LOSS_LIMIT, R.DAILY_LOSS_LIMIT)
            if m.book.open_orders(account):
                m.book.cancel_all(account, self.ts)
                self._book_events(m)
            if account in m.conditionals_of:
                for cid in sorted(m.conditionals_of[account]):
                    self._drop_conditional(m, cid, "CANCELED", R.DAILY_LOSS_LIMIT)
            hedge = account in self.hedge
            for pside, p in m.leg_list(account):
                side = _SIDE_SELL if p.lots > 0 else _SIDE_BUY
                self._place_for(m, 0, C.PlaceOrder(self.ts, account, m.symbol, side, abs(p.lots), 0, _MARKET, _IOC,
                                                   _NO_STP, not hedge, 0, pside), _LOSS_LIMIT)

    def daily_loss_limit(self, account: int, asset: str) -> dict:
        """The account's daily loss limit in `asset` as of the last command (money units): limit
        (0: none), include_unrealized, flatten, loss (today's, a profit negative), hit, resets_at
        (ns), pending (the waiting change's limit, 0: removal) and pending_from (ns, 0: none)."""
        state = self._loss_limits.get((account, asset)) or LossLimitState()
        limit, pending = state.limit, state.pending
        return {"limit": 0 if limit is None else limit.amount,
                "include_unrealized": limit is not None and limit.include_unrealized,
                "flatten": limit is not None and limit.flatten,
                "loss": self._day_loss(account, asset, state), "hit": state.hit is not None,
                "resets_at": self._day_end, "pending": 0 if pending is None else pending.amount,
                "pending_from": self._day_end if state.has_pending else 0}

    # ================================================================== queries

    def position(self, account: int, symbol: str, pside: int = BOTH) -> Position:
        return self.markets[symbol].positions.get(position_key(account, pside), Position())

    def wallet(self, account: int, asset: str) -> int:
        return self.ledger.insurance(asset) if account == IF_ACCOUNT else self.ledger.wallet(account, asset)

    def isolated_margin(self, account: int, symbol: str, pside: int = BOTH) -> int:
        """The isolated margin held for a position (money units)."""
        return self._iso_margin(self.markets[symbol], account, pside)

    def _iso_margin(self, m: _Market, account: int, pside: int) -> int:
        return self.ledger.balance(m.iso_holder(account, pside), m.asset)

    def _cross(self, account: int, asset: str, skip: str | None = None) -> list[tuple[_Market, Position]]:
        """(market, position) of every cross position of the account settled in `asset`."""
        found = []
        symbols = self._markets_of.get(account, ())
        for symbol in symbols if len(symbols) < 2 else sorted(symbols):  # market order: deterministic sums
            m = self.markets[symbol]
            if m.asset == asset and symbol != skip and account not in m.isolated and m.mark is not None:
                for _, p in m.leg_list(account):
                    found.append((m, p))
        return found

    def _mm(self, m: _Market, p: Position) -> int:
        """Maintenance margin of one position per the profile (at mark for Binance, at the entry
        notional for Bybit classic), rounded up: the exact value is `_mm_scaled` / RATE_SCALE."""
        return div_up(self._mm_scaled(m, p), RATE_SCALE)

    def upnl(self, account: int, asset: str, skip: str | None = None) -> int:
        """Unrealized PnL (money units) of the account's cross positions in `asset`, at mark."""
        total = 0
        for m, p in self._cross(account, asset, skip):
            total += m.upnl(p)
        return total

    def maintenance(self, account: int, asset: str, skip: str | None = None) -> int:
        """Maintenance margin of the account's cross positions (each rounded up)."""
        total = 0
        for m, p in self._cross(account, asset, skip):
            total += self._mm(m, p)
        return total

    def initial_margin(self, account: int, asset: str) -> int:
        """Initial margin held in the cross wallet: cross positions (at mark) and every open
        order that can open exposure (at its price, plus its fee reserve; isolated orders are
        paid from the wallet). A Multi-Assets account's pooled assets: the pool's."""
        if account in self.multi_assets and asset in MA.POOLED:
            return MA.initial(self, account)
        total = 0
        for m, p in self._cross(account, asset):
            total += initial_margin(m.value(p.lots, m.mark), self._lev(account, m))
        for m in self.markets.values():
            value = m.order_value.get(account) if m.asset == asset else None
            if value:  # O(markets): the sum is kept up to date, never recomputed
                total += self._orders_margin(m, value, self._lev(account, m))
        return total

    def _order_leaves(self, m: _Market, order_id: int, leaves: int) -> None:
        """Record an open order's new remaining quantity (0: gone) in its account's order value."""
        o = m.orders.get(order_id)
        if o is None:
            return
        if not o.reduce_only:
            value = m.order_value.get(o.account, 0) + m.value(leaves, o.price) - m.value(o.leaves, o.price)
            if value:
                m.order_value[o.account] = value
            else:
                m.order_value.pop(o.account, None)
        o.leaves = leaves

    def _cost_to_open(self, m: _Market, side: int, qty: int, price: int, lev: int) -> int:
        """Binance's cost to open: initial margin + open loss against the mark (money units,
        rounded up). Inverse: the same in coin, the open loss being qty's value difference."""
        if not m.inverse:
            im, loss, _ = open_cost(side, qty, price, m.mark, lev, m.K, self.profile.cost_model, m.last or m.mark,
                                    SHORT_LAST_BUFFER)
            return im + loss
        direction = 1 if side == _SIDE_BUY else -1
        # a long bought above mark is down value(mark) - value(price) coins (value falls as price rises)
        loss = max(0, direction * (m.value(qty, m.mark) - m.value(qty, price)))
        return initial_margin(m.value(qty, price), lev) + math.ceil(loss)

    def _order_cost(self, m: _Market, cmd: C.PlaceOrder, qty: int, opening: int, price: int, lev: int) -> int:
        """What an order of `qty` lots (`opening` of them opening exposure) must find available:
        Binance's cost to open at `price` (its limit, or a market order's assumed price), plus
        the fee at the taker rate reserved so that no fill leaves the wallet short of its fee
        (rounded up, against the account).

        A marketable order trades through the book, beyond what the formula assumes: a sell at
        the bids above its limit, a market buy up the asks past Ask1 × 1.0005. Its margin and fee
        reserve are taken at the worst price it can trade at if that is worse, and each fill
        rounds its fee (and an isolated position's margin) up on its own, so what that rounds
        beyond the total rounded once is added (`_sweep_bound`). So what an accepted order takes
        from the book never leaves the wallet short of the margin and fees it moves."""
        limit = self._protection(m, cmd.side) if cmd.kind == _MARKET else price
        rests = cmd.kind == _LIMIT and cmd.tif not in (_IOC, _FOK)
        worst, rounding = self._sweep_bound(m, cmd, qty, qty - opening, limit, rests, lev)
        # the worse price for the account: the higher notional (linear), the lower price (inverse)
        at = price if worst is None else (min(price, worst) if m.inverse else max(price, worst))
        cost = self._cost_to_open(m, cmd.side, opening, price, lev)
        if at != price:
            cost = max(cost, self._cost_to_open(m, cmd.side, opening, at, lev))
        return cost + self._fee_reserve(m, m.value(qty, at)) + rounding

    def _sweep_bound(self, m: _Market, cmd: C.PlaceOrder, qty: int, closing: int, limit: int, rests: bool,
                     lev: int) -> tuple[int | None, int]:
        """Walk the resting orders an order of `qty` lots (the first `closing` of them closing)
        with limit (or protection) price `limit` would trade with, as the book is now: (price,
        rounding). price: among the prices it would trade at and, if its rest would rest, its
        limit, the one where its notional is largest (the highest on linear markets, the lowest
        on inverse ones; None when it trades nowhere and rests nowhere). rounding: how many
        units its fills' taker fees, and an isolated position's margins, each rounded up on its
        own, come to beyond their totals rounded once."""
        opposite, prices, left = 1 - cmd.side, [], qty
        best = m.book.best_ask() if cmd.side == _SIDE_BUY else m.book.best_bid()
        if best is None or _beyond(cmd.side, best, limit):  # it trades nowhere: no walk
            return (limit if rests else None), 0
        notional = fees = margin = margins = 0
        isolated = cmd.account in m.isolated
        for level, _, _ in _growing(m.book.depth, opposite):
            if left <= 0 or _beyond(cmd.side, level, limit):
                break
            prices.append(level)
            for o in _growing(m.book.level_orders, opposite, level):
                q = min(left, o.leaves)
                value = m.value(q, level)
                notional += value
                fees += apply_rate_up(value, m.taker_fee)
                opened = q - min(q, closing)
                closing -= q - opened
                if isolated and opened:
                    part = m.value(opened, level)
                    margin += part
                    margins += initial_margin(part, lev)
                left -= q
                if not left:
                    break
        if left > 0 and rests:
            prices.append(limit)
        if not prices:
            return None, 0
        rounding = fees - apply_rate_up(notional, m.taker_fee)
        if margin:
            rounding += margins - initial_margin(margin, lev)
        return (min(prices) if m.inverse else max(prices)), rounding

    def _fee_reserve(self, m: _Market, notional: int) -> int:
        """The fee an order may be charged, at the higher of the two rates (rounded up)."""
        return apply_rate_up(notional, max(m.taker_fee, m.maker_fee, 0))

    def _lev(self, account: int, m: _Market) -> int:
        return self.leverage.get((account, m.symbol), m.default_leverage)

    def margin_balance(self, account: int, asset: str) -> int:
        """Cross margin balance: wallet + uPnL of cross positions (money units); of a
        Multi-Assets account's pooled asset, the pool's equity (engine.multi_assets)."""
        if account in self.multi_assets and asset in MA.POOLED:
            return MA.margin_balance(self, account)
        return self.wallet(account, asset) + self.upnl(account, asset)

    def available(self, account: int, asset: str) -> int:
        """Cross margin balance minus the initial margin in use (money units; may be negative)."""
        return self.margin_balance(account, asset) - self.initial_margin(account, asset)

    def withdrawable(self, account: int, asset: str) -> int:
        """What may leave: the wallet minus margin in use, never counting unrealized profit."""
        if account in self.multi_assets and asset in MA.MARGIN_ASSETS:
            return MA.withdrawable(self, account, asset)
        wallet = self.wallet(account, asset)
        return max(0, min(wallet, wallet + min(0, self.upnl(account, asset)) - self.initial_margin(account, asset)))

    def liquidation_price(self, account: int, symbol: str, pside: int = BOTH):
        """Exact liquidation price (LiqPrice) of a position, or None. Isolated: that position
        against its isolated margin. Cross: all the account's legs in `symbol` against the cross
        wallet, with the other markets' maintenance margin and uPnL held fixed."""
        m = self.markets[symbol]
        if m.mark is None:
            return None
        if account in m.isolated:
            p = m.positions.get(position_key(account, pside))
            if p is None:
                return None
            return m.lp([p], self.isolated_margin(account, symbol, pside), 0, 0, self.profile.liquidation_model)
        legs = [p for _, p in m.legs(account)]
        if not legs:
            return None
        if account in self.multi_assets:  # the pool, the other legs held fixed
            upnl, mm = MA.others(self, account, symbol)
            return m.lp(legs, MA.wallets(self, account), mm, upnl, self.profile.liquidation_model)
        return m.lp(legs, self.wallet(account, m.asset), self.maintenance(account, m.asset, skip=symbol),
                    self.upnl(account, m.asset, skip=symbol), self.profile.liquidation_model)

    def bankruptcy_price(self, account: int, symbol: str, pside: int = BOTH):
        """Exact bankruptcy price (LiqPrice) of a position (isolated) or of the account's legs in
        `symbol` (cross), or None."""
        m = self.markets[symbol]
        legs = [p for ps, p in m.legs(account) if account not in m.isolated or ps == pside]
        if not legs or m.mark is None:
            return None
        wallet, other_upnl = self._collateral(m, account, pside)
        return m.bp(legs, wallet, other_upnl)

    def preview_order(self, cmd: C.PlaceOrder) -> dict:
        """What `cmd` would do to the account if it filled completely at its price (a market
        order at its assumed price, see _assumed_price), without changing anything: the cost to open (with the fee
        reserve), the fee the fill pays (taker if the order would trade at once, maker if it
        rests; money units, rounded up), the available balance, and what the fill leaves: the
        resulting position's lots, maintenance margin, liquidation and bankruptcy price against
        the wallet after the fill's realized PnL and fee (exact Fractions of the quote currency,
        None when none; `*_tick`: rounded onto the tick grid against the account, as the venue
        displays them) and its signed distance from mark in percent (negative once the mark is
        past the liquidation price), its liquidation band (partial and full
        liquidation price, see _liquidation_band), and its funding carry: the predicted rate, what
        it would be paid (+) or pay (−) at the next funding time (funding_estimate) and that
        time. Money in units, rounded as the venue rounds."""
        m = self.markets[cmd.symbol]
        if m.mark is None:
            raise ValueError("no mark price yet")
        price = cmd.price if cmd.kind == _LIMIT else self._assumed_price(m, cmd.side)
        sign = 1 if cmd.side == _SIDE_BUY else -1
        pos = m.positions.get(position_key(cmd.account, cmd.position_side), Position())
        after = Position(pos.lots, pos.cost)
        opening = cmd.qty - abs(pos.closing_qty(sign * cmd.qty))
        lev = self._lev(cmd.account, m)
        cost = 0 if cmd.reduce_only or opening <= 0 else self._order_cost(m, cmd, cmd.qty, opening, price, lev)
        realized = m.fill(after, sign * cmd.qty, price)
        # the fee the fill pays from the wallet: taker if it would trade at once, maker if it rests
        best = m.book.best_ask() if cmd.side == _SIDE_BUY else m.book.best_bid()
        takes = cmd.kind != _LIMIT or (best is not None and not _beyond(cmd.side, best, price))
        notional = m.value(cmd.qty, price)
        fee_rate = m.taker_fee if takes else m.maker_fee
        fee = apply_rate_up(notional, fee_rate) if fee_rate >= 0 else -apply_rate_down(notional, -fee_rate)
        rate = self.predicted_funding_rate(cmd.symbol)
        mark, K = m.funding_terms(self.ts)
        out = {"cost": cost, "fee": fee, "available": self.available(cmd.account, m.asset), "lots": after.lots,
               "maintenance_margin": 0, "liquidation_price": None, "bankruptcy_price": None,
               "liquidation_tick": None, "bankruptcy_tick": None,
               "liquidation_distance_percent": None, "liquidation_band": (None, None), "funding_rate": rate,
               "funding_payment": funding_payment(after.lots, mark, rate, K), "next_funding_ts": m.next_funding}
        if after.lots == 0:
            return out
        if cmd.account in m.isolated:
            wallet = self._iso_margin(m, cmd.account, cmd.position_side) + realized + \
                (initial_margin(m.value(opening, price), lev) if opening > 0 else 0)
            other_mm = other_upnl = 0
        elif cmd.account in self.multi_assets:  # the Multi-Assets pool after the fill
            wallet = MA.wallets(self, cmd.account) + realized - fee
            other_upnl, other_mm = MA.others(self, cmd.account, m.symbol)
        else:  # the cross wallet after the fill: its realized PnL and its fee
            wallet = self.wallet(cmd.account, m.asset) + realized - fee
            other_mm = self.maintenance(cmd.account, m.asset, skip=m.symbol)
            other_upnl = self.upnl(cmd.account, m.asset, skip=m.symbol)
        lp = m.lp([after], wallet, other_mm, other_upnl, self.profile.liquidation_model)
        bp = m.bp([after], wallet, other_upnl)
        out["maintenance_margin"] = self._mm(m, after)
        if lp is not None:
            out["liquidation_price"], out["liquidation_tick"] = lp.price, lp.tick
            # signed: positive while the mark is on the safe side, negative past the price
            gap = m.mark - lp.ticks if lp.trigger is _AT_OR_BELOW else lp.ticks - m.mark
            out["liquidation_distance_percent"] = gap / m.mark * 100
            if cmd.account in m.isolated or not any(ps != cmd.position_side for ps, _ in m.legs(cmd.account)):
                out["liquidation_band"] = self._liquidation_band(m, after, wallet, other_mm, other_upnl, lev,
                                                                 cmd.account in m.isolated)
        if bp is not None:
            out["bankruptcy_price"], out["bankruptcy_tick"] = bp.price, bp.tick
        return out

    def _liquidation_band(self, m: _Market, p: Position, wallet: int, other_mm: int, other_upnl: int, lev: int,
                          isolated: bool) -> tuple[Decimal | None, Decimal | None]:
        """(partial, full) liquidation price of one position (risk.preview's band: display-rounded
        Decimals; full None when the reduced position cannot be liquidated), or (None, None)
        when the calculator does not take the inputs (a wallet already below zero)."""
        spec = m.spec
        scale = Decimal(10) ** spec.settle_decimals
        entry = m.entry(p) * m.tick
        try:
            pv = preview_position(
                side="long" if p.lots > 0 else "short", size=spec.lots_to_qty(abs(p.lots)),
                entry=Decimal(entry.numerator) / Decimal(entry.denominator), leverage=lev,
                wallet=Decimal(wallet) / scale, mark=spec.ticks_to_price(m.mark),
                margin_mode="isolated" if isolated else "cross", other_mm=Decimal(other_mm) / scale,
                other_upnl=Decimal(other_upnl) / scale, market=spec, liquidation_fee=spec.liquidation_fee,
                brackets=[(Decimal(b.cap) / scale, b.max_leverage, Decimal(b.mmr) / RATE_SCALE) for b in m.brackets],
                profile=self.profile.liquidation_model)
        except ValueError:
            return None, None
        return pv.partial_liquidation_price, pv.full_liquidation_price

    def predicted_funding_rate(self, symbol: str) -> int:
        """The rate (scaled 1e8) the next funding settlement would apply if its interval closed
        now: the interval's premium average so far through the market's rate rule, or the last
        rate before any sample."""
        m = self.markets[symbol]
        avg = m.funding.average()
        return m.rate if avg is None else m.funding_config.rate(avg)

    def funding_estimate(self, account: int, symbol: str, pside: int = BOTH) -> int:
        """What the position would be paid (+) or pay (−) at the next funding time at the current
        mark and the predicted rate (money units, rounded as a settlement rounds: a payer's debit
        up, a receiver's credit down); 0 without a position or a mark."""
        m = self.markets[symbol]
        p = m.positions.get(position_key(account, pside))
        if p is None or m.mark is None:
            return 0
        mark, K = m.funding_terms(self.ts)
        return funding_payment(p.lots, mark, self.predicted_funding_rate(symbol), K)

    def _adl_score(self, m: _Market, account: int, pside: int) -> Fraction:
        """A position's ADL rank score (higher: deleveraged first) by the profile's ranking, exact.
        Binance's (and OKX's, which publishes none) is margin.leverage_pnl; Bybit's and
        Hyperliquid's are risk.venue_rules.adl_score on the position's (isolated) or account's
        (cross) margin; dYdX's has no ranking: keys in order from a pseudo-random start drawn from
        the venue time, so the same commands give the same queue."""
        p = m.positions[position_key(account, pside)]
        scale = 10**m.spec.settle_decimals
        ranking = _ADL_BINANCE if self.profile.adl is None else self.profile.adl.ranking
        if ranking is _ADL_RANDOM:
            start = self.ts * 2654435761 % _ADL_CYCLE
            return Fraction(-((position_key(account, pside) - start) % _ADL_CYCLE))
        if account in m.isolated:
            pnl, wallet, mm = m.upnl(p), self._iso_margin(m, account, pside), self._mm(m, p)
        else:
            pnl, wallet, mm = self.upnl(account, m.asset), self.wallet(account, m.asset), \
                self.maintenance(account, m.asset)
            if account in self.multi_assets:  # the pool's margin
                (pnl, mm), wallet = MA.others(self, account, None), MA.wallets(self, account)
        if ranking is _ADL_BINANCE or ranking is _ADL_UNPUBLISHED:
            return M.leverage_pnl(pnl, wallet, mm, money_scale=scale)
        lots, cost = abs(p.lots), abs(p.cost)
        entry = Fraction(lots) * m.k_inv / cost if m.inverse else Fraction(cost, lots)  # ticks
        score = adl_score(ranking, upnl=Fraction(pnl, scale), wallet=Fraction(wallet, scale),
                          maintenance=Fraction(mm, scale), mark=Fraction(m.mark), entry=entry,
                          notional=Fraction(m.value(lots, m.mark)) / scale,
                          entry_notional=Fraction(m.entry_value(p), scale))
        return _ADL_LAST if score is None else score

    def adl_quantile(self, account: int, symbol: str, pside: int = BOTH) -> int:
        """ADL indicator 0..4 of a position among the same side of its market (4 = first).

        Like Binance's estimate ("values update every 30s"), the scores it is ranked among are
        those of that side as of the first query in the current ADL_WINDOW_NS of venue time;
        its own score is current. So a query costs O(the account's positions + log n), after
        one O(n log n) ranking per market side and window, however many positions ask."""
        m = self.markets[symbol]
        p = m.positions.get(position_key(account, pside))
        if p is None or m.mark is None:
            return 0
        long, window = p.lots > 0, self.ts // ADL_WINDOW_NS
        ranked = self._adl_ranked.get((symbol, long))
        if ranked is None or ranked[0] != window or not ranked[1]:
            scores = sorted(self._adl_score(m, *position_of(k)) for k, q in m.positions.items()
                            if (q.lots > 0) == long and position_of(k)[0] != IF_ACCOUNT)
            ranked = self._adl_ranked[(symbol, long)] = (window, scores)
        return M.adl_bucket(self._adl_score(m, account, pside), ranked[1])

    def state_hash(self) -> str:
        """One hash over every market's book, positions, prices, modes and the whole ledger."""
        h = hashlib.blake2b(digest_size=16)
        h.update(f"{self.ts}:{self.next_order_id}:{sorted(self.hedge)};".encode())
        if self.multi_assets:  # absent while no account uses the mode: older hashes stand
            h.update(f"ma:{sorted(self.multi_assets)}:{sorted(self._collateral_index.items())};".encode())
        for symbol, m in self.markets.items():
            h.update(f"{symbol}:{m.book.state_hash()}:{m.mark}:{m.last}:{m.rate}:{m.next_funding}:"
                     f"{sorted(m.isolated)};".encode())
            # plain ints only: an IntEnum and its int value must hash alike (replay decodes ints)
            for k in sorted(m.positions):
                p, (account, pside) = m.positions[k], position_of(k)
                h.update(f"{account}:{pside}:{p.lots}:{p.cost};".encode())
            for oid in sorted(m.orders):
                o = m.orders[oid]
                h.update(f"{oid}:{o.account}:{int(o.side)}:{o.price}:{o.leaves}:{int(o.reduce_only)}:"
                         f"{int(o.pside)};".encode())
            h.update(m.liq.state_hash().encode())
            for source in TriggerSource:
                h.update(f"{int(source)}:{m.observed.get(source)}:{m.triggers[source].state_hash()};".encode())
            h.update(repr(sorted((cid, _plain(c)) for cid, c in m.conditionals.items())).encode())
            h.update(repr(sorted((gid, _plain(g.cmd), g.entry, g.armed, g.closed, tuple(g.legs))
                                 for gid, g in m.lists.items())).encode())
        for key in sorted(self.leverage):
            h.update(f"{key}:{self.leverage[key]};".encode())
        h.update(f"day:{self._day_end};".encode())
        for key in sorted(self._loss_limits):
            h.update(f"{key}:{self._loss_limits[key].key()};".encode())
        for asset in sorted(self._day_pnl):
            day = self._day_pnl[asset]
            h.update(f"{asset}:{sorted((a, v) for a, v in day.items() if v)};".encode())
        self.ledger.digest(h)
        return h.hexdigest()

    def check_integrity(self) -> None:
        """Conservation, the pnl pools, zero net open interest, order records, the kernels."""
        self.ledger.check_conservation()
        for m in self.markets.values():
            m.book.check_integrity()
            m.liq.check_integrity()
            indexed = set()
            for source, index in m.triggers.items():
                index.check_integrity()
                ids = {e.order_id for e in index.entries()}
                if any(m.conditionals[c].source != source for c in ids if c in m.conditionals):
                    raise AssertionError(f"{m.symbol}: a conditional order sits in the wrong trigger index")
                indexed |= ids
            if indexed != set(m.conditionals):
                raise AssertionError(f"{m.symbol}: conditional orders and trigger indexes disagree")
            net = sum(p.lots for p in m.positions.values())
            pool = self.ledger.balance(m.pnl_pool, m.asset)
            expected = m.pool_target()
            if net != 0 or pool != expected:
                raise AssertionError(f"{m.symbol}: net lots {net}, pnl pool {pool} != {expected}")
            resting = {o.order_id: o.leaves for o in m.book.orders()}
            if resting != {oid: o.leaves for oid, o in m.orders.items()}:
                raise AssertionError(f"{m.symbol}: open-order records disagree with the book")
            value: dict[int, int | Fraction] = {}
            for o in m.orders.values():
                if not o.reduce_only:
                    value[o.account] = value.get(o.account, 0) + m.value(o.leaves, o.price)
            if {a: v for a, v in value.items() if v} != m.order_value:
                raise AssertionError(f"{m.symbol}: open-order value disagrees with the orders")
            ro: dict[tuple[int, int], set[int]] = {}
            for oid, o in m.orders.items():
                if o.reduce_only:
                    ro.setdefault((o.account, o.pside), set()).add(oid)
            of: dict[int, set[int]] = {}
            for cid, c in m.conditionals.items():
                of.setdefault(c.account, set()).add(cid)
            if ro != m.reduce_only or of != m.conditionals_of:
                raise AssertionError(f"{m.symbol}: reduce-only or conditional-order index is stale")
            self._check_lists(m)
            if m.hedge is not self.hedge:
                raise AssertionError(f"{m.symbol}: the market's hedge-mode set is not the exchange's")
            for k, p in m.positions.items():
                account, pside = position_of(k)
                if p.lots == 0 or m.symbol not in self._markets_of.get(account, ()):
                    raise AssertionError(f"{m.symbol}: position record of {account} is stale")
                if (pside != BOTH) != (account in self.hedge):
                    raise AssertionError(f"{m.symbol}: account {account} holds a {pside} position in the other mode")
            for key, _, _ in m.liq.entries():
                account, pside = position_of(key)
                if not m.holds(account) or (account in m.isolated and position_key(account, pside) not in m.positions):
                    raise AssertionError(f"{m.symbol}: liquidation index entry {key} has no position")
            multi = {a for a, syms in self._markets_of.items() if len(syms) > 1 and m.symbol in syms}
            if multi != self._multi[m.symbol]:
                raise AssertionError(f"{m.symbol}: multi-market account index is stale")

    def _check_lists(self, m: _Market) -> None:
        """Order lists and closing conditional orders agree with their indexes and the books."""
        exits: dict[tuple[int, int], set[int]] = {}
        for cid, c in m.conditionals.items():
            if _closing(c):
                exits.setdefault((c.account, c.position_side), set()).add(cid)
        links, owners = {}, {}
        due = set(self._expiries)
        for gid, g in m.lists.items():
            owners.setdefault(g.cmd.account, set()).add(gid)
            # a list whose exits closed all they cover has ended; an OCO covers its quantity
            if g.closed < 0 or (g.armed and g.closed >= g.armed) or \
                    (g.cmd.kind == ListKind.OCO and (g.entry or g.armed != g.cmd.qty)):
                raise AssertionError(f"{m.symbol}: order list {gid} covers {g.armed} and closed {g.closed}")
            if g.cmd.expire_ts and (g.cmd.expire_ts, m.symbol, gid) not in due:
                raise AssertionError(f"{m.symbol}: order list {gid} has no expiry")
            for lid in (g.entry, *g.legs):
                if lid:
                    links[lid] = gid
                    if lid not in m.orders and lid not in m.conditionals:
                        raise AssertionError(f"{m.symbol}: order {lid} of list {gid} is not live")
        for cid, c in m.conditionals.items():
            if c.expire_ts and (c.expire_ts, m.symbol, cid) not in due:
                raise AssertionError(f"{m.symbol}: GTD conditional order {cid} has no expiry")
        if exits != m.exit_conditionals or links != m.list_of or owners != m.lists_of:
            raise AssertionError(f"{m.symbol}: order-list or closing-order index is stale")

    # ================================================================== internals: money

    def _move(self, asset: str, source, dest, amount: int, cause: str) -> None:
        """Move money between accounts (ints: their wallets, the fund for IF_ACCOUNT) or named
        holders, with balance events; a negative amount moves the other way."""
        if amount <= 0:
            if amount == 0:
                return
            source, dest, amount = dest, source, -amount
        if source.__class__ is int:
            source = INSURANCE if source == IF_ACCOUNT else ("wallet", source)
        if dest.__class__ is int:
            dest = INSURANCE if dest == IF_ACCOUNT else ("wallet", dest)
        src_after, dst_after = self.ledger.move(asset, source, dest, amount)
        self._booked(source, asset, -amount, src_after, cause)
        self._booked(dest, asset, amount, dst_after, cause)

    def _booked(self, holder: tuple[str, int], asset: str, delta: int, after: int, cause: str) -> None:
        """The event of one side of a movement: a wallet's, the fund's, or an isolated margin's
        (a BalanceChanged naming its market and position side: its realized PnL and funding are
        income as a wallet's are)."""
        kind = holder[0]
        if kind == "wallet":
            self._touched.add(holder[1])
            self._events.append(new_record(BalanceChanged, (holder[1], asset, delta, after, cause, "", 0)))
        elif kind == "insurance":  # INSURANCE
            e = new_record(InsuranceFundChanged, (asset, delta, after, cause))
            self._events.append(e)
            self.insurance_history.append((self.ts, e))
        elif kind.startswith("iso:"):
            account, pside = position_of(holder[1])
            self._touched.add(account)
            self._events.append(new_record(BalanceChanged, (account, asset, delta, after, cause, kind[4:], pside)))

    def _trade(self, m: _Market, account: int, pside: int, qty: int, price: int) -> int:
        """Apply a signed fill to a position, pay its realized PnL from the pool, and move
        isolated margin: the opening part's initial margin in, a closed part's share out.
        Returns the position's cost change plus its realized PnL (for the inverse dust)."""
        key = position_key(account, pside)
        self._touched.add(account)
        self._positions_moved.add((m.symbol, account, pside))
        p = m.positions.get(key)
        if p is None:
            p = m.positions[key] = Position()
            symbols = self._markets_of.setdefault(account, set())
            symbols.add(m.symbol)
            if len(symbols) > 1:
                for s in symbols:
                    self._multi[s].add(account)
        isolated = account in m.isolated
        if isolated:
            before = abs(p.lots)
            closed = abs(p.closing_qty(qty))
        cost_before = p.cost
        realized = m.fill(p, qty, price)
        holder = m.iso_holder(account, pside) if isolated else account
        self._move(m.asset, m.pnl_pool, holder, realized, "realized_pnl")
        if realized and self._loss_limits:
            self._day_move(account, m.asset, realized)
        if isolated and (m.symbol, account, pside) not in self._liquidating:
            iso = self.ledger.balance(holder, m.asset)
            # a full close or a flip frees all of it (a flip re-margins below); a partial close
            # frees its share, rounded down (a credit)
            release = iso if closed and closed == before else iso * closed // before if closed else 0
            self._move(m.asset, holder, account, release, "isolated_margin")
            opened = abs(qty) - closed
            if opened:
                self._move(m.asset, account, holder, initial_margin(m.value(opened, price), self._lev(account, m)),
                           "isolated_margin")
        if p.lots == 0:
            del m.positions[key]
            if not m.holds(account):  # its last position here: out of the market's indexes
                m.unindex(account)
                symbols = self._markets_of[account]
                symbols.discard(m.symbol)
                self._multi[m.symbol].discard(account)
                if len(symbols) == 1:
                    self._multi[next(iter(symbols))].discard(account)
                if not symbols:
                    del self._markets_of[account]
        self._events.append(new_record(PositionChanged, (m.symbol, account, p.lots, p.cost)))
        return p.cost - cost_before + realized

    def _pair(self, m: _Market, a: int, a_side: int, b: int, b_side: int, qty: int, price: int) -> None:
        """One fill between two positions: a gets +qty lots, b gets -qty, at price. On inverse
        markets each side's cost and PnL round down, and what that leaves over (a few units at
        most) goes from the pool to dust, so the pool keeps holding exactly Σ cost."""
        moved = self._trade(m, a, a_side, qty, price) + self._trade(m, b, b_side, -qty, price)
        if m.inverse:
            self._move(m.asset, m.pnl_pool, DUST, -moved, "rounding_dust")

    # ================================================================== internals: orders

    def _book_events(self, m: _Market, reduce_only: bool = False, pside: int = BOTH,
                     liquidation: bool = False) -> None:
        """Turn the book's events of the last operation into exchange events and settlements."""
        spec = m.spec
        done: list[int] = []
        for e in m.book.events():
            self._events.append(new_record(OrderEvent, (spec.symbol, e, liquidation)))
            # its fields unpacked once (no attribute lookup per use)
            kind, order_id, account, side, price, qty, leaves, counter_id, counter_account, counter_leaves, reason = e
            if kind == _ACCEPTED:
                # a forced order is an IOC: it never rests, so it reserves no reduce-only room
                m.orders[order_id] = _Open(account, side, price, 0, reduce_only or liquidation, pside)
                if reduce_only:
                    m.reduce_only.setdefault((account, pside), set()).add(order_id)
                self._order_leaves(m, order_id, qty)
            elif kind == _FILL:
                sign = 1 if side == _SIDE_BUY else -1
                self._pair(m, account, m.orders[order_id].pside, counter_account,
                           m.orders[counter_id].pside, sign * qty, price)
                notional = m.value(qty, price)
                if not liquidation and account != IF_ACCOUNT:
                    fee = apply_rate_up(notional, m.taker_fee)
                    self._move(spec.settle, account, FEES, fee, "fee")
                    if self._loss_limits:
                        self._day_move(account, m.asset, -fee)
                maker_rate = m.maker_fee
                if counter_account != IF_ACCOUNT:
                    fee = (apply_rate_up(notional, maker_rate) if maker_rate >= 0
                           else -apply_rate_down(notional, -maker_rate))
                    self._move(spec.settle, counter_account, FEES, fee, "fee")
                    if self._loss_limits:
                        self._day_move(counter_account, m.asset, -fee)
                m.last = price
                self._order_leaves(m, order_id, leaves)
                self._order_leaves(m, counter_id, counter_leaves)
                if m.list_of:
                    for oid, left in ((order_id, leaves), (counter_id, counter_leaves)):
                        if oid in m.list_of:
                            self._notes.append(_Note(m.symbol, oid, "fill", qty, left))
                if not leaves:
                    done.append(order_id)
                if not counter_leaves:
                    done.append(counter_id)
            elif kind == _CANCELED or kind == _EXPIRED:
                self._order_leaves(m, order_id, 0)
                self._forget_order(m, order_id)
                if order_id in m.list_of:
                    cause = _GONE[_CANCELED if kind == _CANCELED else reason]
                    self._notes.append(_Note(m.symbol, order_id, "gone", cause=cause))
            elif kind == _AMENDED:
                o = m.orders.get(order_id)
                if o is not None and o.price != price:  # re-priced: its order value moves over
                    self._order_leaves(m, order_id, 0)
                    o.price = price
                self._order_leaves(m, order_id, qty)
        # an order filled within the operation leaves no record behind
        for oid in done:
            self._forget_order(m, oid)

    def _forget_order(self, m: _Market, order_id: int) -> None:
        o = m.orders.pop(order_id, None)
        if o is not None and o.reduce_only:
            ids = m.reduce_only.get((o.account, o.pside))
            if ids is not None:  # None: a forced order (never indexed)
                ids.discard(order_id)
                if not ids:
                    del m.reduce_only[(o.account, o.pside)]

    def _outside_band(self, cmd, m: _Market, side: int, price: int) -> bool:
        """Whether a limit price lies outside the PERCENT_PRICE band (after rejecting `cmd`);
        no band before the first mark."""
        if m.mark is None:
            return False
        up, down = self._band(m)
        if side == _SIDE_BUY and price > up:
            self._reject(cmd, R.PRICE_ABOVE_BAND, price=price, max_price=up)
            return True
        if side == _SIDE_SELL and price < down:
            self._reject(cmd, R.PRICE_BELOW_BAND, price=price, min_price=down)
            return True
        return False

    def _band(self, m: _Market) -> tuple[int, int]:
        """PERCENT_PRICE band around mark in ticks: buy limit ≤ up, sell limit ≥ down (kept per
        mark: it changes only when the mark does)."""
        if m.band[0] != m.mark:
            up_rate, down_rate = m.band_up, m.band_down
            up = m.mark * up_rate.numerator // up_rate.denominator  # floor: stays inside the band
            down = div_up(m.mark * down_rate.numerator, down_rate.denominator)
            lo, hi, _, _ = m.spec.book_limits()
            m.band = (m.mark, min(up, hi), max(down, lo))
        return m.band[1], m.band[2]

    def _assumed_price(self, m: _Market, side: int) -> int:
        """The price a market order's margin is computed at (Binance): a buy at Ask1 × 1.0005
        (rounded up), a sell at max(Bid1, mark); the mark where that side of the book is empty."""
        if side == _SIDE_BUY:
            ask = m.book.best_ask()
            return m.mark if ask is None else div_up(ask * 10_005, 10_000)
        bid = m.book.best_bid()
        return m.mark if bid is None else max(bid, m.mark)

    def _protection(self, m: _Market, side: int) -> int:
        up, down = self._band(m)
        return up if side == _SIDE_BUY else down

    # ================================================================== internals: time and prices

    def _advance(self, ts: int) -> None:
        """Time-driven work due at ts: basis and premium sampling, funding settlement."""
        crossed = ts // PREMIUM_SAMPLE_NS != self.ts // PREMIUM_SAMPLE_NS
        self.ts = ts
        if not crossed:
            return
        for m in self.markets.values():
            live = bool(m.index.live_sources(ts))
            m.mark_state.sample(ts, m.index.value(ts) if live else None, m.book.best_bid(), m.book.best_ask())
            premium = self._premium(m) if live else None
            for closed in m.funding.sample(ts, premium):
                if closed.avg_premium is not None:
                    m.rate = m.funding_config.rate(closed.avg_premium)
                self._settle_funding(m)
            m.next_funding = m.funding.open_interval_end

    def _premium(self, m: _Market) -> int:
        levels = ([(p, q) for p, q, _ in m.book.depth(s, _IMPACT_LEVELS)] for s in (_SIDE_BUY, _SIDE_SELL))
        if m.inverse:  # the impact size is a face value: so many contracts
            face = m.spec.lot_size * m.spec.contract_size
            lots = math.ceil(Fraction(m.imn, 10**m.spec.settle_decimals) / Fraction(face))
            bid, ask = (impact_price_contracts(lv, lots) for lv in levels)
        else:
            bid, ask = (impact_price(lv, m.imn, m.K) for lv in levels)
        return premium_index(bid, ask, m.index.value(self.ts))

    def _settle_funding(self, m: _Market) -> None:
        if m.mark is None or not m.positions:
            return
        keys = sorted(m.positions)
        lots = {k: m.positions[k].lots for k in keys}
        mark, K = m.funding_terms(self.ts)  # notional at mark (or index) × rate
        pay = funding_payments(lots, mark, m.rate, K)
        pool = ("funding:" + m.symbol, 0)

        def holder(k):
            account, pside = position_of(k)
            return m.iso_holder(account, pside) if account in m.isolated else account

        for k in keys:  # payers first, so the pool never goes negative
            if pay.deltas[k] < 0:
                self._move(m.asset, holder(k), pool, -pay.deltas[k], "funding")
                self._day_move(position_of(k)[0], m.asset, pay.deltas[k])
        for k in keys:
            if pay.deltas[k] > 0:
                self._move(m.asset, pool, holder(k), pay.deltas[k], "funding")
                self._day_move(position_of(k)[0], m.asset, pay.deltas[k])
        self._move(m.asset, pool, DUST, pay.dust, "funding_dust")
        e = FundingSettled(m.symbol, m.rate, m.funding_price(self.ts), pay.dust)
        self._events.append(e)
        self.funding_history.append((self.ts, e))

    def _remark(self, m: _Market) -> None:
        inputs = (self.ts, m.last, m.rate, m.next_funding)
        if inputs == m.marked:  # nothing the mark is made of moved since it was computed
            return
        m.marked = inputs
        index = m.index.value(self.ts)
        if index is None:
            return
        mark = m.mark_state.value(self.ts, index, m.last, m.rate, m.next_funding, m.funding.interval_ns)
        if mark is None or mark == m.mark:
            return
        first = m.mark is None
        m.mark = mark
        self._events.append(MarkPriceChanged(m.symbol, mark, index))
        # other markets' liquidation prices of multi-market cross accounts depend on this mark
        multi = self._multi[m.symbol]
        if multi:
            self._touched.update(multi)
        if first:  # positions opened before the first mark had no liquidation price yet
            for k in m.positions:
                self._touched.add(position_of(k)[0])
        if self._adl_queue:
            self._adl_queue.clear()
        if self._unrealized_limits:  # limits counting unrealized PnL in this asset may be hit now
            asset = m.asset
            for key in self._unrealized_limits:
                if key[1] == asset:
                    self._loss_watch.add(key)
        self._sweep_due = True
        if self._holding:  # a requote comes first (_SetIndexPrice): it settles and offloads after
            return
        self._settle()
        self._offload(m)

    # ================================================================== internals: liquidation

    def _rekey_account(self, account: int) -> None:
        for symbol in sorted(self._markets_of.get(account, ())):
            self._rekey(self.markets[symbol], account)

    def _rekey(self, m: _Market, account: int) -> None:
        """Index the account's positions in m by the price at which they become liquidatable:
        each isolated position on its own, the cross legs of the account together."""
        m.unindex(account)
        if account == IF_ACCOUNT or m.mark is None:
            return
        isolated = account in m.isolated
        found = m.leg_list(account)
        groups = [(pside, [p]) for pside, p in found] if isolated else [(BOTH, [p for _, p in found])]
        for pside, legs in groups:
            if not legs:
                continue
            net = 0
            for p in legs:
                net += p.lots
            solved = self._liq_tick(m, account, pside, legs)
            if solved is None:
                # no positive solution: a long no price can liquidate (not indexed), or a short
                # or a hedged pair liquidatable at any price (trigger 0: every tick checks it)
                if net <= 0:
                    m.liq.upsert(position_key(account, pside), -1, 0)
            else:  # the direction comes from the solution's slope, not the net sign
                m.liq.upsert(position_key(account, pside), *solved)
            if len(legs) > 1 and not m.inverse and (solved is None or solved[0] > 0) \
                    and self.profile.liquidation_model is not _BYBIT:
                # a hedge-mode pair liquidated on a fall may also be on a rise, where the two
                # legs' maintenance margin outgrows the net long's gain (risk.liqrange)
                rise = rise_tick(m.brackets, [p.lots for p in legs], [p.cost for p in legs],
                                 self._liq_base(m, account, pside), m.K)
                if rise is not None:
                    m.liq.upsert(position_key(account, _RISE_SIDE), *rise)

    def _liq_tick(self, m: _Market, account: int, pside: int, legs: list[Position]) -> tuple[int, int] | None:
        """(direction, tick) of the legs' liquidation price rounded against the account, or None:
        the margin kernel's integers on linear markets, the exact price rounded on inverse ones."""
        if m.inverse:
            lp = self.liquidation_price(account, m.symbol, pside)
            return None if lp is None else (1 if lp.trigger is _AT_OR_BELOW else -1, lp.tick)
        bybit = self.profile.liquidation_model is _BYBIT
        return m.table.liq_tick([p.lots for p in legs], [p.cost for p in legs], self._liq_base(m, account, pside),
                                m.K, bybit)

    def _liq_base(self, m: _Market, account: int, pside: int) -> int:
        """What the legs' liquidation price is solved against (money units): the isolated
        margin, or the cross wallet with the other markets' uPnL less their MM held fixed."""
        if account in m.isolated:
            return self._iso_margin(m, account, pside)
        if account in self.multi_assets:
            return MA.liq_base(self, account, m.symbol)
        base = self.wallet(account, m.asset)
        if len(self._markets_of[account]) > 1:  # the other markets' legs, held fixed
            base += self.upnl(account, m.asset, skip=m.symbol) - self.maintenance(account, m.asset, skip=m.symbol)
        return base

    def _mm_scaled(self, m: _Market, p: Position):
        """The exact maintenance margin × RATE_SCALE: an int on linear markets (no Fraction)."""
        bybit = self.profile.liquidation_model is _BYBIT and not m.inverse
        notional = m.entry_value(p) if bybit else m.value(p.lots, m.mark)
        if not m.inverse:
            return m.table.maint_scaled(notional)
        bracket = m.brackets.for_notional(notional)
        return notional * bracket.mmr - bracket.cum * RATE_SCALE

    def _liquidatable(self, m: _Market, account: int, pside: int) -> bool:
        """Binance: margin ratio = MM / margin balance ≥ 100 %, compared with the exact MM so
        that the index (which rounds the liquidation price toward the mark) never misses one.
        Both sides are scaled by RATE_SCALE, so linear markets compare integers."""
        if account in m.isolated:
            p = m.positions.get(position_key(account, pside))
            if p is None:
                return False
            balance = self._iso_margin(m, account, pside) + m.upnl(p)
            if not m.inverse:  # the margin kernel's exact integer check
                bybit = self.profile.liquidation_model is _BYBIT
                return m.table.liquidatable(balance, (p.lots,), (p.cost,), m.mark, m.K, bybit)
            return balance * RATE_SCALE <= self._mm_scaled(m, p)
        if account in self.multi_assets:
            return MA.liquidatable(self, account)
        mm = upnl = 0  # one pass over the cross legs for both sides of the comparison
        for mk, p in self._cross(account, m.asset):
            mm += self._mm_scaled(mk, p)
            upnl += mk.upnl(p)
        return (self.wallet(account, m.asset) + upnl) * RATE_SCALE <= mm

    def _sweep(self, m: _Market) -> bool:
        """Liquidate what the index says may be under water and really is; True if any."""
        trigger = self.profile.liquidation_trigger  # "mark", "index" (the oracle: dYdX) or "last"
        if trigger == "mark":
            price = m.mark
        elif trigger == "index":
            price = m.index.value(self.ts) or m.mark
        else:
            price = m.last or m.mark
        done = False
        for key in m.liq.triggered(price):
            account, pside = position_of(key)
            if m.holds(account) and self._liquidatable(m, account, pside):
                self._liquidate(m, account, pside)
                done = True
        return done

    def _collateral(self, m: _Market, account: int, pside: int) -> tuple[int, int]:
        """(balance, other uPnL) the bankruptcy price is solved against."""
        if account in m.isolated:
            return self._iso_margin(m, account, pside), 0
        if account in self.multi_assets:
            return MA.wallets(self, account), MA.others(self, account, m.symbol)[0]
        others = self.upnl(account, m.asset, skip=m.symbol) if len(self._markets_of[account]) > 1 else 0
        return self.wallet(account, m.asset), others

    def _liquidate(self, m: _Market, account: int, pside: int) -> None:
        isolated = account in m.isolated
        if isolated:
            self._liquidating.add((m.symbol, account, pside))
        # 1. cancel open and conditional orders: every market for cross, this one for isolated
        for other in (m,) if isolated else self.markets.values():
            self._end_lists_of(other, account, "liquidation", _IN_LIQUIDATION)
            if other.book.open_orders(account):
                other.book.cancel_all(account, self.ts)
                self._book_events(other)
            if account in other.conditionals_of:
                for cid in sorted(other.conditionals_of[account]):
                    self._drop_conditional(other, cid, "CANCELED", _IN_LIQUIDATION)
        legs = [(pside, m.positions[position_key(account, pside)])] if isolated else m.leg_list(account)
        wallet, other_upnl = self._collateral(m, account, pside)
        bp = m.bp_tick([p for _, p in legs], wallet, other_upnl)
        lo, hi = m.price_limits
        bp_tick = min(max(bp if bp is not None else m.mark, lo), hi)
        rule = self.profile.liquidation
        steps = rule.steps if rule is not None else None
        if steps is not None and steps.kind is not _FRACTION_STEPS:
            steps = None  # down a tier: the brackets' step below
        for leg_side, p in legs:
            lots = p.lots
            side = _SIDE_SELL if lots > 0 else _SIDE_BUY
            # 2. partial: one IOC down to the next-lower bracket (or the profile's fraction of the
            #    position); its fee is charged, and if the account is then margin compliant the
            #    rest stays open (spec 4.2 steps 3-4, §4.6-4.7)
            notional = m.value(lots, m.mark)
            cut = 0
            if steps is not None:
                cut = _fraction_cut(m, lots, notional, steps)
            elif notional > m.first_cap:  # beyond the first bracket (most are not: no lookup)
                tier = m.brackets.for_notional(notional)
                # lots whose notional at mark fits the lower bracket
                keep = tier.floor * m.mark // m.k_inv if m.inverse else tier.floor // (m.mark * m.K)
                cut = abs(lots) - keep
            if cut:
                self._force(m, account, leg_side, side, cut, bp_tick)
                filled = abs(lots) - abs(self._lots(m, account, leg_side))
                holder, remaining = self._liquidation_fee(m, account, pside, filled, bp_tick)
                if position_key(account, leg_side) not in m.positions or not self._liquidatable(m, account, pside):
                    self._events.append(Liquidation(m.symbol, account, side, cut, bp_tick, filled, 0, 0))
                    continue
                lots = self._lots(m, account, leg_side)
            # 3. the forced order for the rest: LIMIT IOC at the bankruptcy price, no trading fee
            self._force(m, account, leg_side, side, abs(lots), bp_tick)
            # 4. the rest: the insurance fund takes it over at the bankruptcy price, or ADL if it cannot
            rest = self._lots(m, account, leg_side)
            filled = abs(lots) - abs(rest)
            taken = deleveraged = 0
            if rest and self.ledger.insurance(m.asset) > 0:
                self._pair(m, IF_ACCOUNT, BOTH, account, leg_side, rest, bp_tick)
                taken = abs(rest)
            elif rest:
                deleveraged = self._adl(m, account, leg_side, rest, bp_tick)
                rest = self._lots(m, account, leg_side)
                if rest:  # more than the opposite side can give up at this price: the fund holds it
                    self._pair(m, IF_ACCOUNT, BOTH, account, leg_side, rest, bp_tick)
                    taken = abs(rest)
            notice = (m.symbol, account, side, abs(lots), bp_tick, filled, taken, deleveraged)
            self._events.append(new_record(Liquidation, notice))
            # 5. the liquidation fee on the liquidated amount, out of the collateral that is left
            holder, remaining = self._liquidation_fee(m, account, pside, abs(lots), bp_tick)
        # a negative remainder (after the last leg's fee), left only by rounding to the tick, is
        # covered by the fund
        if remaining < 0:
            self._move(m.asset, INSURANCE, holder, -remaining, "insurance_cover")
        if account in self.multi_assets:  # what it still owes is repaid from its collateral
            MA.auto_exchange(self, account)
        if isolated:
            self._liquidating.discard((m.symbol, account, pside))
            if position_key(account, pside) not in m.positions:  # what is left of its margin goes home
                self._move(m.asset, holder, account, self._iso_margin(m, account, pside),
                           "isolated_margin")
        # re-keyed now for the rest of this sweep; a later change to the account touches it again
        self._rekey_account(account)
        self._touched.discard(account)

    def _lots(self, m: _Market, account: int, pside: int) -> int:
        """Signed lots of a position (0 when there is none)."""
        p = m.positions.get(position_key(account, pside))
        return 0 if p is None else p.lots

    def _remaining(self, m: _Market, account: int, pside: int):
        """(holder, collateral left) of a position under liquidation: its isolated margin, or
        the cross margin balance."""
        if account in m.isolated:
            holder = m.iso_holder(account, pside)
            return holder, self.ledger.balance(holder, m.asset)
        return account, self.margin_balance(account, m.asset)

    def _liquidation_fee(self, m: _Market, account: int, pside: int, qty: int, price: int) -> tuple:
        """Binance's liquidation (clearance) fee on `qty` liquidated lots at `price`, rounded up,
        paid to the fund out of the collateral that is left, never more than that. Returns
        (holder, collateral left after the fee) as `_remaining` does."""
        holder, remaining = self._remaining(m, account, pside)
        fee = apply_rate_up(m.value(qty, price), m.liquidation_fee) if qty else 0
        if remaining > 0 and fee:
            fee = min(fee, remaining)
            self._move(m.asset, holder, INSURANCE, fee, "liquidation_fee")
            if self._loss_limits:
                self._day_move(account, m.asset, -fee)
            remaining -= fee
        return holder, remaining

    def _force(self, m: _Market, account: int, pside: int, side: int, qty: int, price: int) -> None:
        """A forced LIMIT IOC order (liquidation or fund offload): no trading fee."""
        if qty <= 0:
            return
        oid = self.next_order_id
        self.next_order_id += 1
        m.book.place(oid, account, side, _LIMIT, price, qty, _IOC, _NO_STP, 0, self.ts)
        self._book_events(m, False, pside, True)  # positional: the compiled call

    def _adl(self, m: _Market, account: int, pside: int, lots: int, price: int) -> int:
        """Close `lots` of a bankrupt position against the opposite side at `price`, highest
        LeveragePnL first, no fee. The ranking is computed once per sweep and consumed."""
        queue_key = (m.symbol, lots > 0)
        queue = self._adl_queue.get(queue_key)
        if queue is None:
            # every opposite position ranks, the bankrupt account's own other hedge leg included
            ranked = [(-self._adl_score(m, *position_of(k)), k) for k, q in m.positions.items()
                      if position_of(k)[0] != IF_ACCOUNT and (q.lots > 0) != (lots > 0)]
            queue = self._adl_queue[queue_key] = [k for _, k in sorted(ranked, reverse=True)]
        done = 0
        while done < abs(lots) and queue:
            cp = queue[-1]  # best ranked at the end
            p = m.positions.get(cp)
            if cp == position_key(account, pside) or p is None or (p.lots > 0) == (lots > 0):
                queue.pop()
                continue
            cp_account, cp_side = position_of(cp)
            q = self._adl_capacity(m, cp_account, cp_side, p, min(abs(lots) - done, abs(p.lots)), price)
            if not q:
                queue.pop()
                continue
            signed = q if lots > 0 else -q
            # its orders in the book are canceled (Binance): lists with one there end; the others
            # follow the position (_fit_exits)
            self._end_lists_of(m, cp_account, "auto_deleverage", 0, True)  # positional: the compiled call
            if m.book.open_orders(cp_account):
                m.book.cancel_all(cp_account, self.ts)
                self._book_events(m)
            self._pair(m, cp_account, cp_side, account, pside, signed, price)
            self._events.append(AutoDeleveraged(m.symbol, account, cp_account, q, price))
            done += q
        return done

    def _adl_capacity(self, m: _Market, account: int, pside: int, p: Position, lots: int, price: int) -> int:
        """How many of `lots` an ADL counterparty gives up at `price`: all of them, unless
        closing them there realizes a loss beyond its collateral (isolated margin, or cross
        wallet), which a mark that gapped past the bankruptcy price can do to a position opened
        near the mark; then the most that leaves the collateral at or above zero."""
        if account in m.isolated:
            collateral = self._iso_margin(m, account, pside)
        else:  # a Multi-Assets account's loss is drawn on its whole pool
            collateral = MA.wallets(self, account) if account in self.multi_assets else self.wallet(account, m.asset)
        sign = -1 if p.lots > 0 else 1  # closing trades against the position

        def loss(q: int) -> int:
            return -m.fill(Position(p.lots, p.cost), sign * q, price)

        if loss(lots) <= collateral:
            return lots
        lo, hi = 0, lots  # loss(lo) fits, loss(hi) does not (the loss grows with q)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if loss(mid) <= collateral else (lo, mid)
        return lo

    def _offload(self, m: _Market) -> None:
        """The insurance fund unloads positions it took over into the book, within the band;
        once the mark reaches the fund's own bankruptcy price, the rest is deleveraged there."""
        p = m.positions.get(position_key(IF_ACCOUNT, BOTH))
        if p is None:
            return
        side = _SIDE_SELL if p.lots > 0 else _SIDE_BUY
        # never trade at a loss beyond the fund's balance: limit at its own bankruptcy price,
        # rounded in the fund's favour (the fund never pays for rounding)
        bp = m.bp_tick([p], self.ledger.insurance(m.asset))
        protect = self._protection(m, side)
        limit = protect if bp is None else (max(protect, bp) if side == _SIDE_SELL else min(protect, bp))
        self._force(m, IF_ACCOUNT, BOTH, side, abs(p.lots), limit)
        rest = m.positions.get(position_key(IF_ACCOUNT, BOTH))
        if rest is not None and bp is not None and (m.mark <= bp if rest.lots > 0 else m.mark >= bp):
            self._adl(m, IF_ACCOUNT, BOTH, rest.lots, bp)
