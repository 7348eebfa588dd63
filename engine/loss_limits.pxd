# Compiled layout of engine/loss_limits.py (see engine/exchange.pxd).

from perpsim.engine.state cimport State


cdef class LossLimits:
    cdef readonly State state

    cpdef bint _loss_refused(self, object cmd, str asset) except *
