"""The exchange: the venue's deterministic state machine, a dispatcher over stage components.

`Exchange.apply(command) -> list[event]` is the only thing that changes state. It reads no
clock, draws no random number and does no I/O: time comes in on each command (ns).

Composition. The exchange holds the venue's state and its stages, each a class in its own
module with its own .pxd, built in dependency order so that each holds only what is built
before it:

    State            engine/state.py          markets, ledger, modes, clock, the command's events;
                                              account figures (wallet, uPnL, margins) and `_move`
    Accounts         engine/accounts.py       deposits, withdrawals, transfers, leverage and modes
    Settlement       engine/settlement.py     the book's events -> fills, positions, fees, order records
    StandingOrders   engine/standing.py       conditional orders and lists at rest: keep, drop, end
    ForcedOrders     engine/forced_orders.py  a liquidated position's lots, collateral, fee; forced IOC orders
    PositionRisk     engine/position_risk.py  liquidation and bankruptcy prices, bands, ADL scores and rank
    LiquidationIndex engine/liquidation_index.py
                                              positions keyed by liquidation tick; liquidatable or not
    Deleveraging     engine/deleveraging.py   the ADL queues, a bankrupt rest closed against the other side
    Liquidation      engine/liquidation.py    cascade, sweep, forced orders, fund takeover, pacing, offload
    Marking          engine/marking.py        premium samples, funding settlement, the mark
    LossLimits       engine/loss_limits.py    daily loss limits: command, day roll, refusal check
    Entry            engine/entry.py          order entry and pre-trade risk, placing into the book
    OrderLists       engine/order_lists.py    order lists (OCO, OTO, brackets): legs, notes; firing
    MarketCommands   engine/market_commands.py
                                              index prices (and the liquidity provider's requote), the clock
    Conditionals     engine/conditionals.py   conditional orders: place, triggers, expiry; trimming
    LossLimitHits    engine/loss_limit_hits.py
                                              daily loss limits hit: the hit, the flatten and what it sets off

A stage calls the ones below it through attributes typed in its .pxd (`cdef readonly
Settlement settlement`), so in the compiled build a stage-to-stage call is a C call through the
class's vtable and an attribute of the state a struct read. The calls only go down: where a
lower stage's work must set off a later step (a mark that moved sets off the liquidation
cascade), the later step lives in a stage below it (Liquidation.cascade, which the exchange's
`_settle` runs too). So no stage holds the exchange or a stage above it: the objects form no
reference cycle, and reference counting frees a dropped exchange (see `apply`). The .py files
are the source of both builds; imported as plain Python they are the reference twin
(engine/twin.py). Markets, positions and open-order records are `_Market` (engine/market.py).

Pipeline (`_apply`), for every command: time-driven work (the day roll of loss limits; premium
samples and funding, `Marking._advance`; GTD expiry), the command's handler in the stage that
handles its type (`_HANDLED_BY`: validate -> pre-trade risk -> match in the book -> settle the
fills -> mark), then `_settle` (re-key what the command touched, sweep: forced IOC orders at the
bankruptcy price, the insurance fund takes what the book could not, ADL if it cannot), the
conditional orders that fire (each fire settled the same way), reduce-only trimming, order
lists, and daily loss limits hit. A mark change runs its own cascade and the fund's offload
(`Marking._remark`). Risk decides the numbers (risk/: margin, brackets, funding, liquidation
prices); the stages execute them.

Scope: linear and inverse (coin-margined) markets; one-way and hedge positions; cross and
isolated margin.

Money flows are ledger movements between named holders, so conservation holds by
construction: wallets, isolated margins, the insurance fund (account 0 when it holds
positions), fees, rounding dust, and per market a "pnl" pool whose balance is always
-K × Σ cost of the market's positions (realized PnL is paid out of it; see check_integrity).
"""

from __future__ import annotations

import gc
from fractions import Fraction

