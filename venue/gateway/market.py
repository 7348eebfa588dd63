"""Public market data: /fapi/v1 ping, time, exchangeInfo, depth, trades, aggTrades, klines
(trade, mark and index prices; continuousKlines by pair and contract type), ticker/24hr,
ticker/price, ticker/bookTicker, premiumIndex, fundingRate, openInterest, and
/futures/data/openInterestHist."""

from __future__ import annotations

from decimal import Decimal

from aiohttp import web

from perpsim.engine.views import ExchangeView
from perpsim.model.enums import Side
from perpsim.model.reasons import RejectReason as R
from perpsim.venue.errors import VenueError
from perpsim.venue.gateway import params as P
from perpsim.venue.gateway import shapes as S
from perpsim.venue.gateway.edge import NONE

ORDER_TYPES = ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
               "TRAILING_STOP_MARKET"]
TIME_IN_FORCE = ["GTC", "IOC", "FOK", "GTX", "GTD"]
#: The only contractType the venue lists (exchangeInfo): every market is a perpetual whose pair is its symbol.
PERPETUAL = "PERPETUAL"
#: A perpetual's delivery date as Binance writes it (2100-12-25).
PERPETUAL_DELIVERY_MS = 4133404800000

#: the bound fundingInfo shows for a rate the profile leaves unbounded (scaled 1e8): Binance's usual ±3 %
_DEFAULT_CAP = 3_000_000


def linear_specs(venue) -> list:
    """The venue's linear markets: the only ones the USDⓈ-M gateway serves."""
    return [s for s in venue.markets.values() if s.kind.value == "linear"]


def symbol_json(spec, onboard_ms: int) -> dict:
    """A market's entry in /fapi/v1/exchangeInfo `symbols` (a perpetual, its filters from the spec as
    decimal strings); `onboard_ms` its onboardDate."""
    def d(x: Decimal) -> str:
        return format(x, "f")

    return {
        "symbol": spec.symbol, "pair": spec.symbol, "contractType": "PERPETUAL",
        "deliveryDate": PERPETUAL_DELIVERY_MS, "onboardDate": onboard_ms, "status": "TRADING",
        "maintMarginPercent": "2.5000", "requiredMarginPercent": "5.0000",
        "baseAsset": spec.base, "quoteAsset": spec.quote, "marginAsset": spec.settle,
        "pricePrecision": spec.price_decimals, "quantityPrecision": spec.qty_decimals,
        "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN", "underlyingSubType": [],
        "triggerProtect": "0.0500", "liquidationFee": d(spec.liquidation_fee), "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": d(spec.min_price), "maxPrice": d(spec.max_price),
             "tickSize": d(spec.tick_size)},
            {"filterType": "LOT_SIZE", "minQty": d(spec.min_qty), "maxQty": d(spec.max_qty),
             "stepSize": d(spec.lot_size)},
            {"filterType": "MARKET_LOT_SIZE", "minQty": d(spec.min_qty), "maxQty": d(spec.max_qty),
             "stepSize": d(spec.lot_size)},
            {"filterType": "MAX_NUM_ORDERS", "limit": spec.max_open_orders},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": spec.max_algo_orders},
            {"filterType": "MIN_NOTIONAL", "notional": d(spec.min_notional)},
            {"filterType": "PERCENT_PRICE", "multiplierUp": d(spec.price_band_up),
             "multiplierDown": d(spec.price_band_down), "multiplierDecimal": "4"},
        ],
        "orderTypes": ORDER_TYPES, "timeInForce": TIME_IN_FORCE,
    }


