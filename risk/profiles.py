"""Venue profiles: the rules a trader rehearses, as data.

A profile fixes which price triggers liquidation, how the liquidation price is solved (where
maintenance margin is evaluated) and how the cost to open an order is computed.
"""

from __future__ import annotations

from dataclasses import dataclass

from perpsim.risk.liqprice import LiquidationModel
from perpsim.risk.margin import CostModel


@dataclass(frozen=True, slots=True)
class VenueProfile:
    name: str
    #: MM at the liquidation price (Binance) or at the entry notional (Bybit classic).
    liquidation_model: LiquidationModel
    #: "mark" (Binance, Bybit) or "last": the price the liquidation sweep compares against.
    liquidation_trigger: str
    cost_model: CostModel


BINANCE = VenueProfile("binance", LiquidationModel.BINANCE, "mark", CostModel.CLASSIC)
BYBIT = VenueProfile("bybit", LiquidationModel.BYBIT, "mark", CostModel.CLASSIC)
PROFILES = {p.name: p for p in (BINANCE, BYBIT)}
