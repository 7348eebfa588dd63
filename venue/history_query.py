"""The queries of the account and market history (`History`'s public read API).

Engine units throughout: ticks, lots, integer money units, ns since the epoch. Every list is
oldest first. Selection, the same for every list (Binance's rules): records with
start_ns <= time <= end_ns (either bound optional) and, with `from_id`, an id at or above it;
with `from_id` or `start_ns` the first `limit` of those, otherwise the latest `limit`. Only
what retention kept can be returned (venue/history_records.py HistoryLimits).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, TypeVar

from perpsim.venue.history_orders import order_record
from perpsim.venue.history_records import (
    INTERVALS,
    OI_PERIODS,
    SOURCES,
    AccountTrade,
    AggTrade,
    ForceOrder,
    FundingRate,
    Income,
    Kline,
    OpenInterest,
    OrderRecord,
    PublicTrade,
    Ticker24h,
)

if TYPE_CHECKING:
    from perpsim.engine.views import ExchangeView
    from perpsim.venue.history_orders import OrderInfo
    from perpsim.venue.history_records import HistoryLimits
    from perpsim.venue.klines import BarLadder

T = TypeVar("T", bound=tuple)  # a record: a NamedTuple whose first field is its id
K = TypeVar("K")
V = TypeVar("V")
_DAY = INTERVALS["1d"]
_MINUTE = INTERVALS["1m"]


def _pick(items: Iterable[T], start_ns: int | None, end_ns: int | None, limit: int, from_id: int | None = None,
          match: Callable[[T], bool] | None = None, time: str = "time_ns") -> list[T]:
    if limit < 1:
        raise ValueError(f"limit must be >= 1, not {limit}")
    out = []
    for r in items:
        t = getattr(r, time)
        if (start_ns is not None and t < start_ns) or (end_ns is not None and t > end_ns):
            continue
        if (from_id is not None and r[0] < from_id) or (match is not None and not match(r)):
            continue
        out.append(r)
    return out[:limit] if (from_id is not None or start_ns is not None) else out[-limit:]


def _pick_kept(items: Iterable[tuple], record: type[T], start_ns: int | None, end_ns: int | None, limit: int,
               from_id: int | None = None, match: Callable[[tuple], bool] | None = None,
               make: Callable[[tuple], T] | None = None) -> list[T]:
    """_pick over records kept as their fields (a tuple: id first, `time_ns` among them),
    `match` reading the fields; the picked ones made into `record`s (by `make`, if given)."""
    if limit < 1:
        raise ValueError(f"limit must be >= 1, not {limit}")
    at = record._fields.index("time_ns")  # type: ignore[attr-defined]
    out = []
    for r in items:
        t = r[at]
        if (start_ns is not None and t < start_ns) or (end_ns is not None and t > end_ns):
            continue
        if (from_id is not None and r[0] < from_id) or (match is not None and not match(r)):
            continue
        out.append(r)
    out = out[:limit] if (from_id is not None or start_ns is not None) else out[-limit:]
    if make is None:
        make = record._make  # type: ignore[attr-defined]
    return [make(r) for r in out]


def _recap(kept: dict[K, deque[V]], cap: int) -> None:
    """Cut each of the kept collections to `cap`, oldest first."""
    for k, items in kept.items():
        kept[k] = deque(items, maxlen=cap)


class HistoryQueries:
    """Read side of `History` (venue/history.py), which fills what is declared here."""

    view: ExchangeView
    limits: HistoryLimits
    _orders: dict[int, dict[int, OrderInfo]]  # per account, in placement (= id) order
    _by_client: dict[int, dict[str, int]]  # per account: client order id -> order id
    _trades: dict[int, deque[tuple]]  # AccountTrade's fields
    _income: dict[int, deque[tuple]]  # Income's fields, its info as a code (History._income_record)
    _public: dict[str, deque[tuple]]  # PublicTrade's fields
    _funding: dict[str, deque[FundingRate]]
    _bars: dict[tuple[str, str], BarLadder]  # (symbol, source) -> its bars at every interval
    _marks: dict[str, int]
    _oi: dict[str, int]
    _oi_hist: dict[str, deque[OpenInterest]]
    _force: dict[str, deque[ForceOrder]]
    _trim: Callable[[int], None]
    _income_record: Callable[[tuple], Income]
    catch_up: Callable[[], bool]  # folds in what was handed over (venue/history_handoff.py)

    # ------------------------------------------------------------------ orders

    def order(self, account: int, order_id: int | None = None, client_order_id: str | None = None
              ) -> OrderRecord | None:
        """The account's order by id or by client order id (both given: they must name the
        same order), open or completed while retention keeps it; None if the account has no
        such order (another account's order is None too)."""
        self.catch_up()
        if not order_id and not client_order_id:
            raise ValueError("give order_id or client_order_id")
        if client_order_id:
            by_client = self._by_client.get(account, {}).get(client_order_id)
            if by_client is None or (order_id and order_id != by_client):
                return None
            order_id = by_client
        assert order_id is not None  # given, or found by the client order id
        o = self._orders.get(account, {}).get(order_id)
        return None if o is None else order_record(o)

    def orders(self, account: int, symbol: str | None = None, start_ns: int | None = None,
               end_ns: int | None = None, limit: int = 500, from_order_id: int | None = None) -> list[OrderRecord]:
        """The account's orders (Binance allOrders), open and completed, by acceptance time;
        `from_order_id`: ids at or above it."""
        self.catch_up()
        records = (order_record(o) for o in self._orders.get(account, {}).values()
                   if symbol is None or o.symbol == symbol)
        return _pick(records, start_ns, end_ns, limit, from_order_id)

    # ------------------------------------------------------------------ trades and income

    def trades(self, account: int, symbol: str | None = None, start_ns: int | None = None,
               end_ns: int | None = None, from_id: int | None = None, limit: int = 500) -> list[AccountTrade]:
        """The account's fills (Binance userTrades). Trade ids count per market, so `from_id`
        needs a symbol."""
        self.catch_up()
        if from_id is not None and symbol is None:
            raise ValueError("from_id needs a symbol (trade ids count per market)")
        items = self._trades.get(account, ())
        return _pick_kept(items, AccountTrade, start_ns, end_ns, limit, from_id,
                          None if symbol is None else (lambda r: r[1] == symbol))

    def public_trades(self, symbol: str, limit: int = 500, from_id: int | None = None) -> list[PublicTrade]:
        """A market's trades (Binance trades / historicalTrades)."""
        self.catch_up()
        return _pick_kept(self._public[symbol], PublicTrade, None, None, limit, from_id)

    def agg_trades(self, symbol: str, from_id: int | None = None, start_ns: int | None = None,
                   end_ns: int | None = None, limit: int = 500) -> list[AggTrade]:
        """A market's aggregate trades (Binance aggTrades): the fills of one taker order at one
        price, summed. An aggregate whose first fills retention dropped is left out."""
        self.catch_up()
        aggs: list[AggTrade] = []
        first_kept = self._public[symbol][0][0] if self._public[symbol] else 0
        for t in map(PublicTrade._make, self._public[symbol]):
            if aggs and aggs[-1].id == t.agg_id:
                a = aggs[-1]
                aggs[-1] = a._replace(qty=a.qty + t.qty, last_trade_id=t.id)
            elif t.agg_id >= first_kept:
                aggs.append(AggTrade(t.agg_id, symbol, t.price, t.qty, t.id, t.id, t.buyer_maker, t.time_ns))
        return _pick(aggs, start_ns, end_ns, limit, from_id)

    def income(self, account: int, kind: str | None = None, symbol: str | None = None, start_ns: int | None = None,
               end_ns: int | None = None, limit: int = 100) -> list[Income]:
        """The account's income (Binance income): kind an IncomeKind name or None for all;
        symbol: that market's only ("" selects the transfers)."""
        self.catch_up()
        def match(r: tuple) -> bool:  # Income's fields: kind, then symbol at 5
            return (kind is None or r[2] == kind) and (symbol is None or r[5] == symbol)

        return _pick_kept(self._income.get(account, ()), Income, start_ns, end_ns, limit, None, match,
                          self._income_record)

    # ------------------------------------------------------------------ market history

    def funding_rates(self, symbol: str | None = None, start_ns: int | None = None, end_ns: int | None = None,
                      limit: int = 100) -> list[FundingRate]:
        """Settled funding rates (Binance fundingRate), by funding time; all markets' when
        symbol is None."""
        self.catch_up()
        items: Iterable[FundingRate]
        if symbol is not None:
            items = self._funding[symbol]
        else:
            items = sorted((r for d in self._funding.values() for r in d), key=lambda r: (r.funding_ns, r.symbol))
        return _pick(items, start_ns, end_ns, limit, time="funding_ns")

    def klines(self, symbol: str, source: str = "trade", interval: str = "1m", start_ns: int | None = None,
               end_ns: int | None = None, limit: int = 500) -> list[Kline]:
        """Bars of `source` (trade, mark, index) over `interval` (1m … 1d) opening in
        [start_ns, end_ns], up to the bar holding the venue's current time; intervals without
        a change repeat the previous close. With start_ns the first `limit`, else the latest."""
        self.catch_up()
        if source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")
        if interval not in INTERVALS:
            raise ValueError(f"interval must be one of {', '.join(INTERVALS)}, not {interval!r}")
        if limit < 1:
            raise ValueError(f"limit must be >= 1, not {limit}")
        series = self._bars[(symbol, source)][list(INTERVALS).index(interval)]
        return series.query(start_ns, end_ns, limit, self.view.ts)

    def ticker_24h(self, symbol: str) -> Ticker24h:
        """The last 24 hours of a market's trades, from its one-minute trade bars: the 1,440
        minutes up to and including the current one (as far as the bars kept reach)."""
        self.catch_up()
        now = self.view.ts
        start = now - now % _MINUTE - _DAY + _MINUTE
        bars = self._bars[(symbol, "trade")][0].window(start)
        bars = [b for b in bars if b[7]]  # minutes with trades
        if not bars:
            return Ticker24h(symbol, None, None, None, None, 0, 0, 0, 0, 0, start, now)
        return Ticker24h(symbol, bars[0][1], max(b[2] for b in bars), min(b[3] for b in bars), bars[-1][4],
                         sum(b[5] for b in bars), sum(b[6] for b in bars), sum(b[7] for b in bars), bars[0][10],
                         bars[-1][11], start, now)

    def open_interest(self, symbol: str) -> OpenInterest:
        """A market's open interest now (lots of all long positions) with its mark."""
        self.catch_up()
        return OpenInterest(symbol, self._oi[symbol], self._marks[symbol], self.view.ts)

    def open_interest_history(self, symbol: str, period: str = "5m", start_ns: int | None = None,
                              end_ns: int | None = None, limit: int = 30) -> list[OpenInterest]:
        """Open interest at each `period` boundary (5m … 1d, Binance openInterestHist) that the
        venue's clock passed; a clock jump over several boundaries records the last one only."""
        self.catch_up()
        if period not in OI_PERIODS:
            raise ValueError(f"period must be one of {', '.join(OI_PERIODS)}, not {period!r}")
        step = OI_PERIODS[period]
        return _pick(self._oi_hist[symbol], start_ns, end_ns, limit, match=lambda r: r.time_ns % step == 0)

    def force_orders(self, account: int | None = None, symbol: str | None = None, start_ns: int | None = None,
                     end_ns: int | None = None, limit: int = 50) -> list[ForceOrder]:
        """Liquidations (Binance forceOrders): an account's (or everyone's with None), in one
        market or all."""
        self.catch_up()
        if symbol is not None:
            items: Iterable[ForceOrder] = self._force[symbol]
        else:
            items = sorted((r for d in self._force.values() for r in d), key=lambda r: r.id)
        return _pick(items, start_ns, end_ns, limit, None,
                     None if account is None else (lambda r: r.account == account))

    # ------------------------------------------------------------------ retention

    def resize(self, limits) -> None:
        """Apply new retention limits (a restart with another configuration): each kept
        collection is cut to its new cap, oldest first."""
        self.catch_up()
        self.limits = limits
        _recap(self._trades, limits.trades_per_account)
        _recap(self._income, limits.income_per_account)
        _recap(self._public, limits.trades_per_market)
        _recap(self._funding, limits.funding_per_market)
        _recap(self._oi_hist, limits.open_interest_per_market)
        _recap(self._force, limits.force_orders_per_market)
        for series in self._bars.values():
            for bars in series:
                bars.resize(limits.klines_per_interval)
        for account in self._orders:
            self._trim(account)
