# Compiled layout of engine/marking.py (see engine/exchange.pxd).

cimport cython

from perpsim.engine.liquidation cimport Liquidation
from perpsim.engine.market cimport _Market, position_key, position_of
from perpsim.engine.state cimport State


cdef class Marking:
    cdef readonly State state
    cdef readonly Liquidation liquidation
    cdef public bint holding
    cdef readonly tuple _book_marks

    @cython.locals(m=_Market)
    cpdef void _advance(self, object ts) except *
    cpdef void _remark(self, _Market m) except *
    cpdef object predicted_funding_rate(self, str symbol)
