"""The reference order book: deliberately plain Python, the oracle for the Cython book.

Same API and the same events, in the same order, as `perpsim.engine.book.Book`; the property
tests drive both with identical commands and compare events and `state_hash()` at every step.

Semantics (shared by both implementations):

* Price-time priority. A taker walks the opposite side best price first, FIFO within a level,
  and trades at the maker's price. One FILL event per maker touched.
* Every operation carries a timestamp (ns). A timestamp earlier than the last one is rejected
  (STALE_TIMESTAMP) and changes nothing. Otherwise GTD orders whose expiry is at or before it
  expire first (ordered by expiry, then order id), then the operation runs.
* `place` validates in a fixed order (side, kind, time in force, STP mode, quantity, price,
  GTD time, duplicate id, post-only cross, FOK fillability) and either emits one REJECTED event
  and changes nothing, or emits ACCEPTED, the fills, and at most one final EXPIRED event.
* Market orders carry a protection price (the worst price they may trade at) and must be IOC
  or FOK; a limit order rests only for GTC, GTX and GTD.
* Self-trade prevention follows the taker's mode and applies to GTC, IOC and GTD takers only
  (not FOK or GTX, as on Binance). EXPIRE_TAKER: the taker's remainder expires. EXPIRE_MAKER:
  the maker expires and matching continues. EXPIRE_BOTH: both expire.
* `amend(order_id, price, qty)` sets a new price and remaining quantity. Same price and a
  smaller quantity keeps queue priority; anything else re-enters the book at the back of the
  queue (matching first if it now crosses), with STP reset to NONE as on Binance.
"""

from __future__ import annotations

import heapq
from itertools import islice

import numpy as np
from sortedcontainers import SortedDict

from perpsim.engine.book_types import (
    OP_ADD,
    OP_CANCEL,
    OP_MARKET,
    BookEvent,
    BookIntegrityError,
    OrderView,
    state_digest,
)
from perpsim.model.enums import EventKind, ExpireCause, OrderKind, Side, StpMode, TimeInForce
from perpsim.model.reasons import RejectReason as R

_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_BUY, _SELL = int(Side.BUY), int(Side.SELL)
_RESTING_TIF = (TimeInForce.GTC, TimeInForce.GTX, TimeInForce.GTD)
_STP_TIF = (TimeInForce.GTC, TimeInForce.IOC, TimeInForce.GTD)


class _Order:
    __slots__ = ("account", "expire_ts", "leaves", "order_id", "price", "side", "stp", "tif")

    def __init__(self, order_id, account, side, price, leaves, tif, stp, expire_ts):
        self.order_id = order_id
        self.account = account
        self.side = side
        self.price = price
        self.leaves = leaves
        self.tif = tif
        self.stp = stp
        self.expire_ts = expire_ts

    def view(self) -> OrderView:
        return OrderView(
            self.order_id, self.account, self.side, self.price, self.leaves, self.tif, self.stp, self.expire_ts
        )


def _int64(*values: int) -> None:
    # The Cython book takes C int64 arguments and raises OverflowError beyond them; so do we.
    for v in values:
        if not _INT64_MIN <= v <= _INT64_MAX:
            raise OverflowError(f"{v} does not fit in int64")


def _check_side(side: int) -> None:
    if side not in (_BUY, _SELL):
        raise ValueError("side must be 0 (buy) or 1 (sell)")


