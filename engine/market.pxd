# Compiled layout of engine/market.py (see engine/exchange.pxd): a market's fixed attribute
# slots, and its contract math and position lookups as C calls for every stage.

cimport cython

from perpsim.engine.contracts cimport Contract
from perpsim.risk.margin_kernel cimport BracketTable
from perpsim.risk.positions cimport Position
from perpsim.risk.units cimport div_up


cdef class _Open:
    cdef public object account, side, price, leaves, reduce_only, pside


cdef class _Market:
    cdef public object spec, book, K, tick, brackets, index, mark_state, funding_config, funding, imn
    cdef public BracketTable table
    cdef public Contract contract
    cdef public object liq, triggers, observed, mark, marked, last, rate, next_funding, k_inv, first_cap
    cdef public dict positions, orders, conditionals, conditionals_of, reduce_only, exit_conditionals
    cdef public dict lists, list_of, lists_of, order_value
    cdef public set isolated, hedge
    cdef public bint inverse
    cdef public object taker_fee, maker_fee, liquidation_fee, band_up, band_down, band, min_notional, default_leverage
    cdef public str symbol, asset, iso_name
    cdef public tuple price_limits, pnl_pool

    cpdef object value(self, object lots, object price)
    cpdef object entry_value(self, Position p)
    cpdef object upnl(self, Position p)
    cpdef object fill(self, Position p, object qty, object price)
    cpdef object bp_tick(self, list legs, object wallet, object other_upnl=*)
    cpdef tuple iso_holder(self, object account, object pside)
    cpdef void unindex(self, object account) except *
    cpdef bint holds(self, object account)
    @cython.locals(p=Position)
    cpdef list leg_list(self, object account)
    @cython.locals(p=Position)
    cpdef object held(self, object account)
    cpdef object source_price(self, object ts, object source)
    cpdef tuple price_band(self)
    cpdef object protection(self, object side)


cpdef bint _has_exits(_Market m, object account, object pside) except *
cpdef object position_key(object account, object pside=*)
cpdef tuple position_of(object key)
