# Compiled layout of engine/market_commands.py (see engine/exchange.pxd).

from perpsim.engine.entry cimport Entry
from perpsim.engine.liquidation cimport Liquidation
from perpsim.engine.market cimport _Market
from perpsim.engine.marking cimport Marking
from perpsim.engine.settlement cimport Settlement
from perpsim.engine.state cimport State


cdef class MarketCommands:
    cdef readonly State state
    cdef readonly Settlement settlement
    cdef readonly Liquidation liquidation
    cdef readonly Marking marking
    cdef readonly Entry entry
