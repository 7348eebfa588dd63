"""Risk signals: read models of the venue's events (volatility, leverage temperature, the
liquidation map, insurance-fund stress, leverage spikes, execution quality, correlation).

Outside the core: they compute in floating point, in a fixed order, from the event stream and
the engine's state only, so a replay gives the same figures. `Signals` is the listener.
"""

from perpsim.venue.signals.config import SignalConfig
from perpsim.venue.signals.hub import Signals

__all__ = ["SignalConfig", "Signals"]
