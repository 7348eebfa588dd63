"""Order entry and pre-trade risk: what an order must pass before it reaches the book.

An order command is checked statelessly (market, account, side, position side against the
account's mode: `_order_market`), then against the account and the market: the PERCENT_PRICE
band around the mark, the daily loss limit, the minimum notional, the largest bracket and the
leverage its position would allow, the reduce-only clamp (a closing order never increases or
flips its position; a reduce-only market order knocks resting reduce-only orders out), and the
cost to open against what is available (`_order_cost`: Binance's initial margin plus open
loss, the fee reserve, and what a marketable order's walk through the book rounds beyond
them). Then the book matches it, settlement settles the fills and the mark is recomputed (the
last price is one of its inputs). `_place_for` places an order on an account's behalf (a fired
conditional order, an order list's leg, a requote, a flatten) through the same checks.
`preview_order` answers what an order would do, changing nothing.
"""

from __future__ import annotations

from perpsim.engine import commands as C
from perpsim.engine import multi_assets as MA
from perpsim.engine.events import CommandRejected, OrderEvent, OrderPlaced
from perpsim.engine.loss_limits import LossLimits
from perpsim.engine.market import BOTH, LONG, SHORT, _Market, position_key
from perpsim.engine.marking import Marking
from perpsim.engine.position_risk import PositionRisk
from perpsim.engine.settlement import Settlement
from perpsim.engine.state import State
from perpsim.model.causes import PlacedBy
from perpsim.model.enums import EventKind, OrderKind, Side, TimeInForce
from perpsim.model.reasons import RejectReason as R
from perpsim.risk.funding_payments import funding_payment
from perpsim.risk.liqprice import Trigger
from perpsim.risk.margin import initial_margin
from perpsim.risk.positions import Position
from perpsim.risk.units import apply_rate_down, apply_rate_up, div_up

# Members bound once as module names (reading one off its Enum class costs about ten times more).
_BY_NONE = PlacedBy.NONE

_SIDE_BUY, _SIDE_SELL = Side.BUY, Side.SELL
_MARKET, _LIMIT = OrderKind.MARKET, OrderKind.LIMIT
_IOC, _FOK = TimeInForce.IOC, TimeInForce.FOK
_AT_OR_BELOW = Trigger.AT_OR_BELOW


def _beyond(side: int, level: int, limit: int) -> bool:
    """Whether an order on `side` with limit price `limit` cannot trade at price `level`."""
    return level > limit if side == _SIDE_BUY else level < limit


def _growing(read, *args):
    """The items `read(*args, n)` lists (the first n of a sequence, best first), read a few at a
    time: a walk through the book's levels, or through a level of 100,000 resting orders, copies
    out only about what it meets."""
    n, seen = 8, 0
    while True:
        items = read(*args, n)
        yield from items[seen:]
        if len(items) < n:
            return
        seen, n = len(items), n * 4

