"""Liquidation: the sweep, forced orders, the insurance fund's takeover, ADL and the fund's offload.

Positions are indexed by the price at which they become liquidatable (risk.liqindex: each
isolated position on its own, an account's cross legs in a market together; kept by
engine/liquidation_index.py), so a mark tick costs O(log n + liquidated). `cascade` re-keys the
accounts a command touched and sweeps every marked market, again while liquidations touch
further accounts (a forced order can fill a stale quote and push its maker under maintenance
margin). A liquidation cancels the account's orders, places a forced IOC at the bankruptcy price
(first down to a lower bracket, or a fraction of the position, where the profile says so; OKX's
step rests for the minute before the position's re-check, and first closes a cross hedged pair
against itself, engine.okx_orders; dYdX sends one order per position and block, at its fillable
price, most under water first, within the fund's block limit: risk.dydx_*), lets the insurance
fund take what the book could not (OKX: a full liquidation whole, no order; Hyperliquid: a
market order 10 % through the mark, what it leaves kept and sent again at the next mark
publication, engine.hyperliquid_retry; under 2/3 of MM its vault takes the positions with their
margin, engine.backstop_vault), or deleverages the opposite side (ADL, engine/deleveraging.py)
when the fund cannot; the fund later offloads what it holds into the book (`_offload`).

Risk decides, this stage executes: what goes, at what price, the partial cut, who takes the
rest, the fee and the fund's offload come from risk.liquidation_plan (compiled: C calls, ints).
The stage reads the state those decisions are asked on and moves positions and money.

The stage holds the shared state, the settlement it trades through, the standing orders it
cancels, the forced orders it places (with a position's lots, collateral and fee), the position
risk read-outs (the collateral a bankruptcy price is solved against), the liquidation index's
upkeep and the deleveraging (engine/state.py, settlement.py, standing.py, forced_orders.py,
position_risk.py, liquidation_index.py, deleveraging.py).
"""

from __future__ import annotations

from perpsim.engine import backstop_vault as BV
from perpsim.engine import dydx_blocks as DB
from perpsim.engine import dydx_fills as DF
from perpsim.engine import dydx_sweep as DS
from perpsim.engine import hyperliquid_retry as HR
from perpsim.engine import multi_assets as MA
from perpsim.engine import okx_orders as OX
from perpsim.engine.deleveraging import Deleveraging
from perpsim.engine.events import Liquidation as LiquidationEvent
from perpsim.engine.forced_orders import ForcedOrders
from perpsim.engine.liquidation_index import LiquidationIndex
from perpsim.engine.market import BOTH, IF_ACCOUNT, _Market, position_key, position_of
from perpsim.engine.position_risk import PositionRisk
from perpsim.engine.records import new_record
from perpsim.engine.settlement import Settlement
from perpsim.engine.standing import StandingOrders
from perpsim.engine.state import State
from perpsim.model.causes import ConditionalStatus, LedgerCause, ListCause
from perpsim.model.enums import Side
from perpsim.model.reasons import RejectReason as R
from perpsim.risk.dydx_insurance import insurance_bound
from perpsim.risk.hyperliquid_backstop import backstop_ratio
from perpsim.risk.ledger import INSURANCE
from perpsim.risk.liquidation_plan import (
    ADL,
    FUND,
    block_cut,
    block_notional,
    block_of,
    forced_price,
    fund_deleverages,
    liquidated_legs,
    offload,
    paced_cut,
    partial_not_before,
    shortfall,
    takeover,
)
from perpsim.risk.okx_liquidation import frozen_key, nets_hedged_pairs
from perpsim.risk.okx_takeover import takes_over_in_full

# Members bound once as module names (reading one off its Enum class costs about ten times more).
_LEDGER_INSURANCE_COVER = LedgerCause.INSURANCE_COVER
_LEDGER_ISOLATED_MARGIN = LedgerCause.ISOLATED_MARGIN
_COND_CANCELED = ConditionalStatus.CANCELED
_WHY_LIQUIDATION = ListCause.LIQUIDATION
_SIDE_BUY, _SIDE_SELL = Side.BUY, Side.SELL
_IN_LIQUIDATION = R.USER_IN_LIQUIDATION


