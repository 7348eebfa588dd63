"""Settlement: what a trade does to positions and money.

The book reports what happened to an order (accepted, filled, canceled, expired, amended);
`_book_events` turns that into the exchange's events and settles each fill: both positions move
(`_pair`, `_trade`: realized PnL paid from the market's pnl pool, an isolated position's margin
in or out), the taker and the maker pay their fees, the open-order records and their accounts'
order value follow, and what happened to an order list's order is noted for the lists to act on
between operations. Liquidation uses the same path for its forced orders and for the insurance
fund's and ADL's transfers of position.
"""

from __future__ import annotations

from perpsim.engine import okx_orders as OX
from perpsim.engine.events import OrderEvent, PositionChanged
from perpsim.engine.market import BOTH, IF_ACCOUNT, _Market, _Note, _Open, position_key
from perpsim.engine.records import new_record
from perpsim.engine.state import State
from perpsim.model.causes import LedgerCause, OrderGone
from perpsim.model.enums import EventKind, ExpireCause, Side
from perpsim.risk.ledger import DUST, FEES
from perpsim.risk.margin import initial_margin
from perpsim.risk.positions import Position
from perpsim.risk.units import apply_rate_down, apply_rate_up

# Members bound once as module names (reading one off its Enum class costs about ten times more).
_LEDGER_FEE = LedgerCause.FEE
_LEDGER_ISOLATED_MARGIN = LedgerCause.ISOLATED_MARGIN
_LEDGER_REALIZED_PNL = LedgerCause.REALIZED_PNL
_LEDGER_ROUNDING_DUST = LedgerCause.ROUNDING_DUST
_GONE_CANCELED = OrderGone.CANCELED
_GONE_EXPIRED = OrderGone.EXPIRED
_GONE_SELF_TRADE = OrderGone.SELF_TRADE
_GONE_UNFILLED = OrderGone.UNFILLED

# book event kinds and sides as plain ints, for the per-fill loop
_ACCEPTED, _FILL, _CANCELED, _EXPIRED, _AMENDED = (int(k) for k in (
    EventKind.ACCEPTED, EventKind.FILL, EventKind.CANCELED, EventKind.EXPIRED, EventKind.AMENDED))
_SIDE_BUY = Side.BUY
#: Why an order left the book, as an order list's cause.
_GONE = {EventKind.CANCELED: _GONE_CANCELED, ExpireCause.GTD: _GONE_EXPIRED,
         ExpireCause.UNFILLED: _GONE_UNFILLED, ExpireCause.SELF_TRADE: _GONE_SELF_TRADE}


