"""The client's market data calls and streams (MarketDataService), shared by `Client` and
`AsyncClient`. Reads, retried on UNAVAILABLE; streams have no deadline unless one is passed.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from perpsim.clients import models as M
from perpsim.clients.calls import Call, CallSite
from perpsim.clients.market_models import Mark, Market, OrderBook, Trade
from perpsim.clients.stream_models import Alert, BookUpdate, Liquidation, MarkUpdate
from perpsim.v1 import market_pb2


class MarketCalls(CallSite):
    """Mixin of the SDK's API class (`CallSite`): market data calls and streams."""

    def _stream(self, method: str, request: Any, convert: Callable[[Any], Any], timeout: float | None) -> Any:
        return self._stream_on("market", method, request, convert, timeout)

    def markets(self) -> list[Market]:
        """Every market with its rules (tick, lot, limits, fees, price band)."""
        return self._invoke(Call("market", "ListMarkets", market_pb2.ListMarketsRequest(),
                                 lambda r: [Market.from_pb(m) for m in r.markets], retry=True))

    def book(self, symbol: str, depth: int = 20) -> OrderBook:
        """The order book, `depth` levels per side, best first."""
        return self._invoke(Call("market", "GetOrderBook", market_pb2.GetOrderBookRequest(symbol=symbol, depth=depth),
                                 OrderBook.from_pb, retry=True))

    def mark(self, symbol: str) -> Mark:
        """Mark, index and last price, and the funding rate."""
        return self._invoke(Call("market", "GetMarkPrice", market_pb2.GetMarkPriceRequest(symbol=symbol),
                                 Mark.from_pb, retry=True))

    def insurance_fund(self, asset: str = "") -> dict[str, Decimal]:
        """The insurance fund of `asset`, or of every settlement asset ("" ): asset -> amount."""
        return self._invoke(Call("market", "GetInsuranceFund", market_pb2.GetInsuranceFundRequest(asset=asset),
                                 lambda r: {f.asset: M.dec0(f.amount) for f in r.funds}, retry=True))

    def stream_trades(self, symbol: str, *, timeout: float | None = None):
        """Public trades from now on (sequence numbers 1, 2, … without gaps)."""
        return self._stream("StreamTrades", market_pb2.StreamTradesRequest(symbol=symbol), Trade.from_pb, timeout)

    def stream_book(self, symbol: str, depth: int = 20, *, timeout: float | None = None):
        """A snapshot of the book (snapshot=True), then the levels that change."""
        return self._stream("StreamOrderBook", market_pb2.StreamOrderBookRequest(symbol=symbol, depth=depth),
                            BookUpdate.from_pb, timeout)

    def stream_mark(self, symbol: str, *, timeout: float | None = None):
        """Mark price updates."""
        return self._stream("StreamMarkPrice", market_pb2.StreamMarkPriceRequest(symbol=symbol),
                            MarkUpdate.from_pb, timeout)

    def stream_liquidations(self, symbol: str, *, timeout: float | None = None):
        """Public liquidation orders (like Binance <symbol>@forceOrder)."""
        return self._stream("StreamLiquidations", market_pb2.StreamLiquidationsRequest(symbol=symbol),
                            Liquidation.from_pb, timeout)

    def stream_alerts(self, symbol: str, *, timeout: float | None = None):
        """Market-risk alerts of a market (Alert): raised when the spread is wide and the
        predicted funding rate extreme together, cleared when either relents."""
        return self._stream("StreamAlerts", market_pb2.StreamAlertsRequest(symbol=symbol), Alert.from_pb, timeout)
