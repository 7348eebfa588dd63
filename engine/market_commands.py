"""The market commands: index prices (with the liquidity provider's requote) and the clock.

SetIndexPrice feeds one source of a market's index (or a stablecoin's USD index, the
Multi-Assets collateral's): the mark is recomputed from it, and with a quote the liquidity
provider's ladder is placed again around the new price before the liquidation sweep runs, so
that forced orders meet the new quotes. AdvanceClock moves the venue's time alone: the books
expire what is due by then (the time-driven work every command does runs first, in the
exchange's pipeline).
"""

from __future__ import annotations

from perpsim.engine import commands as C
from perpsim.engine import multi_assets as MA
from perpsim.engine.entry import Entry
from perpsim.engine.liquidation import Liquidation
from perpsim.engine.market import _Market
from perpsim.engine.marking import Marking
from perpsim.engine.settlement import Settlement
from perpsim.engine.state import State
from perpsim.model.causes import PlacedBy
from perpsim.model.enums import OrderKind, Side, TimeInForce
from perpsim.model.reasons import RejectReason as R

# Members bound once as module names (reading one off its Enum class costs about ten times more).
_SIDE_BUY, _SIDE_SELL = Side.BUY, Side.SELL
_LIMIT, _GTC = OrderKind.LIMIT, TimeInForce.GTC
_BY_REQUOTE = PlacedBy.REQUOTE
#: The most levels a liquidity provider's requote places per side (SetIndexPrice.quote_levels).
MAX_QUOTE_LEVELS = 100


class MarketCommands:
    """SetIndexPrice and AdvanceClock."""

    def __init__(self, state: State, settlement: Settlement, liquidation: Liquidation, marking: Marking,
                 entry: Entry) -> None:
        self.state = state
        self.settlement = settlement
        self.liquidation = liquidation
        self.marking = marking
        self.entry = entry

    def _SetIndexPrice(self, cmd: C.SetIndexPrice) -> None:
        if cmd.symbol in MA.STABLE_INDEXES:  # a stablecoin's USD index (Multi-Assets collateral)
            if cmd.quote_account or cmd.quote_levels:
                return self.state._reject(cmd, R.INVALID_VALUE, field="quote", quote_account=cmd.quote_account)
            if problem := MA.set_stable_index(self.state, cmd.symbol, cmd.price, cmd.source):
                return self.state._reject(cmd, R.INVALID_VALUE, field=problem, price=cmd.price, source=cmd.source)
            return None
        if (m := self.state._market(cmd)) is None:
            return None
        lo, hi = m.price_limits
        if not lo <= cmd.price <= hi:
            return self.state._reject(cmd, R.PRICE_TOO_HIGH if cmd.price > hi else R.PRICE_TOO_LOW, price=cmd.price)
        quoting = cmd.quote_account != 0 or cmd.quote_levels != 0
        if quoting and not (cmd.quote_account > 0 and 0 < cmd.quote_levels <= MAX_QUOTE_LEVELS
                            and cmd.quote_step > 0 and cmd.quote_lots > 0):
            return self.state._reject(cmd, R.INVALID_VALUE, field="quote", quote_account=cmd.quote_account,
                                      quote_levels=cmd.quote_levels, quote_step=cmd.quote_step,
                                      quote_lots=cmd.quote_lots)
        try:
            m.index.update(cmd.source, cmd.price, cmd.ts)
        except (KeyError, ValueError):
            return self.state._reject(cmd, R.UNKNOWN_SYMBOL, source=cmd.source)
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
        self.liquidation.cascade()
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
                    self.entry._place_for(m, 0, order, _BY_REQUOTE)

    def _AdvanceClock(self, cmd: C.AdvanceClock) -> None:
        for m in self.state.markets.values():
            m.book.advance(cmd.ts)
            self.settlement._book_events(m)
