# Compiled layout of engine/loss_limit_hits.py (see engine/exchange.pxd).

from perpsim.engine.conditionals cimport Conditionals
from perpsim.engine.entry cimport Entry
from perpsim.engine.liquidation cimport Liquidation
from perpsim.engine.loss_limits cimport LossLimits
from perpsim.engine.order_lists cimport OrderLists
from perpsim.engine.settlement cimport Settlement
from perpsim.engine.standing cimport StandingOrders
from perpsim.engine.state cimport State


cdef class LossLimitHits:
    cdef readonly State state
    cdef readonly Settlement settlement
    cdef readonly StandingOrders standing
    cdef readonly Liquidation liquidation
    cdef readonly LossLimits loss_limits
    cdef readonly Entry entry
    cdef readonly OrderLists lists
    cdef readonly Conditionals conditionals

    cpdef void check(self) except *
