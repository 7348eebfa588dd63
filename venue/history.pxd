# Compiled layout of venue/history.py: the history's last C class (see venue/history_handoff.pxd);
# History itself is a Python class over it and the queries (venue/history_query.py).

cimport cython

from perpsim.venue.history_income cimport PendingFill
from perpsim.venue.history_open_interest cimport HistoryOpenInterest
from perpsim.venue.history_orders cimport OrderInfo

cdef long _ACCEPTED, _FILL, _CANCELED, _EXPIRED, _AMENDED, _BUY, _SELL, _BOTH, _LONG, _SHORT
cdef Py_ssize_t _SYMBOL, _EVENT, _LIQUIDATION, _KIND, _ORDER_ID, _ACCOUNT, _SIDE, _PRICE, _QTY, _COUNTER_ORDER_ID
cdef Py_ssize_t _COUNTER_ACCOUNT, _P_SYMBOL, _P_ACCOUNT, _P_LOTS


cdef class HistoryFeed(HistoryOpenInterest):
    cdef public dict _trades, _asset, _public, _trade_id, _agg, _funding, _next_funding, _bars, _force
    cdef public object _ts, _force_id

    @cython.locals(finished=set, fill=PendingFill, moved=set, funding=list, settled=dict, forced=dict, ended=list,
                   trades=list, forced_side=dict, loose=list, positions=Py_ssize_t, registry=dict, kind=long,
                   side=list, kept_trades=dict, fields=list, liquidation=bint)
    cdef void _fold(self, object cmd, list events, object ts) except *
    @cython.locals(side=long, taker_buys=bint, maker_side=long, taker=list, maker=list, liquidation=bint)
    cdef PendingFill _fill(self, object oe, object ts, dict forced, list trades, set ended)
    @cython.locals(info=OrderInfo)
    cdef object _pside(self, object order_id, object account, long side)
