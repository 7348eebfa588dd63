"""dYdX v4's liquidation order matched fill by fill, as the liquidation stage (engine/liquidation.py)
runs it: the account's figures before the order (`opening`), how much of the order may go to the
book before matching would stop (`sendable`: a look at the resting orders the IOC will meet, in
the book's own price-time order), and each fill's insurance fund delta paid or received once the
IOC has matched (`settle`), on the account as the fills before it left it (risk.dydx_fills).

The book matches an IOC in one call, so the stop is found first and the order sent for exactly
the fills that go ahead: the same makers, in the same order, as dYdX's memclob matching them one
by one and stopping at the first fill the fund could not pay or its block limit forbids.

Units: prices in ticks, lots, money in integer units of the settlement asset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perpsim.engine.events import OrderEvent
from perpsim.engine.market import position_key
from perpsim.model.causes import LedgerCause
from perpsim.model.enums import EventKind, TimeInForce
from perpsim.risk.dydx_fills import FillRun, fill_delta, matched
from perpsim.risk.ledger import INSURANCE
from perpsim.risk.positions import Position

if TYPE_CHECKING:
    from collections.abc import Callable

    from perpsim.engine.liquidation import Liquidation
    from perpsim.engine.market import _Market

_FILL = int(EventKind.FILL)
_GTD = int(TimeInForce.GTD)
_COVER, _FEE = LedgerCause.INSURANCE_COVER, LedgerCause.LIQUIDATION_FEE


def _mm_of(stage: Liquidation, m: _Market, long: bool) -> Callable[[int], int]:
    """The position's MMR at the oracle for a magnitude of lots (money units, rounded up)."""
    state = stage.state
    return lambda lots: state._mm(m, Position(lots if long else -lots, 0)) if lots else 0


def figures(stage: Liquidation, m: _Market, account: int, pside: int) -> tuple[int, int]:
    """(TNC, TMMR) of the account at the oracle, money units: an isolated position's margin and
    uPnL and its own MMR; cross: the margin balance in m's asset and the sum of its positions' MMR
    (each rounded up, as dYdX's)."""
    state = stage.state
    if account in m.isolated:
        p = m.positions[position_key(account, pside)]
        return state._iso_margin(m, account, pside) + m.upnl(p), state._mm(m, p)
    tmmr = 0
    for mk, q in state._cross(account, m.asset):
        tmmr += state._mm(mk, q)
    return state.margin_balance(account, m.asset), tmmr


def opening(stage: Liquidation, m: _Market, account: int, pside: int, leg_side: int) -> FillRun:
    """The account before its liquidation order in m (`figures`), the leg's size and MMR, the
    fee rate."""
    p = m.positions[position_key(account, leg_side)]
    tnc, tmmr = figures(stage, m, account, pside)
    return FillRun(sell=p.lots > 0, oracle=m.mark, K=m.K, lots=abs(p.lots), pmm=stage.state._mm(m, p), tnc=tnc,
                   tmmr=tmmr, rate=stage._terms[m.symbol].fee_rate)


def book_fills(m: _Market, side: int, limit: int, size: int, ts: int) -> list[tuple[int, int]]:
    """The fills (lots, price) an IOC of `size` lots on `side` at `limit` would make at `ts`: the
    resting opposite orders best price first and in queue order within a price, each taking
    what it rests or what is left; a GTD order due to expire at `ts` is passed (the book expires
    it before matching)."""
    book, other, fills, want, n = m.book, 1 - side, [], size, 16
    while True:
        levels = book.depth(other, n)
        for price, _, _ in levels[n // 2 if n > 16 else 0:]:
            if (price < limit) if side else (price > limit):
                return fills
            for o in book.level_orders(other, price):
                if o.tif == _GTD and o.expire_ts <= ts:
                    continue
                q = o.leaves if o.leaves < want else want
                fills.append((q, price))
                want -= q
                if not want:
                    return fills
        if len(levels) < n:
            return fills
        n *= 2


def sendable(stage: Liquidation, m: _Market, run: FillRun, side: int, size: int, limit: int,
             left: int | None) -> int:
    """How many of `size` lots the liquidation order carries: all, unless matching would stop
    (risk.dydx_fills.matched: the fund's balance, what the account's block limit has `left`);
    then the lots of the fills before the stop."""
    fills = book_fills(m, side, limit, size, stage.state.ts)
    going = len(matched(run, fills, _mm_of(stage, m, run.sell), fund=stage.state.ledger.insurance(m.asset),
                        left=left))
    if going == len(fills):
        return size
    return sum([q for q, _ in fills[:going]])


def settle(stage: Liquidation, m: _Market, account: int, pside: int, run: FillRun, since: int) -> tuple[int, int]:
    """Pay each fill of the account's liquidation order (the events from index `since` on) its
    insurance fund delta, in fill order: the fund's payment (INSURANCE_COVER, counted against the
    account's block limit) or the account's fee (LIQUIDATION_FEE). Returns (the holder of its
    collateral, what is left of it, or 0 when below: dYdX's fund pays per fill and never once
    the order is done; a deficit stays with the open rest)."""
    state = stage.state
    mm = _mm_of(stage, m, run.sell)
    holder = m.iso_holder(account, pside) if account in m.isolated else account
    lost = 0
    for e in state._events[since:]:
        if type(e) is OrderEvent and e.liquidation and e.event.kind == _FILL and e.event.account == account:
            delta, run = fill_delta(run, e.event.qty, e.event.price, mm)
            if delta < 0:
                state._move(m.asset, INSURANCE, holder, -delta, _COVER)
                lost -= delta
            elif delta:
                state._move(m.asset, holder, INSURANCE, delta, _FEE)
                if state._loss_limits:
                    state._day_move(account, m.asset, -delta)
    if lost:
        rec = stage._blocks[account]
        stage._blocks[account] = (rec[0], rec[1], rec[2], rec[3] + lost, *rec[4:])
    remaining = state.ledger.balance(holder, m.asset) if holder != account else state.margin_balance(account, m.asset)
    return holder, remaining if remaining > 0 else 0
