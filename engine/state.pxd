# Compiled layout of engine/state.py (see engine/exchange.pxd): the shared state's fixed slots,
# and the account figures and ledger moves every stage calls as C calls.

cimport cython

from perpsim.engine.market cimport _Market, position_of
from perpsim.engine.records cimport new_record
from perpsim.risk.ledger cimport Ledger
from perpsim.risk.margin cimport initial_margin
from perpsim.risk.positions cimport Position
from perpsim.risk.units cimport apply_rate_up, div_up


cdef class State:
    cdef public object profile, ts, next_order_id, _notes
    cdef public dict markets, leverage, _collateral_index, _markets_of, _multi, _loss_limits, _day_pnl, _forced
    cdef public Ledger ledger
    cdef public set hedge, multi_assets, _touched, _positions_moved, _liquidating, _loss_watch, _unrealized_limits
    cdef public object _day_end, _collateral_market, _collateral_scale
    cdef public list funding_history, insurance_history, _events, _expiries, _due

    cpdef _Market _market(self, object cmd)
    cpdef object wallet(self, object account, str asset)
    cpdef object _iso_margin(self, _Market m, object account, object pside)
    @cython.locals(m=_Market, p=Position)
    cpdef list _cross(self, object account, str asset, object skip=*)
    cpdef object _mm(self, _Market m, Position p)
    cpdef object _mm_scaled(self, _Market m, Position p)
    @cython.locals(m=_Market, p=Position)
    cpdef object upnl(self, object account, str asset, object skip=*)
    @cython.locals(m=_Market, p=Position)
    cpdef object maintenance(self, object account, str asset, object skip=*)
    @cython.locals(m=_Market, p=Position)
    cpdef object initial_margin(self, object account, str asset)
    cpdef object _orders_margin(self, _Market m, object value, object lev)
    cpdef object _fee_reserve(self, _Market m, object notional)
    cpdef object _lev(self, object account, _Market m)
    cpdef object margin_balance(self, object account, str asset)
    cpdef object available(self, object account, str asset)
    cpdef void _move(self, str asset, object source, object dest, object amount, object cause) except *
    @cython.locals(kind=str)
    cpdef void _booked(self, tuple holder, str asset, object delta, object after, object cause) except *
    cpdef void _day_move(self, object account, str asset, object delta) except *
