# The book's GTD expiry queue: a binary min-heap of (expiry ns, order id) over a growable C array.
# Header-only: every function is inline, compiled into the module that cimports it. An entry
# may outlive its order (canceled, filled or amended since): the book checks it when it pops.

from libc.stdint cimport int32_t, int64_t
from libc.stdlib cimport free

from perpsim.engine.intmap cimport grow


ctypedef struct GtdEntry:
    int64_t expire_ts
    int64_t order_id


ctypedef struct GtdHeap:
    GtdEntry* items
    int32_t n
    int32_t cap


cdef inline bint _less(GtdEntry* a, GtdEntry* b) noexcept:
    return a.expire_ts < b.expire_ts or (a.expire_ts == b.expire_ts and a.order_id < b.order_id)


cdef inline int heap_init(GtdHeap* h, int32_t cap) except -1:
    h.items = <GtdEntry*>grow(NULL, cap, sizeof(GtdEntry))
    h.n = 0
    h.cap = cap
    return 0


cdef inline void heap_free(GtdHeap* h) noexcept:
    free(h.items)
    h.items = NULL


cdef inline int heap_push(GtdHeap* h, int64_t expire_ts, int64_t order_id) except -1:
    cdef GtdEntry e
    cdef int32_t k, parent
    if h.n == h.cap:
        h.cap *= 2
        h.items = <GtdEntry*>grow(h.items, h.cap, sizeof(GtdEntry))
    e.expire_ts = expire_ts
    e.order_id = order_id
    k = h.n
    h.n += 1
    while k > 0:
        parent = (k - 1) >> 1
        if not _less(&e, &h.items[parent]):
            break
        h.items[k] = h.items[parent]
        k = parent
    h.items[k] = e
    return 0


cdef inline GtdEntry heap_pop(GtdHeap* h) noexcept:
    """The earliest entry, taken off (the heap must not be empty)."""
    cdef GtdEntry top = h.items[0]
    cdef int32_t n = h.n - 1, k = 0, c
    cdef GtdEntry last = h.items[n]
    h.n = n
    while True:
        c = 2 * k + 1
        if c >= n:
            break
        if c + 1 < n and _less(&h.items[c + 1], &h.items[c]):
            c += 1
        if not _less(&h.items[c], &last):
            break
        h.items[k] = h.items[c]
        k = c
    if n:
        h.items[k] = last
    return top
