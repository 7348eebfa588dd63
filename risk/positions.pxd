# Compiled layout of risk/positions.py (the .py is the source and the reference twin).

cdef class Position:
    cdef public object lots, cost
    cpdef object apply_fill(self, object qty, object price)
    cpdef object closing_qty(self, object qty)
    cpdef object apply_inverse_fill(self, object qty, object price, object k_inv)
