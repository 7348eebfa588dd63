"""What a liquidation does to one position: its lots, the collateral left behind it, the
liquidation fee paid to the insurance fund, the forced LIMIT IOC order, OKX's hedged-pair netting.

The liquidation stage (and the fund's offload) place every forced order through `_force`: no
trading fee, placed at the next order id and settled at once. The fee risk sets on what was
liquidated (risk.liquidation_plan.liquidation_fee: rounded up, never more than the collateral
left) goes from the position's collateral to the fund. The per-market terms those decisions are
asked on (`_terms`, risk.liquidation_plan.market_terms) are built here and shared with the
liquidation stage.

The stage holds the shared state and the settlement it trades through (engine/state.py,
engine/settlement.py); the liquidation stage holds it and calls it in C in the compiled build.
"""

from __future__ import annotations

from perpsim.engine.events import HedgedPairClosed
from perpsim.engine.market import LONG, SHORT, _Market, position_key
from perpsim.engine.settlement import Settlement
from perpsim.engine.state import State
from perpsim.model.causes import LedgerCause
from perpsim.model.enums import OrderKind, StpMode, TimeInForce
from perpsim.risk.ledger import INSURANCE
from perpsim.risk.liquidation_plan import liquidation_fee, market_terms
from perpsim.risk.okx_liquidation import netted_lots, netting_price

# Members bound once as module names (reading one off its Enum class costs about ten times more).
_LEDGER_LIQUIDATION_FEE = LedgerCause.LIQUIDATION_FEE
_LIMIT, _IOC, _NO_STP = OrderKind.LIMIT, TimeInForce.IOC, StpMode.NONE


class ForcedOrders:
    """A liquidated position's lots, collateral and fee, and the forced orders placed for it."""

    def __init__(self, state: State, settlement: Settlement) -> None:
        self.state = state
        self.settlement = settlement
        # per market, what risk decides its liquidations on
        rule = state.profile.liquidation
        self._terms = {s: market_terms(K=m.K, k_inv=m.k_inv, inverse=m.inverse, brackets=m.brackets,
                                       money_scale=10**m.spec.settle_decimals, price_limits=m.price_limits,
                                       fee_rate=m.liquidation_fee, steps=None if rule is None else rule.steps)
                       for s, m in state.markets.items()}

    def _net_pair(self, m: _Market, account: int, legs: tuple) -> tuple:
        """OKX: close the overlap of the account's long and short in m against itself at the mark
        (risk.okx_liquidation: no order, no fee; a HedgedPairClosed event). Returns the legs
        still held, in side order."""
        qty = netted_lots(self._lots(m, account, LONG), self._lots(m, account, SHORT))
        if qty:
            price = netting_price(m.mark)
            self.settlement._pair(m, account, SHORT, account, LONG, qty, price)
            self.state._events.append(HedgedPairClosed(m.symbol, account, qty, price))
        return tuple([ps for ps in legs if self._lots(m, account, ps)])

    def _lots(self, m: _Market, account: int, pside: int) -> int:
        """Signed lots of a position (0 when there is none)."""
        p = m.positions.get(position_key(account, pside))
        return 0 if p is None else p.lots

    def _remaining(self, m: _Market, account: int, pside: int):
        """(holder, collateral left) of a position under liquidation: its isolated margin, or
        the cross margin balance."""
        if account in m.isolated:
            holder = m.iso_holder(account, pside)
            return holder, self.state.ledger.balance(holder, m.asset)
        return account, self.state.margin_balance(account, m.asset)

    def _liquidation_fee(self, m: _Market, account: int, pside: int, qty: int, price: int) -> tuple:
        """Pay the fund the liquidation fee risk sets on `qty` liquidated lots at `price` (rounded
        up, never more than the collateral left). Returns (holder, collateral left after the fee)
        as `_remaining` does."""
        holder, remaining = self._remaining(m, account, pside)
        fee = liquidation_fee(self._terms[m.symbol], qty, price, remaining)
        if fee:
            self.state._move(m.asset, holder, INSURANCE, fee, _LEDGER_LIQUIDATION_FEE)
            if self.state._loss_limits:
                self.state._day_move(account, m.asset, -fee)
            remaining -= fee
        return holder, remaining

    def _force(self, m: _Market, account: int, pside: int, side: int, qty: int, price: int) -> None:
        """A forced LIMIT IOC order (liquidation or fund offload): no trading fee."""
        if qty <= 0:
            return
        oid = self.state.next_order_id
        self.state.next_order_id += 1
        m.book.place(oid, account, side, _LIMIT, price, qty, _IOC, _NO_STP, 0, self.state.ts)
        self.settlement._book_events(m, False, pside, True)  # positional: the compiled call
