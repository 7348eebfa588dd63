# Compiled signature of risk/margin.py's uPnL, so that the exchange calls it in C (the .py is the
# source; the rest of the module compiles as it is).

cpdef object upnl(object lots, object cost, object mark, object K)
