# Compiled layout of venue/history_income.py (see venue/history_handoff.pxd).

cimport cython

from perpsim.venue.history_orders cimport HistoryOrders

cdef Py_ssize_t _COMMISSION, _PNL, _ACCOUNT, _ASSET, _DELTA, _CAUSE, _SYMBOL


@cython.final
cdef class PendingFill:
    cdef public object symbol, trade_id
    cdef public list taker, maker
    cdef public Py_ssize_t positions
    cdef public bint taker_pays, taker_fee, maker_fee, forced


cdef class HistoryIncome(HistoryOrders):
    cdef public dict _income, _cause_codes
    cdef public object _income_id
    cdef public list _causes

    @cython.locals(side=list)
    cdef bint _balance(self, object e, object ts, PendingFill fill, object symbol) except -1
    cdef void _add_income(self, object account, object kind, object asset, object amount, object symbol,
                          object info, object trade_id, object ts) except *
    cdef Py_ssize_t _cause_code(self, object info) except -1