class Liquidation:
    """The liquidation stage: the cascade and the sweep, what a liquidation does, the venues'
    pacing and blocks, the fund's offload."""

    def __init__(self, state: State, settlement: Settlement, standing: StandingOrders, forced: ForcedOrders,
                 position_risk: PositionRisk, liq_index: LiquidationIndex, deleveraging: Deleveraging) -> None:
        self.state = state
        self.settlement = settlement
        self.standing = standing
        self.forced = forced
        self.position_risk = position_risk
        self.liq_index = liq_index
        self.deleveraging = deleveraging
        # a mark (or the liquidation trigger price) moved: every market is swept at the next cascade
        self.sweep_due = False
        # per market, what risk decides its liquidations on (built by the forced orders, shared)
        self._terms = forced._terms
        rule = state.profile.liquidation
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
                    self.liq_index._rekey_account(account)
            liquidated = False
            for m in self.state.markets.values():
                if m.mark is not None:
                    liquidated |= self._sweep(m)
            if not liquidated and not self.state._touched:
                return

    def mark_moved(self) -> None:
        """A mark moved: the ADL queues' rankings are stale, and every market is swept at the
        next cascade."""
        queues = self.deleveraging._adl_queue
        if queues:
            queues.clear()
        self.sweep_due = True

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
            if m.holds(account) and self.liq_index._liquidatable(m, account, pside):
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
            legs = self.forced._net_pair(m, account, legs)
            if legs and not self.liq_index._liquidatable(m, account, pside):
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
            wallet, other_upnl = self.position_risk._collateral(m, account, pside)
            price = forced_price(t, m.bp_tick([positions[position_key(account, ps)] for ps in legs], wallet,
                                              other_upnl), m.mark)
        if t.block_ns:  # dYdX: one order per leg in this block, within the account's block limit
            holder, remaining = self.forced._remaining(m, account, pside)
            left = self._block_left(t, m.symbol, account)
            for leg_side in legs:
                holder, remaining, left = self._block_order(m, account, pside, leg_side, price, left)
            legs = ()
        for leg_side in legs:
            # the leg as it stands when its turn comes (an earlier leg's ADL may have reduced it)
            lots = self.forced._lots(m, account, leg_side)
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
                    self.forced._force(m, account, leg_side, side, cut, limit)
                if t.pace_ns:
                    not_before = self._paced[paced] = partial_not_before(t, state.ts)
                filled = abs(lots) - abs(self.forced._lots(m, account, leg_side))
                holder, remaining = self.forced._liquidation_fee(m, account, pside, filled, price)
                # OKX: whether compliant or not, the account waits for the re-check (_waits);
                # Hyperliquid: the step is the publication's only order, the rest goes at the next
                if position_key(account, leg_side) not in positions or t.waits or retry \
                        or not self.liq_index._liquidatable(m, account, pside):
                    if retry and position_key(account, leg_side) in positions:
                        HR.later(self, m, account)
                    state._events.append(LiquidationEvent(m.symbol, account, side, cut, price, filled, 0, 0))
                    continue
                lots = self.forced._lots(m, account, leg_side)
            # 3. the forced order for the rest: LIMIT IOC at the planned price, no trading fee;
            #    OKX sends none: the whole rest is taken over at that price (risk.okx_takeover)
            if not self._takes_over:
                self.forced._force(m, account, leg_side, side, abs(lots), limit)
            # 4. the rest: the insurance fund takes it over at that price, or ADL if it cannot
            rest = self.forced._lots(m, account, leg_side)
            filled = abs(lots) - abs(rest)
            taken = deleveraged = 0
            who = takeover(rest, state.ledger.insurance(m.asset)) if not retry else 0
            if retry and rest:  # Hyperliquid: no takeover; the next mark publication sends the order again
                HR.later(self, m, account)
            if who == FUND:
                self.settlement._pair(m, IF_ACCOUNT, BOTH, account, leg_side, rest, price)
                taken = abs(rest)
            elif who == ADL:
                deleveraged = self.deleveraging._adl(m, account, leg_side, rest, price)
                rest = self.forced._lots(m, account, leg_side)
                if rest:  # more than the opposite side can give up at this price: the fund holds it
                    self.settlement._pair(m, IF_ACCOUNT, BOTH, account, leg_side, rest, price)
                    taken = abs(rest)
            notice = (m.symbol, account, side, abs(lots), price, filled, taken, deleveraged)
            state._events.append(new_record(LiquidationEvent, notice))
            # 5. the liquidation fee on the liquidated amount, out of the collateral that is left
            holder, remaining = self.forced._liquidation_fee(m, account, pside, filled if retry else abs(lots), price)
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
        self.liq_index._rekey_account(account)
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
        lots = self.forced._lots(m, account, leg_side)
        size = block_cut(t, lots, m.mark, left) if lots else 0
        if not size:
            holder, remaining = self.forced._remaining(m, account, pside)
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
        self.forced._force(m, account, leg_side, side, sent, limit)
        filled = abs(lots) - abs(self.forced._lots(m, account, leg_side))
        unfilled = size if not filled and tnc < 0 else 0
        if not sent and not unfilled:  # the fund's block limit is spent: the next block
            holder, remaining = self.forced._remaining(m, account, pside)
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
                deleveraged = self.deleveraging._adl(m, account, leg_side, signed, price)
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
            holder, remaining = self.forced._remaining(m, account, pside)
        else:
            holder, remaining = self.forced._liquidation_fee(m, account, pside, done, price)
        if whole and remaining < 0 and (run is not None or self.forced._lots(m, account, leg_side)):
            # the account keeps its deficit with the rest, deleveraged again next block; dYdX's
            # offsets at their bankruptcy quotes leave it none but its other markets' share
            remaining = 0
        spent = block_notional(t, done, m.mark)
        rec = self._blocks[account]
        self._blocks[account] = (rec[0], rec[1] + spent, *rec[2:])
        return holder, remaining, left - spent

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
        self.forced._force(m, IF_ACCOUNT, BOTH, order.side, abs(p.lots), order.limit)
        rest = m.positions.get(position_key(IF_ACCOUNT, BOTH))
        if rest is not None and fund_deleverages(rest.lots, m.mark, bp):
            self.deleveraging._adl(m, IF_ACCOUNT, BOTH, rest.lots, bp)
