# Compiled layout of engine/entry.py (see engine/exchange.pxd).

cimport cython

from perpsim.engine.loss_limits cimport LossLimits
from perpsim.engine.market cimport _Market, _Open, position_key
from perpsim.engine.marking cimport Marking
from perpsim.engine.position_risk cimport PositionRisk
from perpsim.engine.settlement cimport Settlement
from perpsim.engine.state cimport State
from perpsim.risk.margin cimport initial_margin
from perpsim.risk.positions cimport Position
from perpsim.risk.units cimport apply_rate_down, apply_rate_up, div_up


cdef class Entry:
    cdef readonly State state
    cdef readonly Settlement settlement
    cdef readonly PositionRisk position_risk
    cdef readonly Marking marking
    cdef readonly LossLimits loss_limits

    cpdef _Market _order_market(self, object cmd)
    @cython.locals(m=_Market, pos=Position)
    cpdef object _PlaceOrder(self, object cmd)
    cpdef bint _outside_band(self, object cmd, _Market m, object side, object price) except *
    cpdef object _assumed_price(self, _Market m, object side)
    cpdef object _cost_to_open(self, _Market m, object side, object qty, object price, object lev)
    cpdef object _order_cost(self, _Market m, object cmd, object qty, object opening, object price, object lev)
    cpdef tuple _sweep_bound(self, _Market m, object cmd, object qty, object closing, object limit, bint rests,
                             object lev)
