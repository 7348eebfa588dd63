"""The gRPC HistoryService: the account and market history (venue/history.py) over the API.

Account-scoped calls answer for the caller's key only: another account's order is NOT_FOUND,
never revealed. Engine units become exact decimal strings here (prices, quantities, quote
amounts tick × lot exact; money through the asset's units); exact averages are shown with 8
decimals, rounded half-even (display values).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from perpsim.model.enums import ConditionalKind, OrderKind, PositionSide, Side, TimeInForce, TriggerSource
from perpsim.model.markets import MarketSpec
from perpsim.model.reasons import RejectReason as R
from perpsim.v1 import common_pb2, history_pb2, history_pb2_grpc, trading_pb2
from perpsim.venue import convert as cv
from perpsim.venue.errors import VenueError
from perpsim.venue.history_records import INTERVALS, OI_PERIODS, IncomeKind
from perpsim.venue.services.common import Venue, rpc

_MS = 1_000_000
INCOME_IN = {
    history_pb2.INCOME_TYPE_UNSPECIFIED: None, history_pb2.INCOME_TYPE_TRANSFER: IncomeKind.TRANSFER,
    history_pb2.INCOME_TYPE_REALIZED_PNL: IncomeKind.REALIZED_PNL,
    history_pb2.INCOME_TYPE_FUNDING_FEE: IncomeKind.FUNDING_FEE,
    history_pb2.INCOME_TYPE_COMMISSION: IncomeKind.COMMISSION,
    history_pb2.INCOME_TYPE_INSURANCE_CLEAR: IncomeKind.INSURANCE_CLEAR,
    history_pb2.INCOME_TYPE_INSURANCE_COVER: IncomeKind.INSURANCE_COVER,
    history_pb2.INCOME_TYPE_AUTO_EXCHANGE: IncomeKind.AUTO_EXCHANGE,
}
INCOME_OUT = {v: k for k, v in INCOME_IN.items() if v is not None}
SOURCE_IN = {history_pb2.KLINE_SOURCE_UNSPECIFIED: "trade", history_pb2.KLINE_SOURCE_TRADE: "trade",
             history_pb2.KLINE_SOURCE_MARK: "mark", history_pb2.KLINE_SOURCE_INDEX: "index"}
#: (default, maximum) of each list call's `limit`.
LIMITS = {"orders": (500, 1000), "trades": (500, 1000), "market_trades": (500, 1000), "income": (100, 1000),
          "funding": (100, 1000), "klines": (500, 1500), "open_interest": (30, 500), "force_orders": (50, 100)}


def _limit(value: int, kind: str) -> int:
    default, most = LIMITS[kind]
    if value > most:
        raise VenueError(R.INVALID_VALUE, field="limit", limit=value, problem=f"at most {most}")
    return value or default


def _range(request) -> tuple[int | None, int | None]:
    """(start, end) in ns from a request's start_time_ns / end_time_ns (0 = no bound)."""
    start, end = request.start_time_ns or None, request.end_time_ns or None
    if start is not None and end is not None and start > end:
        raise VenueError(R.INVALID_VALUE, field="start_time_ns", start_time_ns=start, end_time_ns=end,
                         problem="after end_time_ns")
    return start, end


def quote_out(spec: MarketSpec, tick_lots: int) -> str:
    """A quote amount in tick-lots (price ticks × lots) as its exact decimal."""
    return f"{Decimal(tick_lots) * spec.tick_size * spec.lot_size:f}"


def _avg(spec: MarketSpec, ticks: Fraction | None) -> str:
    """An exact average price in ticks as a decimal price (8 decimals); "" for None."""
    return "" if ticks is None else cv.fraction_out(ticks * Fraction(spec.tick_size))


