"""The gRPC MarketDataService: markets, books, mark prices, insurance, public streams."""

from __future__ import annotations

from perpsim.model.reasons import RejectReason as R
from perpsim.v1 import common_pb2, market_pb2, market_pb2_grpc
from perpsim.venue import convert as cv
from perpsim.venue.errors import VenueError
from perpsim.venue.services.common import Venue, rpc


def _topic_stream(kind: str):
    """A servicer method streaming one public topic ("trades", "mark", …) of request.symbol."""

    async def stream(self, request, context):
        async for msg in self.streams.topic(kind, request.symbol, context):
            yield msg

    return stream


class MarketData(market_pb2_grpc.MarketDataServiceServicer):
    """perpsim.v1.MarketDataService: public, no key needed."""

    def __init__(self, venue: Venue, streams) -> None:
        self.venue, self.streams = venue, streams

    @rpc
    async def ListMarkets(self, request, context):
        """MarketDataService.ListMarkets: every market's spec, fees, price band and triggers; the venue's profile."""
        out = []
        for s in self.venue.markets.values():
            out.append(market_pb2.Market(
                symbol=s.symbol, kind=str(s.kind.value), base_asset=s.base, quote_asset=s.quote,
                settle_asset=s.settle, tick_size=str(s.tick_size), lot_size=str(s.lot_size),
                min_quantity=str(s.min_qty), max_quantity=str(s.max_qty), min_notional=str(s.min_notional),
                contract_size=str(s.contract_size), maker_fee_rate=str(s.maker_fee), taker_fee_rate=str(s.taker_fee),
                liquidation_fee_rate=str(s.liquidation_fee), price_band_up=str(s.price_band_up),
                price_band_down=str(s.price_band_down),
                liquidation_trigger=cv.LIQUIDATION_TRIGGER_OUT[self.venue.view.liquidation(s.symbol).trigger_source],
                conditional_trigger_sources=sorted(cv.SOURCE_OUT.values()),
                default_conditional_trigger_source=cv.SOURCE_OUT[cv.SOURCE_IN[common_pb2.TRIGGER_SOURCE_UNSPECIFIED]]))
        return market_pb2.ListMarketsResponse(markets=out, profile=self.venue.view.profile.name)

    @rpc
    async def GetOrderBook(self, request, context):
        """MarketDataService.GetOrderBook: a market's book, `depth` levels a side (0 = 20, at most 1,000), with the
        count of commands applied as its sequence."""
        spec = self.venue.spec(request.symbol)
        depth = request.depth or 20
        if not 0 < depth <= 1_000:
            raise VenueError(R.INVALID_QUANTITY, field="depth", depth=depth)
        book = self.venue.view.book(spec.symbol, depth)
        return market_pb2.GetOrderBookResponse(
            symbol=spec.symbol, sequence=self.venue.seq.applied,
            bids=[cv.level_out(spec, *lv) for lv in book.bids], asks=[cv.level_out(spec, *lv) for lv in book.asks])

    @rpc
    async def GetMarkPrice(self, request, context):
        """MarketDataService.GetMarkPrice: a market's mark, index and last price with its last settled and predicted
        funding rates, at venue time."""
        spec = self.venue.spec(request.symbol)
        view = self.venue.view
        return cv.mark_out(spec, view.prices(spec.symbol), view.funding(spec.symbol), view.ts)

    @rpc
    async def GetInsuranceFund(self, request, context):
        """The insurance fund of one settlement asset, or of each (no key needed: it is public)."""
        view = self.venue.view
        assets = (self.venue.asset_spec(request.asset).settle,) if request.asset else view.assets()
        return market_pb2.GetInsuranceFundResponse(
            funds=[cv.money_out(self.venue.asset_spec(a), view.insurance(a)) for a in assets], time_ns=view.ts)

    async def StreamOrderBook(self, request, context):
        """MarketDataService.StreamOrderBook: a market's book, a snapshot first, then deltas."""
        async for msg in self.streams.book(self.venue, request, context):
            yield msg

    # the public topic streams of a market: one servicer method each
    StreamTrades = _topic_stream("trades")
    StreamMarkPrice = _topic_stream("mark")
    StreamLiquidations = _topic_stream("liquidations")
    StreamAlerts = _topic_stream("alerts")
