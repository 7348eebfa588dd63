# Compiled layout of engine/deleveraging.py (see engine/exchange.pxd).

cimport cython

from perpsim.engine.market cimport _Market, position_key, position_of
from perpsim.engine.position_risk cimport PositionRisk
from perpsim.engine.settlement cimport Settlement
from perpsim.engine.standing cimport StandingOrders
from perpsim.engine.state cimport State
from perpsim.risk.positions cimport Position


cdef class Deleveraging:
    cdef readonly State state
    cdef readonly Settlement settlement
    cdef readonly StandingOrders standing
    cdef readonly PositionRisk position_risk
    cdef public dict _adl_queue

    @cython.locals(p=Position)
    cpdef object _adl(self, _Market m, object account, object pside, object lots, object price)
