# Compiled layout of venue/state.py: the state's attribute slots, and the per-order steps of
# VenueState.apply as C calls.

cimport cython

from perpsim.venue.history cimport HistoryFeed
from perpsim.venue.history_orders cimport OrderInfo

cdef long _ACCEPTED, _FILL, _CANCELED, _EXPIRED, _AMENDED
cdef Py_ssize_t _EVENT, _KIND, _ORDER_ID, _PRICE, _QTY, _LEAVES, _COUNTER_ORDER_ID, _COUNTER_LEAVES


cdef class VenueState:
    cdef public object exchange, _completed
    cdef public HistoryFeed history
    cdef public dict orders, by_client, open_of, lists_by_client, list_status, conditionals_by_client

    @cython.locals(events=list, t=object, kind=long, known=dict)
    cpdef list apply(self, object cmd)
    cdef void _register_placed(self, list events)
    cdef void _track_list(self, object cmd, object e)
    @cython.locals(i=Py_ssize_t, info=OrderInfo, open_ids=set, known=dict, orders=dict)
    cdef bint _register(self, object cmd, object order_id, list events, Py_ssize_t start) except -1
    @cython.locals(kind=long, o=OrderInfo)
    cdef void _track(self, object e)
    @cython.locals(o=OrderInfo)
    cdef void _filled(self, object order_id, object qty, object leaves)
    @cython.locals(ids=set, gone=OrderInfo, known=dict, completed=object)
    cdef void _complete(self, OrderInfo o)
