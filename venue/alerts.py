"""The market alert rule: a wide spread together with an extreme predicted funding rate.

A market is RAISED when its spread reaches `spread_bps` (basis points of the mid) while its
predicted funding rate reaches `funding_bps` (basis points per interval, either sign), and
CLEARED when either falls back below. Both comparisons are exact integer cross-multiplications
in ticks and RATE_SCALE units; only the displayed spread is rounded (down, to 2 decimals).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from perpsim.engine.views import ExchangeView
from perpsim.risk.units import RATE_SCALE
from perpsim.v1 import market_pb2
from perpsim.venue import convert as cv


class MarketAlerts:
    """Which markets are raised; `changes` reports each market whose state flips."""

    def __init__(self, spread_bps: int = 50, funding_bps: int = 5) -> None:
        self.spread_bps, self.funding_bps = spread_bps, funding_bps
        self.raised: set[str] = set()
        self._inputs: dict[str, tuple] = {}  # per market: the inputs last evaluated

    def changes(self, view: ExchangeView, followed: Callable[[str], bool]) -> list[market_pb2.MarketAlert]:
        """The alerts of the markets whose state changed, in the view's market order. A market is
        looked at again only when its touch or its predicted funding rate has changed; one that
        is not `followed` is not watched at all: its next follower starts from "nothing raised"."""
        out = []
        for symbol in view.symbols():
            if not followed(symbol):
                self._inputs.pop(symbol, None)
                self.raised.discard(symbol)
                continue
            (bid, ask), funding = view.top(symbol), view.funding(symbol)
            inputs = (bid, ask, funding.samples, funding.rate)
            if self._inputs.get(symbol) == inputs:
                continue
            self._inputs[symbol] = inputs
            predicted = funding.predicted_rate
            # exact comparisons: spread × 10_000 ≥ bps × mid, |rate| × 10_000 ≥ bps × RATE_SCALE
            wide = bid is not None and ask is not None and \
                (ask - bid) * 20_000 >= self.spread_bps * (ask + bid)
            extreme = abs(predicted) * 10_000 >= self.funding_bps * RATE_SCALE
            raised = wide and extreme
            if raised == (symbol in self.raised):
                continue
            (self.raised.add if raised else self.raised.discard)(symbol)
            spread = "" if bid is None or ask is None else \
                str(Decimal((ask - bid) * 2_000_000 // (ask + bid)) / 100)  # bps, 2 decimals, rounded down
            out.append(market_pb2.MarketAlert(
                symbol=symbol, state=market_pb2.ALERT_STATE_RAISED if raised else market_pb2.ALERT_STATE_CLEARED,
                spread_bps=spread, predicted_funding_rate=cv.rate_out(predicted),
                spread_threshold_bps=str(self.spread_bps),
                funding_rate_threshold=str(Decimal(self.funding_bps) / 10_000)))
        return out
