"""dYdX v4's liquidations within a block, as the liquidation stage (engine/liquidation.py) asks them.

The stage's per-block path (a profile whose partial steps are PER_BLOCK) reads the state through
these: the forced order's limit, the fillable price (risk.dydx_fillable), from the account's net
collateral and maintenance margin at the oracle; what the insurance fund may still pay for an
account in the block (risk.dydx_insurance). The block's accounts and their order, all markets
together, are engine.dydx_sweep's; each fill's insurance fund delta engine.dydx_fills'. Plain
functions of the stage; all but `deleverage` and `attempted` only read. `deleverage` closes a
bankrupt position against opposite ones (risk.dydx_deleveraging); `attempted` counts the block's
deleveraging attempts, at most MaxDeleveragingAttemptsPerBlock.

Units: prices in ticks, money in integer units of the settlement asset, maintenance margins × RATE_SCALE.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perpsim.engine import dydx_fills as DF
from perpsim.engine.events import AutoDeleveraged
from perpsim.engine.market import IF_ACCOUNT, position_key, position_of
from perpsim.model.causes import LedgerCause
from perpsim.risk.dydx_deleveraging import attempt_allowed, bankruptcy_quote, offset_allowed, offset_lots, quote_tick
from perpsim.risk.dydx_fillable import fillable_tick
from perpsim.risk.dydx_rotation import DELEVERAGING, rotated, start_index
from perpsim.risk.liquidation_plan import MarketTerms, block_of, forced_price
from perpsim.risk.margin import initial_margin
from perpsim.risk.positions import Position

if TYPE_CHECKING:
    from perpsim.engine.liquidation import Liquidation
    from perpsim.engine.market import _Market

_REALIZED_PNL = LedgerCause.REALIZED_PNL


def insurance_left(stage: Liquidation, t: MarketTerms, account: int) -> int | None:
    """What the insurance fund may still pay for the account in the current block (money
    units, ≥ 0: the profile's block_insurance less the fund's covers recorded in the account's
    block record), or None when the profile sets no such limit."""
    cap = 0 if t.steps is None else t.steps.block_insurance * t.money_scale
    if not cap:
        return None
    rec = stage._blocks.get(account)
    lost = rec[3] if rec is not None and rec[0] == block_of(t, stage.state.ts) else 0
    return cap - lost if cap > lost else 0


def fillable_limit(stage: Liquidation, m: _Market, account: int, pside: int, leg_side: int,
                   bankruptcy: int) -> tuple[int, int, int]:
    """(the leg's forced-order limit, the net collateral TNC and the total MM × RATE_SCALE TMMR
    it was solved against). The limit is the fillable price from the oracle (the mark), the leg's
    own MM and the account's TNC and TMMR at the oracle (an isolated position: its own margin and
    MM), clamped to the market's price limits; `bankruptcy`, and TMMR 0, when the profile has no
    fillable price, on inverse contracts (dYdX lists none) and for Multi-Assets accounts (dYdX
    has no such mode)."""
    state = stage.state
    if account in m.isolated:
        p = m.positions[position_key(account, pside)]
        tnc, tmmr = state._iso_margin(m, account, pside) + m.upnl(p), state._mm_scaled(m, p)
    else:
        tnc, tmmr = state.margin_balance(account, m.asset), 0
        for mk, q in state._cross(account, m.asset):
            tmmr += state._mm_scaled(mk, q)
    rule = state.profile.liquidation
    cfg = None if rule is None else rule.fillable
    if cfg is None or m.inverse or account in state.multi_assets or tmmr <= 0:
        return bankruptcy, tnc, 0
    p = m.positions[position_key(account, leg_side)]
    tick = fillable_tick(cfg, oracle=m.mark, lots=p.lots, position_mm=state._mm_scaled(m, p), tnc=tnc, tmmr=tmmr,
                         K=m.K)
    return forced_price(stage._terms[m.symbol], tick, m.mark), tnc, tmmr


def _imr(m: _Market, lots: int) -> int:
    """dYdX's initial margin of `lots` at the oracle: notional / the tier's max leverage (= × IMF),
    rounded up (money units)."""
    notional = m.value(lots, m.mark)
    return initial_margin(notional, m.brackets.max_leverage_for(notional))


def _offset_figures(stage: Liquidation, m: _Market, account: int, pside: int, p, q: int, price: int,
                    paid: int) -> dict:
    """The offsetting account's risk before and after giving up `q` lots of its position `p` at
    `price` and paying `paid` money units beside it (risk.dydx_deleveraging.offset_allowed's
    arguments): TNC and MMR at the oracle, IMR
    after: positions only, each notional at the oracle × its market's IMF, the tier's 1 / max
    leverage (dYdX has no leverage setting; rounded up as the venue's initial margin); of its
    isolated position alone, or of its cross legs in m's asset (a Multi-Assets account: its pool's
    balance)."""
    state = stage.state
    after = Position(p.lots, p.cost)
    sign = -1 if p.lots > 0 else 1
    if m.inverse:
        realized = after.apply_inverse_fill(sign * q, price, m.k_inv)
    else:
        realized = after.apply_fill(sign * q, price) * m.K
    mm_p = state._mm_scaled(m, p)
    mm_after = state._mm_scaled(m, after) if after.lots else 0
    im_p = _imr(m, p.lots)
    im_after = _imr(m, after.lots) if after.lots else 0
    if account in m.isolated:
        tnc, mmr, imr = state._iso_margin(m, account, pside) + m.upnl(p), mm_p, im_p
    else:
        tnc, mmr, imr = state.margin_balance(account, m.asset), 0, 0
        for mk, leg in state._cross(account, m.asset):
            mmr += state._mm_scaled(mk, leg)
            imr += _imr(mk, leg.lots)
    tnc_after = tnc - m.upnl(p) + realized + (m.upnl(after) if after.lots else 0) - paid
    return dict(tnc=tnc, mmr=mmr, tnc_after=tnc_after, mmr_after=mmr - mm_p + mm_after,
                imr_after=imr - im_p + im_after)


def deleverage(stage: Liquidation, m: _Market, account: int, pside: int, price: int) -> int:
    """dYdX's deleveraging of a bankrupt position (risk.dydx_deleveraging): the whole position
    (`pside` of `account` in m), not the block's cut, against the opposite positions. The opposite
    positions (other accounts', in account and side order) are walked from a start that is a
    stable digest of (block, market) (risk.dydx_rotation.start_index; dYdX draws it), at most the
    rule's max_iterated of them; each gives up its whole position or what is left, if that leaves
    it a valid update (offset_allowed), else it is passed. Each offset is at the bankruptcy quote
    of its own lots on the account as the offsets before it left it (`_offset_quote`; `price`,
    the bankruptcy tick of the market's legs, on inverse markets and for Multi-Assets accounts).
    What nobody takes stays with the account; the insurance fund takes nothing. The offsetting
    account's orders stay (dYdX leaves them; its reduce-only orders and exits are fitted to what
    it holds after, as after any fill); each offset is an AutoDeleveraged event at its tick.
    Returns the lots deleveraged."""
    state = stage.state
    lots = stage.forced._lots(m, account, pside)
    rule = state.profile.liquidation.deleveraging
    if not lots or rule is None:
        return 0
    long = lots > 0
    keys = sorted([k for k, q in m.positions.items()
                   if (q.lots > 0) != long and position_of(k)[0] not in (account, IF_ACCOUNT)])
    if not keys:
        return 0
    exact = not m.inverse and account not in state.multi_assets
    block = block_of(stage._terms[m.symbol], state.ts)
    want, done = abs(lots), 0
    for i in rotated(len(keys), start_index(DELEVERAGING, block, m.symbol, len(keys)), rule.max_iterated):
        if done == want:
            break
        key = keys[i]
        p = m.positions.get(key)
        if p is None or (p.lots > 0) == long:
            continue
        cp_account, cp_side = position_of(key)
        q = offset_lots(want - done, p.lots)
        tick, paid = _offset_quote(stage, m, account, pside, q) if exact else (price, 0)
        if not offset_allowed(**_offset_figures(stage, m, cp_account, cp_side, p, q, tick, paid)):
            continue
        stage.settlement._pair(m, cp_account, cp_side, account, pside, q if long else -q, tick)
        if paid:
            _pay(stage, m, cp_account, cp_side, account, pside, paid)
        state._events.append(AutoDeleveraged(m.symbol, account, cp_account, q, tick))
        done += q
    return done


def _offset_quote(stage: Liquidation, m: _Market, account: int, pside: int, q: int) -> tuple[int, int]:
    """(tick, money the offsetting account pays beside the trade at it) of deleveraging `q` lots of
    the account's position: risk.dydx_deleveraging.bankruptcy_quote on its TNC and TMMR now
    (engine.dydx_fills.figures) and the MMR the `q` lots free (each MMR rounded up), carried by
    quote_tick; for a short the remainder is the liquidated account's to pay (negative)."""
    state = stage.state
    p = m.positions[position_key(account, pside)]
    tnc, tmmr = DF.figures(stage, m, account, pside)
    left = abs(p.lots) - q
    dmmr = state._mm(m, p) - (state._mm(m, Position(left if p.lots > 0 else -left, 0)) if left else 0)
    quote = bankruptcy_quote(lots=q, oracle=m.mark, K=m.K, long=p.lots > 0, tnc=tnc, dmmr=dmmr, tmmr=tmmr)
    tick, rest = quote_tick(quote, q, m.K)
    return tick, rest if p.lots > 0 else -rest


def _pay(stage: Liquidation, m: _Market, payer: int, payer_side: int, payee: int, payee_side: int, amount: int) -> None:
    """Move `amount` money units (negative: the other way) from one side of a deleveraging offset to
    the other, as the trade's realized PnL (their isolated margins, where isolated)."""
    state = stage.state
    src = m.iso_holder(payer, payer_side) if payer in m.isolated else payer
    dst = m.iso_holder(payee, payee_side) if payee in m.isolated else payee
    state._move(m.asset, src, dst, amount, _REALIZED_PNL)
    if state._loss_limits:
        state._day_move(payer, m.asset, -amount)
        state._day_move(payee, m.asset, amount)


def attempted(stage: Liquidation, t: MarketTerms, account: int) -> bool:
    """Whether the account's deleveraging may be attempted in the current block, counting it if
    so: dYdX makes at most `max_attempts` a block (deleveraging.go DeleverageSubaccounts,
    flags.go MaxDeleveragingAttemptsPerBlock; risk.dydx_deleveraging.attempt_allowed), in the
    order its liquidations came; the rest wait for a later block. The block's count is the sum
    of its records' fifth field (absent: none yet), so the state hash and snapshots carry it
    with the records (Liquidation._blocks); the account's record for this block exists (the
    liquidation opened it)."""
    block = block_of(t, stage.state.ts)
    done = 0
    for rec in stage._blocks.values():
        if rec[0] == block and len(rec) > 4:
            done += rec[4]
    if not attempt_allowed(done, stage.state.profile.liquidation.deleveraging):
        return False
    rec = stage._blocks[account]
    stage._blocks[account] = (*rec[:4], (rec[4] if len(rec) > 4 else 0) + 1)
    return True
