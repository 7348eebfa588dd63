# Compiled layout of engine/exchange.py. The .py is the source, and run as plain Python it is
# the reference twin (tests/property/test_exchange_machine.py): this file only gives the classes
# fixed attribute slots and lets the money path call its own methods without Python lookups.
# Each stage has its own .pxd beside its module; the exchange holds them typed, so a call into
# a stage is a C call through its vtable.

cimport cython

from perpsim.engine.liquidation cimport Liquidation
from perpsim.engine.market cimport _has_exits, _Market, _Open, position_key, position_of
from perpsim.engine.settlement cimport Settlement
from perpsim.engine.standing cimport StandingOrders
from perpsim.engine.state cimport State
from perpsim.risk.margin cimport initial_margin, open_cost
from perpsim.risk.positions cimport Position
# the money roundings as C calls (the .py imports the same functions as Python names)
from perpsim.risk.units cimport apply_rate_down, apply_rate_up, div_up


cdef class Exchange:
    cdef readonly State state
    cdef readonly Settlement settlement
    cdef readonly StandingOrders standing
    cdef readonly Liquidation liquidation
    cdef public bint _holding

    cpdef list _apply(self, object cmd)
    cpdef void _settle(self) except *
    @cython.locals(m=_Market)
    cpdef void _trim_reduce_only(self) except *
    @cython.locals(m=_Market)
    cpdef void _fire_triggers(self) except *
    @cython.locals(m=_Market)
    cpdef void _advance(self, object ts) except *
    cpdef void _remark(self, _Market m) except *
    cpdef object _cost_to_open(self, _Market m, object side, object qty, object price, object lev)
    cpdef object _order_cost(self, _Market m, object cmd, object qty, object opening, object price, object lev)
    cpdef tuple _sweep_bound(self, _Market m, object cmd, object qty, object closing, object limit, bint rests,
                             object lev)
    cpdef _Market _order_market(self, object cmd)
    @cython.locals(m=_Market, pos=Position)
    cpdef object _PlaceOrder(self, object cmd)
    @cython.locals(m=_Market)
    cpdef object _SetLeverage(self, object cmd)
    cpdef object _Deposit(self, object cmd)
    cpdef bint _outside_band(self, object cmd, _Market m, object side, object price) except *
    cpdef object _assumed_price(self, _Market m, object side)
    # a query named like the cimported formula: declared so that the module's C name stays the formula's
    cpdef object initial_margin(self, object account, str asset)
