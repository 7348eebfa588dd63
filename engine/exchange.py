"""The exchange: the venue's deterministic state machine, a dispatcher over stage components.

`Exchange.apply(command) -> list[event]` is the only thing that changes state. It reads no
clock, draws no random number and does no I/O: time comes in on each command (ns).

Composition. The exchange holds its state and its stages, each a class in its own module with
its own .pxd, built in dependency order so that each holds only what is built before it:

    State            engine/state.py        markets, ledger, modes, clock, the command's events;
                                            the account figures and the ledger moves
    Settlement       engine/settlement.py   book events -> fills, positions, fees, order records
    StandingOrders   engine/standing.py     conditional orders and lists at rest: keep, drop, end
    Liquidation      engine/liquidation.py  re-key, sweep, forced orders, fund takeover, ADL, offload

A stage calls the ones below it through typed attributes (`cdef readonly Settlement
settlement`), so in the compiled build every stage-to-stage call is a C call through the
class's vtable; nothing below the exchange holds the exchange, so the objects form no reference
cycle (reference counting frees a dropped exchange; see `apply`). Markets, positions and
open-order records are `_Market` (engine/market.py), shared by all.

Pipeline for an order: validate -> pre-trade risk (position side, band, min notional,
reduce-only clamp, cost to open) -> match in the market's book -> settle fills (positions,
realized PnL, fees, isolated margin) -> mark. A mark change runs: liquidation sweep through the
liquidation index -> forced IOC orders at the bankruptcy price (first down to a lower bracket
where that is enough) -> the insurance fund takes what the book could not -> ADL if the fund
cannot -> the fund offloads what it holds. Funding settles when a command reaches a funding time.
`_apply` runs each command through them: time-driven work (`_advance`, `_expire`), the command's
handler, then `_settle` (the liquidation cascade), conditional orders that fire, reduce-only
trimming, order lists, daily loss limits.

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
from fractions import Fraction

from perpsim.engine import commands as C
from perpsim.engine import multi_assets as MA
from perpsim.engine.entry import Entry
from perpsim.engine.events import (
    CommandRejected,
    ConditionalEvent,
    DailyLossLimitHit,
    FundingSettled,
    InsuranceFundChanged,
    ListEvent,
)
from perpsim.engine.liquidation import ADL_WINDOW_NS as ADL_WINDOW_NS
from perpsim.engine.liquidation import Liquidation
from perpsim.engine.loss_limits import LossLimits
from perpsim.engine.market import BOTH, LONG, _has_exits, _List, _Market, _Note
from perpsim.engine.market import IF_ACCOUNT as IF_ACCOUNT
from perpsim.engine.market import position_key as position_key
from perpsim.engine.market import position_of as position_of
from perpsim.engine.marking import Marking
from perpsim.engine.settlement import Settlement
from perpsim.engine.standing import StandingOrders, _closing
from perpsim.engine.state import State
from perpsim.engine.triggers import stop_direction, would_activate, would_trigger
from perpsim.model.enums import (
    ConditionalKind,
    LegType,
    ListKind,
    OrderKind,
    Side,
    StpMode,
    TimeInForce,
    TriggerSource,
)
from perpsim.model.markets import MarketSpec
from perpsim.model.reasons import RejectReason as R
from perpsim.risk.brackets import Brackets
from perpsim.risk.funding import FundingConfig
from perpsim.risk.ledger import INSURANCE, OUTSIDE, Ledger
from perpsim.risk.liqprice import Trigger
from perpsim.risk.losslimit import LossLimitState
from perpsim.risk.margin import initial_margin
from perpsim.risk.positions import Position
from perpsim.risk.profiles import BINANCE, VenueProfile
from perpsim.risk.units import RATE_SCALE

#: Trailing callback rate bounds (0.1 %..10 %) and price protection (mark vs last), scaled 1e8.
CALLBACK_MIN, CALLBACK_MAX, TRIGGER_PROTECT = 100_000, 10_000_000, 5_000_000
#: The stages that handle commands, and the command types each handles (by the method named
#: after the command); the exchange handles the others itself (account and market commands).
_STAGES = ("entry", "loss_limits")
_HANDLED_BY = {
    C.PlaceOrder: "entry", C.AmendOrder: "entry", C.CancelOrder: "entry", C.CancelAll: "entry",
    C.SetDailyLossLimit: "loss_limits",
}
_HANDLERS: dict[type, tuple] = {}  # command type -> (index in _STAGES or -1: the exchange, method), filled on first use
# Enum members bound once as module names: on Python 3.11 reading one off its class goes
# through EnumType.__getattr__'s slot hook, a few hundred instructions on every hot-path use.
_SIDE_BUY, _SIDE_SELL = Side.BUY, Side.SELL
_MARKET, _LIMIT = OrderKind.MARKET, OrderKind.LIMIT
_IOC, _FOK, _GTC, _GTD = TimeInForce.IOC, TimeInForce.FOK, TimeInForce.GTC, TimeInForce.GTD
_NO_STP, _AT_OR_BELOW = StpMode.NONE, Trigger.AT_OR_BELOW
_LOSS_LIMIT = "daily_loss_limit"
_REQUOTE = "requote"
#: The most levels a liquidity provider's requote places per side (SetIndexPrice.quote_levels).
_MAX_QUOTE_LEVELS = 100


#: The conditional order kind of each conditional leg type of an order list.
_LEG_KIND = {LegType.STOP_MARKET: ConditionalKind.STOP_MARKET, LegType.STOP_LIMIT: ConditionalKind.STOP_LIMIT,
             LegType.TAKE_PROFIT_MARKET: ConditionalKind.TAKE_PROFIT_MARKET,
             LegType.TAKE_PROFIT_LIMIT: ConditionalKind.TAKE_PROFIT_LIMIT,
             LegType.TRAILING_STOP_MARKET: ConditionalKind.TRAILING_STOP_MARKET}
#: The leg types allowed as an order list's take-profit (index 0) and stop-loss (index 1) leg.
_LEG_TYPES = ({LegType.NONE, LegType.LIMIT, LegType.TAKE_PROFIT_MARKET, LegType.TAKE_PROFIT_LIMIT},
              {LegType.NONE, LegType.STOP_MARKET, LegType.STOP_LIMIT, LegType.TRAILING_STOP_MARKET})


def _legs(c: C.PlaceOrderList) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """(type, trigger, price) of the take-profit and the stop-loss leg (type NONE: absent; a
    trailing stop's trigger is its activation price, 0 = none)."""
    return (c.tp_type, c.tp_trigger, c.tp_price), (c.sl_type, c.sl_trigger, c.sl_price)


def _exit_side(c: C.PlaceOrderList) -> int:
    return c.side if c.kind == ListKind.OCO else 1 - c.side


def _plain(cmd) -> tuple:
    """A command's fields as plain ints and strs (an IntEnum and its value hash alike)."""
    return tuple(v if isinstance(v, str) else int(v) for v in dataclasses.astuple(cmd))







def _route(kind: type) -> tuple:
    """(stage index, unbound method) of a command type's handler: `_<CommandName>` of its stage."""
    name = "_" + kind.__name__
    stage = _HANDLED_BY.get(kind)
    if stage is None:
        return -1, getattr(Exchange, name)
    index = _STAGES.index(stage)
    return index, getattr(_STAGE_TYPES[index], name)


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
        # the stages in dependency order: each holds only what is built before it
        self.state = State(markets, brackets, book_impl=book_impl, profile=profile, start_ts=start_ts,
                           index_sources=index_sources, funding=funding)
        self.settlement = Settlement(self.state)
        self.standing = StandingOrders(self.state, self.settlement)
        self.liquidation = Liquidation(self.state, self.settlement, self.standing)
        self.marking = Marking(self.state, self.liquidation)
        self.loss_limits = LossLimits(self.state)
        self.entry = Entry(self.state, self.settlement, self.liquidation, self.marking, self.loss_limits)
        # the stages that handle commands, as _STAGES names them (no reference back: no cycle)
        self._stages = tuple(getattr(self, name) for name in _STAGES)

    # ================================================================== the shared state

    @property
    def profile(self) -> VenueProfile:
        return self.state.profile

    @property
    def markets(self) -> dict[str, _Market]:
        return self.state.markets

    @property
    def ledger(self) -> Ledger:
        return self.state.ledger

    @property
    def ts(self) -> int:
        """The venue clock: the timestamp of the last command applied (ns)."""
        return self.state.ts

    @property
    def next_order_id(self) -> int:
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
        return self.state.funding_history

    @property
    def insurance_history(self) -> list[tuple[int, InsuranceFundChanged]]:
        return self.state.insurance_history

    @property
    def _collateral_index(self) -> dict[str, int]:
        return self.state._collateral_index

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
            self._expire()
        route = _HANDLERS.get(type(cmd))
        if route is None:
            route = _HANDLERS[type(cmd)] = _route(type(cmd))
        stage, handler = route
        handler(self if stage < 0 else self._stages[stage], cmd)
        self._settle()
        self._fire_triggers()
        self._trim_reduce_only()
        if self.state._notes or self.state._due:
            self._run_lists()
        if self.state._loss_watch:
            self._check_loss_limits()
        return self.state._events

    def _reject(self, cmd, reason: R, **fields) -> None:
        self.state._reject(cmd, reason, **fields)

    def _settle(self) -> None:
        """Re-key the accounts the command touched and sweep the marked markets until no
        liquidation touches another account (the liquidation stage's cascade)."""
        self.liquidation.cascade()

    def _Deposit(self, cmd: C.Deposit) -> None:
        if cmd.amount <= 0 or cmd.account <= 0:
            return self._reject(cmd, R.INVALID_QUANTITY, amount=cmd.amount)
        self.state._move(cmd.asset, OUTSIDE, cmd.account, cmd.amount, "deposit")

    def _Withdraw(self, cmd: C.Withdraw) -> None:
        if self._check_outflow(cmd):
            self.state._move(cmd.asset, cmd.account, OUTSIDE, cmd.amount, "withdraw")

    def _Transfer(self, cmd: C.Transfer) -> None:
        if cmd.to_account <= 0 or cmd.to_account == cmd.account:
            return self._reject(cmd, R.UNKNOWN_ACCOUNT, to_account=cmd.to_account)
        if self._check_outflow(cmd):
            self.state._move(cmd.asset, cmd.account, cmd.to_account, cmd.amount, "transfer")

    def _check_outflow(self, cmd) -> bool:
        if cmd.amount <= 0 or cmd.account <= 0:
            self._reject(cmd, R.INVALID_QUANTITY, amount=cmd.amount)
            return False
        free = self.state.withdrawable(cmd.account, cmd.asset)
        if cmd.amount > free:
            self._reject(cmd, R.BALANCE_INSUFFICIENT, required=cmd.amount, available=free)
            return False
        return True

    def _FundInsurance(self, cmd: C.FundInsurance) -> None:
        if cmd.amount <= 0:
            return self._reject(cmd, R.INVALID_QUANTITY, amount=cmd.amount)
        self.state._move(cmd.asset, OUTSIDE, INSURANCE, cmd.amount, "insurance_deposit")

    def _SetLeverage(self, cmd: C.SetLeverage) -> None:
        if (m := self.state._market(cmd)) is None:
            return None
        held = m.held(cmd.account)
        notional = m.value(held, m.mark) if m.mark and held else 0
        allowed = m.brackets.max_leverage_for(notional)
        if not 1 <= cmd.leverage <= allowed:
            return self._reject(cmd, R.INVALID_LEVERAGE, leverage=cmd.leverage, max_leverage=allowed)
        old = self.state.leverage.get((cmd.account, cmd.symbol), m.default_leverage)
        if cmd.leverage < old and cmd.account in m.isolated and m.holds(cmd.account):
            return self._reject(cmd, R.INVALID_LEVERAGE, leverage=cmd.leverage,
                                problem="cannot lower the leverage of an open isolated position")
        self.state.leverage[(cmd.account, cmd.symbol)] = cmd.leverage
        if cmd.leverage < old and self.state.available(cmd.account, m.asset) < 0:
            self.state.leverage[(cmd.account, cmd.symbol)] = old
            return self._reject(cmd, R.MARGIN_INSUFFICIENT, leverage=cmd.leverage)

    def _SetMarginMode(self, cmd: C.SetMarginMode) -> None:
        if (m := self.state._market(cmd)) is None:
            return None
        if m.holds(cmd.account):
            return self._reject(cmd, R.POSITION_EXISTS, symbol=cmd.symbol)
        if m.book.open_orders(cmd.account):
            return self._reject(cmd, R.OPEN_ORDERS_EXIST, symbol=cmd.symbol)
        if cmd.isolated and cmd.account in self.state.multi_assets:
            return self._reject(cmd, R.MULTI_ASSETS_ISOLATED, symbol=cmd.symbol)
        if cmd.isolated:
            m.isolated.add(cmd.account)
        else:
            m.isolated.discard(cmd.account)

    def _SetPositionMode(self, cmd: C.SetPositionMode) -> None:
        if any(m.holds(cmd.account) for m in self.state.markets.values()):
            return self._reject(cmd, R.POSITION_EXISTS, account=cmd.account)
        if any(m.book.open_orders(cmd.account) for m in self.state.markets.values()):
            return self._reject(cmd, R.OPEN_ORDERS_EXIST, account=cmd.account)
        if cmd.hedge:
            self.state.hedge.add(cmd.account)
        else:
            self.state.hedge.discard(cmd.account)

    def _SetMultiAssetsMode(self, cmd: C.SetMultiAssetsMode) -> None:
        account = cmd.account
        if account <= 0:
            return self._reject(cmd, R.UNKNOWN_ACCOUNT, account=account)
        if cmd.on == (account in self.state.multi_assets):
            return self._reject(cmd, R.MULTI_ASSETS_UNCHANGED, multi_assets=cmd.on)
        if any(m.holds(account) for m in self.state.markets.values()):
            return self._reject(cmd, R.POSITION_EXISTS, account=account)
        if any(m.book.open_orders(account) or account in m.conditionals_of for m in self.state.markets.values()):
            return self._reject(cmd, R.OPEN_ORDERS_EXIST, account=account)
        for asset in MA.MARGIN_ASSETS:  # a debt the pool covered must be repaid first
            if self.state.wallet(account, asset) < 0:
                return self._reject(cmd, R.BALANCE_INSUFFICIENT, asset=asset, wallet=self.state.wallet(account, asset))
        if not cmd.on:
            self.state.multi_assets.discard(account)
            return None
        if problem := MA.unsupported(self.state):
            return self._reject(cmd, R.INVALID_VALUE, field="multi_assets", problem=problem)
        isolated = [m.symbol for m in self.state.markets.values() if account in m.isolated]
        if isolated:
            return self._reject(cmd, R.MULTI_ASSETS_ISOLATED, symbol=isolated[0])
        self.state.multi_assets.add(account)

    def _AdjustIsolatedMargin(self, cmd: C.AdjustIsolatedMargin) -> None:
        if (m := self.state._market(cmd)) is None:
            return None
        p = m.positions.get(position_key(cmd.account, cmd.position_side))
        if cmd.account not in m.isolated or p is None:
            return self._reject(cmd, R.NOT_ISOLATED, symbol=cmd.symbol, position_side=cmd.position_side)
        if cmd.amount > 0:
            avail = self.state.available(cmd.account, m.asset)
            if cmd.amount > avail:
                return self._reject(cmd, R.MARGIN_INSUFFICIENT, required=cmd.amount, available=avail)
        elif cmd.amount < 0:
            # what may leave keeps the initial margin at mark and never counts unrealized profit
            iso = self.state._iso_margin(m, cmd.account, cmd.position_side)
            lev = self.state.leverage.get((cmd.account, cmd.symbol), m.default_leverage)
            need = initial_margin(m.value(p.lots, m.mark), lev)
            removable = max(0, iso + min(0, m.upnl(p)) - need)
            if -cmd.amount > removable:
                return self._reject(cmd, R.ISOLATED_MARGIN_INSUFFICIENT, required=-cmd.amount, available=removable)
        else:
            return self._reject(cmd, R.INVALID_QUANTITY, amount=0)
        holder = m.iso_holder(cmd.account, cmd.position_side)
        self.state._move(m.asset, cmd.account, holder, cmd.amount, "isolated_margin")

    def _SetIndexPrice(self, cmd: C.SetIndexPrice) -> None:
        if (m := self.state._market(cmd)) is None:
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
        if self.state.profile.liquidation_trigger == "index":  # the trigger itself moved, the mark or not
            self.liquidation.sweep_due = True
        if m.symbol == self.state._collateral_market:  # Multi-Assets accounts' BTC collateral moves with it
            ticks = m.index.value(cmd.ts)
            if ticks is not None:
                self.state._collateral_index[MA.COLLATERAL] = int(ticks * self.state._collateral_scale)
                if self.state.multi_assets:
                    MA.touch_on_index(self.state)
        if not quoting:
            self.marking._remark(m)
            return None
        # the liquidity provider requotes around the new index before the sweep runs
        self.marking.holding = True
        try:
            self.marking._remark(m)
            self._requote(m, cmd)
        finally:
            self.marking.holding = False
        self._settle()
        self.liquidation._offload(m)

    def _requote(self, m: _Market, cmd: C.SetIndexPrice) -> None:
        """Cancel the quote account's orders in m and place its ladder around cmd.price
        (OrderPlaced, cause requote); a level outside the price limits or refused is left out."""
        account = cmd.quote_account
        if m.book.open_orders(account):
            m.book.cancel_all(account, self.state.ts)
            self.settlement._book_events(m)
        lo, hi = m.price_limits
        for level in range(1, cmd.quote_levels + 1):
            for side, price in ((_SIDE_BUY, cmd.price - level * cmd.quote_step),
                                (_SIDE_SELL, cmd.price + level * cmd.quote_step)):
                if lo <= price <= hi:
                    order = C.PlaceOrder(self.state.ts, account, m.symbol, side, level * cmd.quote_lots, price,
                                         _LIMIT, _GTC)
                    self.entry._place_for(m, 0, order, _REQUOTE)

    def _AdvanceClock(self, cmd: C.AdvanceClock) -> None:
        for m in self.state.markets.values():
            m.book.advance(cmd.ts)
            self.settlement._book_events(m)

    def _PlaceConditional(self, cmd: C.PlaceConditional) -> None:
        if (m := self.entry._order_market(cmd)) is None:
            return None
        if self.state._loss_limits and not _closing(cmd) and self.loss_limits._loss_refused(cmd, m.asset):
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
        index, cid = m.triggers[cmd.source], self.state.next_order_id
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
        self.state.next_order_id += 1
        self.standing._keep_conditional(m, cid, cmd)
        m.observed[cmd.source] = now
        self.state._events.append(ConditionalEvent(m.symbol, cid, cmd.account, "NEW"))

    def _CancelConditional(self, cmd: C.CancelConditional) -> None:
        if (m := self.state._market(cmd)) is None:
            return None
        c = m.conditionals.get(cmd.order_id)
        if c is None or c.account != cmd.account:  # never reveal another account's order
            return self._reject(cmd, R.UNKNOWN_ORDER, order_id=cmd.order_id)
        self.standing._drop_conditional(m, cmd.order_id, "CANCELED")

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


    def _expire(self) -> None:
        """GTD conditional orders and order lists whose time has come (expire_ts ≤ now) expire,
        in expiry, market, id order; a list's orders in the book expire there (book.advance)."""
        while self.state._expiries and self.state._expiries[0][0] <= self.state.ts:
            at, symbol, oid = heapq.heappop(self.state._expiries)
            m = self.state.markets[symbol]
            c = m.conditionals.get(oid)
            if c is not None and c.expire_ts == at:
                self.standing._drop_conditional(m, oid, "EXPIRED")
            elif oid in m.lists:
                m.book.advance(self.state.ts)
                self.settlement._book_events(m)
                self.standing._end_list(m, oid, "EXPIRED", "expired")

    def _trim_reduce_only(self) -> None:
        """Resting reduce-only (and hedge-mode closing) orders may never increase or flip a
        position: after a position moved, its closing orders beyond its size are knocked out and
        any on the opening side are canceled."""
        if not self.state._positions_moved:
            return
        moved, self.state._positions_moved = self.state._positions_moved, set()
        # only positions something closing rests against have anything to fit (fitting never
        # adds such orders, so the rest can be left out before sorting)
        markets = self.state.markets
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
            for oid in self.entry._reduce_only_ids(m, account, pside):
                if not lots or m.orders[oid].side != closing:
                    m.book.cancel(oid, self.state.ts)
                    self.settlement._book_events(m)
            if lots:
                resting = self.entry._reduce_only_resting(m, account, pside, closing)
                if resting > abs(lots):
                    self.entry._knock_out(m, account, pside, closing, resting - abs(lots))

    def _source_price(self, m: _Market, source: int) -> int | None:
        if source == TriggerSource.MARK:
            return m.mark
        if source == TriggerSource.LAST:
            return m.last if m.last is not None else m.mark
        return m.index.value(self.state.ts) if m.index.live_sources(self.state.ts) else None

    def _fire_triggers(self) -> None:
        """Feed every moved trigger source to its index and place what fires, until nothing more
        fires (a triggered order's trade moves the last price). Markets in name order, sources in
        MARK, LAST, INDEX order, each index's firing order within (deterministic). Order lists
        act on what happened before each firing, so a leg another leg's fill ended never fires."""
        moved = True
        while moved:
            moved = self._run_lists() if self.state._notes or self.state._due else False
            for m in self.state.markets.values():
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
        c = self.standing._pop_conditional(m, cid)
        if c.price_protect and m.mark and m.last and abs(m.mark - m.last) * RATE_SCALE > m.mark * TRIGGER_PROTECT:
            self.standing._keep_conditional(m, cid, c)  # held back while mark and last diverge; stays armed
            if c.kind == ConditionalKind.TRAILING_STOP_MARKET:
                m.triggers[c.source].add_trailing(cid, Side(c.side), c.callback_rate, None, price)
            else:
                take_profit = c.kind in (ConditionalKind.TAKE_PROFIT_MARKET, ConditionalKind.TAKE_PROFIT_LIMIT)
                m.triggers[c.source].add_stop(cid, stop_direction(Side(c.side), take_profit), c.trigger_price)
            self.state._events.append(ConditionalEvent(m.symbol, cid, c.account, "SUPPRESSED"))
            return
        gid = m.list_of.pop(cid, None)
        if gid is not None:  # one-cancels-the-other: the list's other orders go before this one is placed
            g = m.lists[gid]
            g.legs[g.legs.index(cid)] = 0
            self.standing._cancel_list_orders(m, g, "CANCELED")
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
            oid, reason = self.entry._place_for(m, cid, C.PlaceOrder(
                self.state.ts, c.account, c.symbol, c.side, qty, 0 if market else c.price,
                _MARKET if market else _LIMIT, _IOC if market else c.tif, _NO_STP,
                # hedge mode closes through the position side, never reduce_only
                (c.reduce_only or c.close_position) and c.account not in self.state.hedge, c.expire_ts if gtd else 0,
                c.position_side, c.client_order_id))
        self.state._events.append(ConditionalEvent(m.symbol, cid, c.account, "REJECTED_AT_TRIGGER" if reason else
                                                   "TRIGGERED", order_id=oid, reason=reason))
        if gid is not None:
            self.standing._end_list(m, gid, "DONE", "exit_rejected" if reason else "exit_triggered", oid, reason)

    # ================================================================== order lists

    def _PlaceOrderList(self, cmd: C.PlaceOrderList) -> None:
        if (m := self.entry._order_market(cmd)) is None:
            return None
        # only an OCO of exits that close can add no exposure (an entry always can)
        closes = cmd.kind == ListKind.OCO and (cmd.reduce_only or (
            cmd.position_side != BOTH and (cmd.position_side == LONG) != (cmd.side == _SIDE_BUY)))
        if self.state._loss_limits and not closes and self.loss_limits._loss_refused(cmd, m.asset):
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
        gid = self.state.next_order_id
        self.state.next_order_id += 1
        before = len(self.state._events)
        m.lists[gid] = g
        m.lists_of.setdefault(cmd.account, set()).add(gid)
        if entry:
            g.entry = self.state.next_order_id
            m.list_of[g.entry] = gid
            self.state._events.append(ListEvent(m.symbol, gid, cmd.account, "NEW", order_id=g.entry))
            gtd = _GTD if cmd.expire_ts else cmd.entry_tif
            _, reason = self.entry._place_for(m, gid, C.PlaceOrder(
                self.state.ts, cmd.account, cmd.symbol, cmd.side, cmd.qty, cmd.entry_price,
                _LIMIT if cmd.entry_price else _MARKET,
                gtd if cmd.entry_price else _IOC, _NO_STP, False,
                cmd.expire_ts if cmd.entry_price else 0, cmd.position_side, cmd.client_order_id))
        else:
            self.state._events.append(ListEvent(m.symbol, gid, cmd.account, "NEW", qty=cmd.qty))
            reason = self._arm(m, gid, g, cmd.qty)
        if reason:  # an order of the list was refused: undo the list, its legs and its ids
            for lid in (g.entry, *g.legs):
                m.list_of.pop(lid, None)
                if lid in m.conditionals:
                    self.standing._pop_conditional(m, lid)
                    m.triggers[cmd.source].remove(lid)
            del m.lists[gid]
            self.standing._end_list_index(m, cmd.account, gid)
            self.state.next_order_id = gid
            self.state._events[before:] = [e for e in self.state._events[before:] if not (
                (isinstance(e, ListEvent) and e.list_id == gid)
                or (isinstance(e, ConditionalEvent) and e.conditional_id > gid))]
            return self._reject(cmd, R(reason), problem="an order of the list was refused")
        if cmd.expire_ts:
            heapq.heappush(self.state._expiries, (cmd.expire_ts, m.symbol, gid))

    def _CancelOrderList(self, cmd: C.CancelOrderList) -> None:
        if (m := self.state._market(cmd)) is None:
            return None
        g = m.lists.get(cmd.list_id)
        if g is None or g.cmd.account != cmd.account:  # never reveal another account's list
            return self._reject(cmd, R.UNKNOWN_ORDER, list_id=cmd.list_id)
        self.standing._end_list(m, cmd.list_id, "CANCELED", "canceled")

    def _run_lists(self) -> bool:
        """Carry out, in order, what happened to order lists' orders since the last call (fills,
        orders gone, legs fired) and fire legs that were armed past their trigger. Runs between
        operations, never inside one. True if anything was done."""
        did = False
        while self.state._notes or self.state._due:
            if not self.state._notes:  # what already happened first, then legs armed past their trigger
                symbol, cid, price = self.state._due.pop(0)
                m = self.state.markets[symbol]
                if cid in m.conditionals:
                    did = True
                    self._fire(m, cid, price)
                continue
            n = self.state._notes.popleft()
            m = self.state.markets[n.symbol]
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
            self.state._events.append(ListEvent(m.symbol, gid, account, "ARMED", "entry_partially_filled" if n.leaves
                                                else "entry_filled", g.armed - g.closed))
            reason = self._arm(m, gid, g, n.qty)
            if reason:
                self.state._events.append(ListEvent(m.symbol, gid, account, "LEG_REJECTED", "leg_rejected",
                                                    g.armed - g.closed, reason=reason))
                if not g.entry and not any(g.legs):  # nothing left to arm it again
                    self.standing._end_list(m, gid, "CANCELED", "leg_rejected", reason=reason)
            return
        del m.list_of[g.entry]
        g.entry = 0
        if n.cause == "expired":
            self.standing._end_list(m, gid, "EXPIRED", "expired")
        elif not any(g.legs):
            self.standing._end_list(m, gid, "CANCELED", "entry_" + n.cause)
        else:
            self.state._events.append(ListEvent(m.symbol, gid, account, "ENTRY_CLOSED", "entry_" + n.cause,
                                                g.armed - g.closed))

    def _leg_note(self, m: _Market, gid: int, g: _List, n: _Note) -> None:
        i = g.legs.index(n.order_id)
        if n.what == "fill" and n.leaves:  # a limit leg filled partly: the other covers less
            g.closed += n.qty
            if g.legs[1 - i]:
                self._grow_leg(m, g, 1 - i, -n.qty)
            self.state._events.append(ListEvent(m.symbol, gid, g.cmd.account, "REDUCED", "leg_filled",
                                                g.armed - g.closed))
            return
        del m.list_of[n.order_id]
        g.legs[i] = 0
        if n.what == "fill":
            g.closed += n.qty
            self.standing._end_list(m, gid, "DONE", "exit_filled")
        elif n.cause == "expired":
            self.standing._end_list(m, gid, "EXPIRED", "expired")
        else:
            self.standing._end_list(m, gid, "CANCELED", "leg_canceled", reason=n.reason)

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
        reduce_only = (c.reduce_only or c.kind == ListKind.BRACKET) and c.account not in self.state.hedge
        now = self._source_price(m, c.source)
        if t == LegType.TRAILING_STOP_MARKET and now is None:
            return int(R.INVALID_PRICE)  # no source price to trail from (a stale index)
        lid = g.legs[i] = self.state.next_order_id
        m.list_of[lid] = gid
        if t == LegType.LIMIT:
            _, reason = self.entry._place_for(m, gid, C.PlaceOrder(self.state.ts, c.account, c.symbol, side, qty, price,
                                                             _LIMIT, tif, _NO_STP, reduce_only, c.expire_ts,
                                                             c.position_side))
            if reason:
                del m.list_of[lid]
                g.legs[i] = 0
            return reason
        self.state.next_order_id += 1
        kind = _LEG_KIND[t]
        trailing = kind == ConditionalKind.TRAILING_STOP_MARKET
        # a trailing stop's trigger field is its activation price
        self.standing._keep_conditional(m, lid, C.PlaceConditional(
            self.state.ts, c.account, c.symbol, side, qty, kind, 0 if trailing else trigger,
            price if kind in (ConditionalKind.STOP_LIMIT, ConditionalKind.TAKE_PROFIT_LIMIT) else 0, c.source,
            reduce_only, callback_rate=c.sl_callback_rate if trailing else 0,
            activation_price=trigger if trailing else 0, position_side=c.position_side, tif=tif,
            expire_ts=c.expire_ts))
        self.state._events.append(ConditionalEvent(m.symbol, lid, c.account, "NEW"))
        if trailing:  # trails from the source price at arming (or from its activation price once reached)
            m.triggers[c.source].add_trailing(lid, Side(side), c.sl_callback_rate, trigger or None, now)
            return 0
        direction = stop_direction(Side(side), i == 0)
        if now is not None and would_trigger(direction, trigger, now):
            self.state._due.append((m.symbol, lid, now))
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
                self.standing._drop_conditional(m, lid, "CANCELED")
            else:
                m.book.cancel(lid, self.state.ts)
                self.settlement._book_events(m)
        elif c is not None:
            m.conditionals[lid] = dataclasses.replace(c, qty=size + delta)
        else:
            m.book.amend(lid, o.price, size + delta, self.state.ts)
            self.settlement._book_events(m)


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
                self.standing._end_list(m, gid, "CANCELED", "position_closed")
                continue
            for lid in g.legs:
                leg = m.conditionals.get(lid)
                if leg is not None and leg.qty > abs(lots):
                    m.conditionals[lid] = dataclasses.replace(leg, qty=abs(lots))
        for cid in sorted(m.exit_conditionals.get((account, pside), ())):
            if cid not in m.list_of and (not lots or m.conditionals[cid].side != closing):
                self.standing._drop_conditional(m, cid, "CANCELED", R.REDUCE_ONLY_REJECTED)


    # ================================================================== daily loss limit


    def _check_loss_limits(self) -> None:
        """The limits whose loss moved in this command: the ones hit now are marked hit until
        the day ends (DailyLossLimitHit) and, with flatten, their positions are closed."""
        while self.state._loss_watch:
            watch, self.state._loss_watch = sorted(self.state._loss_watch), set()
            flattened = False
            for key in watch:
                state = self.state._loss_limits.get(key)
                if state is None or state.limit is None or state.hit is not None:
                    continue
                account, asset = key
                lost = self.loss_limits._day_loss(account, asset, state)
                if lost < state.limit.amount:
                    continue
                state.hit = lost
                self.state._events.append(DailyLossLimitHit(account, asset, state.limit.amount, lost,
                                                            self.state._day_end, state.limit.flatten))
                if state.limit.flatten:
                    self._flatten(account, asset)
                    flattened = True
            if flattened:  # what the flatten orders set off, as after any command
                self._settle()
                self._fire_triggers()
                self._trim_reduce_only()
                if self.state._notes or self.state._due:
                    self._run_lists()

    def _flatten(self, account: int, asset: str) -> None:
        """Once, at a hit: cancel the account's orders, conditional orders and lists in every
        market of `asset`, then close each position with a reduce-only market order (hedge
        mode: a closing order on its side), placed as OrderPlaced with cause daily_loss_limit."""
        for m in self.state.markets.values():
            if m.asset != asset:
                continue
            self.standing._end_lists_of(m, account, _LOSS_LIMIT, R.DAILY_LOSS_LIMIT)
            if m.book.open_orders(account):
                m.book.cancel_all(account, self.state.ts)
                self.settlement._book_events(m)
            if account in m.conditionals_of:
                for cid in sorted(m.conditionals_of[account]):
                    self.standing._drop_conditional(m, cid, "CANCELED", R.DAILY_LOSS_LIMIT)
            hedge = account in self.state.hedge
            for pside, p in m.leg_list(account):
                side = _SIDE_SELL if p.lots > 0 else _SIDE_BUY
                order = C.PlaceOrder(self.state.ts, account, m.symbol, side, abs(p.lots), 0, _MARKET, _IOC, _NO_STP,
                                     not hedge, 0, pside)
                self.entry._place_for(m, 0, order, _LOSS_LIMIT)

    # ================================================================== queries

    def position(self, account: int, symbol: str, pside: int = BOTH) -> Position:
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
        """Exact liquidation price (LiqPrice) of a position, or None (Liquidation.liquidation_price)."""
        return self.liquidation.liquidation_price(account, symbol, pside)

    def bankruptcy_price(self, account: int, symbol: str, pside: int = BOTH):
        """Exact bankruptcy price (LiqPrice) of a position, or None (Liquidation.bankruptcy_price)."""
        return self.liquidation.bankruptcy_price(account, symbol, pside)



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
        return self.liquidation._adl_score(m, account, pside)

    def adl_quantile(self, account: int, symbol: str, pside: int = BOTH) -> int:
        """ADL indicator 0..4 of a position among the same side of its market (4 = first)."""
        return self.liquidation.adl_quantile(account, symbol, pside)

    def _liquidatable(self, m: _Market, account: int, pside: int) -> bool:
        """Whether the position (isolated) or the account's cross legs are at or past 100 % margin ratio."""
        return self.liquidation._liquidatable(m, account, pside)


    def state_hash(self) -> str:
        """One hash over every market's book, positions, prices, modes and the whole ledger."""
        h = hashlib.blake2b(digest_size=16)
        h.update(f"{self.state.ts}:{self.state.next_order_id}:{sorted(self.state.hedge)};".encode())
        if self.state.multi_assets:  # absent while no account uses the mode: older hashes stand
            h.update(f"ma:{sorted(self.state.multi_assets)}:{sorted(self.state._collateral_index.items())};".encode())
        for symbol, m in self.state.markets.items():
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
        for key in sorted(self.state.leverage):
            h.update(f"{key}:{self.state.leverage[key]};".encode())
        h.update(f"day:{self.state._day_end};".encode())
        for key in sorted(self.state._loss_limits):
            h.update(f"{key}:{self.state._loss_limits[key].key()};".encode())
        for asset in sorted(self.state._day_pnl):
            day = self.state._day_pnl[asset]
            h.update(f"{asset}:{sorted((a, v) for a, v in day.items() if v)};".encode())
        self.state.ledger.digest(h)
        return h.hexdigest()

    def check_integrity(self) -> None:
        """Conservation, the pnl pools, zero net open interest, order records, the kernels."""
        self.state.ledger.check_conservation()
        for m in self.state.markets.values():
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
            pool = self.state.ledger.balance(m.pnl_pool, m.asset)
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
            if m.hedge is not self.state.hedge:
                raise AssertionError(f"{m.symbol}: the market's hedge-mode set is not the exchange's")
            for k, p in m.positions.items():
                account, pside = position_of(k)
                if p.lots == 0 or m.symbol not in self.state._markets_of.get(account, ()):
                    raise AssertionError(f"{m.symbol}: position record of {account} is stale")
                if (pside != BOTH) != (account in self.state.hedge):
                    raise AssertionError(f"{m.symbol}: account {account} holds a {pside} position in the other mode")
            for key, _, _ in m.liq.entries():
                account, pside = position_of(key)
                if not m.holds(account) or (account in m.isolated and position_key(account, pside) not in m.positions):
                    raise AssertionError(f"{m.symbol}: liquidation index entry {key} has no position")
            multi = {a for a, syms in self.state._markets_of.items() if len(syms) > 1 and m.symbol in syms}
            if multi != self.state._multi[m.symbol]:
                raise AssertionError(f"{m.symbol}: multi-market account index is stale")

    def _check_lists(self, m: _Market) -> None:
        """Order lists and closing conditional orders agree with their indexes and the books."""
        exits: dict[tuple[int, int], set[int]] = {}
        for cid, c in m.conditionals.items():
            if _closing(c):
                exits.setdefault((c.account, c.position_side), set()).add(cid)
        links, owners = {}, {}
        due = set(self.state._expiries)
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

    # ================================================================== internals: orders




    # ================================================================== internals: time and prices


_STAGE_TYPES = (Entry, LossLimits)  # the classes of _STAGES, in its order
