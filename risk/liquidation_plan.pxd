# Compiled signatures of risk/liquidation_plan.py (the .py is the source): the liquidation stage
# calls the decisions it asks per liquidated position in C.

from perpsim.risk.units cimport apply_rate_up

cdef class MarketTerms:
    cdef readonly object K, k_inv, brackets, first_cap, money_scale, lowest, highest, fee_rate, steps, pace_ns
    cdef readonly object block_ns, block_cap
    cdef readonly int mode
    cdef readonly bint inverse, waits

cpdef object notional(MarketTerms t, object lots, object price)
cpdef object forced_price(MarketTerms t, object bankruptcy, object mark)
cpdef tuple liquidated_legs(bint isolated, object pside, tuple held)
cpdef object partial_cut(MarketTerms t, object lots, object mark)
cpdef object fraction_cut(MarketTerms t, object lots, object mark)
cpdef object first_tier_cut(MarketTerms t, object lots, object mark)
cpdef object block_cut(MarketTerms t, object lots, object mark, object left)
cpdef object block_of(MarketTerms t, object ts)
cpdef object block_notional(MarketTerms t, object lots, object mark)
cpdef object paced_cut(MarketTerms t, object lots, object mark, object ts, object not_before)
cpdef object partial_not_before(MarketTerms t, object ts)
cpdef int takeover(object rest, object fund) except -1
cpdef object liquidation_fee(MarketTerms t, object qty, object price, object remaining)
cpdef object shortfall(object remaining)
