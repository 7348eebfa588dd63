# Compiled layout of engine/accounts.py (see engine/exchange.pxd).

cimport cython

from perpsim.engine.market cimport _Market, position_key
from perpsim.engine.state cimport State
from perpsim.risk.margin cimport initial_margin


cdef class Accounts:
    cdef readonly State state

    @cython.locals(m=_Market)
    cpdef object _SetLeverage(self, object cmd)
    cpdef object _Deposit(self, object cmd)