def order_out(spec: MarketSpec, o) -> history_pb2.HistoricalOrder:
    """A history OrderRecord as a HistoricalOrder: ticks and lots as exact decimal strings beside the
    integers, the average price at 8 decimals, times in ns and in ms (floored)."""
    order = trading_pb2.Order(
        order_id=o.order_id, client_order_id=o.client_order_id, symbol=o.symbol, side=cv.SIDE_OUT[Side(o.side)],
        type=cv.KIND_OUT[OrderKind(o.type)], status=cv.STATUS_OUT[o.status],
        price=spec.format_price(o.price) if o.price else "", price_ticks=o.price,
        quantity=spec.format_qty(o.orig_qty), quantity_lots=o.orig_qty, filled_quantity=spec.format_qty(o.executed_qty),
        filled_quantity_lots=o.executed_qty, time_in_force=cv.TIF_OUT[TimeInForce(o.tif)], reduce_only=o.reduce_only,
        position_side=cv.PSIDE_OUT[PositionSide(o.position_side)])
    return history_pb2.HistoricalOrder(
        order=order, cumulative_quote=quote_out(spec, o.cum_quote), average_price=_avg(spec, o.avg_price),
        orig_type=cv.COND_OUT[ConditionalKind(o.orig_type)] if o.orig_type else common_pb2.CONDITIONAL_TYPE_UNSPECIFIED,
        stop_price=spec.format_price(o.stop_price) if o.stop_price else "", conditional_id=o.conditional_id,
        time_ns=o.time_ns, time_ms=o.time_ns // _MS, update_time_ns=o.update_ns, update_time_ms=o.update_ns // _MS,
        working_type=cv.SOURCE_OUT[TriggerSource(o.working_type)], price_protect=o.price_protect)