class MarketData:
    """The public market data routes: /fapi/v1 ping, time, exchangeInfo, depth, trades, klines, tickers,
    premiumIndex, fundingRate, openInterest, … and /futures/data/openInterestHist (no key)."""

    def __init__(self, gw) -> None:
        self.gw, self.venue = gw, gw.venue

    def view(self) -> ExchangeView:
        """The engine's read API over the live state's exchange."""
        return ExchangeView(self.venue.state.exchange)

    def now_ms(self) -> int:
        """The venue clock's time now (ms)."""
        return S.ms(self.venue.seq.clock.now())

    async def ping(self, call) -> dict:
        """GET /fapi/v1/ping: an empty object."""
        return {}

    async def time(self, call) -> dict:
        """GET /fapi/v1/time: the venue clock's time (serverTime, ms)."""
        return {"serverTime": self.now_ms()}

    async def exchange_info(self, call) -> dict:
        """GET /fapi/v1/exchangeInfo: the rate limits, the settlement assets and every linear market's symbol entry."""
        onboard = S.ms(self.gw.epoch_ns)
        assets = sorted({s.settle for s in linear_specs(self.venue)})
        return {"timezone": "UTC", "serverTime": self.now_ms(), "futuresType": "U_MARGINED",
                "rateLimits": self.gw.rate_limits(), "exchangeFilters": [],
                "assets": [{"asset": a, "marginAvailable": True, "autoAssetExchange": "0"} for a in assets],
                "symbols": [symbol_json(s, onboard) for s in linear_specs(self.venue)]}

    async def depth(self, call) -> dict:
        """GET /fapi/v1/depth: a market's book, `limit` levels a side (default 500, at most 1000), and lastUpdateId."""
        spec = P.spec(self.venue, call.params)
        limit = P.window(call.params, 500, 1000)
        v = self.view()
        now = self.now_ms()
        def side(s: int) -> list[list[str]]:
            return [[spec.format_price(p), spec.format_qty(q)] for p, q, _ in v.depth(spec.symbol, s, limit)]

        return {"lastUpdateId": self.gw.books.update_id[spec.symbol], "E": now, "T": S.ms(v.ts),
                "bids": side(Side.BUY), "asks": side(Side.SELL)}

    async def trades(self, call) -> list:
        """Recent trades (trades) or from a trade id on (historicalTrades' fromId)."""
        spec = P.spec(self.venue, call.params)
        limit = P.window(call.params, 500, 1000)
        from_id = P.integer(call.params, "fromId", -1)
        rows = self.gw.history.public_trades(spec.symbol, limit=limit, from_id=from_id if from_id >= 0 else None)
        return [{"id": t.id, "price": spec.format_price(t.price), "qty": spec.format_qty(t.qty),
                 "quoteQty": S.quote_of(spec, t.quote), "time": S.ms(t.time_ns), "isBuyerMaker": t.buyer_maker}
                for t in rows]

    async def agg_trades(self, call) -> list:
        """GET /fapi/v1/aggTrades: a market's aggregate trades, from fromId or in startTime..endTime (else the latest);
        limit default 500, at most 1000."""
        spec = P.spec(self.venue, call.params)
        limit = P.window(call.params, 500, 1000)
        start, end = P.span(call.params)
        from_id = P.integer(call.params, "fromId", -1)
        rows = self.gw.history.agg_trades(spec.symbol, from_id=from_id if from_id >= 0 else None, start_ns=start,
                                          end_ns=end, limit=limit)
        return [{"a": t.id, "p": spec.format_price(t.price), "q": spec.format_qty(t.qty), "f": t.first_trade_id,
                 "l": t.last_trade_id, "T": S.ms(t.time_ns), "m": t.buyer_maker} for t in rows]

    async def _klines(self, call, source: str, symbol_param: str = "symbol") -> list:
        spec = P.spec(self.venue, call.params, symbol_param)
        interval = P.text(call.params, "interval")
        limit = P.window(call.params, 500, 1500)
        start, end = P.span(call.params)
        try:
            bars = self.gw.history.klines(spec.symbol, source, interval, start_ns=start, end_ns=end, limit=limit)
        except ValueError:
            raise VenueError(R.INVALID_VALUE, field="interval", value=interval) from None
        volume = source == "trade"
        return [[S.ms(b.open_ns), spec.format_price(b.open), spec.format_price(b.high), spec.format_price(b.low),
                 spec.format_price(b.close), spec.format_qty(b.volume) if volume else "0", S.ms(b.close_ns),
                 S.quote_of(spec, b.quote_volume) if volume else "0", b.trades if volume else 0,
                 spec.format_qty(b.taker_buy_volume) if volume else "0",
                 S.quote_of(spec, b.taker_buy_quote_volume) if volume else "0", "0"] for b in bars]

    async def klines(self, call) -> list:
        """GET /fapi/v1/klines: a market's trade klines at one interval; limit default 500, at most 1500."""
        return await self._klines(call, "trade")

    async def continuous_klines(self, call) -> list:
        """GET /fapi/v1/continuousKlines: the trade klines of the `pair`'s `contractType` contract (both mandatory,
        -1102): PERPETUAL is the market whose symbol is the pair, as klines answers it; the venue lists no other
        contract, so any other contractType is an invalid symbol (-1121)."""
        P.text(call.params, "pair")  # the one named when both are missing
        contract = P.text(call.params, "contractType")
        if contract != PERPETUAL:
            raise VenueError(R.UNKNOWN_SYMBOL, field="contractType", pair=call.params["pair"], contractType=contract)
        return await self._klines(call, "trade", "pair")

    async def mark_price_klines(self, call) -> list:
        """GET /fapi/v1/markPriceKlines: a market's mark price klines (volumes "0")."""
        return await self._klines(call, "mark")

    async def index_price_klines(self, call) -> list:
        """GET /fapi/v1/indexPriceKlines: the index price klines of the market named by `pair` (volumes "0")."""
        return await self._klines(call, "index", "pair")

    def _specs(self, call) -> tuple[list, bool]:
        """The market named by `symbol`, or every linear market (and whether one was named)."""
        if call.params.get("symbol"):
            return [P.spec(self.venue, call.params)], True
        return linear_specs(self.venue), False

    @staticmethod
    def _one(rows: list, single: bool):
        return rows[0] if single else rows

    def ticker_row(self, spec) -> dict:
        """The rolling 24-hour statistics of a market (Binance ticker/24hr)."""
        t = self.gw.history.ticker_24h(spec.symbol)
        last = self.view().last(spec.symbol)
        open_ = t.open if t.open is not None else last
        change = (last - open_) if last is not None and open_ is not None else 0
        trades = self.gw.history.public_trades(spec.symbol, limit=1)
        return {
            "symbol": spec.symbol, "priceChange": spec.format_price(change),
            "priceChangePercent": S.ratio(S.Fraction(change * 100, open_) if open_ else 0, 3),
            "weightedAvgPrice": S.price_of(spec, t.weighted_avg_price),
            "lastPrice": spec.format_price(last) if last else "0",
            "lastQty": spec.format_qty(trades[-1].qty) if trades else "0",
            "openPrice": spec.format_price(open_) if open_ else "0",
            "highPrice": spec.format_price(t.high) if t.high is not None else "0",
            "lowPrice": spec.format_price(t.low) if t.low is not None else "0",
            "volume": spec.format_qty(t.volume), "quoteVolume": S.quote_of(spec, t.quote_volume),
            "openTime": S.ms(t.open_ns), "closeTime": S.ms(t.close_ns), "firstId": t.first_trade_id,
            "lastId": t.last_trade_id, "count": t.trades}

    async def ticker_24hr(self, call):
        """GET /fapi/v1/ticker/24hr: 24-hour statistics of one market (an object) or of every linear market (a list)."""
        specs, single = self._specs(call)
        return self._one([self.ticker_row(s) for s in specs], single)

    async def ticker_price(self, call):
        """GET /fapi/v1/ticker/price and /fapi/v2/ticker/price: the last trade price of one market or of every linear
        market ("0" before a trade)."""
        specs, single = self._specs(call)
        v = self.view()
        out = [{"symbol": s.symbol, "price": s.format_price(v.last(s.symbol)) if v.last(s.symbol) else "0",
                "time": S.ms(v.ts)} for s in specs]
        return self._one(out, single)

    async def book_ticker(self, call):
        """GET /fapi/v1/ticker/bookTicker: the best bid and ask of one market or of every linear market."""
        specs, single = self._specs(call)
        v = self.view()
        out = []
        for s in specs:
            (bid, bid_qty, _), (ask, ask_qty, _) = top_of(v, s.symbol)
            out.append({"symbol": s.symbol, "bidPrice": s.format_price(bid) if bid else "0",
                        "bidQty": s.format_qty(bid_qty), "askPrice": s.format_price(ask) if ask else "0",
                        "askQty": s.format_qty(ask_qty),
                        "time": S.ms(v.ts), "lastUpdateId": self.gw.books.update_id[s.symbol]})
        return self._one(out, single)

    def premium(self, spec) -> dict:
        """A market's premiumIndex row: mark and index price, last and predicted funding rate, next funding time."""
        v = self.view()
        pv, fv = v.prices(spec.symbol), v.funding(spec.symbol)
        return {"symbol": spec.symbol, "markPrice": spec.format_price(pv.mark) if pv.mark else "0",
                "indexPrice": spec.format_price(pv.index) if pv.index else "0",
                "estimatedSettlePrice": spec.format_price(pv.mark) if pv.mark else "0",
                "lastFundingRate": S.rate(fv.rate), "interestRate": S.rate(fv.interest),
                "predictedFundingRate": S.rate(fv.predicted_rate),
                "nextFundingTime": S.ms(fv.next_funding_ts), "time": S.ms(v.ts)}

    async def premium_index(self, call):
        """GET /fapi/v1/premiumIndex: the premiumIndex row of one market or of every linear market."""
        specs, single = self._specs(call)
        return self._one([self.premium(s) for s in specs], single)

    async def funding_rate(self, call) -> list:
        """GET /fapi/v1/fundingRate: the settled funding rates of one market or all; limit default 100, at most 1000."""
        symbol = P.spec(self.venue, call.params).symbol if call.params.get("symbol") else None
        limit = P.window(call.params, 100, 1000)
        start, end = P.span(call.params)
        rows = self.gw.history.funding_rates(symbol, start_ns=start, end_ns=end, limit=limit)
        return [{"symbol": r.symbol, "fundingRate": S.rate(r.rate), "fundingTime": S.ms(r.funding_ns),
                 "markPrice": self.venue.markets[r.symbol].format_price(r.mark) if r.mark else "0"} for r in rows]

    async def funding_info(self, call) -> list:
        """GET /fapi/v1/fundingInfo: every linear market's funding interval (hours) and the bounds of its rate (the
        profile's cap and floor; ±3 %, Binance's usual bounds, where the profile sets none)."""
        v = self.view()
        out = []
        for s in linear_specs(self.venue):
            f = v.funding(s.symbol)
            out.append({"symbol": s.symbol,
                        "adjustedFundingRateCap": S.rate(_DEFAULT_CAP if f.cap is None else f.cap),
                        "adjustedFundingRateFloor": S.rate(-_DEFAULT_CAP if f.floor is None else f.floor),
                        "fundingIntervalHours": f.interval_ns // (3_600 * 10**9), "disclaimer": False})
        return out

    async def open_interest(self, call) -> dict:
        """GET /fapi/v1/openInterest: a market's open interest now."""
        spec = P.spec(self.venue, call.params)
        v = self.view()
        return {"symbol": spec.symbol, "openInterest": spec.format_qty(v.market(spec.symbol).open_interest),
                "time": S.ms(v.ts)}

    async def open_interest_hist(self, call) -> list:
        """GET /futures/data/openInterestHist: a market's open interest at one period, with its value at mark; limit
        default 30, at most 500."""
        spec = P.spec(self.venue, call.params)
        period = P.text(call.params, "period")
        limit = P.window(call.params, 30, 500)
        start, end = P.span(call.params)
        try:
            rows = self.gw.history.open_interest_history(spec.symbol, period, start_ns=start, end_ns=end,
                                                         limit=limit)
        except ValueError:
            raise VenueError(R.INVALID_VALUE, field="period", value=period) from None
        out = []
        for r in rows:
            value = Decimal(r.lots * r.mark) * spec.tick_size * spec.lot_size * spec.contract_size
            out.append({"symbol": spec.symbol, "sumOpenInterest": spec.format_qty(r.lots),
                        "sumOpenInterestValue": format(value, "f"), "timestamp": S.ms(r.time_ns)})
        return out

    def routes(self) -> list:
        """The public market data routes (no key)."""
        ep = self.gw.edge.endpoint
        get = web.get
        v1 = "/fapi/v1/"
        return [
            get(v1 + "ping", ep(self.ping, NONE)), get(v1 + "time", ep(self.time, NONE)),
            get(v1 + "exchangeInfo", ep(self.exchange_info, NONE)), get(v1 + "depth", ep(self.depth, NONE)),
            get(v1 + "trades", ep(self.trades, NONE)), get(v1 + "historicalTrades", ep(self.trades, NONE)),
            get(v1 + "aggTrades", ep(self.agg_trades, NONE)), get(v1 + "klines", ep(self.klines, NONE)),
            get(v1 + "continuousKlines", ep(self.continuous_klines, NONE)),
            get(v1 + "markPriceKlines", ep(self.mark_price_klines, NONE)),
            get(v1 + "indexPriceKlines", ep(self.index_price_klines, NONE)),
            get(v1 + "ticker/24hr", ep(self.ticker_24hr, NONE)),
            get(v1 + "ticker/price", ep(self.ticker_price, NONE)),
            get("/fapi/v2/ticker/price", ep(self.ticker_price, NONE)),
            get(v1 + "ticker/bookTicker", ep(self.book_ticker, NONE)),
            get(v1 + "premiumIndex", ep(self.premium_index, NONE)),
            get(v1 + "fundingRate", ep(self.funding_rate, NONE)),
            get(v1 + "fundingInfo", ep(self.funding_info, NONE)),
            get(v1 + "openInterest", ep(self.open_interest, NONE)),
            get("/futures/data/openInterestHist", ep(self.open_interest_hist, NONE)),
        ]



def top_of(v: ExchangeView, symbol: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """The best bid and ask levels (price ticks, lots, orders); (0, 0, 0) for an empty side."""
    bids, asks = v.depth(symbol, Side.BUY, 1), v.depth(symbol, Side.SELL, 1)
    bid = (bids[0].price, bids[0].lots, bids[0].orders) if bids else (0, 0, 0)
    ask = (asks[0].price, asks[0].lots, asks[0].orders) if asks else (0, 0, 0)
    return bid, ask
