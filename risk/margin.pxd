# Compiled signatures of risk/margin.py's per-order formulas, so that the exchange calls them in
# C (the .py is the source; the rest of the module compiles as it is).

cpdef object notional(object lots, object price, object K)
cpdef object upnl(object lots, object cost, object mark, object K)
cpdef object initial_margin(object notional, object leverage)
cpdef tuple open_cost(object side, object qty, object price, object mark, object leverage, object K, object model,
                      object last, object last_buffer)