class History(history_pb2_grpc.HistoryServiceServicer):
    """perpsim.v1.HistoryService: market calls are public; account calls (orders, trades, income,
    force orders) answer for the bearer key's account only (another's order is NOT_FOUND)."""

    def __init__(self, venue: Venue) -> None:
        self.venue = venue

    @property
    def history(self):
        """The live state's history read model (the new one after a reset or a rebuild)."""
        return self.venue.state.history  # the live state's: after a reset or a rebuild too

    def _symbol(self, symbol: str) -> str | None:
        """A request's optional market: None for "", UNKNOWN_SYMBOL for one the venue lacks."""
        return self.venue.spec(symbol).symbol if symbol else None

    @rpc
    async def GetOrder(self, request, context):
        """HistoryService.GetOrder: one of the caller's orders, open or completed, by order_id or client_order_id (in
        request.symbol when given); NOT_FOUND for any other, INVALID_VALUE when neither id is given."""
        account = self.venue.account(context)
        if not request.order_id and not request.client_order_id:
            raise VenueError(R.INVALID_VALUE, field="order_id", problem="give order_id or client_order_id")
        symbol = self._symbol(request.symbol)
        o = self.history.order(account, request.order_id or None, request.client_order_id or None)
        if o is None or (symbol is not None and o.symbol != symbol):
            raise VenueError(R.UNKNOWN_ORDER, field="order_id" if request.order_id else "client_order_id",
                             order_id=request.order_id, client_order_id=request.client_order_id)
        return history_pb2.GetOrderResponse(order=order_out(self.venue.markets[o.symbol], o))

    @rpc
    async def ListOrders(self, request, context):
        """HistoryService.ListOrders: the caller's orders (Binance allOrders) in a market or all, in a time range or
        from an order id; limit 0 = 500, at most 1000."""
        account = self.venue.account(context)
        start, end = _range(request)
        orders = self.history.orders(account, self._symbol(request.symbol), start, end,
                                     _limit(request.limit, "orders"), request.from_order_id or None)
        return history_pb2.ListOrdersResponse(orders=[order_out(self.venue.markets[o.symbol], o) for o in orders])

    @rpc
    async def ListTrades(self, request, context):
        """HistoryService.ListTrades: the caller's fills (Binance userTrades) with commission and realized PnL; from_id
        needs a symbol; limit 0 = 500, at most 1000."""
        account = self.venue.account(context)
        symbol = self._symbol(request.symbol)
        if request.from_id and symbol is None:
            raise VenueError(R.INVALID_VALUE, field="from_id", problem="from_id needs a symbol (trade ids count "
                             "per market)")
        start, end = _range(request)
        trades = self.history.trades(account, symbol, start, end, request.from_id or None,
                                     _limit(request.limit, "trades"))
        out = []
        for t in trades:
            spec = self.venue.markets[t.symbol]
            out.append(history_pb2.AccountTrade(
                trade_id=t.id, order_id=t.order_id, symbol=t.symbol, side=cv.SIDE_OUT[Side(t.side)],
                position_side=cv.PSIDE_OUT[PositionSide(t.position_side)], price=spec.format_price(t.price),
                price_ticks=t.price, quantity=spec.format_qty(t.qty), quantity_lots=t.qty,
                quote_quantity=quote_out(spec, t.quote), commission=cv.money_out(spec, t.commission),
                realized_pnl=cv.money_out(spec, t.realized_pnl), maker=t.maker, buyer=t.buyer,
                liquidation=t.liquidation, time_ns=t.time_ns, time_ms=t.time_ns // _MS))
        return history_pb2.ListTradesResponse(trades=out)

    @rpc
    async def ListMarketTrades(self, request, context):
        """HistoryService.ListMarketTrades: a market's public trades, or with aggregate its aggregate trades (only those
        take a time range); limit 0 = 500, at most 1000."""
        spec = self.venue.spec(request.symbol)
        limit = _limit(request.limit, "market_trades")
        h, out = self.history, []
        if request.aggregate:
            start, end = _range(request)
            for a in h.agg_trades(spec.symbol, request.from_id or None, start, end, limit):
                out.append(history_pb2.MarketTrade(
                    id=a.id, price=spec.format_price(a.price), price_ticks=a.price, quantity=spec.format_qty(a.qty),
                    quantity_lots=a.qty, quote_quantity=quote_out(spec, a.price * a.qty), buyer_maker=a.buyer_maker,
                    time_ns=a.time_ns, time_ms=a.time_ns // _MS, first_trade_id=a.first_trade_id,
                    last_trade_id=a.last_trade_id))
        else:
            if request.start_time_ns or request.end_time_ns:
                raise VenueError(R.INVALID_VALUE, field="start_time_ns", problem="a time range needs aggregate")
            for t in h.public_trades(spec.symbol, limit, request.from_id or None):
                out.append(history_pb2.MarketTrade(
                    id=t.id, price=spec.format_price(t.price), price_ticks=t.price, quantity=spec.format_qty(t.qty),
                    quantity_lots=t.qty, quote_quantity=quote_out(spec, t.quote), buyer_maker=t.buyer_maker,
                    time_ns=t.time_ns, time_ms=t.time_ns // _MS, first_trade_id=t.id, last_trade_id=t.id))
        return history_pb2.ListMarketTradesResponse(trades=out)

    @rpc
    async def ListIncome(self, request, context):
        """HistoryService.ListIncome: the caller's income records (Binance income), of one type or all, signed (+ into
        the wallet); limit 0 = 100, at most 1000."""
        account = self.venue.account(context)
        kind = cv.enum_in(INCOME_IN, request.type, "type", R.INVALID_VALUE)
        start, end = _range(request)
        records = self.history.income(account, kind, self._symbol(request.symbol), start, end,
                                      _limit(request.limit, "income"))
        out = [history_pb2.IncomeRecord(
            id=r.id, type=INCOME_OUT[IncomeKind(r.kind)], amount=cv.money_out(self.venue.asset_spec(r.asset), r.amount),
            symbol=r.symbol, info=r.info, trade_id=r.trade_id, time_ns=r.time_ns, time_ms=r.time_ns // _MS)
            for r in records]
        return history_pb2.ListIncomeResponse(income=out)

    @rpc
    async def ListFundingRates(self, request, context):
        """HistoryService.ListFundingRates: the settled funding rates of a market or all (Binance fundingRate); limit 0
        = 100, at most 1000."""
        start, end = _range(request)
        records = self.history.funding_rates(self._symbol(request.symbol), start, end,
                                             _limit(request.limit, "funding"))
        out = [history_pb2.FundingRateRecord(
            symbol=r.symbol, funding_rate=cv.rate_out(r.rate),
            mark_price=self.venue.markets[r.symbol].format_price(r.mark) if r.mark else "",
            funding_time_ns=r.funding_ns, funding_time_ms=r.funding_ns // _MS, settled_time_ns=r.time_ns)
            for r in records]
        return history_pb2.ListFundingRatesResponse(funding_rates=out)

    @rpc
    async def GetKlines(self, request, context):
        """HistoryService.GetKlines: a market's klines of trades, mark or index at one interval (INVALID_VALUE for
        another interval); limit 0 = 500, at most 1500."""
        spec = self.venue.spec(request.symbol)
        source = cv.enum_in(SOURCE_IN, request.source, "source", R.INVALID_VALUE)
        if request.interval not in INTERVALS:
            raise VenueError(R.INVALID_VALUE, field="interval", interval=request.interval,
                             problem=f"one of {' '.join(INTERVALS)}")
        start, end = _range(request)
        bars = self.history.klines(spec.symbol, source, request.interval, start, end, _limit(request.limit, "klines"))
        p, q = spec.format_price, spec.format_qty
        out = [history_pb2.Kline(
            open_time_ns=k.open_ns, open_time_ms=k.open_ns // _MS, close_time_ns=k.close_ns,
            close_time_ms=(k.close_ns + 1) // _MS - 1, open=p(k.open), high=p(k.high), low=p(k.low), close=p(k.close),
            volume=q(k.volume), quote_volume=quote_out(spec, k.quote_volume), trades=k.trades,
            taker_buy_volume=q(k.taker_buy_volume), taker_buy_quote_volume=quote_out(spec, k.taker_buy_quote_volume))
            for k in bars]
        return history_pb2.GetKlinesResponse(klines=out)

    @rpc
    async def GetTicker24h(self, request, context):
        """HistoryService.GetTicker24h: a market's last 24 hours of trades: volume, count, and the open, high, low and
        last price, change and weighted average (left empty when nothing traded)."""
        spec = self.venue.spec(request.symbol)
        t = self.history.ticker_24h(spec.symbol)
        out = history_pb2.GetTicker24hResponse(
            symbol=t.symbol, volume=spec.format_qty(t.volume), quote_volume=quote_out(spec, t.quote_volume),
            trades=t.trades, first_trade_id=t.first_trade_id, last_trade_id=t.last_trade_id, open_time_ns=t.open_ns,
            open_time_ms=t.open_ns // _MS, close_time_ns=t.close_ns, close_time_ms=t.close_ns // _MS)
        if t.last is not None:
            out.open_price, out.high_price = spec.format_price(t.open), spec.format_price(t.high)
            out.low_price, out.last_price = spec.format_price(t.low), spec.format_price(t.last)
            out.price_change = f"{spec.ticks_to_price(t.last - t.open)}"
            pct = Fraction(t.last - t.open, t.open) * 100
            out.price_change_percent = f"{Decimal(pct.numerator) / Decimal(pct.denominator):.3f}"
            out.weighted_average_price = _avg(spec, t.weighted_avg_price)
        return out

    @rpc
    async def GetOpenInterest(self, request, context):
        """HistoryService.GetOpenInterest: a market's open interest now and, with a period, its history (Binance
        openInterestHist); limit 0 = 30, at most 500."""
        spec = self.venue.spec(request.symbol)
        h = self.history

        def out(r) -> history_pb2.OpenInterest:
            value = quote_out(spec, r.lots * r.mark) if r.mark else ""
            return history_pb2.OpenInterest(
                symbol=r.symbol, open_interest=spec.format_qty(r.lots), open_interest_lots=r.lots,
                open_interest_value=value, mark_price=spec.format_price(r.mark) if r.mark else "",
                time_ns=r.time_ns, time_ms=r.time_ns // _MS)

        history = []
        if request.period:
            if request.period not in OI_PERIODS:
                raise VenueError(R.INVALID_VALUE, field="period", period=request.period,
                                 problem=f"one of {' '.join(OI_PERIODS)}")
            start, end = _range(request)
            history = [out(r) for r in h.open_interest_history(spec.symbol, request.period, start, end,
                                                                 _limit(request.limit, "open_interest"))]
        return history_pb2.GetOpenInterestResponse(current=out(h.open_interest(spec.symbol)), history=history)

    @rpc
    async def ListForceOrders(self, request, context):
        """HistoryService.ListForceOrders: the caller's liquidations (Binance forceOrders), each with what the book, the
        insurance fund and auto-deleveraging took; limit 0 = 50, at most 100."""
        account = self.venue.account(context)
        start, end = _range(request)
        records = self.history.force_orders(account, self._symbol(request.symbol), start, end,
                                            _limit(request.limit, "force_orders"))
        out = []
        for f in records:
            spec = self.venue.markets[f.symbol]
            out.append(history_pb2.ForceOrder(
                id=f.id, symbol=f.symbol, side=cv.SIDE_OUT[Side(f.side)], quantity=spec.format_qty(f.qty),
                price=spec.format_price(f.price), filled_quantity=spec.format_qty(f.filled),
                average_price=_avg(spec, f.avg_price), taken_by_insurance=spec.format_qty(f.taken_by_insurance),
                auto_deleveraged=spec.format_qty(f.deleveraged), time_ns=f.time_ns, time_ms=f.time_ns // _MS))
        return history_pb2.ListForceOrdersResponse(force_orders=out)
