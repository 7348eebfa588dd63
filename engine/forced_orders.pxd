# Compiled layout of engine/forced_orders.py (see engine/exchange.pxd).

cimport cython

from perpsim.engine.market cimport _Market, position_key
from perpsim.engine.settlement cimport Settlement
from perpsim.engine.state cimport State
from perpsim.risk.liquidation_plan cimport liquidation_fee
from perpsim.risk.positions cimport Position


cdef class ForcedOrders:
    cdef readonly State state
    cdef readonly Settlement settlement
    cdef readonly dict _terms  # per symbol: risk.liquidation_plan.MarketTerms

    @cython.locals(p=Position)
    cpdef object _lots(self, _Market m, object account, object pside)
    cpdef tuple _remaining(self, _Market m, object account, object pside)
    cpdef tuple _liquidation_fee(self, _Market m, object account, object pside, object qty, object price)
    cpdef void _force(self, _Market m, object account, object pside, object side, object qty, object price) except *
