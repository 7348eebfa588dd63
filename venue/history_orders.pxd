# Compiled layout of venue/history_orders.py (see venue/history_handoff.pxd).

cimport cython

from perpsim.venue.history_handoff cimport HistoryHandoff

cdef long _FILL, _CANCELED, _EXPIRED


cdef class OrderInfo:
    cdef public object order_id, account, symbol, client_order_id, side, kind, tif, price, qty, reduce_only
    cdef public object position_side, filled, status, cum_quote, time_ns, update_ns, placed_by, placement


cdef class HistoryOrders(HistoryHandoff):
    cdef public object view, limits
    cdef public dict _orders, _done, _owner, _by_client, _conditionals

    @cython.locals(orders=dict, by_client=dict)
    cdef void _add_order(self, OrderInfo o, object ts, bint done) except *
    @cython.locals(o=OrderInfo)
    cdef void _touch(self, object order_id, object ts, object quote, set ended) except *
    @cython.locals(orders=dict, by_client=dict, cap=Py_ssize_t, gone=OrderInfo)
    cpdef void _trim(self, object account) except *
    cdef void _placed(self, object e) except *
    cdef void _conditional(self, object cmd, object e) except *


@cython.locals(ended=set, kind=long)
cpdef set ended_orders(list events)
