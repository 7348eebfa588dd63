# Compiled layout of engine/liquidation_index.py (see engine/exchange.pxd).

cimport cython

from perpsim.engine.market cimport _Market, position_key
from perpsim.engine.state cimport State
from perpsim.risk.positions cimport Position


cdef class LiquidationIndex:
    cdef readonly State state

    cpdef void _rekey_account(self, object account) except *
    @cython.locals(p=Position)
    cpdef void _rekey(self, _Market m, object account) except *
    @cython.locals(p=Position)
    cpdef object _liq_tick(self, _Market m, object account, object pside, list legs)
    cpdef object _liq_base(self, _Market m, object account, object pside)
    @cython.locals(p=Position, mk=_Market)
    cpdef bint _liquidatable(self, _Market m, object account, object pside) except *
