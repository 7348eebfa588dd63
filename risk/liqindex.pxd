# The Cython liquidation index's contract: its C++ containers and the class's fields.
# Semantics: perpsim.risk.liqindex_ref (the reference twin) module docstring.

from libc.stdint cimport int64_t
from libcpp.set cimport set as cpp_set
from libcpp.unordered_map cimport unordered_map
from libcpp.utility cimport pair

# In a side set: (sort key, position key). In the map: (direction, trigger).
ctypedef pair[int64_t, int64_t] Slot


cdef class LiquidationIndex:
    # longs as (~trigger, key): ~t == -t - 1 orders like -t but cannot overflow at INT64_MIN,
    # so the highest trigger comes first; shorts as (trigger, key): the lowest trigger first.
    # Either way the entries crossed at a price are a prefix, most distressed first.
    cdef cpp_set[Slot] longs
    cdef cpp_set[Slot] shorts
    cdef unordered_map[int64_t, Slot] by_key   # key -> (direction, trigger)

    cdef int _insert_slot(self, int64_t key, int64_t direction, int64_t trigger) except -1
    cdef void _erase_slot(self, int64_t key, int64_t direction, int64_t trigger) noexcept
    cdef int _upsert(self, int64_t key, int64_t direction, int64_t trigger) except -1
    cdef void _remove(self, int64_t key) noexcept
