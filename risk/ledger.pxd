# Compiled layout of risk/ledger.py (the .py is the source and the reference twin).

cimport cython

cdef class Ledger:
    cdef public dict _bal, deposited, withdrawn
    @cython.locals(per_asset=dict)
    cpdef object balance(self, tuple holder, str asset)
    cpdef object wallet(self, object account, str asset)
    cpdef object insurance(self, str asset)
    @cython.locals(bal=dict, src=dict, dst=dict)
    cpdef tuple move(self, str asset, tuple source, tuple dest, object amount)
