"""dYdX v4's liquidation pass over a block's accounts, every market at once, as the liquidation
stage (engine/liquidation.py `_sweep`) runs it for a per-block profile.

Source: dydxprotocol/v4-chain @ 84d4664bae71e3a077adaac67fb77ad19cd28d30, protocol/x/clob/abci.go
`PrepareCheckState` ("7. Get all potentially liquidatable subaccount IDs and attempt to liquidate
them.": one list, `DaemonLiquidationInfo.GetLiquidatableSubaccountIds()`, whatever market put a
subaccount there) and keeper/liquidations.go `LiquidateSubaccountsAgainstOrderbook`: "Process
at-most `MaxLiquidationAttemptsPerBlock` subaccounts, starting from a pseudorandom location in the
slice" (flags.go: 50), each one's liquidation order built, then "Sort liquidation orders. The most
underwater accounts should be liquidated first." (`SortLiquidationOrders`, all markets' orders in
one sort), then placed in that order.

Here every market's triggered positions are gathered into one list; the block's room (50 less the
accounts already liquidated in it, which keep their place) goes to the other liquidatable accounts
in account order from one start a block (risk.dydx_rotation.window over (block), where dYdX draws
it), whatever their markets; the admitted orders are ranked together (risk.dydx_order.rank_key:
the limit's distance from the oracle as a fraction of it, comparable across markets; then the
notional; then the digest) and liquidated in that order. An account keeps one order per market
it is liquidated in within the block (engine.dydx_blocks); which single position dYdX picks is
not modelled.

Units: prices in ticks, money in integer units of the settlement asset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perpsim.engine import dydx_blocks as DB
from perpsim.engine.market import position_of
from perpsim.risk.dydx_order import rank_key
from perpsim.risk.dydx_rotation import LIQUIDATIONS, window
from perpsim.risk.liquidation_plan import block_cut, block_notional, block_of, forced_price

if TYPE_CHECKING:
    from perpsim.engine.liquidation import Liquidation
    from perpsim.engine.market import _Market


def sweep(stage: Liquidation, m: _Market) -> bool:
    """The block's pass over every marked market, run when the stage sweeps the first of them (m);
    the other markets' sweeps in the same round are part of it (False). True if it liquidated."""
    state = stage.state
    for first in state.markets.values():
        if first.mark is not None:
            break
    if first is not m:
        return False
    found = []
    for mk in state.markets.values():
        if mk.mark is not None:
            for key in mk.liq.triggered(_trigger_price(stage, mk)):
                found.append((mk, key))
    if not found:
        return False
    done = False
    for mk, key in ranked(stage, admitted(stage, found)):
        account, pside = position_of(key)
        if mk.holds(account) and stage.liq_index._liquidatable(mk, account, pside):
            if (stage._paced or stage._blocks) and stage._waits(mk, account, pside):
                continue
            stage._liquidate(mk, account, pside)
            done = True
    return done


def _trigger_price(stage: Liquidation, m: _Market) -> int:
    """The price m's liquidation index is triggered at: the profile's trigger ("index", the
    oracle, on dYdX; "mark"; "last"), the mark where it has none yet."""
    trigger = stage.state.profile.liquidation_trigger
    if trigger == "mark":
        return m.mark
    if trigger == "index":
        return m.index.value(stage.state.ts) or m.mark
    return m.last or m.mark


def admitted(stage: Liquidation, found: list) -> list:
    """The (market, key) pairs of `found` the block still has room for: at most `block_accounts`
    accounts a block (flags.go MaxLiquidationAttemptsPerBlock, 50). An account liquidated earlier
    in the block (it has the block's record) keeps its place; the room left goes to the other
    liquidatable accounts of any market, taken in account order from one start a block
    (risk.dydx_rotation.window over (block)); the rest wait for the next block (the sweep is due
    then). Pairs whose account is not liquidatable stay (the pass skips them). A profile without
    the cap gets `found` back."""
    t = stage._terms[found[0][0].symbol]
    cap = t.steps.block_accounts if t.steps is not None else 0
    if not cap:
        return found
    block = block_of(t, stage.state.ts)
    current = {a for a, rec in stage._blocks.items() if rec[0] == block}
    room = cap - len(current)
    if len({position_of(key)[0] for _, key in found}) <= room:  # room for every one
        return found
    fresh: set[int] = set()
    for mk, key in found:
        account, pside = position_of(key)
        if account not in current and account not in fresh and stage.liq_index._liquidatable(mk, account, pside):
            fresh.add(account)
    if len(fresh) <= room:
        return found
    waiting = fresh - set(window(sorted(fresh), LIQUIDATIONS, block, "", room))
    due = (block + 1) * t.block_ns
    if not stage._due or due < stage._due:
        stage._due = due
    return [(mk, key) for mk, key in found if position_of(key)[0] not in waiting]


def ranked(stage: Liquidation, found: list) -> list:
    """The admitted (market, key) pairs in the order dYdX liquidates a block's orders, all markets
    together (risk.dydx_order.rank_key): the order whose limit lies furthest from its oracle (as
    a fraction of it) first, then the larger order (its block cut's notional at the oracle), then
    a stable digest; pairs whose account is not liquidatable after all come last, in the order
    found (the pass skips them)."""
    if len(found) < 2:
        return found
    out, rest = [], []
    for mk, key in found:
        account, pside = position_of(key)
        legs = [(ps, p) for ps, p in mk.leg_list(account) if account not in mk.isolated or ps == pside]
        if not legs or not stage.liq_index._liquidatable(mk, account, pside):
            rest.append((mk, key))
            continue
        t = stage._terms[mk.symbol]
        block = block_of(t, stage.state.ts)
        leg_side, p = legs[0]
        wallet, other_upnl = stage.position_risk._collateral(mk, account, pside)
        bankruptcy = forced_price(t, mk.bp_tick([q for _, q in legs], wallet, other_upnl), mk.mark)
        limit = DB.fillable_limit(stage, mk, account, pside, leg_side, bankruptcy)[0]
        rec = stage._blocks.get(account)
        left = t.block_cap - (rec[1] if rec is not None and rec[0] == block else 0)
        size = block_cut(t, p.lots, mk.mark, left) if left > 0 else 0
        out.append((rank_key(oracle=mk.mark, limit=limit, notional=block_notional(t, size, mk.mark), block=block,
                             symbol=mk.symbol, account=account, pside=pside), len(out), mk, key))
    out.sort(key=lambda row: row[:2])
    return [(mk, key) for _, _, mk, key in out] + rest
