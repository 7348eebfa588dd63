# cython: language_level=3
"""The Cython order book: price-time priority over C structs in preallocated pools.

Same API, events and semantics as the reference twin `perpsim.engine.book_ref` (whose module
docstring states them). Inner loops touch no Python objects: orders, levels and accounts are
C structs in growable pools addressed by int32 slot, each level is an intrusive FIFO, levels of
a side sit in a sorted array with the best price at the end (so most inserts and removals
move few elements), and order ids and accounts are found through open-addressing hash maps.

Units: prices in ticks, quantities in lots, timestamps in ns, all int64.
"""

from libc.stdint cimport int8_t, int32_t, int64_t, uint64_t
from libc.stdlib cimport free
from libc.string cimport memcpy, memmove

import numpy as np

from perpsim.engine.book_types import BookEvent, BookIntegrityError, OrderView, state_digest
from perpsim.engine.gtd_heap cimport GtdEntry, heap_free, heap_init, heap_pop, heap_push
from perpsim.engine.intmap cimport grow, map_del, map_free, map_get, map_init, map_put
from perpsim.engine.records cimport new_record
from perpsim.model.reasons import RejectReason as _R

cdef int64_t R_STALE = _R.STALE_TIMESTAMP
cdef int64_t R_UNKNOWN = _R.UNKNOWN_ORDER
cdef int64_t R_SIDE = _R.INVALID_SIDE
cdef int64_t R_KIND = _R.INVALID_ORDER_TYPE
cdef int64_t R_TIF = _R.INVALID_TIME_IN_FORCE
cdef int64_t R_STP = _R.INVALID_STP_MODE
cdef int64_t R_QTY = _R.INVALID_QUANTITY
cdef int64_t R_QTY_SMALL = _R.QUANTITY_TOO_SMALL
cdef int64_t R_QTY_LARGE = _R.QUANTITY_TOO_LARGE
cdef int64_t R_PRICE = _R.INVALID_PRICE
cdef int64_t R_PRICE_LOW = _R.PRICE_TOO_LOW
cdef int64_t R_PRICE_HIGH = _R.PRICE_TOO_HIGH
cdef int64_t R_GTD = _R.INVALID_GTD_TIME
cdef int64_t R_DUP = _R.DUPLICATE_ORDER_ID
cdef int64_t R_GTX = _R.POST_ONLY_WOULD_TAKE
cdef int64_t R_FOK = _R.FOK_NOT_FILLABLE
cdef int64_t R_SAME = _R.SAME_ORDER

#: The C enum values, exported so a test can pin them to perpsim.model.enums.
CONSTANTS = {
    "BUY": BUY, "SELL": SELL, "LIMIT": LIMIT, "MARKET": MARKET,
    "GTC": GTC, "IOC": IOC, "FOK": FOK, "GTX": GTX, "GTD": GTD,
    "STP_NONE": STP_NONE, "EXPIRE_TAKER": EXPIRE_TAKER, "EXPIRE_MAKER": EXPIRE_MAKER,
    "EXPIRE_BOTH": EXPIRE_BOTH,
    "EV_ACCEPTED": EV_ACCEPTED, "EV_REJECTED": EV_REJECTED, "EV_FILL": EV_FILL,
    "EV_CANCELED": EV_CANCELED, "EV_EXPIRED": EV_EXPIRED, "EV_AMENDED": EV_AMENDED,
    "X_UNFILLED": X_UNFILLED, "X_SELF_TRADE": X_SELF_TRADE, "X_GTD": X_GTD,
}


# ---------------------------------------------------------------- helpers on sorted sides

cdef inline int64_t _key(int64_t side, int64_t price) noexcept nogil:
    return price if side == BUY else -price


