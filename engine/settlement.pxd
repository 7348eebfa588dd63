# Compiled layout of engine/settlement.py (see engine/exchange.pxd).

cimport cython

from perpsim.engine.market cimport _Market, _Open, position_key
from perpsim.engine.records cimport new_record
from perpsim.engine.state cimport State
from perpsim.risk.margin cimport initial_margin
from perpsim.risk.positions cimport Position
from perpsim.risk.units cimport apply_rate_down, apply_rate_up


cdef class Settlement:
    cdef readonly State state

    @cython.locals(o=_Open)
    cpdef void _book_events(self, _Market m, bint reduce_only=*, object pside=*, bint liquidation=*) except *
    @cython.locals(o=_Open)
    cpdef void _forget_order(self, _Market m, object order_id) except *
    @cython.locals(o=_Open)
    cpdef void _order_leaves(self, _Market m, object order_id, object leaves) except *
    @cython.locals(p=Position)
    cpdef object _trade(self, _Market m, object account, object pside, object qty, object price)
    cpdef void _pair(self, _Market m, object a, object a_side, object b, object b_side, object qty,
                     object price) except *
