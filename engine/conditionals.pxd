# Compiled layout of engine/conditionals.py (see engine/exchange.pxd).

cimport cython

from perpsim.engine.entry cimport Entry
from perpsim.engine.liquidation cimport Liquidation
from perpsim.engine.loss_limits cimport LossLimits
from perpsim.engine.market cimport _has_exits, _Market, position_key
from perpsim.engine.order_lists cimport OrderLists
from perpsim.engine.settlement cimport Settlement
from perpsim.engine.standing cimport StandingOrders
from perpsim.engine.state cimport State


cdef class Conditionals:
    cdef readonly State state
    cdef readonly Settlement settlement
    cdef readonly StandingOrders standing
    cdef readonly Liquidation liquidation
    cdef readonly LossLimits loss_limits
    cdef readonly Entry entry
    cdef readonly OrderLists lists

    @cython.locals(m=_Market)
    cpdef void _trim_reduce_only(self) except *
    @cython.locals(m=_Market)
    cpdef void _fire_triggers(self) except *
