# Compiled layout of venue/history_handoff.py: the first of the history's C classes
# (HistoryHandoff -> HistoryOrders -> HistoryIncome -> HistoryOpenInterest -> HistoryFeed).

cimport cython

cdef long _FILL
cdef Py_ssize_t _EVENT, _LIQUIDATION, _KIND

cdef object event_field(object event, Py_ssize_t i)


cdef class HistoryHandoff:
    cdef public list _pending
    cdef public Py_ssize_t _pending_events
    cdef public object _funding_due

    @cython.locals(n=Py_ssize_t, pending=list)
    cpdef void handoff(self, object cmd, list events, object ts) except *
    @cython.locals(pending=list, batch=list, take=Py_ssize_t, n=Py_ssize_t, i=Py_ssize_t)
    cpdef bint catch_up(self, object budget=*) except -1
    cdef void _fold(self, object cmd, list events, object ts) except *


@cython.locals(after_fill=int, t=object)
cdef bint _reads_state(list events) except -1
