# Compiled layout of venue/klines.py: every fill, mark and index change adds to a ladder.

cimport cython

cdef Py_ssize_t _OPEN, _O, _H, _L, _C, _V, _Q, _N, _TBV, _TBQ, _FIRST, _LAST


cdef class Bars:
    cdef public object interval, bars

    @cython.locals(bar=list)
    cpdef void add(self, object ts, object price, object qty=*, object quote=*, bint taker_buy=*,
                   object trade_id=*) except *


cdef class BarLadder:
    cdef public list series
    cdef public bint _live

    @cython.locals(finest=Bars, coarse=Bars)
    cpdef void add(self, object ts, object price, object qty=*, object quote=*, bint taker_buy=*,
                   object trade_id=*) except *
    @cython.locals(coarse=Bars, bar=list)
    cdef void _fold(self, list f) except *
    cpdef void flush(self) except *
