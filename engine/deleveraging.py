"""Auto-deleveraging: a bankrupt position's rest closed against the opposite side's positions.

The opposite side is ranked once per sweep by the profile's ranking (risk.adl: the scores from
engine/position_risk.py) into a queue consumed best first; a mark move makes the queues stale
(Liquidation.mark_moved clears `_adl_queue`). Each counterparty gives up what its collateral
bears at the price (risk.adl.capacity), its open orders are canceled and its lists ended, and
the two positions are paired at that price with no fee (an AutoDeleveraged event).

The stage holds the shared state, the settlement it pairs positions through, the standing
orders it ends and the position risk read-outs it ranks by; the liquidation stage holds it
and calls `_adl` in C in the compiled build.
"""

from __future__ import annotations

from perpsim.engine import multi_assets as MA
from perpsim.engine.events import AutoDeleveraged
from perpsim.engine.market import IF_ACCOUNT, _Market, position_key, position_of
from perpsim.engine.position_risk import PositionRisk
from perpsim.engine.settlement import Settlement
from perpsim.engine.standing import StandingOrders
from perpsim.engine.state import State
from perpsim.model.causes import ListCause
from perpsim.risk import adl
from perpsim.risk.positions import Position

# Bound once as a module name (reading one off its Enum class costs about ten times more).
_WHY_AUTO_DELEVERAGE = ListCause.AUTO_DELEVERAGE


class Deleveraging:
    """The ADL queues per market side and what a deleveraging does."""

    def __init__(self, state: State, settlement: Settlement, standing: StandingOrders,
                 position_risk: PositionRisk) -> None:
        self.state = state
        self.settlement = settlement
        self.standing = standing
        self.position_risk = position_risk
        # (symbol, bankrupt long) -> the opposite side's positions ranked (best at the end)
        self._adl_queue: dict[tuple[str, bool], list] = {}

    def _adl(self, m: _Market, account: int, pside: int, lots: int, price: int) -> int:
        """Close `lots` of a bankrupt position against the opposite side at `price`, in risk's
        queue (risk.adl: the profile's ranking), no fee. The queue is ranked once per sweep and
        consumed."""
        queue_key = (m.symbol, lots > 0)
        queue = self._adl_queue.get(queue_key)
        if queue is None:
            # every opposite position ranks, the bankrupt account's own other hedge leg included
            queue = self._adl_queue[queue_key] = adl.queue([
                (self.position_risk._adl_score(m, *position_of(k)), k) for k, q in m.positions.items()
                if position_of(k)[0] != IF_ACCOUNT and (q.lots > 0) != (lots > 0)])
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
            # follow the position (_fit_exits); positional arguments: the compiled call
            self.standing._end_lists_of(m, cp_account, _WHY_AUTO_DELEVERAGE, 0, True)
            if m.book.open_orders(cp_account):
                m.book.cancel_all(cp_account, self.state.ts)
                self.settlement._book_events(m)
            self.settlement._pair(m, cp_account, cp_side, account, pside, signed, price)
            self.state._events.append(AutoDeleveraged(m.symbol, account, cp_account, q, price))
            done += q
        return done

    def _adl_capacity(self, m: _Market, account: int, pside: int, p: Position, lots: int, price: int) -> int:
        """How many of `lots` an ADL counterparty gives up at `price` (risk.adl.capacity) against
        its collateral: its isolated margin, its cross wallet, or a Multi-Assets account's pool."""
        if account in m.isolated:
            collateral = self.state._iso_margin(m, account, pside)
        elif account in self.state.multi_assets:  # its loss is drawn on its whole pool, in m's asset
            collateral = MA.wallets_in(self.state, account, m.asset)
        else:
            collateral = self.state.wallet(account, m.asset)
        return adl.capacity(p.lots, p.cost, lots, price, collateral, K=m.K, k_inv=m.k_inv, inverse=m.inverse)
