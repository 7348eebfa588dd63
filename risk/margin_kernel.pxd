# Compiled layout of risk/margin_kernel.pyx, so that the exchange calls the kernel in C.

cdef extern from *:
    """
    typedef __int128 pk_i128;
    static inline int pk_mul(pk_i128 a, pk_i128 b, pk_i128 *r) { return __builtin_mul_overflow(a, b, r); }
    static inline int pk_add(pk_i128 a, pk_i128 b, pk_i128 *r) { return __builtin_add_overflow(a, b, r); }
    """
    ctypedef long long i128 "pk_i128"
    bint pk_mul(i128 a, i128 b, i128 *r) nogil
    bint pk_add(i128 a, i128 b, i128 *r) nogil

from libc.stdint cimport int64_t


cdef class BracketTable:
    cdef int n
    cdef i128 *caps
    cdef i128 *mmrs
    cdef i128 *cums
    cdef bint wide  # a column value outside int64: every call goes to the reference
    cdef object ref
    cdef object brackets

    cdef int _index(self, i128 notional) noexcept
    cdef i128 _maint(self, i128 notional) except? -1
    cdef object _liq_tick(self, lots, costs, int64_t base, int64_t K, bint entry_mm)
    cpdef object maint_scaled(self, object notional)
    cpdef bint liquidatable(self, object balance, object lots, object costs, object mark, object K,
                            bint entry_mm=*) except -1
    cpdef object liq_tick(self, object lots, object costs, object base, object K, bint entry_mm=*)


cpdef object bankruptcy_tick(object sum_lots, object sum_cost, object balance, object K)
