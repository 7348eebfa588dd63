# Compiled layout of engine/exchange.py. The .py is the source, and run as plain Python it is
# the reference twin (tests/property/test_exchange_machine.py): this file only gives the classes
# fixed attribute slots and lets the money path call its own methods without Python lookups.
# Each stage has its own .pxd beside its module; the exchange holds them typed, so a call into
# a stage is a C call through its vtable.

cimport cython

from perpsim.engine.accounts cimport Accounts
from perpsim.engine.conditionals cimport Conditionals
from perpsim.engine.deleveraging cimport Deleveraging
from perpsim.engine.entry cimport Entry
from perpsim.engine.forced_orders cimport ForcedOrders
from perpsim.engine.liquidation cimport Liquidation
from perpsim.engine.liquidation_index cimport LiquidationIndex
from perpsim.engine.loss_limit_hits cimport LossLimitHits
from perpsim.engine.loss_limits cimport LossLimits
from perpsim.engine.market_commands cimport MarketCommands
from perpsim.engine.marking cimport Marking
from perpsim.engine.order_lists cimport OrderLists
from perpsim.engine.position_risk cimport PositionRisk
from perpsim.engine.market cimport _Market, position_key, position_of
from perpsim.engine.settlement cimport Settlement
from perpsim.engine.standing cimport StandingOrders
from perpsim.engine.state cimport State
from perpsim.risk.positions cimport Position


cdef class Exchange:
    cdef readonly State state
    cdef readonly Accounts accounts
    cdef readonly Settlement settlement
    cdef readonly StandingOrders standing
    cdef readonly ForcedOrders forced
    cdef readonly PositionRisk position_risk
    cdef readonly LiquidationIndex liq_index
    cdef readonly Deleveraging deleveraging
    cdef readonly Liquidation liquidation
    cdef readonly Marking marking
    cdef readonly LossLimits loss_limits
    cdef readonly Entry entry
    cdef readonly OrderLists lists
    cdef readonly MarketCommands market_commands
    cdef readonly Conditionals conditionals
    cdef readonly LossLimitHits loss_limit_hits
    cdef tuple _stages

    cpdef list _apply(self, object cmd)
    cpdef void _settle(self) except *
