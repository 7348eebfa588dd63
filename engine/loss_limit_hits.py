"""Daily loss limits hit: what the exchange does once an account's loss today reaches its limit.

The limit's guard (refusing opening orders) and its day are engine/loss_limits.py's; this stage
sits above the order stages because a hit with flatten closes the account's positions with
market orders and then runs what any command's orders set off again (the sweep, the conditional
orders that fire, reduce-only trimming, order lists), which may move other limits in turn.
"""

from __future__ import annotations

from perpsim.engine import commands as C
from perpsim.engine.conditionals import Conditionals
from perpsim.engine.entry import Entry
from perpsim.engine.events import DailyLossLimitHit
from perpsim.engine.liquidation import Liquidation
from perpsim.engine.loss_limits import LossLimits
from perpsim.engine.order_lists import OrderLists
from perpsim.engine.settlement import Settlement
from perpsim.engine.standing import StandingOrders
from perpsim.engine.state import State
from perpsim.model.causes import ConditionalStatus, ListCause, PlacedBy
from perpsim.model.enums import OrderKind, Side, StpMode, TimeInForce
from perpsim.model.reasons import RejectReason as R

# Members bound once as module names (reading one off its Enum class costs about ten times more).
_COND_CANCELED = ConditionalStatus.CANCELED
_WHY_DAILY_LOSS_LIMIT = ListCause.DAILY_LOSS_LIMIT
_BY_DAILY_LOSS_LIMIT = PlacedBy.DAILY_LOSS_LIMIT
_SIDE_BUY, _SIDE_SELL = Side.BUY, Side.SELL
_MARKET, _IOC, _NO_STP = OrderKind.MARKET, TimeInForce.IOC, StpMode.NONE


class LossLimitHits:
    """The limits a command's money moves reached (`check`), and the flatten of a hit."""

    def __init__(self, state: State, settlement: Settlement, standing: StandingOrders, liquidation: Liquidation,
                 loss_limits: LossLimits, entry: Entry, lists: OrderLists, conditionals: Conditionals) -> None:
        self.state = state
        self.settlement = settlement
        self.standing = standing
        self.liquidation = liquidation
        self.loss_limits = loss_limits
        self.entry = entry
        self.lists = lists
        self.conditionals = conditionals

    def check(self) -> None:
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
                self.liquidation.cascade()
                self.conditionals._fire_triggers()
                self.conditionals._trim_reduce_only()
                if self.state._notes or self.state._due:
                    self.lists._run_lists()

    def _flatten(self, account: int, asset: str) -> None:
        """Once, at a hit: cancel the account's orders, conditional orders and lists in every
        market of `asset`, then close each position with a reduce-only market order (hedge
        mode: a closing order on its side), placed as OrderPlaced with cause daily_loss_limit."""
        for m in self.state.markets.values():
            if m.asset != asset:
                continue
            self.standing._end_lists_of(m, account, _WHY_DAILY_LOSS_LIMIT, R.DAILY_LOSS_LIMIT)
            if m.book.open_orders(account):
                m.book.cancel_all(account, self.state.ts)
                self.settlement._book_events(m)
            if account in m.conditionals_of:
                for cid in sorted(m.conditionals_of[account]):
                    self.standing._drop_conditional(m, cid, _COND_CANCELED, R.DAILY_LOSS_LIMIT)
            hedge = account in self.state.hedge
            for pside, p in m.leg_list(account):
                side = _SIDE_SELL if p.lots > 0 else _SIDE_BUY
                order = C.PlaceOrder(self.state.ts, account, m.symbol, side, abs(p.lots), 0, _MARKET, _IOC, _NO_STP,
                                     not hedge, 0, pside)
                self.entry._place_for(m, 0, order, _BY_DAILY_LOSS_LIMIT)
