"""dYdX v4's liquidations within a block, as the liquidation stage (engine/liquidation.py) asks them.

The stage's per-block path (a profile whose partial steps are PER_BLOCK) reads the state through
these: the forced order's limit, the fillable price (risk.dydx_fillable), from the account's net
collateral and maintenance margin at the oracle; the order of the block's accounts
(risk.dydx_order); what the insurance fund may still pay for an account in the block
(risk.dydx_insurance); the fee on the order's fills (risk.dydx_fee). Plain functions of the
stage: they read, never move money or positions.

Units: prices in ticks, money in integer units of the settlement asset, maintenance margins × RATE_SCALE.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perpsim.engine.events import OrderEvent
from perpsim.engine.market import position_key, position_of
from perpsim.model.enums import EventKind
from perpsim.risk.dydx_fee import leftover, liquidation_fee
from perpsim.risk.dydx_fillable import fillable_tick
from perpsim.risk.dydx_order import rank_key
from perpsim.risk.liquidation_plan import MarketTerms, block_cut, block_notional, block_of, forced_price

if TYPE_CHECKING:
    from perpsim.engine.liquidation import Liquidation
    from perpsim.engine.market import _Market

_FILL = int(EventKind.FILL)


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


def fill_fee(stage: Liquidation, m: _Market, account: int, since: int, filled: int, sell: bool, tnc: int, dmmr: int,
             tmmr: int, remaining: int) -> int:
    """The fee (money units) on the fills of the account's forced order, read from the events
    the stage recorded from index `since` on: risk.dydx_fee on their quote, against the
    `filled` lots' oracle value and the account's TNC share for them (`dmmr`: their MM ×
    RATE_SCALE, `tnc`, `tmmr` as before the order), within the collateral `remaining`."""
    quote = 0
    for e in stage.state._events[since:]:
        if type(e) is OrderEvent and e.liquidation and e.event.kind == _FILL and e.event.account == account:
            quote += e.event.qty * e.event.price
    quote *= m.K
    over = leftover(oracle_value=filled * m.mark * m.K, quote=quote, sell=sell, tnc=tnc, dmmr=dmmr, tmmr=tmmr)
    return liquidation_fee(quote=quote, rate=stage._terms[m.symbol].fee_rate, leftover=over, remaining=remaining)


def ranked(stage: Liquidation, m: _Market, keys: list) -> list:
    """The triggered index keys of m in the order dYdX liquidates a block's accounts
    (risk.dydx_order.rank_key): the order whose limit lies furthest from the oracle first, then
    the larger order (its block cut's notional at the oracle), then a stable digest; keys whose
    account is not liquidatable after all come last, in index order (the sweep passes them)."""
    t = stage._terms[m.symbol]
    block = block_of(t, stage.state.ts)
    out, rest = [], []
    for key in keys:
        account, pside = position_of(key)
        legs = [(ps, p) for ps, p in m.leg_list(account) if account not in m.isolated or ps == pside]
        if not legs or not stage._liquidatable(m, account, pside):
            rest.append(key)
            continue
        leg_side, p = legs[0]
        wallet, other_upnl = stage._collateral(m, account, pside)
        bankruptcy = forced_price(t, m.bp_tick([q for _, q in legs], wallet, other_upnl), m.mark)
        limit = fillable_limit(stage, m, account, pside, leg_side, bankruptcy)[0]
        rec = stage._blocks.get(account)
        left = t.block_cap - (rec[1] if rec is not None and rec[0] == block else 0)
        size = block_cut(t, p.lots, m.mark, left) if left > 0 else 0
        out.append((rank_key(oracle=m.mark, limit=limit, notional=block_notional(t, size, m.mark), block=block,
                             symbol=m.symbol, account=account, pside=pside), key))
    out.sort()
    return [key for _, key in out] + rest
