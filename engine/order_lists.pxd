# Compiled layout of engine/order_lists.py (see engine/exchange.pxd).

from perpsim.engine.entry cimport Entry
from perpsim.engine.loss_limits cimport LossLimits
from perpsim.engine.market cimport _Market, position_key
from perpsim.engine.settlement cimport Settlement
from perpsim.engine.standing cimport StandingOrders
from perpsim.engine.state cimport State


cdef class OrderLists:
    cdef readonly State state
    cdef readonly Settlement settlement
    cdef readonly StandingOrders standing
    cdef readonly LossLimits loss_limits
    cdef readonly Entry entry
