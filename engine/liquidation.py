"""Liquidation: the sweep, forced orders, the insurance fund's takeover, ADL and the fund's offload.

Positions are indexed by the price at which they become liquidatable (risk.liqindex: each
isolated position on its own, an account's cross legs in a market together), so a mark tick
costs O(log n + liquidated). `cascade` re-keys the accounts a command touched and sweeps every
marked market, again while liquidations touch further accounts (a forced order can fill a stale
quote and push its maker under maintenance margin). A liquidation cancels the account's orders,
places a forced IOC at the bankruptcy price (first down to a lower bracket, or a fraction of
the position, where the profile says so; OKX's step rests for the minute before the position's
re-check, and first closes a cross hedged pair against itself, engine.okx_orders; dYdX sends
one order per position and block, at its fillable price, most under water first, within the
fund's block limit: risk.dydx_*), lets the insurance fund take what the book could not (OKX: a
full liquidation whole, no order; Hyperliquid: a market order 10 % through the mark, what it leaves
kept and sent again at the next mark publication, engine.hyperliquid_retry; under 2/3 of MM its
vault takes the positions with their margin, engine.backstop_vault),
or deleverages the opposite side (ADL) when the fund cannot; the fund later offloads what it
holds into the book (`_offload`). The liquidation and bankruptcy prices, the liquidation band
and the ADL ranking asked of the exchange are answered here too.

Risk decides, this stage executes: what goes, at what price, the partial cut, who takes the
rest, the fee and the fund's offload come from risk.liquidation_plan (compiled: C calls, ints),
the ADL scores, queue and a counterparty's capacity from risk.adl, the band from risk.liqband.
The stage reads the state those decisions are asked on and moves positions and money.

The stage holds the shared state, the settlement it trades through and the standing orders it
cancels (engine/state.py, engine/settlement.py, engine/standing.py).
"""

from __future__ import annotations

from fractions import Fraction

from perpsim.engine import backstop_vault as BV
from perpsim.engine import dydx_blocks as DB
from perpsim.engine import dydx_fills as DF
from perpsim.engine import dydx_sweep as DS
from perpsim.engine import hyperliquid_retry as HR
from perpsim.engine import multi_assets as MA
from perpsim.engine import okx_orders as OX
from perpsim.engine.events import AutoDeleveraged, HedgedPairClosed
from perpsim.engine.events import Liquidation as LiquidationEvent
from perpsim.engine.market import _RISE_SIDE, BOTH, IF_ACCOUNT, LONG, SHORT, _Market, position_key, position_of
from perpsim.engine.records import new_record
from perpsim.engine.settlement import Settlement
from perpsim.engine.standing import StandingOrders
from perpsim.engine.state import State
from perpsim.model.causes import ConditionalStatus, LedgerCause, ListCause
from perpsim.model.enums import OrderKind, Side, StpMode, TimeInForce
from perpsim.model.reasons import RejectReason as R
from perpsim.risk import adl
from perpsim.risk.dydx_insurance import insurance_bound
from perpsim.risk.hyperliquid_backstop import backstop_ratio
from perpsim.risk.ledger import INSURANCE
from perpsim.risk.liqband import Band, liquidation_band
from perpsim.risk.liqprice import LiquidationModel
from perpsim.risk.liquidation_plan import (
    ADL,
    FUND,
    block_cut,
    block_notional,
    block_of,
    forced_price,
    fund_deleverages,
    liquidated_legs,
    liquidation_fee,
    market_terms,
    offload,
    paced_cut,
    partial_not_before,
    shortfall,
    takeover,
)
from perpsim.risk.okx_liquidation import frozen_key, nets_hedged_pairs, netted_lots, netting_price
from perpsim.risk.okx_takeover import takes_over_in_full
from perpsim.risk.positions import Position
from perpsim.risk.units import RATE_SCALE

# Members bound once as module names (reading one off its Enum class costs about ten times more).
_LEDGER_INSURANCE_COVER = LedgerCause.INSURANCE_COVER
_LEDGER_ISOLATED_MARGIN = LedgerCause.ISOLATED_MARGIN
_LEDGER_LIQUIDATION_FEE = LedgerCause.LIQUIDATION_FEE
_COND_CANCELED = ConditionalStatus.CANCELED
_WHY_AUTO_DELEVERAGE = ListCause.AUTO_DELEVERAGE
_WHY_LIQUIDATION = ListCause.LIQUIDATION

