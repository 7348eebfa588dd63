# Compiled layout of engine/standing.py (see engine/exchange.pxd).

from perpsim.engine.market cimport _Market
from perpsim.engine.settlement cimport Settlement
from perpsim.engine.state cimport State


cdef class StandingOrders:
    cdef readonly State state
    cdef readonly Settlement settlement

    cpdef void _end_lists_of(self, _Market m, object account, object cause, object reason=*, bint booked=*) except *
