"""The client's market risk calls (RiskService, market half), shared by `Client` and
`AsyncClient`: a market's risk figures, once or as a stream."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from perpsim.clients.risk_models import MarketRisk, MarketRiskUpdate
from perpsim.v1 import risk_pb2


class MarketRiskCalls:
    """Mixin of the SDK's API class: `_risk(method, request, convert)` makes a unary call and
    `_stream_on(service, method, request, convert, timeout)` opens a stream."""

    def _risk(self, method: str, request: Any, convert, write: bool = False) -> Any:
        raise NotImplementedError

    def _stream_on(self, service: str, method: str, request: Any, convert, timeout: float | None) -> Any:
        raise NotImplementedError

    def market_risk(self, symbol: str, slippage_notional: Decimal | str | int | None = None) -> MarketRisk:
        """A market's risk figures: open interest, predicted funding and its z-score, long/short
        ratio, average leverage, temperature, volatility, execution quality (the expected
        slippage of `slippage_notional`, quote currency; default: the venue's), insurance
        stress, the liquidation map and flags."""
        if slippage_notional is not None and (isinstance(slippage_notional, bool | float)):
            raise TypeError("slippage_notional: a Decimal, str or int (exact), not a float")
        request = risk_pb2.GetMarketRiskRequest(
            symbol=symbol, slippage_notional="" if slippage_notional is None else str(slippage_notional))
        return self._risk("GetMarketRisk", request, lambda r: MarketRisk.from_pb(r.risk))

    def stream_market_risk(self, symbol: str, interval_ms: int = 1_000, *, timeout: float | None = None):
        """The market's risk figures every `interval_ms` (MarketRiskUpdate), until closed."""
        return self._stream_on("risk", "StreamMarketRisk",
                               risk_pb2.StreamMarketRiskRequest(symbol=symbol, interval_ms=interval_ms),
                               MarketRiskUpdate.from_pb, timeout)
