"""Position risk read-outs: the liquidation and bankruptcy prices, the liquidation band and the ADL
rank of a position, as the read API asks them and as the liquidation stage solves against them.

Each is solved against what backs the position: its isolated margin, or the cross wallet (a
Multi-Assets account's pool) with the account's other cross legs held fixed. Risk computes the
numbers (the market's contract: LiqPrice; risk.liqband: the band; risk.adl: scores and the
quantile); this stage gathers the margin they are asked on and reads the state, changing none
of it but the ADL ranking cache (`_adl_ranked`, kept for ADL_WINDOW_NS of venue time).

The stage holds only the shared state (engine/state.py). The liquidation stage holds it for
the collateral a forced order's bankruptcy price is solved against (`_collateral`, a C call in
the compiled build) and for the scores its ADL queue ranks (`_adl_score`); the exchange and
order entry hold it for the read-outs.
"""

from __future__ import annotations

from fractions import Fraction

from perpsim.engine import multi_assets as MA
from perpsim.engine.market import BOTH, IF_ACCOUNT, _Market, position_key, position_of
from perpsim.engine.state import State
from perpsim.risk import adl
from perpsim.risk.liqband import Band, liquidation_band
from perpsim.risk.positions import Position

#: How long an ADL quantile's ranking stands (ns of venue time): Binance's "update every 30s".
ADL_WINDOW_NS = 30 * 10**9


