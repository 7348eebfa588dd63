# Compiled layout of risk/ledger.py (the .py is the source and the reference twin).

cdef class Ledger:
    cdef public object _bal, deposited, withdrawn
    cpdef object balance(self, tuple holder, str asset)
    cpdef object wallet(self, object account, str asset)
    cpdef object insurance(self, str asset)
    cpdef tuple move(self, str asset, tuple source, tuple dest, object amount)
