"""Hyperliquid's backstop liquidation, as the liquidation stage (engine/liquidation.py) runs it:
whether an account is below the profile's share of its maintenance margin, and the vault's
takeover of its positions and their margin (risk.hyperliquid_backstop has the rule and its source).

The vault is the insurance fund's account (IF_ACCOUNT for positions, the fund's balance per
settlement asset for money), so what it takes is unwound into the book as the fund's positions
are (`Liquidation._offload`).

Units: prices in ticks, lots signed (+ long), money in integer units of the settlement asset,
maintenance margins × RATE_SCALE.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perpsim.engine.events import Liquidation as LiquidationEvent
from perpsim.engine.market import BOTH, IF_ACCOUNT, position_key
from perpsim.engine.records import new_record
from perpsim.model.causes import LedgerCause
from perpsim.model.enums import Side
from perpsim.risk.hyperliquid_backstop import BOOK, USUAL, VAULT, verdict
from perpsim.risk.ledger import INSURANCE

if TYPE_CHECKING:
    from perpsim.engine.liquidation import Liquidation
    from perpsim.engine.market import _Market

_BACKSTOP_MARGIN, _COVER = LedgerCause.BACKSTOP_MARGIN, LedgerCause.INSURANCE_COVER
_SELL, _BUY = Side.SELL, Side.BUY


def standing(stage: Liquidation, m: _Market, account: int, pside: int) -> int:
    """What the account's liquidation in m does under the profile's backstop
    (risk.hyperliquid_backstop.verdict): VAULT when its equity (an isolated position's: its
    margin + uPnL; cross: the wallet + uPnL of its cross legs in m's asset, at the marks) is below
    the profile's share of the maintenance margin behind it (exact) and the vault can take it;
    BOOK at or above the share (the market order; what it leaves stays with the account and is
    retried); USUAL below it when the vault cannot (a negative equity, an empty fund), and always
    for a Multi-Assets account (its pool spans assets)."""
    state = stage.state
    if account in state.multi_assets:
        return USUAL
    if account in m.isolated:
        p = m.positions.get(position_key(account, pside))
        if p is None:
            return USUAL
        equity, mm = state._iso_margin(m, account, pside) + m.upnl(p), state._mm_scaled(m, p)
    else:
        equity, mm = state.wallet(account, m.asset), 0
        for mk, p in state._cross(account, m.asset):
            equity += mk.upnl(p)
            mm += state._mm_scaled(mk, p)
    return verdict(equity, mm, stage._backstop, state.ledger.insurance(m.asset))


def due(stage: Liquidation, m: _Market, account: int, pside: int) -> bool:
    """Whether the vault takes the account's positions in m now (`standing` is VAULT)."""
    return standing(stage, m, account, pside) == VAULT


def retried(stage: Liquidation, m: _Market, account: int, pside: int) -> bool:
    """Whether what the account's market order in m leaves stays with it for the next sweep
    (`standing` is BOOK), not taken over at the bankruptcy price."""
    return standing(stage, m, account, pside) == BOOK


def take(stage: Liquidation, m: _Market, account: int, pside: int) -> None:
    """The vault takes the isolated position, or every cross position of the account settled in
    m's asset (in symbol order), each whole at its market's mark: a Liquidation notice each with
    everything taken over and nothing filled; then the margin behind them, the isolated margin or
    the whole cross wallet, moves to the fund (cause backstop_margin; a wallet below zero the fund
    covers, insurance_cover). No rounding: a whole position closes at a tick, exactly on a linear
    market (the profiles with a backstop list no inverse one), and the account keeps none of it."""
    state = stage.state
    asset = m.asset
    isolated = account in m.isolated
    if isolated:
        taken = [(m, pside)]
        holder = m.iso_holder(account, pside)
    else:
        taken = []
        for symbol in sorted(state._markets_of.get(account, ())):
            mk = state.markets[symbol]
            if mk.asset == asset and account not in mk.isolated and mk.mark is not None:
                taken.extend([(mk, ps) for ps, _ in mk.leg_list(account)])
        holder = account
    for mk, ps in taken:
        p = mk.positions.get(position_key(account, ps))
        if p is None or not p.lots:
            continue
        lots = p.lots
        stage.settlement._pair(mk, IF_ACCOUNT, BOTH, account, ps, lots, mk.mark)
        notice = (mk.symbol, account, _SELL if lots > 0 else _BUY, abs(lots), mk.mark, 0, abs(lots), 0)
        state._events.append(new_record(LiquidationEvent, notice))
    margin = state.ledger.balance(holder, asset) if isolated else state.wallet(account, asset)
    if margin > 0:
        state._move(asset, holder, INSURANCE, margin, _BACKSTOP_MARGIN)
        if state._loss_limits:
            state._day_move(account, asset, -margin)
    elif margin < 0:
        state._move(asset, INSURANCE, holder, -margin, _COVER)
