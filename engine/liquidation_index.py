"""The liquidation index's upkeep and the under-water check the sweep confirms it with.

Each market keeps its positions keyed by the tick at which they become liquidatable
(risk.liqindex): each isolated position on its own, an account's cross legs in a market together,
a hedge-mode pair also at the tick where it turns liquidatable on a rise (risk.liqrange). This
stage re-keys an account's positions after they or its balances changed (`_rekey_account`), solving
the liquidation tick against the isolated margin or the cross wallet with the account's other
markets held fixed (rounded against the account: the market's contract), and answers with the
exact maintenance margin whether a position the index names really is liquidatable
(`_liquidatable`). It holds only the shared state (engine/state.py); the liquidation stage
holds it and calls it in C in the compiled build.
"""

from __future__ import annotations

from perpsim.engine import multi_assets as MA
from perpsim.engine.market import _RISE_SIDE, BOTH, IF_ACCOUNT, _Market, position_key
from perpsim.engine.state import State
from perpsim.risk.liqprice import LiquidationModel
from perpsim.risk.positions import Position
from perpsim.risk.units import RATE_SCALE

_BYBIT = LiquidationModel.BYBIT


class LiquidationIndex:
    """Keeps each market's liquidation index current; says whether a position is liquidatable."""

    def __init__(self, state: State) -> None:
        self.state = state

    def _rekey_account(self, account: int) -> None:
        for symbol in sorted(self.state._markets_of.get(account, ())):
            self._rekey(self.state.markets[symbol], account)

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
            if len(legs) > 1 and (solved is None or solved[0] > 0) \
                    and self.state.profile.liquidation_model is not _BYBIT:
                # a hedge-mode pair liquidated on a fall may also be on a rise, where the two
                # legs' maintenance margin outgrows the net long's gain (risk.liqrange)
                rise = m.contract.rise_tick(legs, self._liq_base(m, account, pside))
                if rise is not None:
                    m.liq.upsert(position_key(account, _RISE_SIDE), *rise)

    def _liq_tick(self, m: _Market, account: int, pside: int, legs: list[Position]) -> tuple[int, int] | None:
        """(direction, tick) of the legs' liquidation price rounded against the account, or None
        (the market's contract solves it against `_liq_base`)."""
        bybit = self.state.profile.liquidation_model is _BYBIT
        return m.contract.liq_tick(legs, self._liq_base(m, account, pside), bybit)

    def _liq_base(self, m: _Market, account: int, pside: int) -> int:
        """What the legs' liquidation price is solved against (money units): the isolated
        margin, or the cross wallet with the other markets' uPnL less their MM held fixed."""
        if account in m.isolated:
            return self.state._iso_margin(m, account, pside)
        if account in self.state.multi_assets:
            return MA.liq_base(self.state, account, m.symbol)
        base = self.state.wallet(account, m.asset)
        if len(self.state._markets_of[account]) > 1:  # the other markets' legs, held fixed
            base += self.state.upnl(account, m.asset, skip=m.symbol)
            base -= self.state.maintenance(account, m.asset, skip=m.symbol)
        return base

    def _liquidatable(self, m: _Market, account: int, pside: int) -> bool:
        """Binance: margin ratio = MM / margin balance ≥ 100 %, compared with the exact MM so
        that the index (which rounds the liquidation price toward the mark) never misses one.
        Both sides are scaled by RATE_SCALE, so linear markets compare integers."""
        if account in m.isolated:
            p = m.positions.get(position_key(account, pside))
            if p is None:
                return False
            balance = self.state._iso_margin(m, account, pside) + m.upnl(p)
            return m.contract.liquidatable_alone(p, balance, m.mark, self.state.profile.liquidation_model is _BYBIT)
        if account in self.state.multi_assets:
            return MA.liquidatable(self.state, account)
        mm = upnl = 0  # one pass over the cross legs for both sides of the comparison
        for mk, p in self.state._cross(account, m.asset):
            mm += self.state._mm_scaled(mk, p)
            upnl += mk.upnl(p)
        return (self.state.wallet(account, m.asset) + upnl) * RATE_SCALE <= mm
