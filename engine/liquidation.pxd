# Compiled layout of engine/liquidation.py (see engine/exchange.pxd).

cimport cython

from perpsim.engine.deleveraging cimport Deleveraging
from perpsim.engine.forced_orders cimport ForcedOrders
from perpsim.engine.liquidation_index cimport LiquidationIndex
from perpsim.engine.market cimport _Market, position_key, position_of
from perpsim.engine.position_risk cimport PositionRisk
from perpsim.engine.records cimport new_record
from perpsim.engine.settlement cimport Settlement
from perpsim.engine.standing cimport StandingOrders
from perpsim.engine.state cimport State
from perpsim.risk.liquidation_plan cimport (MarketTerms, block_cut, block_notional, block_of, forced_price,
                                           liquidated_legs, paced_cut, partial_not_before,
                                           shortfall, takeover)
from perpsim.risk.positions cimport Position


cdef class Liquidation:
    cdef readonly State state
    cdef readonly Settlement settlement
    cdef readonly StandingOrders standing
    cdef readonly ForcedOrders forced
    cdef readonly PositionRisk position_risk
    cdef readonly LiquidationIndex liq_index
    cdef readonly Deleveraging deleveraging
    cdef public bint sweep_due
    cdef readonly dict _terms  # per symbol: risk.liquidation_plan.MarketTerms
    cdef public dict _paced  # per account: the end of its pacing window (ns)
    cdef public dict _blocks  # per account: its per-block record (dYdX)
    cdef public object _due  # when a waiting account is swept again (ns; 0: none)
    cdef readonly bint _takes_over  # OKX: a full liquidation is a takeover, no order
    cdef readonly object _backstop  # Hyperliquid: (n, d) of MM below which the vault takes over
    cdef public dict _retry  # Hyperliquid: (symbol, account) -> when its market order left a rest

    @cython.locals(m=_Market)
    cpdef void cascade(self) except *
    cpdef void mark_moved(self) except *
    cpdef bint _sweep(self, _Market m) except *
    @cython.locals(t=MarketTerms)
    cpdef bint _waits(self, _Market m, object account, object pside) except *
    @cython.locals(t=MarketTerms)
    cpdef void _drop_old_blocks(self) except *
    cpdef object _block_left(self, MarketTerms t, object symbol, object account)
    @cython.locals(t=MarketTerms)
    cpdef tuple _block_order(self, _Market m, object account, object pside, object leg_side, object price,
                             object left)
    @cython.locals(other=_Market, t=MarketTerms)
    cpdef void _liquidate(self, _Market m, object account, object pside) except *
    @cython.locals(p=Position)
    cpdef void _offload(self, _Market m) except *
