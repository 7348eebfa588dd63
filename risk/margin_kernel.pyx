# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Margin kernel, compiled twin of `perpsim.risk.margin_kernel_ref` (same API, same results;
semantics in that module's docstring).

The arithmetic runs on C 128-bit integers: inputs must fit in int64 and every product and sum is
overflow-checked (GCC/Clang builtins). Positions, prices and balances of any venue market stay
far inside those bounds; a call whose numbers do not is answered by the reference twin on
Python ints, so results are exact for any input (the property test drives both ranges).
"""

from libc.stdint cimport INT64_MAX, int64_t, uint64_t
from libc.stdlib cimport free, malloc

from perpsim.risk import margin_kernel_ref as _ref
from perpsim.risk.units import RATE_SCALE

LONG, SHORT = _ref.LONG, _ref.SHORT
bankruptcy_tick_ref = _ref.bankruptcy_tick

cdef i128 RS = <int64_t>RATE_SCALE
cdef int MAX_LEGS = 4


class _Wide(Exception):
    """A value left the 128-bit range: the call is answered on Python ints."""


cdef inline i128 mul(i128 a, i128 b) except? -1:
    cdef i128 r
    if pk_mul(a, b, &r):
        raise _Wide
    return r


cdef inline i128 add(i128 a, i128 b) except? -1:
    cdef i128 r
    if pk_add(a, b, &r):
        raise _Wide
    return r


cdef inline i128 iabs(i128 a) noexcept:
    return -a if a < 0 else a


cdef inline object to_int(i128 a):
    """A 128-bit value as a Python int (high and low 64-bit halves)."""
    cdef object high, low
    if -INT64_MAX <= a <= INT64_MAX:
        return <int64_t>a
    high = <int64_t>(a >> 64)  # arithmetic shift: the signed upper half
    low = <uint64_t>(a & <i128>0xFFFFFFFFFFFFFFFF)
    return (high << 64) | low


cdef inline object rounded(i128 num, i128 den):
    """num / den rounded against the account (see the reference `_rounded`)."""
    cdef int direction
    cdef i128 q
    if den == 0:
        return None
    direction = 1 if den > 0 else -1
    if den < 0:
        num, den = -num, -den
    if num < 0:
        return None
    q = num // den  # both ≥ 0: C division is the floor
    if direction == 1 and q * den != num:
        q += 1
    if q > INT64_MAX:
        raise _Wide
    return (direction, <int64_t>q)


cdef class BracketTable:
    """One market's bracket table as C columns (money units; mmr scaled; layout in the .pxd)."""

    def __cinit__(self, brackets):
        cdef int i = 0
        cdef int64_t cap, mmr, cum
        self.brackets = brackets
        self.ref = _ref.BracketTable(brackets)
        self.n = len(brackets)
        self.caps = <i128 *>malloc(self.n * sizeof(i128))
        self.mmrs = <i128 *>malloc(self.n * sizeof(i128))
        self.cums = <i128 *>malloc(self.n * sizeof(i128))
        if not (self.caps and self.mmrs and self.cums):
            raise MemoryError
        self.wide = False
        for b in brackets:
            try:
                cap, mmr, cum = b.cap, b.mmr, b.cum
            except OverflowError:
                self.wide = True
                break
            self.caps[i], self.mmrs[i], self.cums[i] = cap, mmr, cum
            i += 1

    def __dealloc__(self):
        free(self.caps)
        free(self.mmrs)
        free(self.cums)

    def __reduce__(self):
        return (BracketTable, (self.brackets,))

    cdef int _index(self, i128 notional) noexcept:
        cdef int lo = 0, hi = self.n - 1, mid
        while lo < hi:
            mid = (lo + hi) >> 1
            if self.caps[mid] >= notional:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def index(self, notional):
        """0-based bracket of an integer notional (see the reference)."""
        if self.wide:
            return self.ref.index(notional)
        try:
            return self._index(<int64_t>notional)
        except OverflowError:
            return self.ref.index(notional)

    cdef i128 _maint(self, i128 notional) except? -1:
        cdef int i = self._index(notional)
        return add(mul(notional, self.mmrs[i]), -mul(self.cums[i], RS))

    cpdef object maint_scaled(self, object notional):
        """Maintenance margin × RATE_SCALE of a position of this notional (money units, ≥ 0)."""
        if self.wide:
            return self.ref.maint_scaled(notional)
        try:
            return to_int(self._maint(<int64_t>notional))
        except (OverflowError, _Wide):
            return self.ref.maint_scaled(notional)

    cpdef bint liquidatable(self, object balance, object lots, object costs, object mark, object K,
                            bint entry_mm=False) except -1:
        """Margin balance (money units) ≤ the legs' maintenance margin, exactly (see the reference)."""
        cdef int64_t b, m, k, q, c
        cdef i128 mm = 0
        if not self.wide:
            try:
                b, m, k = balance, mark, K
                for q, c in zip(lots, costs, strict=True):
                    mm = add(mm, self._maint(mul(iabs(c), k) if entry_mm else mul(mul(iabs(q), m), k)))
                return mul(b, RS) <= mm
            except (OverflowError, _Wide):
                pass
        return self.ref.liquidatable(balance, lots, costs, mark, K, entry_mm)

    cpdef object liq_tick(self, object lots, object costs, object base, object K, bint entry_mm=False):
        """(direction, tick) of the legs' liquidation price, or None (see the reference)."""
        if not self.wide and len(lots) <= MAX_LEGS:
            try:
                return self._liq_tick(lots, costs, base, K, entry_mm)
            except (OverflowError, _Wide):
                pass
        return self.ref.liq_tick(lots, costs, base, K, entry_mm)

    cdef object _liq_tick(self, lots, costs, int64_t base, int64_t K, bint entry_mm):
        cdef i128 q[4]
        cdef i128 c[4]
        cdef int picks[4]
        cdef int repick[4]
        cdef int n = len(lots), i, j, it
        cdef i128 sum_lots = 0, sum_cost = 0, num, den, cum, mmr, notional
        cdef bint rising = False, settled
        if len(costs) != n:
            raise ValueError("lots and costs differ in length")
        for i in range(n):
            q[i] = <int64_t>lots[i]
            c[i] = <int64_t>costs[i]
            sum_lots = add(sum_lots, q[i])
            sum_cost = add(sum_cost, c[i])
        if entry_mm:
            num = mul(RS, add(mul(K, sum_cost), -(<i128>base)))
            for i in range(n):
                notional = mul(iabs(c[i]), K)
                j = self._index(notional)
                num = add(num, add(mul(notional, self.mmrs[j]), -mul(self.cums[j], RS)))
            return rounded(num, mul(mul(RS, K), sum_lots))
        for i in range(n):
            picks[i] = 0
        for it in range(2 * self.n * n + 4):
            cum = 0
            mmr = 0
            for i in range(n):
                cum = add(cum, self.cums[picks[i]])
                mmr = add(mmr, mul(iabs(q[i]), self.mmrs[picks[i]]))
            num = mul(RS, add(add(mul(K, sum_cost), -(<i128>base)), -cum))
            den = mul(K, add(mul(RS, sum_lots), -mmr))
            if it == 0:
                rising = den > 0
            if den == 0 or (den > 0) != rising:
                return None
            if den < 0:
                num, den = -num, -den
            if num < 0:
                return None
            settled = True
            for i in range(n):
                # the bracket of ⌈|lots| × K × num / den⌉
                notional = mul(mul(iabs(q[i]), K), num)
                notional = notional // den + (notional % den != 0)
                repick[i] = self._index(notional)
                settled = settled and repick[i] == picks[i]
                picks[i] = repick[i]
            if settled:  # den > 0 here: a long rounds up, a short down
                return rounded(num, den) if rising else _short(num, den)
        raise ArithmeticError("liquidation-price bracket iteration did not settle (a bug)")


cdef inline object _short(i128 num, i128 den):
    """A short's price num / den (both ≥ 0), rounded down."""
    cdef i128 q = num // den
    if q > INT64_MAX:
        raise _Wide
    return (-1, <int64_t>q)


cpdef object bankruptcy_tick(object sum_lots, object sum_cost, object balance, object K):
    """(direction, tick) of the price at which the margin balance is 0, or None (see the reference)."""
    cdef int64_t n, c, b, k
    try:
        n, c, b, k = sum_lots, sum_cost, balance, K
        return rounded(add(mul(k, c), -(<i128>b)), mul(k, n))
    except (OverflowError, _Wide):
        return bankruptcy_tick_ref(sum_lots, sum_cost, balance, K)
