"""Liquidation: the sweep, forced orders, the insurance fund's takeover, ADL and the fund's offload.

Positions are indexed by the price at which they become liquidatable (risk.liqindex: each
isolated position on its own, an account's cross legs in a market together), so a mark tick
costs O(log n + liquidated). `cascade` re-keys the accounts a command touched and sweeps every
marked market, again while liquidations touch further accounts (a forced order can fill a stale
quote and push its maker under maintenance margin). A liquidation cancels the account's orders,
places a forced IOC at the bankruptcy price (first down to a lower bracket, or a fraction of
the position, where the profile says so), lets the insurance fund take what the book could not,
or deleverages the opposite side (ADL) when the fund cannot; the fund later offloads what it
holds into the book (`_offload`). The liquidation and bankruptcy prices and the ADL ranking
asked of the exchange are answered here too.

The stage holds the shared state, the settlement it trades through and the standing orders it
cancels (engine/state.py, engine/settlement.py, engine/standing.py).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from perpsim.engine import multi_assets as MA
from perpsim.engine.events import AutoDeleveraged
from perpsim.engine.events import Liquidation as LiquidationEvent
from perpsim.engine.market import _RISE_SIDE, BOTH, IF_ACCOUNT, _Market, position_key, position_of
from perpsim.engine.records import new_record
from perpsim.engine.settlement import Settlement
from perpsim.engine.standing import StandingOrders
from perpsim.engine.state import State
from perpsim.model.enums import OrderKind, Side, StpMode, TimeInForce
from perpsim.model.reasons import RejectReason as R
from perpsim.risk import margin as M
from perpsim.risk.ledger import INSURANCE
from perpsim.risk.liqprice import LiquidationModel, Trigger
from perpsim.risk.liqrange import rise_tick
from perpsim.risk.positions import Position
from perpsim.risk.preview import preview_position
from perpsim.risk.units import RATE_SCALE, apply_rate_up
from perpsim.risk.venue_rules import AdlRanking, StepKind, adl_score

#: How long an ADL quantile's ranking stands (ns of venue time): Binance's "update every 30s".
ADL_WINDOW_NS = 30 * 10**9
_SIDE_BUY, _SIDE_SELL = Side.BUY, Side.SELL
_LIMIT, _IOC, _NO_STP = OrderKind.LIMIT, TimeInForce.IOC, StpMode.NONE
_BYBIT, _AT_OR_BELOW = LiquidationModel.BYBIT, Trigger.AT_OR_BELOW
_IN_LIQUIDATION = R.USER_IN_LIQUIDATION
_FRACTION_STEPS = StepKind.FRACTION
_ADL_BINANCE, _ADL_UNPUBLISHED, _ADL_RANDOM = (AdlRanking.BINANCE_LEVERAGE_PNL, AdlRanking.UNPUBLISHED,
                                               AdlRanking.RANDOM_START)
# dYdX's pseudo-random start: position keys in order from a start drawn from venue time, modulo
# this prime (keys are far below it)
_ADL_CYCLE = 2**61 - 1
_ADL_LAST = Fraction(-(10**30))  # below every score: an account under water ranks last


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


class Liquidation:
    """The liquidation stage: the liquidation index kept per market, the sweep and what a
    liquidation does, the ADL queues and rankings."""

    def __init__(self, state: State, settlement: Settlement, standing: StandingOrders) -> None:
        self.state = state
        self.settlement = settlement
        self.standing = standing
        # a mark (or the liquidation trigger price) moved: every market is swept at the next cascade
        self.sweep_due = False
        self._adl_queue: dict[tuple[str, bool], list] = {}
        # (symbol, long) -> (window, ascending ADL scores): what adl_quantile ranks among
        self._adl_ranked: dict[tuple[str, bool], tuple[int, list[Fraction]]] = {}

    def cascade(self) -> None:
        """Re-key every account whose positions or balances changed, then sweep; repeat while
        liquidations touch further accounts (a liquidation order can fill a stale quote and
        push its maker under maintenance margin: the cascade). Costs O(touched positions); nothing
        when no account was touched and no mark moved since the last sweep."""
        if not self.state._touched and not self.sweep_due:
            return
        self.sweep_due = False
        while True:
            if self.state._touched:
                touched, self.state._touched = self.state._touched, set()
                for account in sorted(touched):
                    self._rekey_account(account)
            liquidated = False
            for m in self.state.markets.values():
                if m.mark is not None:
                    liquidated |= self._sweep(m)
            if not liquidated and not self.state._touched:
                return

    def mark_moved(self) -> None:
        """A mark moved: the ADL queues' rankings are stale, and every market is swept at the
        next cascade."""
        if self._adl_queue:
            self._adl_queue.clear()
        self.sweep_due = True

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
            if len(legs) > 1 and not m.inverse and (solved is None or solved[0] > 0) \
                    and self.state.profile.liquidation_model is not _BYBIT:
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
        bybit = self.state.profile.liquidation_model is _BYBIT
        return m.table.liq_tick([p.lots for p in legs], [p.cost for p in legs], self._liq_base(m, account, pside),
                                m.K, bybit)

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
            if not m.inverse:  # the margin kernel's exact integer check
                bybit = self.state.profile.liquidation_model is _BYBIT
                return m.table.liquidatable(balance, (p.lots,), (p.cost,), m.mark, m.K, bybit)
            return balance * RATE_SCALE <= self.state._mm_scaled(m, p)
        if account in self.state.multi_assets:
            return MA.liquidatable(self.state, account)
        mm = upnl = 0  # one pass over the cross legs for both sides of the comparison
        for mk, p in self.state._cross(account, m.asset):
            mm += self.state._mm_scaled(mk, p)
            upnl += mk.upnl(p)
        return (self.state.wallet(account, m.asset) + upnl) * RATE_SCALE <= mm

    def _sweep(self, m: _Market) -> bool:
        """Liquidate what the index says may be under water and really is; True if any."""
        trigger = self.state.profile.liquidation_trigger  # "mark", "index" (the oracle: dYdX) or "last"
        if trigger == "mark":
            price = m.mark
        elif trigger == "index":
            price = m.index.value(self.state.ts) or m.mark
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
            return self.state._iso_margin(m, account, pside), 0
        if account in self.state.multi_assets:
            return MA.wallets(self.state, account), MA.others(self.state, account, m.symbol)[0]
        others = self.state.upnl(account, m.asset, skip=m.symbol) if len(self.state._markets_of[account]) > 1 else 0
        return self.state.wallet(account, m.asset), others

    def _liquidate(self, m: _Market, account: int, pside: int) -> None:
        isolated = account in m.isolated
        if isolated:
            self.state._liquidating.add((m.symbol, account, pside))
        # 1. cancel open and conditional orders: every market for cross, this one for isolated
        for other in (m,) if isolated else self.state.markets.values():
            self.standing._end_lists_of(other, account, "liquidation", _IN_LIQUIDATION)
            if other.book.open_orders(account):
                other.book.cancel_all(account, self.state.ts)
                self.settlement._book_events(other)
            if account in other.conditionals_of:
                for cid in sorted(other.conditionals_of[account]):
                    self.standing._drop_conditional(other, cid, "CANCELED", _IN_LIQUIDATION)
        legs = [(pside, m.positions[position_key(account, pside)])] if isolated else m.leg_list(account)
        wallet, other_upnl = self._collateral(m, account, pside)
        bp = m.bp_tick([p for _, p in legs], wallet, other_upnl)
        lo, hi = m.price_limits
        bp_tick = min(max(bp if bp is not None else m.mark, lo), hi)
        rule = self.state.profile.liquidation
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
                    self.state._events.append(LiquidationEvent(m.symbol, account, side, cut, bp_tick, filled, 0, 0))
                    continue
                lots = self._lots(m, account, leg_side)
            # 3. the forced order for the rest: LIMIT IOC at the bankruptcy price, no trading fee
            self._force(m, account, leg_side, side, abs(lots), bp_tick)
            # 4. the rest: the insurance fund takes it over at the bankruptcy price, or ADL if it cannot
            rest = self._lots(m, account, leg_side)
            filled = abs(lots) - abs(rest)
            taken = deleveraged = 0
            if rest and self.state.ledger.insurance(m.asset) > 0:
                self.settlement._pair(m, IF_ACCOUNT, BOTH, account, leg_side, rest, bp_tick)
                taken = abs(rest)
            elif rest:
                deleveraged = self._adl(m, account, leg_side, rest, bp_tick)
                rest = self._lots(m, account, leg_side)
                if rest:  # more than the opposite side can give up at this price: the fund holds it
                    self.settlement._pair(m, IF_ACCOUNT, BOTH, account, leg_side, rest, bp_tick)
                    taken = abs(rest)
            notice = (m.symbol, account, side, abs(lots), bp_tick, filled, taken, deleveraged)
            self.state._events.append(new_record(LiquidationEvent, notice))
            # 5. the liquidation fee on the liquidated amount, out of the collateral that is left
            holder, remaining = self._liquidation_fee(m, account, pside, abs(lots), bp_tick)
        # a negative remainder (after the last leg's fee), left only by rounding to the tick, is
        # covered by the fund
        if remaining < 0:
            self.state._move(m.asset, INSURANCE, holder, -remaining, "insurance_cover")
        if account in self.state.multi_assets:  # what it still owes is repaid from its collateral
            MA.auto_exchange(self.state, account)
        if isolated:
            self.state._liquidating.discard((m.symbol, account, pside))
            if position_key(account, pside) not in m.positions:  # what is left of its margin goes home
                self.state._move(m.asset, holder, account, self.state._iso_margin(m, account, pside),
                                 "isolated_margin")
        # re-keyed now for the rest of this sweep; a later change to the account touches it again
        self._rekey_account(account)
        self.state._touched.discard(account)

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
        """Binance's liquidation (clearance) fee on `qty` liquidated lots at `price`, rounded up,
        paid to the fund out of the collateral that is left, never more than that. Returns
        (holder, collateral left after the fee) as `_remaining` does."""
        holder, remaining = self._remaining(m, account, pside)
        fee = apply_rate_up(m.value(qty, price), m.liquidation_fee) if qty else 0
        if remaining > 0 and fee:
            fee = min(fee, remaining)
            self.state._move(m.asset, holder, INSURANCE, fee, "liquidation_fee")
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
            self.standing._end_lists_of(m, cp_account, "auto_deleverage", 0, True)  # positional: the compiled call
            if m.book.open_orders(cp_account):
                m.book.cancel_all(cp_account, self.state.ts)
                self.settlement._book_events(m)
            self.settlement._pair(m, cp_account, cp_side, account, pside, signed, price)
            self.state._events.append(AutoDeleveraged(m.symbol, account, cp_account, q, price))
            done += q
        return done

    def _adl_capacity(self, m: _Market, account: int, pside: int, p: Position, lots: int, price: int) -> int:
        """How many of `lots` an ADL counterparty gives up at `price`: all of them, unless
        closing them there realizes a loss beyond its collateral (isolated margin, or cross
        wallet), which a mark that gapped past the bankruptcy price can do to a position opened
        near the mark; then the most that leaves the collateral at or above zero."""
        if account in m.isolated:
            collateral = self.state._iso_margin(m, account, pside)
        elif account in self.state.multi_assets:  # its loss is drawn on its whole pool
            collateral = MA.wallets(self.state, account)
        else:
            collateral = self.state.wallet(account, m.asset)
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
        bp = m.bp_tick([p], self.state.ledger.insurance(m.asset))
        protect = m.protection(side)
        limit = protect if bp is None else (max(protect, bp) if side == _SIDE_SELL else min(protect, bp))
        self._force(m, IF_ACCOUNT, BOTH, side, abs(p.lots), limit)
        rest = m.positions.get(position_key(IF_ACCOUNT, BOTH))
        if rest is not None and bp is not None and (m.mark <= bp if rest.lots > 0 else m.mark >= bp):
            self._adl(m, IF_ACCOUNT, BOTH, rest.lots, bp)

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

    def bankruptcy_price(self, account: int, symbol: str, pside: int = BOTH):
        """Exact bankruptcy price (LiqPrice) of a position (isolated) or of the account's legs in
        `symbol` (cross), or None."""
        m = self.state.markets[symbol]
        legs = [p for ps, p in m.legs(account) if account not in m.isolated or ps == pside]
        if not legs or m.mark is None:
            return None
        wallet, other_upnl = self._collateral(m, account, pside)
        return m.bp(legs, wallet, other_upnl)

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
                profile=self.state.profile.liquidation_model)
        except ValueError:
            return None, None
        return pv.partial_liquidation_price, pv.full_liquidation_price

    def _adl_score(self, m: _Market, account: int, pside: int) -> Fraction:
        """A position's ADL rank score (higher: deleveraged first) by the profile's ranking, exact.
        Binance's (and OKX's, which publishes none) is margin.leverage_pnl; Bybit's and
        Hyperliquid's are risk.venue_rules.adl_score on the position's (isolated) or account's
        (cross) margin; dYdX's has no ranking: keys in order from a pseudo-random start drawn from
        the venue time, so the same commands give the same queue."""
        p = m.positions[position_key(account, pside)]
        scale = 10**m.spec.settle_decimals
        ranking = _ADL_BINANCE if self.state.profile.adl is None else self.state.profile.adl.ranking
        if ranking is _ADL_RANDOM:
            start = self.state.ts * 2654435761 % _ADL_CYCLE
            return Fraction(-((position_key(account, pside) - start) % _ADL_CYCLE))
        if account in m.isolated:
            pnl, wallet, mm = m.upnl(p), self.state._iso_margin(m, account, pside), self.state._mm(m, p)
        else:
            pnl, wallet, mm = self.state.upnl(account, m.asset), self.state.wallet(account, m.asset), \
                self.state.maintenance(account, m.asset)
            if account in self.state.multi_assets:  # the pool's margin
                (pnl, mm), wallet = MA.others(self.state, account, None), MA.wallets(self.state, account)
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
        return M.adl_bucket(self._adl_score(m, account, pside), ranked[1])