cdef inline int32_t _lower_bound(int64_t* keys, int32_t n, int64_t key) noexcept nogil:
    cdef int32_t lo = 0, hi = n, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if keys[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef inline bint _beyond(int64_t side, int64_t px, int64_t limit) noexcept nogil:
    """True if a maker price px is worse than a taker's limit (no cross)."""
    return px > limit if side == BUY else px < limit


cdef class Book:
    """Price-time priority limit order book for one market (integer ticks and lots)."""

    def __cinit__(self, int64_t min_price, int64_t max_price, int64_t min_qty, int64_t max_qty):
        cdef int s
        self.min_price, self.max_price = min_price, max_price
        self.min_qty, self.max_qty = min_qty, max_qty
        self.o_cap = self.lv_cap = self.ac_cap = 0
        self.o_free = self.lv_free = self.ac_free = -1
        for s in range(2):
            self.side_n[s] = 0
            self.side_cap[s] = 64
            self.side_keys[s] = <int64_t*>grow(NULL, 64, sizeof(int64_t))
            self.side_lv[s] = <int32_t*>grow(NULL, 64, sizeof(int32_t))
        map_init(&self.by_id, 1024)
        map_init(&self.by_account, 1024)
        self.ev_cap = 64
        self.ev = <Event*>grow(NULL, 64, sizeof(Event))
        heap_init(&self.gtd, 64)

    def __dealloc__(self):
        cdef int s
        free(self.o)
        free(self.lv)
        free(self.ac)
        for s in range(2):
            free(self.side_keys[s])
            free(self.side_lv[s])
        map_free(&self.by_id)
        map_free(&self.by_account)
        free(self.ev)
        heap_free(&self.gtd)

    # ------------------------------------------------------------ pools

    cdef int32_t _alloc_order(self) except -1:
        cdef int32_t i, n
        if self.o_free < 0:
            n = self.o_cap * 2 if self.o_cap else 1024
            self.o = <Order*>grow(self.o, n, sizeof(Order))
            for i in range(self.o_cap, n):
                self.o[i].next = i + 1 if i + 1 < n else -1
            self.o_free = self.o_cap
            self.o_cap = n
        i = self.o_free
        self.o_free = self.o[i].next
        return i

    cdef void _free_order(self, int32_t i) noexcept:
        self.o[i].next = self.o_free
        self.o[i].level = -1
        self.o_free = i

    cdef int32_t _alloc_level(self) except -1:
        cdef int32_t i, n
        if self.lv_free < 0:
            n = self.lv_cap * 2 if self.lv_cap else 256
            self.lv = <Level*>grow(self.lv, n, sizeof(Level))
            for i in range(self.lv_cap, n):
                self.lv[i].head = i + 1 if i + 1 < n else -1
            self.lv_free = self.lv_cap
            self.lv_cap = n
        i = self.lv_free
        self.lv_free = self.lv[i].head
        return i

    cdef int32_t _alloc_account(self) except -1:
        cdef int32_t i, n
        if self.ac_free < 0:
            n = self.ac_cap * 2 if self.ac_cap else 1024
            self.ac = <Account*>grow(self.ac, n, sizeof(Account))
            for i in range(self.ac_cap, n):
                self.ac[i].head = i + 1 if i + 1 < n else -1
            self.ac_free = self.ac_cap
            self.ac_cap = n
        i = self.ac_free
        self.ac_free = self.ac[i].head
        return i

    # ------------------------------------------------------------ events

    cdef int _emit(self, int64_t kind, int64_t order_id, int64_t account, int64_t side,
                          int64_t price, int64_t qty, int64_t leaves, int64_t c_order_id,
                          int64_t c_account, int64_t c_leaves, int64_t reason) except -1:
        cdef Event* e
        if self.batch_mode:
            if kind == EV_FILL:
                if self.bf_n == self.bf_cap:
                    self.bf_cap = self.bf_cap * 2 if self.bf_cap else 4096
                    self.bf = <int64_t*>grow(self.bf, self.bf_cap * 4, sizeof(int64_t))
                self.bf[self.bf_n * 4] = order_id
                self.bf[self.bf_n * 4 + 1] = c_order_id
                self.bf[self.bf_n * 4 + 2] = price
                self.bf[self.bf_n * 4 + 3] = qty
                self.bf_n += 1
            return 0
        if self.ev_n == self.ev_cap:
            self.ev_cap *= 2
            self.ev = <Event*>grow(self.ev, self.ev_cap, sizeof(Event))
        e = &self.ev[self.ev_n]
        self.ev_n += 1
        e.kind = kind
        e.order_id = order_id
        e.account = account
        e.side = side
        e.price = price
        e.qty = qty
        e.leaves = leaves
        e.c_order_id = c_order_id
        e.c_account = c_account
        e.c_leaves = c_leaves
        e.reason = reason
        return 0

    cdef int _reject(self, int64_t order_id, int64_t account, int64_t side, int64_t price,
                            int64_t qty, int64_t reason) except -1:
        self._emit(EV_REJECTED, order_id, account, side, price, qty, 0, 0, 0, 0, reason)
        return <int>reason

    cdef int _gone(self, int32_t i, int64_t kind, int64_t cause) except -1:
        """Emit CANCELED/EXPIRED for resting order i and take it out of the book."""
        cdef Order* o = &self.o[i]
        self._emit(kind, o.order_id, o.account, o.side, o.price, o.leaves, 0, 0, 0, 0, cause)
        self._unlink(i)
        return 0

    # ------------------------------------------------------------ levels and links

    cdef int32_t _level_for(self, int64_t side, int64_t price) except -1:
        """The level slot for a price, created (and inserted in sorted position) if missing."""
        cdef int64_t key = _key(side, price)
        cdef int32_t n = self.side_n[side], pos, li
        cdef int64_t* keys = self.side_keys[side]
        if n and keys[n - 1] == key:
            return self.side_lv[side][n - 1]
        pos = _lower_bound(keys, n, key)
        if pos < n and keys[pos] == key:
            return self.side_lv[side][pos]
        li = self._alloc_level()
        if n == self.side_cap[side]:
            self.side_cap[side] *= 2
            self.side_keys[side] = <int64_t*>grow(self.side_keys[side], self.side_cap[side], sizeof(int64_t))
            self.side_lv[side] = <int32_t*>grow(self.side_lv[side], self.side_cap[side], sizeof(int32_t))
            keys = self.side_keys[side]
        memmove(&keys[pos + 1], &keys[pos], (n - pos) * sizeof(int64_t))
        memmove(&self.side_lv[side][pos + 1], &self.side_lv[side][pos], (n - pos) * sizeof(int32_t))
        keys[pos] = key
        self.side_lv[side][pos] = li
        self.side_n[side] = n + 1
        self.lv[li].price = price
        self.lv[li].total = 0
        self.lv[li].head = -1
        self.lv[li].tail = -1
        self.lv[li].count = 0
        return li

    cdef void _drop_level(self, int64_t side, int32_t li) noexcept:
        cdef int64_t key = _key(side, self.lv[li].price)
        cdef int32_t n = self.side_n[side], pos
        cdef int64_t* keys = self.side_keys[side]
        pos = n - 1 if keys[n - 1] == key else _lower_bound(keys, n, key)
        memmove(&keys[pos], &keys[pos + 1], (n - pos - 1) * sizeof(int64_t))
        memmove(&self.side_lv[side][pos], &self.side_lv[side][pos + 1], (n - pos - 1) * sizeof(int32_t))
        self.side_n[side] = n - 1
        self.lv[li].count = 0
        self.lv[li].head = self.lv_free
        self.lv_free = li

    cdef int _level_append(self, int32_t i) except -1:
        cdef Order* o = &self.o[i]
        cdef int32_t li = self._level_for(o.side, o.price)
        cdef Level* lv = &self.lv[li]
        o.level = li
        o.next = -1
        o.prev = lv.tail
        if lv.tail >= 0:
            self.o[lv.tail].next = i
        else:
            lv.head = i
        lv.tail = i
        lv.total += o.leaves
        lv.count += 1
        return 0

    cdef void _level_unlink(self, int32_t i) noexcept:
        cdef Order* o = &self.o[i]
        cdef Level* lv = &self.lv[o.level]
        if o.prev >= 0:
            self.o[o.prev].next = o.next
        else:
            lv.head = o.next
        if o.next >= 0:
            self.o[o.next].prev = o.prev
        else:
            lv.tail = o.prev
        lv.total -= o.leaves
        lv.count -= 1
        if lv.count == 0:
            self._drop_level(o.side, o.level)
        o.level = -1

    cdef int _account_link(self, int32_t i) except -1:
        cdef Order* o = &self.o[i]
        cdef int32_t ai = map_get(&self.by_account, o.account)
        cdef Account* a
        if ai < 0:
            ai = self._alloc_account()
            map_put(&self.by_account, o.account, ai)
            a = &self.ac[ai]
            a.head = a.tail = -1
            a.count = 0
        a = &self.ac[ai]
        o.acct_next = -1
        o.acct_prev = a.tail
        if a.tail >= 0:
            self.o[a.tail].acct_next = i
        else:
            a.head = i
        a.tail = i
        a.count += 1
        return 0

    cdef void _forget(self, int32_t i) noexcept:
        """Drop a slot that is out of its level from the account list and the id map."""
        cdef Order* o = &self.o[i]
        cdef int32_t ai = map_get(&self.by_account, o.account)
        cdef Account* a = &self.ac[ai]
        if o.acct_prev >= 0:
            self.o[o.acct_prev].acct_next = o.acct_next
        else:
            a.head = o.acct_next
        if o.acct_next >= 0:
            self.o[o.acct_next].acct_prev = o.acct_prev
        else:
            a.tail = o.acct_prev
        a.count -= 1
        if a.count == 0:
            map_del(&self.by_account, o.account)
            a.head = self.ac_free
            self.ac_free = ai
        map_del(&self.by_id, o.order_id)
        self._free_order(i)

    cdef void _unlink(self, int32_t i) noexcept:
        self._level_unlink(i)
        self._forget(i)

    cdef int _rest(self, int32_t i) except -1:
        cdef Order* o = &self.o[i]
        map_put(&self.by_id, o.order_id, i)
        self._account_link(i)
        self._level_append(i)
        o = &self.o[i]
        if o.tif == GTD:
            heap_push(&self.gtd, o.expire_ts, o.order_id)
        return 0

    # ------------------------------------------------------------ clock

    cdef bint _tick(self, int64_t ts) except -1:
        """Advance the clock and expire due GTD orders; False if ts is in the past."""
        cdef GtdEntry top
        cdef int32_t i
        if ts < self.last_ts:
            return False
        self.last_ts = ts
        while self.gtd.n and self.gtd.items[0].expire_ts <= ts:
            top = heap_pop(&self.gtd)
            i = map_get(&self.by_id, top.order_id)
            if i >= 0 and self.o[i].tif == GTD and self.o[i].expire_ts == top.expire_ts:
                self._gone(i, EV_EXPIRED, X_GTD)
        return True

    # ------------------------------------------------------------ matching

    cdef int64_t _best(self, int64_t side) noexcept:
        """Best price of a side; only valid if the side is not empty."""
        return self.lv[self.side_lv[side][self.side_n[side] - 1]].price

    cdef bint _crosses(self, int64_t side, int64_t price) noexcept:
        cdef int64_t opp = 1 - side
        return self.side_n[opp] > 0 and not _beyond(side, self._best(opp), price)

    cdef int64_t _fillable(self, int64_t side, int64_t limit, int64_t want) noexcept:
        cdef int64_t opp = 1 - side, got = 0
        cdef int32_t k = self.side_n[opp] - 1
        cdef Level* lv
        while k >= 0 and got < want:
            lv = &self.lv[self.side_lv[opp][k]]
            if _beyond(side, lv.price, limit):
                break
            got += lv.total
            k -= 1
        return got

    cdef int _match(self, Order* t, bint stp_active) except -1:
        """Trade taker t against the opposite side; 1 if STP expired the taker, else 0.

        t must not point into the order pool's free slots; matching allocates no orders, so
        pointers into the pool stay valid throughout."""
        cdef int64_t opp = 1 - t.side, q
        cdef int32_t li, mi
        cdef Level* lv
        cdef Order* m
        while t.leaves > 0 and self.side_n[opp] > 0:
            li = self.side_lv[opp][self.side_n[opp] - 1]
            lv = &self.lv[li]
            if _beyond(t.side, lv.price, t.price):
                break
            while t.leaves > 0 and lv.count > 0:
                mi = lv.head
                m = &self.o[mi]
                if stp_active and m.account == t.account:
                    if t.stp == EXPIRE_TAKER:
                        return 1
                    self._gone(mi, EV_EXPIRED, X_SELF_TRADE)
                    if t.stp == EXPIRE_BOTH:
                        return 1
                    continue
                q = t.leaves if t.leaves < m.leaves else m.leaves
                t.leaves -= q
                m.leaves -= q
                lv.total -= q
                self.trades += 1
                self.volume += q
                self._emit(EV_FILL, t.order_id, t.account, t.side, lv.price, q, t.leaves,
                           m.order_id, m.account, m.leaves, 0)
                if m.leaves == 0:
                    self._unlink(mi)
        return 0

    cdef int64_t _check_qty(self, int64_t qty) noexcept:
        if qty <= 0:
            return R_QTY
        if qty < self.min_qty:
            return R_QTY_SMALL
        if qty > self.max_qty:
            return R_QTY_LARGE
        return 0

    cdef int64_t _check_price(self, int64_t price) noexcept:
        if price <= 0:
            return R_PRICE
        if price < self.min_price:
            return R_PRICE_LOW
        if price > self.max_price:
            return R_PRICE_HIGH
        return 0

    cdef int64_t _validate(self, int64_t order_id, int64_t side, int64_t kind, int64_t price,
                           int64_t qty, int64_t tif, int64_t stp, int64_t expire_ts, int64_t ts) noexcept:
        cdef int64_t reason
        if side != BUY and side != SELL:
            return R_SIDE
        if kind != LIMIT and kind != MARKET:
            return R_KIND
        if tif < GTC or tif > GTD or (kind == MARKET and tif != IOC and tif != FOK):
            return R_TIF
        if stp < STP_NONE or stp > EXPIRE_BOTH:
            return R_STP
        reason = self._check_qty(qty)
        if reason == 0:
            reason = self._check_price(price)
        if reason:
            return reason
        if (expire_ts <= ts) if tif == GTD else (expire_ts != 0):
            return R_GTD
        if map_get(&self.by_id, order_id) >= 0:
            return R_DUP
        if tif == GTX and self._crosses(side, price):
            return R_GTX
        if tif == FOK and self._fillable(side, price, qty) < qty:
            return R_FOK
        return 0

    cdef int _place(self, int64_t order_id, int64_t account, int64_t side, int64_t kind, int64_t price,
                    int64_t qty, int64_t tif, int64_t stp, int64_t expire_ts, int64_t ts) except -1:
        cdef int64_t reason
        cdef int32_t i
        cdef Order* t
        cdef bint stp_active, stp_expired
        self.ev_n = 0
        if not self._tick(ts):
            return self._reject(order_id, account, side, price, qty, R_STALE)
        reason = self._validate(order_id, side, kind, price, qty, tif, stp, expire_ts, ts)
        if reason:
            return self._reject(order_id, account, side, price, qty, reason)
        self._emit(EV_ACCEPTED, order_id, account, side, price, qty, qty, 0, 0, 0, 0)
        i = self._alloc_order()
        t = &self.o[i]
        t.order_id = order_id
        t.account = account
        t.side = <int8_t>side
        t.price = price
        t.leaves = qty
        t.tif = <int8_t>tif
        t.stp = <int8_t>stp
        t.expire_ts = expire_ts
        t.level = -1
        stp_active = stp != STP_NONE and (tif == GTC or tif == IOC or tif == GTD)
        stp_expired = self._match(t, stp_active)
        if t.leaves == 0:
            self._free_order(i)
        elif stp_expired:
            self._emit(EV_EXPIRED, order_id, account, side, price, t.leaves, 0, 0, 0, 0, X_SELF_TRADE)
            self._free_order(i)
        elif kind == LIMIT and (tif == GTC or tif == GTX or tif == GTD):
            self._rest(i)
        else:
            self._emit(EV_EXPIRED, order_id, account, side, price, t.leaves, 0, 0, 0, 0, X_UNFILLED)
            self._free_order(i)
        return 0

    cdef int _cancel(self, int64_t order_id, int64_t ts) except -1:
        cdef int32_t i
        self.ev_n = 0
        if not self._tick(ts):
            return self._reject(order_id, 0, 0, 0, 0, R_STALE)
        i = map_get(&self.by_id, order_id)
        if i < 0:
            return self._reject(order_id, 0, 0, 0, 0, R_UNKNOWN)
        self._gone(i, EV_CANCELED, 0)
        return 0

    # ------------------------------------------------------------ commands

    def place(self, int64_t order_id, int64_t account, int64_t side, int64_t kind, int64_t price,
              int64_t qty, int64_t tif, int64_t stp, int64_t expire_ts, int64_t ts):
        """Submit an order; returns 0 if accepted, else the RejectReason value.

        price is the limit (LIMIT) or protection price (MARKET) in ticks, qty in lots,
        expire_ts (ns) is required for GTD and must be 0 otherwise, ts is the command time (ns).
        """
        return self._place(order_id, account, side, kind, price, qty, tif, stp, expire_ts, ts)

    def cancel(self, int64_t order_id, int64_t ts):
        """Cancel a resting order; returns 0 or the RejectReason value."""
        return self._cancel(order_id, ts)

    def cancel_all(self, int64_t account, int64_t ts):
        """Cancel every resting order of an account in ascending order id; 0 or a reason."""
        cdef int32_t ai, i
        cdef int64_t order_id
        self.ev_n = 0
        if not self._tick(ts):
            return self._reject(0, account, 0, 0, 0, R_STALE)
        ai = map_get(&self.by_account, account)
        if ai < 0:
            return 0
        ids = []
        i = self.ac[ai].head
        while i >= 0:
            ids.append(self.o[i].order_id)
            i = self.o[i].acct_next
        ids.sort()
        for order_id in ids:
            self._gone(map_get(&self.by_id, order_id), EV_CANCELED, 0)
        return 0

    def amend(self, int64_t order_id, int64_t price, int64_t qty, int64_t ts):
        """Set a resting order's price (ticks) and remaining quantity (lots); 0 or a reason.

        Same price and a smaller quantity keeps queue priority; otherwise the order goes to the
        back of the queue at its new price, trading first if it now crosses, with STP reset."""
        cdef int32_t i
        cdef Order* o
        cdef int64_t reason
        self.ev_n = 0
        if not self._tick(ts):
            return self._reject(order_id, 0, 0, price, qty, R_STALE)
        i = map_get(&self.by_id, order_id)
        if i < 0:
            return self._reject(order_id, 0, 0, price, qty, R_UNKNOWN)
        o = &self.o[i]
        reason = self._check_qty(qty)
        if reason == 0:
            reason = self._check_price(price)
        if reason == 0 and price == o.price and qty == o.leaves:
            reason = R_SAME
        if reason == 0 and o.tif == GTX and self._crosses(o.side, price):
            reason = R_GTX
        if reason:
            return self._reject(order_id, o.account, o.side, price, qty, reason)
        if price == o.price and qty < o.leaves:
            self.lv[o.level].total -= o.leaves - qty
            o.leaves = qty
            self._emit(EV_AMENDED, order_id, o.account, o.side, price, qty, qty, 0, 0, 0, 1)
            return 0
        self._level_unlink(i)
        o.price = price
        o.leaves = qty
        o.stp = STP_NONE
        self._emit(EV_AMENDED, order_id, o.account, o.side, price, qty, qty, 0, 0, 0, 0)
        self._match(o, False)
        if o.leaves > 0:
            self._level_append(i)
        else:
            self._forget(i)
        return 0

    def advance(self, int64_t ts):
        """Move the book's clock to ts, expiring due GTD orders; 0 or STALE_TIMESTAMP."""
        self.ev_n = 0
        if not self._tick(ts):
            return self._reject(0, 0, 0, 0, 0, R_STALE)
        return 0

    def run_batch(self, const int64_t[::1] op, const int64_t[::1] side, const int64_t[::1] price,
                  const int64_t[::1] qty, const int64_t[::1] order_id, account=None):
        """Apply many operations in one call: the columns of the reference workload.

        op: 0 add limit GTC, 1 cancel, 2 market (IOC). A market op's price is its protection
        price; 0 means protected only by the book's price limits. account defaults to the order
        id (one account per order). All operations run at the book's current time. Returns the
        fills as int64 arrays (taker_order_id, maker_order_id, price, qty) and the totals
        (trades, volume, resting_orders).
        """
        cdef const int64_t[::1] acct
        cdef int64_t[:, ::1] out
        cdef Py_ssize_t n = op.shape[0], k
        cdef int64_t o, p, ts = self.last_ts
        acct = order_id if account is None else account
        if not (side.shape[0] == price.shape[0] == qty.shape[0] == order_id.shape[0] == acct.shape[0] == n):
            raise ValueError("batch columns differ in length")
        self.batch_mode, self.bf_n = True, 0
        try:
            for k in range(n):
                o = op[k]
                if o == 0:
                    self._place(order_id[k], acct[k], side[k], LIMIT, price[k], qty[k], GTC, STP_NONE, 0, ts)
                elif o == 1:
                    self._cancel(order_id[k], ts)
                elif o == 2:
                    p = price[k]
                    if p == 0:
                        p = self.max_price if side[k] == BUY else self.min_price
                    self._place(order_id[k], acct[k], side[k], MARKET, p, qty[k], IOC, STP_NONE, 0, ts)
                else:
                    raise ValueError(f"unknown batch op {o} at row {k}")
            cols = np.empty((self.bf_n, 4), dtype=np.int64)
            if self.bf_n:
                out = cols
                memcpy(&out[0, 0], self.bf, self.bf_n * 4 * sizeof(int64_t))
        finally:
            self.batch_mode, self.ev_n = False, 0
            free(self.bf)
            self.bf, self.bf_n, self.bf_cap = NULL, 0, 0
        return {
            "taker_order_id": np.ascontiguousarray(cols[:, 0]),
            "maker_order_id": np.ascontiguousarray(cols[:, 1]),
            "price": np.ascontiguousarray(cols[:, 2]),
            "qty": np.ascontiguousarray(cols[:, 3]),
            "trades": self.trades,
            "volume": self.volume,
            "resting_orders": self.by_id.size,
        }

    # ------------------------------------------------------------ queries

    def events(self):
        """The events of the last operation, in order."""
        cdef int32_t j
        cdef Event* e
        out = []
        for j in range(self.ev_n):
            e = &self.ev[j]
            out.append(new_record(BookEvent, (e.kind, e.order_id, e.account, e.side, e.price, e.qty, e.leaves,
                                              e.c_order_id, e.c_account, e.c_leaves, e.reason)))
        return out

    def best_bid(self):
        return self._best(BUY) if self.side_n[BUY] else None

    def best_ask(self):
        return self._best(SELL) if self.side_n[SELL] else None

    def depth(self, int64_t side, int n):
        """Up to n levels of one side, best first: (price, total lots, order count)."""
        cdef int32_t k
        cdef Level* lv
        out = []
        if side != BUY and side != SELL:
            raise ValueError("side must be 0 (buy) or 1 (sell)")
        k = self.side_n[side] - 1
        while k >= 0 and len(out) < n:
            lv = &self.lv[self.side_lv[side][k]]
            out.append((lv.price, lv.total, lv.count))
            k -= 1
        return out

    cdef object _view(self, int32_t i):
        cdef Order* o = &self.o[i]
        return new_record(OrderView, (o.order_id, o.account, o.side, o.price, o.leaves, o.tif, o.stp, o.expire_ts))

    def level_orders(self, int64_t side, int64_t price, limit=None):
        """The orders resting at one price, in queue order (L3); only the first `limit` of
        them if given (a deep level need not be copied out whole to read its head)."""
        cdef int32_t n, pos, i
        cdef int64_t left = -1 if limit is None else limit
        if side != BUY and side != SELL:
            raise ValueError("side must be 0 (buy) or 1 (sell)")
        n = self.side_n[side]
        pos = _lower_bound(self.side_keys[side], n, _key(side, price))
        if pos == n or self.side_keys[side][pos] != _key(side, price):
            return []
        out = []
        i = self.lv[self.side_lv[side][pos]].head
        while i >= 0 and left != 0:
            out.append(self._view(i))
            i = self.o[i].next
            left -= 1
        return out

    def order(self, int64_t order_id):
        cdef int32_t i = map_get(&self.by_id, order_id)
        return None if i < 0 else self._view(i)

    def orders(self):
        """All resting orders in priority order: bids best first, then asks best first."""
        cdef int64_t s
        cdef int32_t k, i
        out = []
        for s in range(2):
            for k in range(self.side_n[s] - 1, -1, -1):
                i = self.lv[self.side_lv[s][k]].head
                while i >= 0:
                    out.append(self._view(i))
                    i = self.o[i].next
        return out

    @property
    def order_count(self):
        return self.by_id.size

    def level_count(self, int64_t side):
        if side != BUY and side != SELL:
            raise ValueError("side must be 0 (buy) or 1 (sell)")
        return self.side_n[side]

    def open_orders(self, int64_t account):
        cdef int32_t ai = map_get(&self.by_account, account)
        return 0 if ai < 0 else self.ac[ai].count

    def state_hash(self):
        return state_digest(self.orders(), self.last_ts, self.trades, self.volume)

    def __reduce__(self):
        # resting orders in priority order rebuild every derived structure (maps, levels, heap)
        return (_rebuild_book, ((self.min_price, self.max_price, self.min_qty, self.max_qty),
                                [tuple(o) for o in self.orders()], self.last_ts, self.trades, self.volume))

    def _restore(self, orders, int64_t last_ts, int64_t trades, int64_t volume):
        """Rest `orders` (OrderView tuples, priority order) without matching; for unpickling."""
        cdef int32_t i
        cdef Order* o
        for order_id, account, side, price, leaves, tif, stp, expire_ts in orders:
            i = self._alloc_order()
            o = &self.o[i]
            o.order_id, o.account, o.price, o.leaves, o.expire_ts = order_id, account, price, leaves, expire_ts
            o.side, o.tif, o.stp, o.level = side, tif, stp, -1
            self._rest(i)
        self.last_ts, self.trades, self.volume = last_ts, trades, volume

    def check_integrity(self):
        """Raise BookIntegrityError if the book's structures disagree."""
        cdef int64_t s, total
        cdef int32_t k, li, i, prev, count, seen = 0, in_accounts = 0
        cdef uint64_t slot
        cdef Level* lv
        cdef Order* o
        for s in range(2):
            for k in range(self.side_n[s]):
                li = self.side_lv[s][k]
                lv = &self.lv[li]
                if k and self.side_keys[s][k - 1] >= self.side_keys[s][k]:
                    raise BookIntegrityError(f"side {s} levels out of order at {k}")
                if self.side_keys[s][k] != _key(s, lv.price):
                    raise BookIntegrityError(f"level {lv.price} has the wrong key")
                total = 0
                count = 0
                prev = -1
                i = lv.head
                while i >= 0:
                    o = &self.o[i]
                    if o.prev != prev or o.level != li or o.side != s or o.price != lv.price or o.leaves <= 0:
                        raise BookIntegrityError(f"order {o.order_id} misplaced in level {lv.price}")
                    if map_get(&self.by_id, o.order_id) != i:
                        raise BookIntegrityError(f"order {o.order_id} missing from the id map")
                    total += o.leaves
                    count += 1
                    prev = i
                    i = o.next
                if prev != lv.tail or count != lv.count or total != lv.total or count == 0:
                    raise BookIntegrityError(f"level {lv.price} totals disagree with its orders")
                seen += count
        if seen != self.by_id.size:
            raise BookIntegrityError(f"{seen} orders in levels, {self.by_id.size} in the id map")
        for slot in range(self.by_account.mask + 1):
            if self.by_account.vals[slot] < 0:
                continue
            count = 0
            i = self.ac[self.by_account.vals[slot]].head
            while i >= 0:
                if self.o[i].account != self.by_account.keys[slot] or self.o[i].level < 0:
                    raise BookIntegrityError(f"order {self.o[i].order_id} in the wrong account list")
                count += 1
                i = self.o[i].acct_next
            if count != self.ac[self.by_account.vals[slot]].count:
                raise BookIntegrityError(f"account {self.by_account.keys[slot]} count disagrees")
            in_accounts += count
        if in_accounts != seen:
            raise BookIntegrityError("account lists and levels disagree")
        if self.side_n[BUY] and self.side_n[SELL] and self._best(BUY) >= self._best(SELL):
            raise BookIntegrityError(f"crossed book: bid {self._best(BUY)} >= ask {self._best(SELL)}")


def _rebuild_book(limits, orders, last_ts, trades, volume):
    book = Book(*limits)
    book._restore(orders, last_ts, trades, volume)
    return book
