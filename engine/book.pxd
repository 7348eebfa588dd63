# The Cython order book's contract: C structs, pools and the Book's fields.
# Values of the enums are pinned to perpsim.model.enums / perpsim.model.reasons by a test.

cimport cython
from libc.stdint cimport int8_t, int32_t, int64_t, uint64_t

from perpsim.engine.gtd_heap cimport GtdHeap
from perpsim.engine.intmap cimport IntMap


cdef enum:
    BUY = 0
    SELL = 1
    LIMIT = 0
    MARKET = 1
    GTC = 0
    IOC = 1
    FOK = 2
    GTX = 3
    GTD = 4
    STP_NONE = 0
    EXPIRE_TAKER = 1
    EXPIRE_MAKER = 2
    EXPIRE_BOTH = 3
    EV_ACCEPTED = 1
    EV_REJECTED = 2
    EV_FILL = 3
    EV_CANCELED = 4
    EV_EXPIRED = 5
    EV_AMENDED = 6
    X_UNFILLED = 1
    X_SELF_TRADE = 2
    X_GTD = 3


ctypedef struct Order:
    int64_t order_id
    int64_t account
    int64_t price           # ticks
    int64_t leaves          # lots
    int64_t expire_ts       # ns, GTD only
    int32_t prev            # FIFO neighbours within the level (-1 = none)
    int32_t next            # also the free-list link while the slot is free
    int32_t acct_prev       # neighbours in the account's list of resting orders
    int32_t acct_next
    int32_t level           # level slot, -1 while not in a level
    int8_t side
    int8_t tif
    int8_t stp


ctypedef struct Level:
    int64_t price
    int64_t total           # sum of leaves (lots)
    int32_t head
    int32_t tail
    int32_t count


ctypedef struct Account:
    int32_t head
    int32_t tail
    int32_t count


ctypedef struct Event:
    int64_t kind
    int64_t order_id
    int64_t account
    int64_t side
    int64_t price
    int64_t qty
    int64_t leaves
    int64_t c_order_id
    int64_t c_account
    int64_t c_leaves
    int64_t reason


@cython.final
cdef class Book:
    cdef readonly int64_t min_price, max_price, min_qty, max_qty
    cdef readonly int64_t last_ts, trades, volume

    cdef Order* o
    cdef int32_t o_cap, o_free
    cdef Level* lv
    cdef int32_t lv_cap, lv_free
    cdef Account* ac
    cdef int32_t ac_cap, ac_free
    # per side: level slots sorted by key (bids: price, asks: -price), best at the end
    cdef int64_t* side_keys[2]
    cdef int32_t* side_lv[2]
    cdef int32_t side_n[2]
    cdef int32_t side_cap[2]
    cdef IntMap by_id
    cdef IntMap by_account
    cdef Event* ev
    cdef int32_t ev_n, ev_cap
    cdef GtdHeap gtd  # the resting GTD orders by (expiry, order id)
    # batch mode: no events are kept; fills go straight to (taker, maker, price, qty) rows
    cdef bint batch_mode
    cdef int64_t* bf
    cdef int64_t bf_n, bf_cap

    cdef int32_t _alloc_order(self) except -1
    cdef void _free_order(self, int32_t i) noexcept
    cdef int32_t _alloc_level(self) except -1
    cdef int32_t _alloc_account(self) except -1
    cdef int _emit(self, int64_t kind, int64_t order_id, int64_t account, int64_t side, int64_t price, int64_t qty, int64_t leaves, int64_t c_order_id, int64_t c_account, int64_t c_leaves, int64_t reason) except -1
    cdef int _reject(self, int64_t order_id, int64_t account, int64_t side, int64_t price, int64_t qty, int64_t reason) except -1
    cdef int _gone(self, int32_t i, int64_t kind, int64_t cause) except -1
    cdef int32_t _level_for(self, int64_t side, int64_t price) except -1
    cdef void _drop_level(self, int64_t side, int32_t li) noexcept
    cdef int _level_append(self, int32_t i) except -1
    cdef void _level_unlink(self, int32_t i) noexcept
    cdef int _account_link(self, int32_t i) except -1
    cdef void _forget(self, int32_t i) noexcept
    cdef void _unlink(self, int32_t i) noexcept
    cdef int _rest(self, int32_t i) except -1
    cdef bint _tick(self, int64_t ts) except -1
    cdef int64_t _best(self, int64_t side) noexcept
    cdef bint _crosses(self, int64_t side, int64_t price) noexcept
    cdef int64_t _fillable(self, int64_t side, int64_t limit, int64_t want) noexcept
    cdef int _match(self, Order* t, bint stp_active) except -1
    cdef int64_t _check_qty(self, int64_t qty) noexcept
    cdef int64_t _check_price(self, int64_t price) noexcept
    cdef int64_t _validate(self, int64_t order_id, int64_t side, int64_t kind, int64_t price, int64_t qty, int64_t tif, int64_t stp, int64_t expire_ts, int64_t ts) noexcept
    cdef int _place(self, int64_t order_id, int64_t account, int64_t side, int64_t kind, int64_t price, int64_t qty, int64_t tif, int64_t stp, int64_t expire_ts, int64_t ts) except -1
    cdef int _cancel(self, int64_t order_id, int64_t ts) except -1
    cdef object _view(self, int32_t i)