from perpsim.engine import commands as C
from perpsim.engine import integrity
from perpsim.engine.accounts import Accounts
from perpsim.engine.conditionals import Conditionals
from perpsim.engine.deleveraging import Deleveraging
from perpsim.engine.entry import Entry
from perpsim.engine.events import (
    CommandRejected,
    FundingSettled,
    InsuranceFundChanged,
)
from perpsim.engine.forced_orders import ForcedOrders
from perpsim.engine.liquidation import Liquidation
from perpsim.engine.liquidation_index import LiquidationIndex
from perpsim.engine.loss_limit_hits import LossLimitHits
from perpsim.engine.loss_limits import LossLimits
from perpsim.engine.market import BOTH, _Market
from perpsim.engine.market import IF_ACCOUNT as IF_ACCOUNT
from perpsim.engine.market import position_key as position_key
from perpsim.engine.market import position_of as position_of
from perpsim.engine.market_commands import MarketCommands
from perpsim.engine.marking import Marking
from perpsim.engine.order_lists import OrderLists
from perpsim.engine.position_risk import ADL_WINDOW_NS as ADL_WINDOW_NS
from perpsim.engine.position_risk import PositionRisk
from perpsim.engine.settlement import Settlement
from perpsim.engine.standing import StandingOrders
from perpsim.engine.standing import _exit_side as _exit_side
from perpsim.engine.state import State
from perpsim.model.markets import MarketSpec
from perpsim.model.reasons import RejectReason as R
from perpsim.risk.brackets import Brackets
from perpsim.risk.funding import FundingConfig
from perpsim.risk.ledger import Ledger
from perpsim.risk.losslimit import LossLimitState
from perpsim.risk.positions import Position
from perpsim.risk.profiles import BINANCE, VenueProfile

#: The stages that handle commands, and the command types each handles (by the method named
#: after the command).
_STAGES = ("accounts", "entry", "conditionals", "lists", "loss_limits", "market_commands")
_HANDLED_BY = {
    C.Deposit: "accounts", C.Withdraw: "accounts", C.Transfer: "accounts", C.FundInsurance: "accounts",
    C.SetLeverage: "accounts", C.SetMarginMode: "accounts", C.SetPositionMode: "accounts",
    C.SetMultiAssetsMode: "accounts", C.AdjustIsolatedMargin: "accounts",
    C.PlaceOrder: "entry", C.AmendOrder: "entry", C.CancelOrder: "entry", C.CancelAll: "entry",
    C.PlaceConditional: "conditionals", C.CancelConditional: "conditionals",
    C.PlaceOrderList: "lists", C.CancelOrderList: "lists",
    C.SetDailyLossLimit: "loss_limits",
    C.SetIndexPrice: "market_commands", C.AdvanceClock: "market_commands",
}
#: command type -> (index in _STAGES, the unbound handler), filled on first use
_HANDLERS: dict[type, tuple] = {}


def _route(kind: type) -> tuple:
    """(stage index, unbound method) of a command type's handler: `_<CommandName>` of its stage."""
    index = _STAGES.index(_HANDLED_BY[kind])
    return index, getattr(_STAGE_TYPES[index], "_" + kind.__name__)


