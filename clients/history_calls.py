"""The client's history calls (HistoryService), shared by `Client` and `AsyncClient`.

Reads, retried on UNAVAILABLE like every read. Times are ns since the epoch (0 or None: no
bound); lists are oldest first: with from_id or start_ns the first `limit` from there, else the
latest `limit` (limit None: the venue's default).
"""

from __future__ import annotations

from typing import Any

from perpsim.clients.history_models import (
    AccountTrade,
    ForceOrder,
    FundingRate,
    HistoricalOrder,
    Income,
    Kline,
    MarketTrade,
    OpenInterest,
    Ticker24h,
)
from perpsim.clients.models import enum_prefix
from perpsim.v1 import history_pb2


def _ns(value: int | None, name: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected an int (nanoseconds since the epoch)")
    return value


def _count(value: int | None, name: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: expected an int >= 1")
    return value


def _enum(enum_type, value: str | int | None, name: str) -> int:
    """An enum value from its short name ("funding_fee", "mark") or number; None: unspecified."""
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected a name or an int")
    try:
        return enum_type.Value(enum_prefix(enum_type) + value.strip().upper())
    except ValueError:
        prefix = enum_prefix(enum_type)
        choices = [n[len(prefix):].lower() for n in enum_type.keys() if not n.endswith("UNSPECIFIED")]
        raise ValueError(f"{name}: {value!r} is not one of {', '.join(choices)}") from None


class HistoryCalls:
    """Mixin of the SDK's API class: `_history(method, request, convert)` makes the call."""

    def _history(self, method: str, request: Any, convert) -> Any:
        raise NotImplementedError

    def order(self, order_id: int | None = None, client_order_id: str | None = None, symbol: str = ""
              ) -> HistoricalOrder:
        """One of the account's orders, open or completed, by id or client order id
        (NotFound for an unknown order or another account's)."""
        if not order_id and not client_order_id:
            raise ValueError("order needs order_id or client_order_id")
        request = history_pb2.GetOrderRequest(symbol=symbol, order_id=order_id or 0,
                                              client_order_id=client_order_id or "")
        return self._history("GetOrder", request, lambda r: HistoricalOrder.from_pb(r.order))

    def orders(self, symbol: str = "", *, start_ns: int | None = None, end_ns: int | None = None,
               from_order_id: int | None = None, limit: int | None = None) -> list[HistoricalOrder]:
        """The account's orders, open and completed (of one market, or all)."""
        request = history_pb2.ListOrdersRequest(
            symbol=symbol, start_time_ns=_ns(start_ns, "start_ns"), end_time_ns=_ns(end_ns, "end_ns"),
            from_order_id=from_order_id or 0, limit=_count(limit, "limit"))
        return self._history("ListOrders", request, lambda r: [HistoricalOrder.from_pb(o) for o in r.orders])

    def trades(self, symbol: str = "", *, start_ns: int | None = None, end_ns: int | None = None,
               from_id: int | None = None, limit: int | None = None) -> list[AccountTrade]:
        """The account's fills with their commission and realized PnL (from_id needs a symbol)."""
        request = history_pb2.ListTradesRequest(
            symbol=symbol, start_time_ns=_ns(start_ns, "start_ns"), end_time_ns=_ns(end_ns, "end_ns"),
            from_id=from_id or 0, limit=_count(limit, "limit"))
        return self._history("ListTrades", request, lambda r: [AccountTrade.from_pb(t) for t in r.trades])

    def market_trades(self, symbol: str, *, aggregate: bool = False, from_id: int | None = None,
                      start_ns: int | None = None, end_ns: int | None = None,
                      limit: int | None = None) -> list[MarketTrade]:
        """A market's trades, or its aggregate trades (a time range only with aggregate)."""
        request = history_pb2.ListMarketTradesRequest(
            symbol=symbol, aggregate=bool(aggregate), from_id=from_id or 0, start_time_ns=_ns(start_ns, "start_ns"),
            end_time_ns=_ns(end_ns, "end_ns"), limit=_count(limit, "limit"))
        return self._history("ListMarketTrades", request, lambda r: [MarketTrade.from_pb(t) for t in r.trades])

    def income(self, type: str | int | None = None, symbol: str = "", *, start_ns: int | None = None,
               end_ns: int | None = None, limit: int | None = None) -> list[Income]:
        """The account's income: type "transfer", "realized_pnl", "funding_fee", "commission",
        "insurance_clear", "insurance_cover", or None for all."""
        request = history_pb2.ListIncomeRequest(
            type=_enum(history_pb2.IncomeType, type, "type"),  # type: ignore[arg-type]  # an enum's number: protobuf's stubs want the enum type
            symbol=symbol, start_time_ns=_ns(start_ns, "start_ns"),
            end_time_ns=_ns(end_ns, "end_ns"), limit=_count(limit, "limit"))
        return self._history("ListIncome", request, lambda r: [Income.from_pb(x) for x in r.income])

    def funding_rates(self, symbol: str = "", *, start_ns: int | None = None, end_ns: int | None = None,
                      limit: int | None = None) -> list[FundingRate]:
        """Settled funding rates (of one market, or all), by funding time."""
        request = history_pb2.ListFundingRatesRequest(
            symbol=symbol, start_time_ns=_ns(start_ns, "start_ns"), end_time_ns=_ns(end_ns, "end_ns"),
            limit=_count(limit, "limit"))
        return self._history("ListFundingRates", request, lambda r: [FundingRate.from_pb(x) for x in r.funding_rates])

    def klines(self, symbol: str, interval: str = "1m", source: str | int | None = None, *,
               start_ns: int | None = None, end_ns: int | None = None, limit: int | None = None) -> list[Kline]:
        """Candles of trades (default), "mark" or "index" prices; interval 1m 3m 5m 15m 30m 1h
        2h 4h 6h 8h 12h 1d."""
        request = history_pb2.GetKlinesRequest(
            symbol=symbol, source=_enum(history_pb2.KlineSource, source, "source"),  # type: ignore[arg-type]  # an enum's number: protobuf's stubs want the enum type
            interval=interval,
            start_time_ns=_ns(start_ns, "start_ns"), end_time_ns=_ns(end_ns, "end_ns"), limit=_count(limit, "limit"))
        return self._history("GetKlines", request, lambda r: [Kline.from_pb(k) for k in r.klines])

    def ticker_24h(self, symbol: str) -> Ticker24h:
        """The market's rolling 24-hour statistics (Binance ticker/24hr)."""
        return self._history("GetTicker24h", history_pb2.GetTicker24hRequest(symbol=symbol), Ticker24h.from_pb)

    def open_interest(self, symbol: str, period: str = "", *, start_ns: int | None = None,
                      end_ns: int | None = None, limit: int | None = None
                      ) -> tuple[OpenInterest, list[OpenInterest]]:
        """(open interest now, its history at each `period` boundary: 5m … 1d; [] without a period)."""
        request = history_pb2.GetOpenInterestRequest(
            symbol=symbol, period=period, start_time_ns=_ns(start_ns, "start_ns"), end_time_ns=_ns(end_ns, "end_ns"),
            limit=_count(limit, "limit"))
        return self._history("GetOpenInterest", request, lambda r: (
            OpenInterest.from_pb(r.current), [OpenInterest.from_pb(x) for x in r.history]))

    def force_orders(self, symbol: str = "", *, start_ns: int | None = None, end_ns: int | None = None,
                     limit: int | None = None) -> list[ForceOrder]:
        """The account's liquidations."""
        request = history_pb2.ListForceOrdersRequest(
            symbol=symbol, start_time_ns=_ns(start_ns, "start_ns"), end_time_ns=_ns(end_ns, "end_ns"),
            limit=_count(limit, "limit"))
        return self._history("ListForceOrders", request, lambda r: [ForceOrder.from_pb(f) for f in r.force_orders])