#: How long an ADL quantile's ranking stands (ns of venue time): Binance's "update every 30s".
ADL_WINDOW_NS = 30 * 10**9
_SIDE_BUY, _SIDE_SELL = Side.BUY, Side.SELL
_LIMIT, _IOC, _NO_STP = OrderKind.LIMIT, TimeInForce.IOC, StpMode.NONE
_BYBIT = LiquidationModel.BYBIT
_IN_LIQUIDATION = R.USER_IN_LIQUIDATION


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
        # per market, what risk decides its liquidations on
        rule = state.profile.liquidation
        self._terms = {s: market_terms(K=m.K, k_inv=m.k_inv, inverse=m.inverse, brackets=m.brackets,
                                       money_scale=10**m.spec.settle_decimals, price_limits=m.price_limits,
                                       fee_rate=m.liquidation_fee, steps=None if rule is None else rule.steps)
                       for s, m in state.markets.items()}
        # per account, the venue time before which its liquidations go in full: a paced profile's
        # partial step opens the window (risk.liquidation_plan.paced_cut); expired ones are dropped.
        # OKX keys the wait by position instead (risk.okx_liquidation.frozen_key)
        self._paced: dict[int, int] = {}
        # per account, a per-block profile's current block (dYdX): (block, money units liquidated
        # in it, the symbols liquidated in it, money units the fund paid for it in it[, its
        # deleveraging attempts in it, once it has one: engine.dydx_blocks.attempted]); older
        # blocks' records are dropped
        self._blocks: dict[int, tuple[int, int, tuple[str, ...], int]] = {}
        # the venue time at which an account the sweep passed over (waiting: OKX's re-check, the
        # next block) is due again (0: none): the cascade then sweeps even without a mark move
        self._due = 0
        # OKX: a full liquidation is a takeover at the bankruptcy price, no order (risk.okx_takeover)
        self._takes_over = takes_over_in_full(rule)
        # Hyperliquid: (n, d) of MM below which the vault takes positions and margin (risk.hyperliquid_backstop)
        self._backstop = backstop_ratio(rule)
        # Hyperliquid: (symbol, account) -> when the market order that left a rest goes again: the
        # next mark publication (risk.hyperliquid_liquidation.retry_at; `_due`); passed over until then
        self._retry: dict[tuple[str, int], int] = {}

    def cascade(self) -> None:
        """Re-key every account whose positions or balances changed, then sweep; repeat while
        liquidations touch further accounts (a liquidation order can fill a stale quote and
        push its maker under maintenance margin: the cascade). Costs O(touched positions); nothing
        when no account was touched and no mark moved since the last sweep."""
        if not self.state._touched and not self.sweep_due:
            if not self._due or self.state.ts < self._due:
                return
        if self._due and self.state.ts >= self._due:
            self._due = 0
            if self._blocks:
                self._drop_old_blocks()
        self.sweep_due = False
        if self._retry:  # Hyperliquid: the attempts due by now may go again (engine.hyperliquid_retry)
            HR.expire(self)
        if self.state._forced:  # OKX: what is left of the step orders whose minute ended is canceled
            OX.expire(self)
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

    def _sweep(self, m: _Market) -> bool:
        """Liquidate what the index says may be under water and really is; True if any."""
        if self._terms[m.symbol].block_ns:  # dYdX: one pass over every market's accounts (engine.dydx_sweep)
            return DS.sweep(self, m)
        trigger = self.state.profile.liquidation_trigger  # "mark", "index" (the oracle: dYdX) or "last"
        if trigger == "mark":
            price = m.mark
        elif trigger == "index":
            price = m.index.value(self.state.ts) or m.mark
        else:
            price = m.last or m.mark
        done = False
        waiting = self._paced or self._blocks
        keys = m.liq.triggered(price)
        for key in keys:
            account, pside = position_of(key)
            if self._retry and (m.symbol, account) in self._retry:
                continue  # Hyperliquid: its next attempt is the next mark publication (engine.hyperliquid_retry)
            if m.holds(account) and self._liquidatable(m, account, pside):
                if waiting and self._waits(m, account, pside):
                    continue
                self._liquidate(m, account, pside)
                done = True
        return done

    def _waits(self, m: _Market, account: int, pside: int) -> bool:
        """Whether the account's liquidation in m waits, however far under water: the position's
        (`pside`; cross: the account's legs in m) window after an OKX partial step (re-checked
        when it ends; risk.okx_liquidation.frozen_key), or (dYdX) once m was
        liquidated in the current block, or its block limit is spent (the next block). Marks
        when the sweep is due again."""
        t = self._terms[m.symbol]
        ts = self.state.ts
        until = 0
        if t.waits:
            until = self._paced.get(frozen_key(account, m.symbol, pside, account in m.isolated), 0)
        elif t.block_ns:
            rec = self._blocks.get(account)
            block = block_of(t, ts)
            if rec is not None and rec[0] == block and (m.symbol in rec[2] or rec[1] >= t.block_cap
                                                        or DB.insurance_left(self, t, account) == 0):
                until = (block + 1) * t.block_ns
        if until <= ts:
            return False
        if not self._due or until < self._due:
            self._due = until
        return True

    def _drop_old_blocks(self) -> None:
        """Forget the per-block records of blocks that have ended."""
        t = self._terms[next(iter(self._terms))]
        if not t.block_ns:
            return
        block = block_of(t, self.state.ts)
        for account in [a for a, rec in self._blocks.items() if rec[0] != block]:
            del self._blocks[account]

    def _block_left(self, t, symbol: str, account: int) -> int:
        """Open (or continue) the account's record for the current block, note `symbol` as
        liquidated in it, and return what it may still have liquidated (money units)."""
        block = block_of(t, self.state.ts)
        rec = self._blocks.get(account)
        spent, symbols, lost = (0, (), 0) if rec is None or rec[0] != block else (rec[1], rec[2], rec[3])
        if symbol not in symbols:
            symbols = tuple(sorted((*symbols, symbol)))
        self._blocks[account] = (block, spent, symbols, lost, *(() if rec is None or rec[0] != block else rec[4:]))
        return t.block_cap - spent

    def _collateral(self, m: _Market, account: int, pside: int) -> tuple[int, int]:
        """(balance, other uPnL) the bankruptcy price is solved against."""
        if account in m.isolated:
            return self.state._iso_margin(m, account, pside), 0
        if account in self.state.multi_assets:
            return MA.wallets(self.state, account), MA.others(self.state, account, m.symbol)[0]
        others = self.state.upnl(account, m.asset, skip=m.symbol) if len(self.state._markets_of[account]) > 1 else 0
        return self.state.wallet(account, m.asset), others

    def _liquidate(self, m: _Market, account: int, pside: int) -> None:
        """Execute risk's liquidation of the account (risk.liquidation_plan): its orders canceled,
        then per leg the partial order and the forced order at the planned price, the takeover of
        what they left (Hyperliquid above its backstop share: a market order, none, the rest stays
        and the next mark publication's sweep retries; engine.backstop_vault,
        engine.hyperliquid_retry), the fee; then what the fund covers."""
        state = self.state
        isolated = account in m.isolated
        if isolated:
            state._liquidating.add((m.symbol, account, pside))
        # 1. cancel open and conditional orders: every market for cross, this one for isolated
        for other in (m,) if isolated else state.markets.values():
            self.standing._end_lists_of(other, account, _WHY_LIQUIDATION, _IN_LIQUIDATION)
            if other.book.open_orders(account):
                other.book.cancel_all(account, state.ts)
                self.settlement._book_events(other)
            if account in other.conditionals_of:
                for cid in sorted(other.conditionals_of[account]):
                    self.standing._drop_conditional(other, cid, _COND_CANCELED, _IN_LIQUIDATION)
        t = self._terms[m.symbol]
        positions = m.positions
        legs = liquidated_legs(isolated, pside, () if isolated else tuple([ps for ps, _ in m.leg_list(account)]))
        holder, remaining = account, 0
        if len(legs) == 2 and not isolated and nets_hedged_pairs(state.profile.liquidation):
            # OKX: the pair's overlap closes against itself first; the rest goes on only while
            # the account is still under water
            legs = self._net_pair(m, account, legs)
            if legs and not self._liquidatable(m, account, pside):
                legs = ()
        retry = False
        if legs and self._backstop is not None:
            verdict = BV.standing(self, m, account, pside)
            if verdict == BV.VAULT:
                # Hyperliquid: under 2/3 of MM, the vault takes the positions and their margin, no order
                # (above it the book's fills, at the bankruptcy price or better, never bring it under)
                BV.take(self, m, account, pside)
                legs = ()
            else:  # at or above it: what the market order leaves stays with the account, retried
                retry = verdict == BV.BOOK
        paced = frozen_key(account, m.symbol, pside, isolated) if t.waits else account  # OKX: per position
        not_before = 0
        if self._paced:
            not_before = self._paced.get(paced, 0)
            if not_before and state.ts >= not_before:
                del self._paced[paced]
        price = m.mark
        if legs:
            wallet, other_upnl = self._collateral(m, account, pside)
            price = forced_price(t, m.bp_tick([positions[position_key(account, ps)] for ps in legs], wallet,
                                              other_upnl), m.mark)
        if t.block_ns:  # dYdX: one order per leg in this block, within the account's block limit
            holder, remaining = self._remaining(m, account, pside)
            left = self._block_left(t, m.symbol, account)
            for leg_side in legs:
                holder, remaining, left = self._block_order(m, account, pside, leg_side, price, left)
            legs = ()
        for leg_side in legs:
            # the leg as it stands when its turn comes (an earlier leg's ADL may have reduced it)
            lots = self._lots(m, account, leg_side)
            side = _SIDE_SELL if lots > 0 else _SIDE_BUY
            # 2. partial: one IOC of risk's cut first (none inside the account's pacing window);
            #    its fee is charged, and if the account is then margin compliant the rest stays
            #    open (spec 4.2 steps 3-4, §4.6-4.7)
            cut = paced_cut(t, lots, m.mark, state.ts, not_before)
            # Hyperliquid: a market order, 10 % through the mark (risk.hyperliquid_liquidation)
            limit = HR.limit(self, m, lots) if retry else price
            if cut:
                if t.waits:  # OKX: the step's order rests for its minute, slightly better than the market
                    OX.rest_step(self, m, account, leg_side, side, cut, partial_not_before(t, state.ts))
                else:
                    self._force(m, account, leg_side, side, cut, limit)
                if t.pace_ns:
                    not_before = self._paced[paced] = partial_not_before(t, state.ts)
                filled = abs(lots) - abs(self._lots(m, account, leg_side))
                holder, remaining = self._liquidation_fee(m, account, pside, filled, price)
                # OKX: whether compliant or not, the account waits for the re-check (_waits);
                # Hyperliquid: the step is the publication's only order, the rest goes at the next
                if position_key(account, leg_side) not in positions or t.waits or retry \
                        or not self._liquidatable(m, account, pside):
                    if retry and position_key(account, leg_side) in positions:
                        HR.later(self, m, account)
                    state._events.append(LiquidationEvent(m.symbol, account, side, cut, price, filled, 0, 0))
                    continue
                lots = self._lots(m, account, leg_side)
            # 3. the forced order for the rest: LIMIT IOC at the planned price, no trading fee;
            #    OKX sends none: the whole rest is taken over at that price (risk.okx_takeover)
            if not self._takes_over:
                self._force(m, account, leg_side, side, abs(lots), limit)
            # 4. the rest: the insurance fund takes it over at that price, or ADL if it cannot
            rest = self._lots(m, account, leg_side)
            filled = abs(lots) - abs(rest)
            taken = deleveraged = 0
            who = takeover(rest, state.ledger.insurance(m.asset)) if not retry else 0
            if retry and rest:  # Hyperliquid: no takeover; the next mark publication sends the order again
                HR.later(self, m, account)
            if who == FUND:
                self.settlement._pair(m, IF_ACCOUNT, BOTH, account, leg_side, rest, price)
                taken = abs(rest)
            elif who == ADL:
                deleveraged = self._adl(m, account, leg_side, rest, price)
                rest = self._lots(m, account, leg_side)
                if rest:  # more than the opposite side can give up at this price: the fund holds it
                    self.settlement._pair(m, IF_ACCOUNT, BOTH, account, leg_side, rest, price)
                    taken = abs(rest)
            notice = (m.symbol, account, side, abs(lots), price, filled, taken, deleveraged)
            state._events.append(new_record(LiquidationEvent, notice))
            # 5. the liquidation fee on the liquidated amount, out of the collateral that is left
            holder, remaining = self._liquidation_fee(m, account, pside, filled if retry else abs(lots), price)
        # what the last leg's fee left below zero (rounding to the tick; Hyperliquid's market order
        # filling past the bankruptcy price) the fund covers
        cover = shortfall(remaining)
        if cover and retry and (m.symbol, account) in self._retry:
            cover = 0  # Hyperliquid: it keeps the rest and its deficit until the next attempt's verdict
        if cover:
            state._move(m.asset, INSURANCE, holder, cover, _LEDGER_INSURANCE_COVER)
            if t.block_ns:  # dYdX: what the fund paid counts against the account's block limit
                rec = self._blocks[account]
                self._blocks[account] = (rec[0], rec[1], rec[2], rec[3] + cover, *rec[4:])
        if account in state.multi_assets:  # what it still owes is repaid from its collateral
            MA.auto_exchange(state, account)
        if isolated:
            state._liquidating.discard((m.symbol, account, pside))
            if position_key(account, pside) not in positions:  # what is left of its margin goes home
                state._move(m.asset, holder, account, state._iso_margin(m, account, pside), _LEDGER_ISOLATED_MARGIN)
        # re-keyed now for the rest of this sweep; a later change to the account touches it again
        self._rekey_account(account)
        state._touched.discard(account)

    def _block_order(self, m: _Market, account: int, pside: int, leg_side: int, price: int, left: int) -> tuple:
        """dYdX: the leg's one liquidation order of this block (risk.liquidation_plan.block_cut:
        its lots within `left`, the money units the account may still have liquidated), a LIMIT
        IOC at the fillable price (engine.dydx_blocks; `price`, the bankruptcy price, without one),
        with a fillable price sent for the fills before the first one the fund could not pay or its
        block limit forbids (engine.dydx_fills), without one no larger than that limit allows
        (risk.dydx_insurance); none: the account waits for the next block. What it does not fill
        stays with the account for the next block, unless it filled nothing with the account's TNC below zero: then dYdX
        deleverages the whole position at the bankruptcy price against opposite positions
        (engine.dydx_blocks.deleverage; a profile without that rule: the block's size to the fund,
        or ADL, as a full liquidation's rest); what that leaves stays with the account, its
        deficit too (the fund pays none of an open position's loss). With a fillable price each
        fill pays or receives its insurance fund delta against its own bankruptcy quote
        (engine.dydx_fills; collateral left: 0 when below), else the market's fee on what was
        liquidated; notional counted on what was
        liquidated (deleveraging: neither). Returns (holder, collateral left, `left` after it)."""
        t = self._terms[m.symbol]
        lots = self._lots(m, account, leg_side)
        size = block_cut(t, lots, m.mark, left) if lots else 0
        if not size:
            holder, remaining = self._remaining(m, account, pside)
            return holder, remaining, left
        side = _SIDE_SELL if lots > 0 else _SIDE_BUY
        limit, tnc, tmmr = DB.fillable_limit(self, m, account, pside, leg_side, price)
        cap = DB.insurance_left(self, t, account)
        run = DF.opening(self, m, account, pside, leg_side) if tmmr else None
        if run is not None:  # dYdX: matched fill by fill, up to where matching stops (engine.dydx_fills)
            sent = DF.sendable(self, m, run, side, size, limit, cap)
        else:
            sent = size if cap is None else insurance_bound(size, oracle=m.mark, limit=limit, sell=lots > 0, K=m.K,
                                                             tnc=tnc, left=cap)
        since = len(self.state._events)
        self._force(m, account, leg_side, side, sent, limit)
        filled = abs(lots) - abs(self._lots(m, account, leg_side))
        unfilled = size if not filled and tnc < 0 else 0
        if not sent and not unfilled:  # the fund's block limit is spent: the next block
            holder, remaining = self._remaining(m, account, pside)
            return holder, remaining, left
        taken = deleveraged = 0
        whole = unfilled > 0 and self.state.profile.liquidation.deleveraging is not None
        if whole and not DB.attempted(self, t, account):
            unfilled = 0  # dYdX: the block's deleveraging attempts are spent: a later block's
        elif whole:  # dYdX: the entire position, against the opposite side only
            unfilled = abs(lots)
            deleveraged = DB.deleverage(self, m, account, leg_side, price)
        elif unfilled:
            signed = unfilled if lots > 0 else -unfilled
            who = takeover(signed, self.state.ledger.insurance(m.asset))
            if who == FUND:
                self.settlement._pair(m, IF_ACCOUNT, BOTH, account, leg_side, signed, price)
                taken = unfilled
            elif who == ADL:
                deleveraged = self._adl(m, account, leg_side, signed, price)
                if unfilled > deleveraged:  # more than the opposite side can give up: the fund holds it
                    rest = unfilled - deleveraged
                    self.settlement._pair(m, IF_ACCOUNT, BOTH, account, leg_side, rest if lots > 0 else -rest, price)
                    taken = rest
        done = filled if whole else filled + taken + deleveraged
        notice = (m.symbol, account, side, unfilled or sent, price, filled, taken, deleveraged)
        self.state._events.append(new_record(LiquidationEvent, notice))
        if run is not None and filled:  # dYdX: each fill's insurance fund delta (engine.dydx_fills)
            holder, remaining = DF.settle(self, m, account, pside, run, since)
        elif run is not None:  # no fee on what deleveraging closed at the bankruptcy price
            holder, remaining = self._remaining(m, account, pside)
        else:
            holder, remaining = self._liquidation_fee(m, account, pside, done, price)
        if whole and remaining < 0 and (run is not None or self._lots(m, account, leg_side)):
            # the account keeps its deficit with the rest, deleveraged again next block; dYdX's
            # offsets at their bankruptcy quotes leave it none but its other markets' share
            remaining = 0
        spent = block_notional(t, done, m.mark)
        rec = self._blocks[account]
        self._blocks[account] = (rec[0], rec[1] + spent, *rec[2:])
        return holder, remaining, left - spent

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

    def _adl(self, m: _Market, account: int, pside: int, lots: int, price: int) -> int:
        """Close `lots` of a bankrupt position against the opposite side at `price`, in risk's
        queue (risk.adl: the profile's ranking), no fee. The queue is ranked once per sweep and
        consumed."""
        queue_key = (m.symbol, lots > 0)
        queue = self._adl_queue.get(queue_key)
        if queue is None:
            # every opposite position ranks, the bankrupt account's own other hedge leg included
            queue = self._adl_queue[queue_key] = adl.queue([
                (self._adl_score(m, *position_of(k)), k) for k, q in m.positions.items()
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

    def _offload(self, m: _Market) -> None:
        """The insurance fund unloads positions it took over into the book, within the band;
        once the mark reaches the fund's own bankruptcy price, the rest is deleveraged there.
        OKX: its order rests at the entrusted price and is relisted each time (engine.okx_orders)."""
        if self._takes_over:
            OX.offload(self, m)
            return
        p = m.positions.get(position_key(IF_ACCOUNT, BOTH))
        if p is None:
            return
        # never trade at a loss beyond the fund's balance: risk limits the order at the fund's
        # own bankruptcy price (rounded in the fund's favour), inside the price band
        bp = m.bp_tick([p], self.state.ledger.insurance(m.asset))
        order = offload(p.lots, m.protection(_SIDE_SELL if p.lots > 0 else _SIDE_BUY), bp)
        self._force(m, IF_ACCOUNT, BOTH, order.side, abs(p.lots), order.limit)
        rest = m.positions.get(position_key(IF_ACCOUNT, BOTH))
        if rest is not None and fund_deleverages(rest.lots, m.mark, bp):
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