class Exchange:
    """The venue: its shared state and its stages, and the pipeline each command runs through."""

    def __init__(self, markets: dict[str, MarketSpec], brackets: dict[str, Brackets], *,
                 book_impl: str = "cython", profile: VenueProfile = BINANCE, start_ts: int = 0,
                 index_sources: dict[str, dict[str, int]] | None = None,
                 funding: dict[str, FundingConfig] | None = None) -> None:
        """The arguments are the shared state's (engine.state.State: markets and their
        brackets, the book implementation, the venue profile, the start time, index sources
        and funding rules per market)."""
        # the stages in dependency order: each holds only what is built before it
        self.state = State(markets, brackets, book_impl=book_impl, profile=profile, start_ts=start_ts,
                           index_sources=index_sources, funding=funding)
        self.accounts = Accounts(self.state)
        self.settlement = Settlement(self.state)
        self.standing = StandingOrders(self.state, self.settlement)
        self.forced = ForcedOrders(self.state, self.settlement)
        self.position_risk = PositionRisk(self.state)
        self.liq_index = LiquidationIndex(self.state)
        self.deleveraging = Deleveraging(self.state, self.settlement, self.standing, self.position_risk)
        self.liquidation = Liquidation(self.state, self.settlement, self.standing, self.forced, self.position_risk,
                                       self.liq_index, self.deleveraging)
        self.marking = Marking(self.state, self.liquidation)
        self.loss_limits = LossLimits(self.state)
        self.entry = Entry(self.state, self.settlement, self.position_risk, self.marking, self.loss_limits)
        self.lists = OrderLists(self.state, self.settlement, self.standing, self.loss_limits, self.entry)
        self.market_commands = MarketCommands(self.state, self.settlement, self.liquidation, self.marking,
                                              self.entry)
        self.conditionals = Conditionals(self.state, self.settlement, self.standing, self.liquidation,
                                         self.loss_limits, self.entry, self.lists)
        self.loss_limit_hits = LossLimitHits(self.state, self.settlement, self.standing, self.liquidation,
                                             self.loss_limits, self.entry, self.lists, self.conditionals)
        # the stages that handle commands, as _STAGES names them (no reference back: no cycle)
        self._stages = tuple(getattr(self, name) for name in _STAGES)

    # ================================================================== the shared state

    @property
    def profile(self) -> VenueProfile:
        """The venue profile whose rules the exchange follows."""
        return self.state.profile

    @property
    def markets(self) -> dict[str, _Market]:
        """The markets by symbol (internal state: readers use engine.views)."""
        return self.state.markets

    @property
    def ledger(self) -> Ledger:
        """The ledger every movement of money goes through (integer units per asset)."""
        return self.state.ledger

    @property
    def ts(self) -> int:
        """The venue clock: the timestamp of the last command applied (ns)."""
        return self.state.ts

    @property
    def next_order_id(self) -> int:
        """The id the next order placed gets."""
        return self.state.next_order_id

    @property
    def hedge(self) -> set[int]:
        """The accounts in hedge (two-sided) position mode."""
        return self.state.hedge

    @property
    def multi_assets(self) -> set[int]:
        """The accounts in Multi-Assets mode (engine.multi_assets)."""
        return self.state.multi_assets

    @property
    def leverage(self) -> dict[tuple[int, str], int]:
        """(account, symbol) -> the leverage the account set (absent: the market's default)."""
        return self.state.leverage

    @property
    def funding_history(self) -> list[tuple[int, FundingSettled]]:
        """Every funding settlement, with its time (ns)."""
        return self.state.funding_history

    @property
    def insurance_history(self) -> list[tuple[int, InsuranceFundChanged]]:
        """Every change of an insurance fund, with its time (ns)."""
        return self.state.insurance_history

    @property
    def _collateral_index(self) -> dict[str, int]:
        return self.state._collateral_index

    @property
    def _collateral_market(self) -> str | None:
        return self.state._collateral_market

    @property
    def _markets_of(self) -> dict[int, set[str]]:
        return self.state._markets_of

    @property
    def _liquidating(self) -> set[tuple[str, int, int]]:
        return self.state._liquidating

    @property
    def _loss_limits(self) -> dict[tuple[int, str], LossLimitState]:
        return self.state._loss_limits

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
        self.state._events = []
        if cmd.ts < self.state.ts:
            return [CommandRejected(type(cmd).__name__, getattr(cmd, "account", 0), R.STALE_TIMESTAMP,
                                    (("ts", cmd.ts), ("last_ts", self.state.ts)))]
        if cmd.ts >= self.state._day_end:
            self.loss_limits._roll_day(cmd.ts)
        self.marking._advance(cmd.ts)
        if self.state._expiries and self.state._expiries[0][0] <= self.state.ts:
            self.conditionals._expire()
        route = _HANDLERS.get(type(cmd))
        if route is None:
            route = _HANDLERS[type(cmd)] = _route(type(cmd))
        stage, handler = route
        handler(self._stages[stage], cmd)
        self._settle()
        self.conditionals._fire_triggers()
        self.conditionals._trim_reduce_only()
        if self.state._notes or self.state._due:
            self.lists._run_lists()
        if self.state._loss_watch:
            self.loss_limit_hits.check()
        return self.state._events

    def _settle(self) -> None:
        """Re-key the accounts the command touched and sweep the marked markets until no
        liquidation touches another account (the liquidation stage's cascade)."""
        self.liquidation.cascade()

    # ================================================================== queries

    def position(self, account: int, symbol: str, pside: int = BOTH) -> Position:
        """The account's position in the market on `pside` (lots, signed; an empty one when none)."""
        return self.state.markets[symbol].positions.get(position_key(account, pside), Position())

    def wallet(self, account: int, asset: str) -> int:
        """The account's wallet balance in `asset` (money units; the fund's for IF_ACCOUNT)."""
        return self.state.wallet(account, asset)

    def isolated_margin(self, account: int, symbol: str, pside: int = BOTH) -> int:
        """The isolated margin held for a position (money units)."""
        return self.state._iso_margin(self.state.markets[symbol], account, pside)

    def upnl(self, account: int, asset: str, skip: str | None = None) -> int:
        """Unrealized PnL (money units) of the account's cross positions in `asset`, at mark."""
        return self.state.upnl(account, asset, skip)

    def maintenance(self, account: int, asset: str, skip: str | None = None) -> int:
        """Maintenance margin of the account's cross positions (each rounded up)."""
        return self.state.maintenance(account, asset, skip)

    def initial_margin(self, account: int, asset: str) -> int:
        """Initial margin held in the cross wallet (see State.initial_margin)."""
        return self.state.initial_margin(account, asset)

    def _mm(self, m: _Market, p: Position) -> int:
        return self.state._mm(m, p)

    def _mm_scaled(self, m: _Market, p: Position):
        return self.state._mm_scaled(m, p)

    def _cross(self, account: int, asset: str, skip: str | None = None) -> list[tuple[_Market, Position]]:
        return self.state._cross(account, asset, skip)

    def _move(self, asset: str, source, dest, amount: int, cause: str) -> None:
        self.state._move(asset, source, dest, amount, cause)

    def _lev(self, account: int, m: _Market) -> int:
        return self.state._lev(account, m)

    def margin_balance(self, account: int, asset: str) -> int:
        """Cross margin balance: wallet + uPnL of cross positions (money units)."""
        return self.state.margin_balance(account, asset)

    def available(self, account: int, asset: str) -> int:
        """Cross margin balance minus the initial margin in use (money units; may be negative)."""
        return self.state.available(account, asset)

    def withdrawable(self, account: int, asset: str) -> int:
        """What may leave: the wallet minus margin in use, never counting unrealized profit."""
        return self.state.withdrawable(account, asset)

    def liquidation_price(self, account: int, symbol: str, pside: int = BOTH):
        """Exact liquidation price (LiqPrice) of a position, or None (PositionRisk.liquidation_price)."""
        return self.position_risk.liquidation_price(account, symbol, pside)

    def liquidation_band(self, account: int, symbol: str, pside: int = BOTH):
        """The held position's band (partial, full liquidation tick), or None (PositionRisk.held_band)."""
        return self.position_risk.held_band(account, symbol, pside)

    def bankruptcy_price(self, account: int, symbol: str, pside: int = BOTH):
        """Exact bankruptcy price (LiqPrice) of a position, or None (PositionRisk.bankruptcy_price)."""
        return self.position_risk.bankruptcy_price(account, symbol, pside)


    def daily_loss_limit(self, account: int, asset: str) -> dict:
        """The account's daily loss limit in `asset` as of the last command (LossLimits.daily_loss_limit)."""
        return self.loss_limits.daily_loss_limit(account, asset)

    def preview_order(self, cmd: C.PlaceOrder) -> dict:
        """What `cmd` would do to the account if it filled completely at its price, changing
        nothing (Entry.preview_order)."""
        return self.entry.preview_order(cmd)

    def predicted_funding_rate(self, symbol: str) -> int:
        """The rate (scaled 1e8) the next funding settlement would apply if its interval closed
        now (Marking.predicted_funding_rate)."""
        return self.marking.predicted_funding_rate(symbol)

    def funding_estimate(self, account: int, symbol: str, pside: int = BOTH) -> int:
        """What the position would be paid (+) or pay (−) at the next funding time at the current
        mark and the predicted rate (money units; Marking.funding_estimate)."""
        return self.marking.funding_estimate(account, symbol, pside)

    def _adl_score(self, m: _Market, account: int, pside: int) -> Fraction:
        return self.position_risk._adl_score(m, account, pside)

    def adl_quantile(self, account: int, symbol: str, pside: int = BOTH) -> int:
        """ADL indicator 0..4 of a position among the same side of its market (4 = first)."""
        return self.position_risk.adl_quantile(account, symbol, pside)

    def _liquidatable(self, m: _Market, account: int, pside: int) -> bool:
        """Whether the position (isolated) or the account's cross legs are at or past 100 % margin ratio."""
        return self.liq_index._liquidatable(m, account, pside)

    # ================================================================== checks

    def state_hash(self) -> str:
        """One hash over every market's book, positions, prices, modes and the whole ledger
        (engine.integrity.state_hash)."""
        lq = self.liquidation
        return integrity.state_hash(self.state, lq._paced, lq._blocks, lq._due, lq._retry)

    def check_integrity(self) -> None:
        """Conservation, the pnl pools, zero net open interest, order records, the kernels
        (engine.integrity.check_integrity); raises AssertionError naming what disagrees."""
        integrity.check_integrity(self.state, self.standing)


_STAGE_TYPES = (Accounts, Entry, Conditionals, OrderLists, LossLimits, MarketCommands)  # _STAGES' classes, in order
