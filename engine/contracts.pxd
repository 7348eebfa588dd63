# Compiled layout of engine/contracts.py (see engine/exchange.pxd): a market holds its contract
# typed as the base class, so each method is a C call through the vtable to its kind's.

cimport cython

from perpsim.risk.margin cimport initial_margin, open_cost, upnl
from perpsim.risk.margin_kernel cimport BracketTable, bankruptcy_tick
from perpsim.risk.positions cimport Position


cdef class Contract:
    cdef readonly object K, k_inv, tick, brackets

    cpdef object value(self, object lots, object price)
    cpdef object entry(self, Position p)
    cpdef object entry_value(self, Position p)
    cpdef object upnl(self, Position p, object mark)
    cpdef object fill(self, Position p, object qty, object price)
    cpdef tuple funding_terms(self, object price)
    cpdef object pool_target(self, object total_cost)
    cpdef object pair_dust(self, object moved)
    cpdef object larger(self, object a, object b)
    cpdef object largest(self, list prices)
    cpdef object mm_scaled(self, Position p, object mark, bint at_entry)
    cpdef object cost_to_open(self, object side, object qty, object price, object mark, object lev, object cost_model,
                              object last)
    cpdef object bp_tick(self, list legs, object wallet, object other_upnl=*)
    cpdef object liq_tick(self, list legs, object base, bint bybit)
    cpdef object rise_tick(self, list legs, object base)
    cpdef bint liquidatable_alone(self, Position p, object balance, object mark, bint bybit) except *


cdef class LinearContract(Contract):
    cdef readonly BracketTable table

    cpdef object value(self, object lots, object price)
    cpdef object entry(self, Position p)
    cpdef object entry_value(self, Position p)
    cpdef object upnl(self, Position p, object mark)
    cpdef object fill(self, Position p, object qty, object price)
    cpdef tuple funding_terms(self, object price)
    cpdef object pool_target(self, object total_cost)
    cpdef object pair_dust(self, object moved)
    cpdef object larger(self, object a, object b)
    cpdef object largest(self, list prices)
    cpdef object mm_scaled(self, Position p, object mark, bint at_entry)
    cpdef object cost_to_open(self, object side, object qty, object price, object mark, object lev, object cost_model,
                              object last)
    @cython.locals(p=Position)
    cpdef object bp_tick(self, list legs, object wallet, object other_upnl=*)
    cpdef object liq_tick(self, list legs, object base, bint bybit)
    cpdef object rise_tick(self, list legs, object base)
    cpdef bint liquidatable_alone(self, Position p, object balance, object mark, bint bybit) except *


cdef class InverseContract(Contract):
    cpdef object value(self, object lots, object price)
    cpdef object entry(self, Position p)
    cpdef object entry_value(self, Position p)
    cpdef object upnl(self, Position p, object mark)
    cpdef object fill(self, Position p, object qty, object price)
    cpdef tuple funding_terms(self, object price)
    cpdef object pool_target(self, object total_cost)
    cpdef object pair_dust(self, object moved)
    cpdef object larger(self, object a, object b)
    cpdef object largest(self, list prices)
    cpdef object mm_scaled(self, Position p, object mark, bint at_entry)
    cpdef object cost_to_open(self, object side, object qty, object price, object mark, object lev, object cost_model,
                              object last)
    cpdef object bp_tick(self, list legs, object wallet, object other_upnl=*)
    cpdef object liq_tick(self, list legs, object base, bint bybit)
    cpdef object rise_tick(self, list legs, object base)
    cpdef bint liquidatable_alone(self, Position p, object balance, object mark, bint bybit) except *
