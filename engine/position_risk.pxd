# Compiled layout of engine/position_risk.py (see engine/exchange.pxd).

cimport cython

from perpsim.engine.market cimport _Market, position_key, position_of
from perpsim.engine.state cimport State
from perpsim.risk.positions cimport Position


cdef class PositionRisk:
    cdef readonly State state
    cdef public dict _adl_ranked

    cpdef tuple _collateral(self, _Market m, object account, object pside)
