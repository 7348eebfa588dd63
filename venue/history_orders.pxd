# Compiled layout of venue/history_orders.py (see venue/history_handoff.pxd).

cimport cython

from perpsim.venue.history_handoff cimport HistoryHandoff

cdef long _FILL, _CANCELED, _EXPIRED
cdef Py_ssize_t _EVENT, _KIND, _ORDER_ID, _LEAVES, _COUNTER_ORDER_ID, _COUNTER_LEAVES
cdef long NOT_HELD, HELD, HELD_DONE


cdef class OrderInfo:
    cdef public object order_id, account, symbol, client_order_id, side, kind, tif, price, qty, reduce_only
    cdef public object position_side, filled, status, cum_quote, time_ns, update_ns, placed_by, placement
    cdef public long held


cdef class HistoryOrders(HistoryHandoff):
    cdef public object view, limits
    cdef public dict _registry, _orders, _done, _by_client, _conditionals

    @cython.locals(orders=dict, by_client=dict)
    cdef void _add_order(self, OrderInfo o, object ts, bint done) except *
    @cython.locals(completed=object)
    cdef void _completed(self, OrderInfo o) except *
    @cython.locals(orders=dict, o=OrderInfo)
    cdef void _touch(self, object account, object order_id, object ts, object quote, set ended) except *
    @cython.locals(orders=dict, by_client=dict, cap=Py_ssize_t, gone=OrderInfo, done=object)
    cpdef void _trim(self, object account) except *
    @cython.locals(orders=dict, o=OrderInfo)
    cdef void _placed(self, object e) except *
    cdef void _conditional(self, object cmd, object e) except *


@cython.locals(ended=set, kind=long)
cpdef set ended_orders(list events)


cpdef dict client_order_map()
