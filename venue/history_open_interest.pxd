# Compiled layout of venue/history_open_interest.py (see venue/history_handoff.pxd).

cimport cython

from perpsim.venue.history_income cimport HistoryIncome

cdef long _BOTH, _LONG, _SHORT


cdef class HistoryOpenInterest(HistoryIncome):
    cdef public dict _oi, _legs, _oi_hist, _marks

    @cython.locals(key=tuple)
    cdef void _update_longs(self, object symbol, object account) except *
    @cython.locals(key=tuple, was=tuple)
    cdef void _leg(self, object symbol, object account, long pside, object lots) except *
    cdef void _set_legs(self, object symbol, tuple key, tuple was, object both, object longs) except *
    cdef void _sample_oi(self, object at) except *