class Entry:
    """Order entry and pre-trade risk: placing, amending and canceling orders in the book."""

    def __init__(self, state: State, settlement: Settlement, position_risk: PositionRisk, marking: Marking,
                 loss_limits: LossLimits) -> None:
        self.state = state
        self.settlement = settlement
        self.position_risk = position_risk
        self.marking = marking
        self.loss_limits = loss_limits

    def _order_market(self, cmd) -> _Market | None:
        """The market of an order-type command after the checks every order shares (market,
        account, side, position side against the account's mode), or None after rejecting it."""
        if (m := self.state._market(cmd)) is None:
            return None
        if cmd.account <= 0:
            return self.state._reject(cmd, R.UNKNOWN_ACCOUNT, account=cmd.account)
        if cmd.side not in (_SIDE_BUY, _SIDE_SELL):
            return self.state._reject(cmd, R.INVALID_SIDE, side=cmd.side)
        if m.inverse and cmd.account in self.state.multi_assets:
            return self.state._reject(cmd, R.MULTI_ASSETS_COIN_M, symbol=m.symbol)
        hedge = cmd.account in self.state.hedge
        if (cmd.position_side == BOTH) == hedge or cmd.position_side not in (BOTH, LONG, SHORT):
            return self.state._reject(cmd, R.INVALID_POSITION_SIDE, position_side=cmd.position_side, hedge=hedge)
        return m

    def _PlaceOrder(self, cmd: C.PlaceOrder) -> None:
        if (m := self._order_market(cmd)) is None:
            return None
        hedge = cmd.account in self.state.hedge
        if hedge and cmd.reduce_only:  # Binance: reduceOnly cannot be sent in hedge mode
            return self.state._reject(cmd, R.REDUCE_ONLY_REJECTED, problem="reduce_only is not used in hedge mode")
        spec, sign = m.spec, 1 if cmd.side == _SIDE_BUY else -1
        price = cmd.price
        if cmd.kind == _MARKET:
            if m.mark is None:
                return self.state._reject(cmd, R.INVALID_PRICE, problem="no mark price yet for a market order")
            # risk checks use the assumed fill price; the book gets the band's protection price
            price = self._assumed_price(m, cmd.side)
        elif cmd.kind == _LIMIT and price > 0 and self._outside_band(cmd, m, cmd.side, price):
            return None
        pos = m.positions.get(position_key(cmd.account, cmd.position_side), Position())
        # in hedge mode a SELL on LONG (BUY on SHORT) closes: it behaves as reduce-only
        closing_only = cmd.reduce_only or (hedge and (cmd.position_side == LONG) != (cmd.side == _SIDE_BUY))
        qty = cmd.qty
        if closing_only:
            # room left by the position and the reduce-only orders already resting against it
            resting = self._reduce_only_resting(m, cmd.account, cmd.position_side, cmd.side)
            closable = abs(pos.closing_qty(sign * qty))
            if cmd.kind == _MARKET and resting + closable > abs(pos.lots):
                # a reduce-only market order knocks resting reduce-only orders out (Binance)
                self._knock_out(m, cmd.account, cmd.position_side, cmd.side, resting + closable - abs(pos.lots))
                resting = abs(pos.lots) - closable
            closable = min(closable, abs(pos.lots) - resting)
            if closable <= 0:
                return self.state._reject(cmd, R.REDUCE_ONLY_REJECTED, position=pos.lots, resting_reduce_only=resting)
            qty = closable  # never increases or flips the position
        else:
            if self.state._loss_limits and self.loss_limits._loss_refused(cmd, m.asset):
                return None
            ref_price = m.mark if cmd.kind == _MARKET else price
            short = m.contract.below_min_notional(spec, qty, ref_price, m.min_notional)
            if short is not None:  # (notional, minimum); inverse: face values in the quote currency
                return self.state._reject(cmd, R.MIN_NOTIONAL, notional=short[0], min_notional=short[1])
            if m.book.open_orders(cmd.account) + len(m.conditionals_of.get(cmd.account, ())) >= spec.max_open_orders:
                return self.state._reject(cmd, R.MAX_OPEN_ORDERS, limit=spec.max_open_orders)
            lev = self.state.leverage.get((cmd.account, cmd.symbol), m.default_leverage)
            held = m.held(cmd.account)
            if m.mark is not None and qty > 0 and price > 0:
                cap = m.brackets.max_notional
                worst = m.contract.larger(price, m.mark)  # the larger notional
                if m.value(held + qty, worst) > cap:
                    problem = "position would exceed the largest bracket"
                    return self.state._reject(cmd, R.INVALID_LEVERAGE, problem=problem, max_notional=cap)
                if m.brackets.max_leverage_for(m.value(held + qty, m.mark)) < lev:
                    return self.state._reject(cmd, R.INVALID_LEVERAGE, leverage=lev,
                                              problem="leverage above the bracket of the resulting position")
            opening = qty - abs(pos.closing_qty(sign * qty))
            if opening > 0 and price > 0 and m.mark is not None:
                cost = self._order_cost(m, cmd, qty, opening, price, lev)
                avail = self.state.available(cmd.account, spec.settle)
                if cost > avail:
                    return self.state._reject(cmd, R.MARGIN_INSUFFICIENT, required=cost, available=avail)
        oid = self.state.next_order_id
        limit = m.protection(cmd.side) if cmd.kind == _MARKET else price
        if m.book.place(oid, cmd.account, cmd.side, cmd.kind, limit, qty, cmd.tif, cmd.stp,
                        cmd.expire_ts, self.state.ts) == 0:
            self.state.next_order_id += 1
        self.settlement._book_events(m, closing_only, cmd.position_side)
        self.marking._remark(m)  # the last price is one input of the mark

    def _AmendOrder(self, cmd: C.AmendOrder) -> None:
        """The new price and quantity go through what a new order's do (band, reduce-only room,
        margin for what the order adds); then the book amends it (-5027 for no change)."""
        if (m := self.state._market(cmd)) is None:
            return None
        o = m.orders.get(cmd.order_id)
        if o is None or o.account != cmd.account:  # never reveal another account's order
            return self.state._reject(cmd, R.UNKNOWN_ORDER, order_id=cmd.order_id)
        # past a daily loss limit an opening order may only shrink where it stands
        if self.state._loss_limits and not o.reduce_only and not (cmd.price == o.price and cmd.qty < o.leaves) \
                and self.loss_limits._loss_refused(cmd, m.asset):
            return None
        if self._outside_band(cmd, m, o.side, cmd.price):
            return None
        pos = m.positions.get(position_key(cmd.account, o.pside), Position())
        if o.reduce_only:
            # its room: the position less the other reduce-only orders on its side
            room = abs(pos.lots) - self._reduce_only_resting(m, cmd.account, o.pside, o.side) + o.leaves
            if cmd.qty > room:
                return self.state._reject(cmd, R.REDUCE_ONLY_REJECTED, position=pos.lots, room=room)
        elif cmd.qty > 0 and cmd.price > 0 and m.mark is not None:
            # margin as for the order placed anew, against what is available without the old one
            lev, value = self.state._lev(cmd.account, m), m.order_value.get(cmd.account, 0)
            freed = self.state._orders_margin(m, value, lev) - \
                self.state._orders_margin(m, value - m.value(o.leaves, o.price), lev)
            sign = 1 if o.side == _SIDE_BUY else -1
            opening = cmd.qty - abs(pos.closing_qty(sign * cmd.qty))
            if opening > 0:
                order = C.PlaceOrder(cmd.ts, cmd.account, cmd.symbol, o.side, cmd.qty, cmd.price,
                                     position_side=o.pside)
                cost = self._order_cost(m, order, cmd.qty, opening, cmd.price, lev)
                avail = self.state.available(cmd.account, m.asset) + freed
                if cost > avail:
                    return self.state._reject(cmd, R.MARGIN_INSUFFICIENT, required=cost, available=avail)
        reason = m.book.amend(cmd.order_id, cmd.price, cmd.qty, self.state.ts)
        if reason:
            m.book.events()  # the book's own REJECTED event: the command's rejection says it
            return self.state._reject(cmd, R(reason), order_id=cmd.order_id, price=cmd.price, qty=cmd.qty)
        self.settlement._book_events(m)
        self.marking._remark(m)  # a re-priced order may have traded: the last price is one input of the mark

    def _CancelOrder(self, cmd: C.CancelOrder) -> None:
        if (m := self.state._market(cmd)) is None:
            return None
        o = m.orders.get(cmd.order_id)
        if o is None or o.account != cmd.account:  # never reveal another account's order
            return self.state._reject(cmd, R.UNKNOWN_ORDER, order_id=cmd.order_id)
        m.book.cancel(cmd.order_id, self.state.ts)
        self.settlement._book_events(m)

    def _CancelAll(self, cmd: C.CancelAll) -> None:
        if (m := self.state._market(cmd)) is None:
            return None
        m.book.cancel_all(cmd.account, self.state.ts)
        self.settlement._book_events(m)

    def _place_for(self, m: _Market, by: int, order: C.PlaceOrder, cause: PlacedBy = _BY_NONE) -> tuple[int, int]:
        """Place an order the venue makes on an account's behalf (`by`: a fired conditional
        order, an order list; 0 with `cause` for a flatten order) with the usual checks: (order
        id, 0), or (0, reason). A refusal is
        taken out of the events: it belongs to the conditional order or list, not to the command
        that caused it (a price move, a fill)."""
        before, oid = len(self.state._events), self.state.next_order_id
        self._PlaceOrder(order)
        for e in self.state._events[before:]:
            if isinstance(e, CommandRejected):
                self.state._events.remove(e)
                return 0, e.reason
            if isinstance(e, OrderEvent) and e.event.kind == EventKind.REJECTED and e.event.order_id == oid:
                return 0, e.event.reason
        self.state._events.append(OrderPlaced(m.symbol, oid, by, order, cause))
        return oid, 0

    def _outside_band(self, cmd, m: _Market, side: int, price: int) -> bool:
        """Whether a limit price lies outside the PERCENT_PRICE band (after rejecting `cmd`);
        no band before the first mark."""
        if m.mark is None:
            return False
        up, down = m.price_band()
        if side == _SIDE_BUY and price > up:
            self.state._reject(cmd, R.PRICE_ABOVE_BAND, price=price, max_price=up)
            return True
        if side == _SIDE_SELL and price < down:
            self.state._reject(cmd, R.PRICE_BELOW_BAND, price=price, min_price=down)
            return True
        return False

    def _assumed_price(self, m: _Market, side: int) -> int:
        """The price a market order's margin is computed at (Binance): a buy at Ask1 × 1.0005
        (rounded up), a sell at max(Bid1, mark); the mark where that side of the book is empty."""
        if side == _SIDE_BUY:
            ask = m.book.best_ask()
            return m.mark if ask is None else div_up(ask * 10_005, 10_000)
        bid = m.book.best_bid()
        return m.mark if bid is None else max(bid, m.mark)

    def _cost_to_open(self, m: _Market, side: int, qty: int, price: int, lev: int) -> int:
        """Binance's cost to open: initial margin + open loss against the mark (money units,
        rounded up). Inverse: the same in coin, the open loss being qty's value difference."""
        return m.contract.cost_to_open(side, qty, price, m.mark, lev, self.state.profile.cost_model, m.last or m.mark)

    def _order_cost(self, m: _Market, cmd: C.PlaceOrder, qty: int, opening: int, price: int, lev: int) -> int:
        """What an order of `qty` lots (`opening` of them opening exposure) must find available:
        Binance's cost to open at `price` (its limit, or a market order's assumed price), plus
        the fee at the taker rate reserved so that no fill leaves the wallet short of its fee
        (rounded up, against the account).

        A marketable order trades through the book, beyond what the formula assumes: a sell at
        the bids above its limit, a market buy up the asks past Ask1 × 1.0005. Its margin and fee
        reserve are taken at the worst price it can trade at if that is worse, and each fill
        rounds its fee (and an isolated position's margin) up on its own, so what that rounds
        beyond the total rounded once is added (`_sweep_bound`). So what an accepted order takes
        from the book never leaves the wallet short of the margin and fees it moves."""
        limit = m.protection(cmd.side) if cmd.kind == _MARKET else price
        rests = cmd.kind == _LIMIT and cmd.tif not in (_IOC, _FOK)
        worst, rounding = self._sweep_bound(m, cmd, qty, qty - opening, limit, rests, lev)
        # the worse price for the account: the higher notional (linear), the lower price (inverse)
        at = price if worst is None else m.contract.larger(price, worst)
        cost = self._cost_to_open(m, cmd.side, opening, price, lev)
        if at != price:
            cost = max(cost, self._cost_to_open(m, cmd.side, opening, at, lev))
        return cost + self.state._fee_reserve(m, m.value(qty, at)) + rounding

    def _sweep_bound(self, m: _Market, cmd: C.PlaceOrder, qty: int, closing: int, limit: int, rests: bool,
                     lev: int) -> tuple[int | None, int]:
        """Walk the resting orders an order of `qty` lots (the first `closing` of them closing)
        with limit (or protection) price `limit` would trade with, as the book is now: (price,
        rounding). price: among the prices it would trade at and, if its rest would rest, its
        limit, the one where its notional is largest (the highest on linear markets, the lowest
        on inverse ones; None when it trades nowhere and rests nowhere). rounding: how many
        units its fills' taker fees, and an isolated position's margins, each rounded up on its
        own, come to beyond their totals rounded once."""
        opposite, prices, left = 1 - cmd.side, [], qty
        best = m.book.best_ask() if cmd.side == _SIDE_BUY else m.book.best_bid()
        if best is None or _beyond(cmd.side, best, limit):  # it trades nowhere: no walk
            return (limit if rests else None), 0
        notional = fees = margin = margins = 0
        isolated = cmd.account in m.isolated
        for level, _, _ in _growing(m.book.depth, opposite):
            if left <= 0 or _beyond(cmd.side, level, limit):
                break
            prices.append(level)
            for o in _growing(m.book.level_orders, opposite, level):
                q = min(left, o.leaves)
                value = m.value(q, level)
                notional += value
                fees += apply_rate_up(value, m.taker_fee)
                opened = q - min(q, closing)
                closing -= q - opened
                if isolated and opened:
                    part = m.value(opened, level)
                    margin += part
                    margins += initial_margin(part, lev)
                left -= q
                if not left:
                    break
        if left > 0 and rests:
            prices.append(limit)
        if not prices:
            return None, 0
        rounding = fees - apply_rate_up(notional, m.taker_fee)
        if margin:
            rounding += margins - initial_margin(margin, lev)
        return m.contract.largest(prices), rounding

    def _reduce_only_ids(self, m: _Market, account: int, pside: int) -> list[int]:
        """The account's resting reduce-only order ids against one position, oldest first."""
        return sorted(m.reduce_only.get((account, pside), ()))

    def _reduce_only_resting(self, m: _Market, account: int, pside: int, side: int) -> int:
        """Lots of the account's resting reduce-only orders on `side` against one position."""
        return sum(m.orders[oid].leaves for oid in m.reduce_only.get((account, pside), ())
                   if m.orders[oid].side == side)

    def _knock_out(self, m: _Market, account: int, pside: int, side: int, excess: int) -> None:
        """Take `excess` lots off the account's resting reduce-only orders on `side`, newest first
        (Binance cancels them; the last one touched is reduced in place, keeping its priority)."""
        for oid in reversed(self._reduce_only_ids(m, account, pside)):
            o = m.orders[oid]
            if excess <= 0:
                return
            if o.side != side:
                continue
            if excess >= o.leaves:
                excess -= o.leaves
                m.book.cancel(oid, self.state.ts)
            else:
                m.book.amend(oid, o.price, o.leaves - excess, self.state.ts)
                excess = 0
            self.settlement._book_events(m)

    def preview_order(self, cmd: C.PlaceOrder) -> dict:
        """What `cmd` would do to the account if it filled completely at its price (a market
        order at its assumed price, see _assumed_price), without changing anything: the cost to open (with the fee
        reserve), the fee the fill pays (taker if the order would trade at once, maker if it
        rests; money units, rounded up), the available balance, and what the fill leaves: the
        resulting position's lots, maintenance margin, liquidation and bankruptcy price against
        the wallet after the fill's realized PnL and fee (exact Fractions of the quote currency,
        None when none; `*_tick`: rounded onto the tick grid against the account, as the venue
        displays them) and its signed distance from mark in percent (negative once the mark is
        past the liquidation price), its liquidation band (partial and full liquidation tick,
        rounded against the account: PositionRisk.liquidation_band), and its funding carry: the
        predicted rate, what it would be paid (+) or pay (−) at the next funding time (funding_estimate) and that
        time. Money in units, rounded as the venue rounds."""
        m = self.state.markets[cmd.symbol]
        if m.mark is None:
            raise ValueError("no mark price yet")
        price = cmd.price if cmd.kind == _LIMIT else self._assumed_price(m, cmd.side)
        sign = 1 if cmd.side == _SIDE_BUY else -1
        pos = m.positions.get(position_key(cmd.account, cmd.position_side), Position())
        after = Position(pos.lots, pos.cost)
        opening = cmd.qty - abs(pos.closing_qty(sign * cmd.qty))
        lev = self.state._lev(cmd.account, m)
        cost = 0 if cmd.reduce_only or opening <= 0 else self._order_cost(m, cmd, cmd.qty, opening, price, lev)
        realized = m.fill(after, sign * cmd.qty, price)
        # the fee the fill pays from the wallet: taker if it would trade at once, maker if it rests
        best = m.book.best_ask() if cmd.side == _SIDE_BUY else m.book.best_bid()
        takes = cmd.kind != _LIMIT or (best is not None and not _beyond(cmd.side, best, price))
        notional = m.value(cmd.qty, price)
        fee_rate = m.taker_fee if takes else m.maker_fee
        fee = apply_rate_up(notional, fee_rate) if fee_rate >= 0 else -apply_rate_down(notional, -fee_rate)
        rate = self.marking.predicted_funding_rate(cmd.symbol)
        mark, K = m.funding_terms(self.state.ts)
        out = {"cost": cost, "fee": fee, "available": self.state.available(cmd.account, m.asset), "lots": after.lots,
               "maintenance_margin": 0, "liquidation_price": None, "bankruptcy_price": None,
               "liquidation_tick": None, "bankruptcy_tick": None,
               "liquidation_distance_percent": None, "liquidation_band": (None, None), "funding_rate": rate,
               "funding_payment": funding_payment(after.lots, mark, rate, K), "next_funding_ts": m.next_funding}
        if after.lots == 0:
            return out
        if cmd.account in m.isolated:
            wallet = self.state._iso_margin(m, cmd.account, cmd.position_side) + realized + \
                (initial_margin(m.value(opening, price), lev) if opening > 0 else 0)
            other_mm = other_upnl = 0
        elif cmd.account in self.state.multi_assets:  # the Multi-Assets pool after the fill
            wallet = MA.wallets(self.state, cmd.account) + realized - fee
            other_upnl, other_mm = MA.others(self.state, cmd.account, m.symbol)
        else:  # the cross wallet after the fill: its realized PnL and its fee
            wallet = self.state.wallet(cmd.account, m.asset) + realized - fee
            other_mm = self.state.maintenance(cmd.account, m.asset, skip=m.symbol)
            other_upnl = self.state.upnl(cmd.account, m.asset, skip=m.symbol)
        lp = m.lp([after], wallet, other_mm, other_upnl, self.state.profile.liquidation_model)
        bp = m.bp([after], wallet, other_upnl)
        out["maintenance_margin"] = self.state._mm(m, after)
        if lp is not None:
            out["liquidation_price"], out["liquidation_tick"] = lp.price, lp.tick
            # signed: positive while the mark is on the safe side, negative past the price
            gap = m.mark - lp.ticks if lp.trigger is _AT_OR_BELOW else lp.ticks - m.mark
            out["liquidation_distance_percent"] = gap / m.mark * 100
            if cmd.account in m.isolated or not any(ps != cmd.position_side for ps, _ in m.legs(cmd.account)):
                out["liquidation_band"] = self.position_risk.liquidation_band(m, after, wallet, other_mm, other_upnl)
        if bp is not None:
            out["bankruptcy_price"], out["bankruptcy_tick"] = bp.price, bp.tick
        return out
