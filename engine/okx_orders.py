"""OKX's liquidation orders in the book, as the liquidation stage (engine/liquidation.py) and the
settlement run them (risk.okx_orders has the prices, their rules and sources).

- The partial step's order rests: a LIMIT GTC "slightly better than market price" for the cut, placed
  as a reduce-only order of the account's position; what it fills on arrival and during its minute
  is liquidated. `State._forced` keeps it (order id -> (symbol, account, position side, end of its
  minute)); at the end of the minute what is left of it is canceled (`expire`), before the
  position's re-check. Its fills as a maker pay the liquidation fee to the fund, not a trading fee
  (`fill_fee`), as the forced IOC's fills pay none.
- The fund's offload of what it took over (OKX's full liquidation) rests at the entrusted price and
  is relisted at each offload (each new mark): the old order canceled, a new one for the whole
  position placed (`offload`); once the mark reaches the fund's own bankruptcy price the rest is
  deleveraged there, as on the other profiles.

Units: prices in ticks, quantities in lots, money in integer units of the settlement asset; fees
rounded up (against the account), never more than what its margin holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perpsim.engine.market import BOTH, IF_ACCOUNT, position_key
from perpsim.model.causes import LedgerCause
from perpsim.model.enums import OrderKind, Side, StpMode, TimeInForce
from perpsim.risk.ledger import INSURANCE
from perpsim.risk.liquidation_plan import fund_deleverages
from perpsim.risk.liquidation_plan import offload as offload_bound
from perpsim.risk.okx_orders import entrusted_price, step_limit
from perpsim.risk.units import apply_rate_up

if TYPE_CHECKING:
    from perpsim.engine.liquidation import Liquidation
    from perpsim.engine.market import _Market
    from perpsim.engine.state import State

__all__ = ["expire", "fill_fee", "offload", "rest_step"]

_SELL, _BUY = Side.SELL, Side.BUY
_LIMIT, _GTC, _NO_STP = OrderKind.LIMIT, TimeInForce.GTC, StpMode.NONE
_FEE = LedgerCause.LIQUIDATION_FEE
#: book levels read for the depth price; deeper than a taken-over position needs in practice
_DEPTH_LEVELS = 1_000


def _rest(stage: Liquidation, m: _Market, account: int, pside: int, side: int, qty: int, price: int) -> int:
    """Place a forced LIMIT GTC (reduce-only, no trading fee on what it takes now); its order id."""
    state = stage.state
    oid = state.next_order_id
    state.next_order_id += 1
    m.book.place(oid, account, side, _LIMIT, price, qty, _GTC, _NO_STP, 0, state.ts)
    stage.settlement._book_events(m, True, pside, True)  # positional: the compiled call
    return oid


def rest_step(stage: Liquidation, m: _Market, account: int, pside: int, side: int, cut: int, until: int) -> None:
    """The partial step's order for `cut` lots of the position (`pside`), at risk.okx_orders.step_limit
    from the mark within the band; if it rests, kept until `until` (ns, the end of its minute), when
    the stage's cascade cancels what is left (`_due`)."""
    state = stage.state
    up, down = m.price_band()
    oid = _rest(stage, m, account, pside, side, cut, step_limit(side == _SELL, m.mark, down, up))
    if oid in m.orders:
        state._forced[oid] = (m.symbol, account, pside, until)
        if not stage._due or until < stage._due:
            stage._due = until


def expire(stage: Liquidation) -> None:
    """Cancel what is left of the step orders whose minute has ended (in order id order), and keep
    the stage's `_due` at the end of the earliest one still resting."""
    state = stage.state
    ts = state.ts
    forced = state._forced
    for oid in sorted(k for k, rec in forced.items() if rec[3] <= ts):
        symbol, _account, pside, _until = forced.pop(oid)
        m = state.markets[symbol]
        if oid in m.orders:
            m.book.cancel(oid, ts)
            stage.settlement._book_events(m, True, pside, True)
    if forced:
        due = min(rec[3] for rec in forced.values())
        if not stage._due or due < stage._due:
            stage._due = due


def fill_fee(state: State, m: _Market, account: int, pside: int, notional: int) -> None:
    """A resting step order of `account` filled as a maker for `notional` (money units): the
    market's liquidation fee on it, rounded up, to the fund, never more than what the position's
    margin (isolated) or the cross wallet holds."""
    fee = apply_rate_up(notional, m.liquidation_fee)
    if account in m.isolated:
        holder = m.iso_holder(account, pside)
        left = state.ledger.balance(holder, m.asset)
    else:
        holder, left = account, state.wallet(account, m.asset)
    if fee > left:
        fee = left if left > 0 else 0
    if fee:
        state._move(m.asset, holder, INSURANCE, fee, _FEE)
        if state._loss_limits:
            state._day_move(account, m.asset, -fee)


def offload(stage: Liquidation, m: _Market) -> None:
    """The fund's order for what it holds in m, relisted: its resting order canceled, a new LIMIT
    GTC for the whole position at the entrusted price (risk.okx_orders.entrusted_price, never
    through the band's edge or the fund's own bankruptcy price); once the mark has reached that
    bankruptcy price, the order is canceled and the rest deleveraged there."""
    state = stage.state
    if m.book.open_orders(IF_ACCOUNT):
        m.book.cancel_all(IF_ACCOUNT, state.ts)
        stage.settlement._book_events(m, True, BOTH, True)
    p = m.positions.get(position_key(IF_ACCOUNT, BOTH))
    if p is None:
        return
    sell = p.lots > 0
    bp = m.bp_tick([p], state.ledger.insurance(m.asset))
    bound = offload_bound(p.lots, m.protection(_SELL if sell else _BUY), bp)
    levels = [(price, qty) for price, qty, _ in m.book.depth(_BUY if sell else _SELL, _DEPTH_LEVELS)]
    limit = entrusted_price(sell, abs(p.lots), levels, m.mark, m.index.value(state.ts), bound.limit)
    _rest(stage, m, IF_ACCOUNT, BOTH, bound.side, abs(p.lots), limit)
    rest = m.positions.get(position_key(IF_ACCOUNT, BOTH))
    if rest is not None and fund_deleverages(rest.lots, m.mark, bp):
        m.book.cancel_all(IF_ACCOUNT, state.ts)
        stage.settlement._book_events(m, True, BOTH, True)
        stage.deleveraging._adl(m, IF_ACCOUNT, BOTH, rest.lots, bp)