class Book:
    """Price-time priority limit order book for one market (integer ticks and lots)."""

    def __init__(self, min_price: int, max_price: int, min_qty: int, max_qty: int) -> None:
        self.min_price, self.max_price = min_price, max_price
        self.min_qty, self.max_qty = min_qty, max_qty
        # bids and asks: price -> {order_id: _Order} (dicts keep FIFO insertion order)
        self._sides = (SortedDict(), SortedDict())
        self._orders: dict[int, _Order] = {}
        self._accounts: dict[int, dict[int, None]] = {}
        self._gtd: list[tuple[int, int]] = []
        self._events: list[BookEvent] = []
        self.last_ts = 0
        self.trades = 0
        self.volume = 0

    # ------------------------------------------------------------------ commands

    def place(self, order_id, account, side, kind, price, qty, tif, stp, expire_ts, ts) -> int:
        """Submit an order; returns 0 if accepted, else the RejectReason value."""
        _int64(order_id, account, side, kind, price, qty, tif, stp, expire_ts, ts)
        self._events = []
        if not self._tick(ts):
            return self._reject(order_id, account, side, price, qty, R.STALE_TIMESTAMP)
        reason = self._validate(order_id, side, kind, price, qty, tif, stp, expire_ts, ts)
        if reason:
            return self._reject(order_id, account, side, price, qty, reason)
        self._emit(EventKind.ACCEPTED, order_id, account, side, price, qty, qty)
        o = _Order(order_id, account, side, price, qty, tif, stp, expire_ts)
        stp_active = stp != StpMode.NONE and tif in _STP_TIF
        self._execute(o, kind, stp_active)
        return 0

    def cancel(self, order_id: int, ts: int) -> int:
        """Cancel a resting order; returns 0 or the RejectReason value."""
        _int64(order_id, ts)
        self._events = []
        if not self._tick(ts):
            return self._reject(order_id, 0, 0, 0, 0, R.STALE_TIMESTAMP)
        o = self._orders.get(order_id)
        if o is None:
            return self._reject(order_id, 0, 0, 0, 0, R.UNKNOWN_ORDER)
        self._remove(o)
        self._emit(EventKind.CANCELED, o.order_id, o.account, o.side, o.price, o.leaves, 0)
        return 0

    def cancel_all(self, account: int, ts: int) -> int:
        """Cancel every resting order of an account in ascending order id; 0 or a reason."""
        _int64(account, ts)
        self._events = []
        if not self._tick(ts):
            return self._reject(0, account, 0, 0, 0, R.STALE_TIMESTAMP)
        for order_id in sorted(self._accounts.get(account, ())):
            o = self._orders[order_id]
            self._remove(o)
            self._emit(EventKind.CANCELED, o.order_id, o.account, o.side, o.price, o.leaves, 0)
        return 0

    def amend(self, order_id: int, price: int, qty: int, ts: int) -> int:
        """Set a resting order's price (ticks) and remaining quantity (lots); 0 or a reason."""
        _int64(order_id, price, qty, ts)
        self._events = []
        if not self._tick(ts):
            return self._reject(order_id, 0, 0, price, qty, R.STALE_TIMESTAMP)
        o = self._orders.get(order_id)
        if o is None:
            return self._reject(order_id, 0, 0, price, qty, R.UNKNOWN_ORDER)
        reason = self._check_qty(qty) or self._check_price(price)
        if not reason and price == o.price and qty == o.leaves:
            reason = R.SAME_ORDER
        if not reason and o.tif == TimeInForce.GTX and self._crosses(o.side, price):
            reason = R.POST_ONLY_WOULD_TAKE
        if reason:
            return self._reject(order_id, o.account, o.side, price, qty, reason)
        if price == o.price and qty < o.leaves:
            o.leaves = qty
            self._emit(EventKind.AMENDED, order_id, o.account, o.side, price, qty, qty, reason=1)
            return 0
        del self._sides[o.side][o.price][order_id]
        if not self._sides[o.side][o.price]:
            del self._sides[o.side][o.price]
        o.price, o.leaves, o.stp = price, qty, StpMode.NONE
        self._emit(EventKind.AMENDED, order_id, o.account, o.side, price, qty, qty)
        self._match(o, False)
        if o.leaves:
            self._sides[o.side].setdefault(price, {})[order_id] = o
        else:
            self._forget(o)
        return 0

    def advance(self, ts: int) -> int:
        """Move the book's clock to `ts`, expiring due GTD orders; 0 or STALE_TIMESTAMP."""
        _int64(ts)
        self._events = []
        if not self._tick(ts):
            return self._reject(0, 0, 0, 0, 0, R.STALE_TIMESTAMP)
        return 0

    def run_batch(self, op, side, price, qty, order_id, account=None) -> dict:
        """Apply the columns of the reference workload (see `perpsim.engine.book.Book.run_batch`)."""
        fills: list[tuple[int, int, int, int]] = []
        accounts = order_id if account is None else account
        for o, s, p, q, oid, acct in zip(
            op.tolist(), side.tolist(), price.tolist(), qty.tolist(), order_id.tolist(), accounts.tolist(),
            strict=True,
        ):
            if o == OP_ADD:
                self.place(oid, acct, s, OrderKind.LIMIT, p, q, TimeInForce.GTC, StpMode.NONE, 0, self.last_ts)
            elif o == OP_CANCEL:
                self.cancel(oid, self.last_ts)
            elif o == OP_MARKET:
                p = p or (self.max_price if s == _BUY else self.min_price)
                self.place(oid, acct, s, OrderKind.MARKET, p, q, TimeInForce.IOC, StpMode.NONE, 0, self.last_ts)
            else:
                raise ValueError(f"unknown batch op {o}")
            fills.extend(
                (e.order_id, e.counter_order_id, e.price, e.qty) for e in self._events if e.kind == EventKind.FILL
            )
        cols = np.array(fills, dtype=np.int64).reshape(-1, 4).T
        return {
            "taker_order_id": cols[0].copy(),
            "maker_order_id": cols[1].copy(),
            "price": cols[2].copy(),
            "qty": cols[3].copy(),
            "trades": self.trades,
            "volume": self.volume,
            "resting_orders": len(self._orders),
        }

    # ------------------------------------------------------------------ queries

    def events(self) -> list[BookEvent]:
        """The events of the last operation, in order."""
        return list(self._events)

    def best_bid(self) -> int | None:
        """The highest bid price (ticks), None with no bid."""
        bids = self._sides[_BUY]
        return bids.keys()[-1] if bids else None

    def best_ask(self) -> int | None:
        """The lowest ask price (ticks), None with no ask."""
        asks = self._sides[_SELL]
        return asks.keys()[0] if asks else None

    def depth(self, side: int, n: int) -> list[tuple[int, int, int]]:
        """Up to n levels of one side, best first: (price, total lots, order count)."""
        return [(p, sum(o.leaves for o in lvl.values()), len(lvl)) for p, lvl in self._levels(side)[:n]]

    def level_orders(self, side: int, price: int, limit: int | None = None) -> list[OrderView]:
        """The orders resting at one price, in queue order (L3); only the first `limit` of
        them if given."""
        _check_side(side)
        return [o.view() for o in islice(self._sides[side].get(price, {}).values(), limit)]

    def order(self, order_id: int) -> OrderView | None:
        """The resting order by id, None when it is not resting."""
        o = self._orders.get(order_id)
        return None if o is None else o.view()

    def orders(self) -> list[OrderView]:
        """All resting orders in priority order: bids best first, then asks best first."""
        return [o.view() for s in (_BUY, _SELL) for _, lvl in self._levels(s) for o in lvl.values()]

    @property
    def order_count(self) -> int:
        """Resting orders, both sides."""
        return len(self._orders)

    def level_count(self, side: int) -> int:
        """Price levels of one side."""
        _check_side(side)
        return len(self._sides[side])

    def open_orders(self, account: int) -> int:
        """The account's resting orders."""
        return len(self._accounts.get(account, ()))

    def state_hash(self) -> str:
        """A digest of the book's observable state: its orders in priority order, clock, trades and volume."""
        return state_digest(self.orders(), self.last_ts, self.trades, self.volume)

    def check_integrity(self) -> None:
        """Raise BookIntegrityError if the book's structures disagree."""
        seen = 0
        for s in (_BUY, _SELL):
            for p, lvl in self._sides[s].items():
                if not lvl:
                    raise BookIntegrityError(f"empty level {p} on side {s}")
                for oid, o in lvl.items():
                    seen += 1
                    if self._orders.get(oid) is not o or o.price != p or o.side != s or o.leaves <= 0:
                        raise BookIntegrityError(f"order {oid} misplaced")
                    if oid not in self._accounts.get(o.account, ()):
                        raise BookIntegrityError(f"order {oid} missing from account {o.account}")
        if seen != len(self._orders) or seen != sum(map(len, self._accounts.values())):
            raise BookIntegrityError("order, level and account counts disagree")
        bid, ask = self.best_bid(), self.best_ask()
        if bid is not None and ask is not None and bid >= ask:
            raise BookIntegrityError(f"crossed book: bid {bid} >= ask {ask}")

    # ------------------------------------------------------------------ internals

    def _levels(self, side: int):
        _check_side(side)
        items = self._sides[side].items()
        return list(reversed(items)) if side == _BUY else list(items)

    def _emit(self, kind, order_id, account, side, price, qty, leaves, c_oid=0, c_acct=0, c_leaves=0, reason=0):
        self._events.append(
            BookEvent(int(kind), order_id, account, side, price, qty, leaves, c_oid, c_acct, c_leaves, int(reason))
        )

    def _reject(self, order_id, account, side, price, qty, reason) -> int:
        self._emit(EventKind.REJECTED, order_id, account, side, price, qty, 0, reason=reason)
        return int(reason)

    def _tick(self, ts: int) -> bool:
        """Advance the clock and expire due GTD orders; False if ts is in the past."""
        if ts < self.last_ts:
            return False
        self.last_ts = ts
        while self._gtd and self._gtd[0][0] <= ts:
            expire_ts, order_id = heapq.heappop(self._gtd)
            o = self._orders.get(order_id)
            if o is not None and o.tif == TimeInForce.GTD and o.expire_ts == expire_ts:
                self._remove(o)
                self._emit(EventKind.EXPIRED, o.order_id, o.account, o.side, o.price, o.leaves, 0,
                           reason=ExpireCause.GTD)
        return True

    def _check_qty(self, qty: int) -> int:
        if qty <= 0:
            return R.INVALID_QUANTITY
        if qty < self.min_qty:
            return R.QUANTITY_TOO_SMALL
        if qty > self.max_qty:
            return R.QUANTITY_TOO_LARGE
        return 0

    def _check_price(self, price: int) -> int:
        if price <= 0:
            return R.INVALID_PRICE
        if price < self.min_price:
            return R.PRICE_TOO_LOW
        if price > self.max_price:
            return R.PRICE_TOO_HIGH
        return 0

    def _validate(self, order_id, side, kind, price, qty, tif, stp, expire_ts, ts) -> int:
        if side not in (_BUY, _SELL):
            return R.INVALID_SIDE
        if kind not in (OrderKind.LIMIT, OrderKind.MARKET):
            return R.INVALID_ORDER_TYPE
        if not TimeInForce.GTC <= tif <= TimeInForce.GTD:
            return R.INVALID_TIME_IN_FORCE
        if kind == OrderKind.MARKET and tif not in (TimeInForce.IOC, TimeInForce.FOK):
            return R.INVALID_TIME_IN_FORCE
        if not StpMode.NONE <= stp <= StpMode.EXPIRE_BOTH:
            return R.INVALID_STP_MODE
        reason = self._check_qty(qty) or self._check_price(price)
        if reason:
            return reason
        if (expire_ts <= ts) if tif == TimeInForce.GTD else (expire_ts != 0):
            return R.INVALID_GTD_TIME
        if order_id in self._orders:
            return R.DUPLICATE_ORDER_ID
        if tif == TimeInForce.GTX and self._crosses(side, price):
            return R.POST_ONLY_WOULD_TAKE
        if tif == TimeInForce.FOK and self._fillable(side, price, qty) < qty:
            return R.FOK_NOT_FILLABLE
        return 0

    def _crosses(self, side: int, price: int) -> bool:
        best = self.best_ask() if side == _BUY else self.best_bid()
        return best is not None and (best <= price if side == _BUY else best >= price)

    def _fillable(self, side: int, limit: int, want: int) -> int:
        got = 0
        for p, lvl in self._levels(1 - side):
            if (p > limit) if side == _BUY else (p < limit):
                break
            got += sum(o.leaves for o in lvl.values())
            if got >= want:
                break
        return got

    def _execute(self, o: _Order, kind: int, stp_active: bool) -> None:
        expired_by_stp = self._match(o, stp_active)
        if not o.leaves:
            return
        if expired_by_stp:
            self._emit(EventKind.EXPIRED, o.order_id, o.account, o.side, o.price, o.leaves, 0,
                       reason=ExpireCause.SELF_TRADE)
        elif kind == OrderKind.LIMIT and o.tif in _RESTING_TIF:
            self._rest(o)
        else:
            self._emit(EventKind.EXPIRED, o.order_id, o.account, o.side, o.price, o.leaves, 0,
                       reason=ExpireCause.UNFILLED)

    def _match(self, o: _Order, stp_active: bool) -> bool:
        """Trade `o` against the opposite side; True if STP expired the taker."""
        opp = self._sides[1 - o.side]
        while o.leaves and opp:
            px = opp.keys()[0] if o.side == _BUY else opp.keys()[-1]
            if (px > o.price) if o.side == _BUY else (px < o.price):
                break
            level = opp[px]
            while o.leaves and level:
                maker = next(iter(level.values()))
                if stp_active and maker.account == o.account:
                    if o.stp == StpMode.EXPIRE_TAKER:
                        return True
                    self._remove(maker)
                    self._emit(EventKind.EXPIRED, maker.order_id, maker.account, maker.side, maker.price,
                               maker.leaves, 0, reason=ExpireCause.SELF_TRADE)
                    if o.stp == StpMode.EXPIRE_BOTH:
                        return True
                    continue
                q = min(o.leaves, maker.leaves)
                o.leaves -= q
                maker.leaves -= q
                self.trades += 1
                self.volume += q
                self._emit(EventKind.FILL, o.order_id, o.account, o.side, px, q, o.leaves,
                           maker.order_id, maker.account, maker.leaves)
                if not maker.leaves:
                    self._remove(maker)
        return False

    def _rest(self, o: _Order) -> None:
        self._orders[o.order_id] = o
        self._sides[o.side].setdefault(o.price, {})[o.order_id] = o
        self._accounts.setdefault(o.account, {})[o.order_id] = None
        if o.tif == TimeInForce.GTD:
            heapq.heappush(self._gtd, (o.expire_ts, o.order_id))

    def _remove(self, o: _Order) -> None:
        lvl = self._sides[o.side][o.price]
        del lvl[o.order_id]
        if not lvl:
            del self._sides[o.side][o.price]
        self._forget(o)

    def _forget(self, o: _Order) -> None:
        del self._orders[o.order_id]
        acct = self._accounts[o.account]
        del acct[o.order_id]
        if not acct:
            del self._accounts[o.account]