class PositionRisk:
    """The risk read-outs of a position: liquidation and bankruptcy prices, band, ADL rank."""

    def __init__(self, state: State) -> None:
        self.state = state
        # (symbol, long) -> (window, ascending ADL scores): what adl_quantile ranks among
        self._adl_ranked: dict[tuple[str, bool], tuple[int, list[Fraction]]] = {}

    def liquidation_price(self, account: int, symbol: str, pside: int = BOTH):
        """Exact liquidation price (LiqPrice) of a position, or None. Isolated: that position
        against its isolated margin. Cross: all the account's legs in `symbol` against the cross
        wallet, with the other markets' maintenance margin and uPnL held fixed."""
        m = self.state.markets[symbol]
        if m.mark is None:
            return None
        if account in m.isolated:
            p = m.positions.get(position_key(account, pside))
            if p is None:
                return None
            return m.lp([p], self.state._iso_margin(m, account, pside), 0, 0, self.state.profile.liquidation_model)
        legs = [p for _, p in m.legs(account)]
        if not legs:
            return None
        if account in self.state.multi_assets:  # the pool, the other legs held fixed
            upnl, mm = MA.others(self.state, account, symbol)
            return m.lp(legs, MA.wallets(self.state, account), mm, upnl, self.state.profile.liquidation_model)
        return m.lp(legs, self.state.wallet(account, m.asset), self.state.maintenance(account, m.asset, skip=symbol),
                    self.state.upnl(account, m.asset, skip=symbol), self.state.profile.liquidation_model)

    def held_band(self, account: int, symbol: str, pside: int = BOTH) -> Band | None:
        """The band (partial, full liquidation tick; risk.liqband) of a position as it stands,
        against what it is solved against: its isolated margin, or the cross wallet (a
        Multi-Assets pool) with the other cross legs held fixed. None without a mark or a
        position, and for a cross leg of a hedge-mode pair (no single band)."""
        m = self.state.markets[symbol]
        p = m.positions.get(position_key(account, pside))
        if p is None or m.mark is None:
            return None
        if account in m.isolated:
            return self.liquidation_band(m, p, self.state._iso_margin(m, account, pside), 0, 0)
        if pside != BOTH:
            return None
        if account in self.state.multi_assets:
            upnl, mm = MA.others(self.state, account, symbol)
            return self.liquidation_band(m, p, MA.wallets(self.state, account), mm, upnl)
        return self.liquidation_band(m, p, self.state.wallet(account, m.asset),
                                     self.state.maintenance(account, m.asset, skip=symbol),
                                     self.state.upnl(account, m.asset, skip=symbol))

    def bankruptcy_price(self, account: int, symbol: str, pside: int = BOTH):
        """Exact bankruptcy price (LiqPrice) of a position (isolated) or of the account's legs in
        `symbol` (cross), or None."""
        m = self.state.markets[symbol]
        legs = [p for ps, p in m.legs(account) if account not in m.isolated or ps == pside]
        if not legs or m.mark is None:
            return None
        wallet, other_upnl = self._collateral(m, account, pside)
        return m.bp(legs, wallet, other_upnl)

    def liquidation_band(self, m: _Market, p: Position, wallet: int, other_mm: int, other_upnl: int) -> Band:
        """(partial, full) liquidation price of one position in ticks, rounded against the account
        (risk.liqband; None where there is none), against `wallet`: its isolated margin, or the
        cross wallet with the other cross positions' maintenance margin and uPnL held fixed."""
        return liquidation_band(p.lots, p.cost, wallet, K=m.K, k_inv=m.k_inv, inverse=m.inverse,
                                brackets=m.brackets, fee_rate=m.liquidation_fee,
                                model=self.state.profile.liquidation_model, other_mm=other_mm, other_upnl=other_upnl)

    def _collateral(self, m: _Market, account: int, pside: int) -> tuple[int, int]:
        """(balance, other uPnL) the bankruptcy price is solved against."""
        if account in m.isolated:
            return self.state._iso_margin(m, account, pside), 0
        if account in self.state.multi_assets:
            return MA.wallets(self.state, account), MA.others(self.state, account, m.symbol)[0]
        others = self.state.upnl(account, m.asset, skip=m.symbol) if len(self.state._markets_of[account]) > 1 else 0
        return self.state.wallet(account, m.asset), others

    def _adl_score(self, m: _Market, account: int, pside: int) -> Fraction:
        """A position's ADL rank score (higher: deleveraged first) by the profile's ranking
        (risk.adl.position_score), fed the margin behind it: the position's own (isolated), the
        account's cross wallet, uPnL and maintenance margin, or a Multi-Assets account's pool."""
        state = self.state
        key = position_key(account, pside)
        p = m.positions[key]
        ranking = adl.ranking_of(state.profile)
        pnl = wallet = mm = 0
        if not adl.needs_margin(ranking):  # dYdX: keys from a start drawn from the venue time
            pass
        elif account in m.isolated:
            pnl, wallet, mm = m.upnl(p), state._iso_margin(m, account, pside), state._mm(m, p)
        elif account in state.multi_assets:  # the pool's margin
            (pnl, mm), wallet = MA.others(state, account, None), MA.wallets(state, account)
        else:
            pnl, wallet, mm = state.upnl(account, m.asset), state.wallet(account, m.asset), \
                state.maintenance(account, m.asset)
        return adl.position_score(ranking, key=key, ts=state.ts, upnl=pnl, wallet=wallet, maintenance=mm,
                                  money_scale=10**m.spec.settle_decimals, lots=p.lots, cost=p.cost, mark=m.mark,
                                  K=m.K, k_inv=m.k_inv, inverse=m.inverse)

    def adl_quantile(self, account: int, symbol: str, pside: int = BOTH) -> int:
        """ADL indicator 0..4 of a position among the same side of its market (4 = first).

        Like Binance's estimate ("values update every 30s"), the scores it is ranked among are
        those of that side as of the first query in the current ADL_WINDOW_NS of venue time;
        its own score is current. So a query costs O(the account's positions + log n), after
        one O(n log n) ranking per market side and window, however many positions ask."""
        m = self.state.markets[symbol]
        p = m.positions.get(position_key(account, pside))
        if p is None or m.mark is None:
            return 0
        long, window = p.lots > 0, self.state.ts // ADL_WINDOW_NS
        ranked = self._adl_ranked.get((symbol, long))
        if ranked is None or ranked[0] != window or not ranked[1]:
            scores = sorted(self._adl_score(m, *position_of(k)) for k, q in m.positions.items()
                            if (q.lots > 0) == long and position_of(k)[0] != IF_ACCOUNT)
            ranked = self._adl_ranked[(symbol, long)] = (window, scores)
        return adl.quantile(self._adl_score(m, account, pside), ranked[1])