class Settlement:
    """Fills into positions, fees and ledger moves; the open-order records the book's events
    keep up to date."""

    def __init__(self, state: State) -> None:
        self.state = state

    def _book_events(self, m: _Market, reduce_only: bool = False, pside: int = BOTH,
                     liquidation: bool = False) -> None:
        """Turn the book's events of the last operation into exchange events and settlements."""
        spec = m.spec
        done: list[int] = []
        for e in m.book.events():
            self.state._events.append(new_record(OrderEvent, (spec.symbol, e, liquidation)))
            # its fields unpacked once (no attribute lookup per use)
            kind, order_id, account, side, price, qty, leaves, counter_id, counter_account, counter_leaves, reason = e
            if kind == _ACCEPTED:
                # a forced order is an IOC: it never rests, so it reserves no reduce-only room
                m.orders[order_id] = _Open(account, side, price, 0, reduce_only or liquidation, pside)
                if reduce_only:
                    m.reduce_only.setdefault((account, pside), set()).add(order_id)
                self._order_leaves(m, order_id, qty)
            elif kind == _FILL:
                sign = 1 if side == _SIDE_BUY else -1
                self._pair(m, account, m.orders[order_id].pside, counter_account,
                           m.orders[counter_id].pside, sign * qty, price)
                notional = m.value(qty, price)
                if not liquidation and account != IF_ACCOUNT:
                    fee = apply_rate_up(notional, m.taker_fee)
                    self.state._move(spec.settle, account, FEES, fee, _LEDGER_FEE)
                    if self.state._loss_limits:
                        self.state._day_move(account, m.asset, -fee)
                maker_rate = m.maker_fee
                if self.state._forced and counter_id in self.state._forced:
                    # OKX: a resting liquidation order pays the liquidation fee, no trading fee
                    OX.fill_fee(self.state, m, counter_account, m.orders[counter_id].pside, notional)
                elif counter_account != IF_ACCOUNT:
                    fee = (apply_rate_up(notional, maker_rate) if maker_rate >= 0
                           else -apply_rate_down(notional, -maker_rate))
                    self.state._move(spec.settle, counter_account, FEES, fee, _LEDGER_FEE)
                    if self.state._loss_limits:
                        self.state._day_move(counter_account, m.asset, -fee)
                m.last = price
                self._order_leaves(m, order_id, leaves)
                self._order_leaves(m, counter_id, counter_leaves)
                if m.list_of:
                    for oid, left in ((order_id, leaves), (counter_id, counter_leaves)):
                        if oid in m.list_of:
                            self.state._notes.append(_Note(m.symbol, oid, "fill", qty, left))
                if not leaves:
                    done.append(order_id)
                if not counter_leaves:
                    done.append(counter_id)
            elif kind == _CANCELED or kind == _EXPIRED:
                self._order_leaves(m, order_id, 0)
                self._forget_order(m, order_id)
                if order_id in m.list_of:
                    cause = _GONE[_CANCELED if kind == _CANCELED else reason]
                    self.state._notes.append(_Note(m.symbol, order_id, "gone", cause=cause))
            elif kind == _AMENDED:
                o = m.orders.get(order_id)
                if o is not None and o.price != price:  # re-priced: its order value moves over
                    self._order_leaves(m, order_id, 0)
                    o.price = price
                self._order_leaves(m, order_id, qty)
        # an order filled within the operation leaves no record behind
        for oid in done:
            self._forget_order(m, oid)

    def _forget_order(self, m: _Market, order_id: int) -> None:
        o = m.orders.pop(order_id, None)
        if o is not None and o.reduce_only:
            ids = m.reduce_only.get((o.account, o.pside))
            if ids is not None:  # None: a forced order (never indexed)
                ids.discard(order_id)
                if not ids:
                    del m.reduce_only[(o.account, o.pside)]

    def _order_leaves(self, m: _Market, order_id: int, leaves: int) -> None:
        """Record an open order's new remaining quantity (0: gone) in its account's order value."""
        o = m.orders.get(order_id)
        if o is None:
            return
        if not o.reduce_only:
            value = m.order_value.get(o.account, 0) + m.value(leaves, o.price) - m.value(o.leaves, o.price)
            if value:
                m.order_value[o.account] = value
            else:
                m.order_value.pop(o.account, None)
        o.leaves = leaves

    def _trade(self, m: _Market, account: int, pside: int, qty: int, price: int) -> int:
        """Apply a signed fill to a position, pay its realized PnL from the pool, and move
        isolated margin: the opening part's initial margin in, a closed part's share out.
        Returns the position's cost change plus its realized PnL (for the inverse dust)."""
        key = position_key(account, pside)
        self.state._touched.add(account)
        self.state._positions_moved.add((m.symbol, account, pside))
        p = m.positions.get(key)
        if p is None:
            p = m.positions[key] = Position()
            symbols = self.state._markets_of.setdefault(account, set())
            symbols.add(m.symbol)
            if len(symbols) > 1:
                for s in symbols:
                    self.state._multi[s].add(account)
        isolated = account in m.isolated
        if isolated:
            before = abs(p.lots)
            closed = abs(p.closing_qty(qty))
        cost_before = p.cost
        realized = m.fill(p, qty, price)
        holder = m.iso_holder(account, pside) if isolated else account
        self.state._move(m.asset, m.pnl_pool, holder, realized, _LEDGER_REALIZED_PNL)
        if realized and self.state._loss_limits:
            self.state._day_move(account, m.asset, realized)
        if isolated and (m.symbol, account, pside) not in self.state._liquidating:
            iso = self.state.ledger.balance(holder, m.asset)
            # a full close or a flip frees all of it (a flip re-margins below); a partial close
            # frees its share, rounded down (a credit)
            release = iso if closed and closed == before else iso * closed // before if closed else 0
            self.state._move(m.asset, holder, account, release, _LEDGER_ISOLATED_MARGIN)
            opened = abs(qty) - closed
            if opened:
                margin = initial_margin(m.value(opened, price), self.state._lev(account, m))
                self.state._move(m.asset, account, holder, margin, _LEDGER_ISOLATED_MARGIN)
        if p.lots == 0:
            del m.positions[key]
            if not m.holds(account):  # its last position here: out of the market's indexes
                m.unindex(account)
                symbols = self.state._markets_of[account]
                symbols.discard(m.symbol)
                self.state._multi[m.symbol].discard(account)
                if len(symbols) == 1:
                    self.state._multi[next(iter(symbols))].discard(account)
                if not symbols:
                    del self.state._markets_of[account]
        self.state._events.append(new_record(PositionChanged, (m.symbol, account, p.lots, p.cost, pside)))
        return p.cost - cost_before + realized

    def _pair(self, m: _Market, a: int, a_side: int, b: int, b_side: int, qty: int, price: int) -> None:
        """One fill between two positions: a gets +qty lots, b gets -qty, at price. On inverse
        markets each side's cost and PnL round down, and what that leaves over (a few units at
        most) goes from the pool to dust, so the pool keeps holding exactly Σ cost."""
        moved = self._trade(m, a, a_side, qty, price) + self._trade(m, b, b_side, -qty, price)
        self.state._move(m.asset, m.pnl_pool, DUST, m.contract.pair_dust(moved), _LEDGER_ROUNDING_DUST)
