"""Account and market history: `perpsim order get|history`, `perpsim trades`, `perpsim income`,
`perpsim klines`, `perpsim funding-rates`.

Time ranges: --since / --until take a span back from venue time now (`2h`, `1d`) or a UTC time
(`2026-12-07T08:00`); programs pass --since-ns / --until-ns (ns since the epoch, venue time).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from perpsim.cli.common import group, leaf, lower
from perpsim.cli.format import Out, format_time, parse_duration
from perpsim.cli.units import Amount, MarketUnits

INTERVALS = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d")
INCOME_TYPES = ("transfer", "realized_pnl", "funding_fee", "commission", "insurance_clear", "insurance_cover",
                "auto_exchange")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register the history reads: `perpsim order get / history`, `trades`, `income`, `klines`,
    `funding-rates` and the rest."""
    order = group(sub, "order", "place, cancel and list orders")
    p = leaf(order, "get", _order_get, "one of your orders, open or completed (by id or --client-id)")
    p.add_argument("order_id", metavar="ORDER_ID", type=int, nargs="?")
    p.add_argument("--client-id", help="find it by client order id instead")
    p.add_argument("--symbol", default="", help="the order must be in this market")
    p = leaf(order, "history", _order_history, "your orders, open and completed, oldest first")
    p.add_argument("symbol", metavar="SYMBOL", nargs="?", default="")
    p.add_argument("--from-id", type=int, help="orders from this id on")
    _range_flags(p)
    p = leaf(sub, "trades", _trades, "your fills with their fees and realized PnL, oldest first")
    p.add_argument("symbol", metavar="SYMBOL", nargs="?", default="")
    p.add_argument("--from-id", type=int, help="trades from this trade id on (needs SYMBOL)")
    _range_flags(p)
    p = leaf(sub, "income", _income, "your income: transfers, realized PnL, funding, commissions, liquidation fees")
    p.add_argument("--type", type=lower, choices=INCOME_TYPES, help="one kind only")
    p.add_argument("--symbol", default="", help="one market only")
    _range_flags(p)
    p = leaf(sub, "klines", _klines, "candles of a market's trades, mark or index price")
    p.add_argument("symbol", metavar="SYMBOL")
    p.add_argument("--interval", default="1m", choices=INTERVALS, help="bar length (default 1m)")
    p.add_argument("--source", type=lower, default="trade", choices=("trade", "mark", "index"),
                   help="price source (default trade)")
    _range_flags(p)
    p = leaf(sub, "funding-rates", _funding_rates, "settled funding rates, oldest first")
    p.add_argument("symbol", metavar="SYMBOL", nargs="?", default="")
    _range_flags(p)


def _range_flags(p: argparse.ArgumentParser) -> None:
    for name in ("since", "until"):
        g = p.add_mutually_exclusive_group()
        g.add_argument(f"--{name}", metavar="WHEN", help=f"{name}: a span back from venue time now (2h, 1d) or a "
                       "UTC time (2026-12-07T08:00)")
        g.add_argument(f"--{name}-ns", type=int, help=f"{name}, ns since the epoch (venue time)")
    p.add_argument("--limit", type=int, help="at most this many (default: the venue's)")


def _when(a: argparse.Namespace, name: str, c) -> int | None:
    """--NAME / --NAME-ns as ns since the epoch (venue time); None when absent."""
    ns = getattr(a, f"{name}_ns", None)
    text = getattr(a, name, None)
    if ns is not None or not text:
        return ns
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        at = None
    if at is not None and not text.strip().isdigit():
        at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
        return int(at.timestamp()) * 1_000_000_000 + at.microsecond * 1_000
    try:
        span = parse_duration(text)
    except ValueError:
        raise ValueError(f"--{name}: expected a span (2h, 1d) or a UTC time, got {text!r}") from None
    return _venue_now(c) - span


def _venue_now(c) -> int:
    """The venue's time (it may run ahead of the wall clock: the sandbox advances it)."""
    return c.mark(c.markets()[0].symbol).time_ns


def _range(a: argparse.Namespace, c) -> dict:
    return {"start_ns": _when(a, "since", c), "end_ns": _when(a, "until", c), "limit": a.limit}


_ORDER_COLUMNS = ["id", "client id", "symbol", "side", "type", "status", "price", "qty", "filled", "avg price",
                  "time"]


def _order_row(h, u: MarketUnits) -> tuple:
    o = h.order
    kind = f"{o.type} ({h.orig_type} @ {h.stop_price})" if h.orig_type else o.type
    return (o.order_id, o.client_order_id or "-", o.symbol, o.side, kind, o.status, u.price(o.symbol, o.price),
            u.qty(o.symbol, o.quantity), u.qty(o.symbol, o.filled_quantity), u.price(o.symbol, h.average_price),
            format_time(h.time_ns))


def _order_get(c, a, out: Out) -> int:
    if not a.order_id and not a.client_id:
        raise ValueError("give ORDER_ID or --client-id")
    h = c.order(a.order_id, a.client_id, a.symbol)
    if out.json:
        out.data(h)
        return 0
    u, o = MarketUnits.of(c), h.order
    out.fields([("order id", o.order_id), ("client id", o.client_order_id or "-"), ("symbol", o.symbol),
                ("side", o.side), ("position side", o.position_side), ("type", o.type),
                ("placed by", f"{h.orig_type} {h.conditional_id} at {h.stop_price}" if h.orig_type else "-"),
                ("time in force", o.time_in_force), ("reduce only", o.reduce_only), ("status", o.status),
                ("price", u.price(o.symbol, o.price)), ("quantity", u.qty(o.symbol, o.quantity)),
                ("filled", u.qty(o.symbol, o.filled_quantity)), ("average price", u.price(o.symbol, h.average_price)),
                ("quote filled", u.price(o.symbol, h.cumulative_quote)), ("placed", format_time(h.time_ns)),
                ("updated", format_time(h.update_time_ns))])
    return 0


def _order_history(c, a, out: Out) -> int:
    orders = c.orders(a.symbol, from_order_id=a.from_id, **_range(a, c))
    if out.json:
        out.data(orders)
    else:
        u = MarketUnits.of(c)
        out.table(_ORDER_COLUMNS, [_order_row(h, u) for h in orders])
    return 0


def _trades(c, a, out: Out) -> int:
    trades = c.trades(a.symbol, from_id=a.from_id, **_range(a, c))
    if out.json:
        out.data(trades)
        return 0
    u = MarketUnits.of(c)
    out.table(["trade", "order", "symbol", "side", "role", "price", "qty", "commission", "realized pnl", "time"],
              [(t.trade_id, t.order_id, t.symbol, t.side, "liquidation" if t.liquidation else
                "maker" if t.maker else "taker", u.price(t.symbol, t.price), u.qty(t.symbol, t.quantity),
                u.money(t.symbol, t.commission), u.money(t.symbol, t.realized_pnl), format_time(t.time_ns))
               for t in trades])
    return 0


def _income(c, a, out: Out) -> int:
    records = c.income(a.type, a.symbol, **_range(a, c))
    if out.json:
        out.data(records)
        return 0
    out.table(["id", "type", "amount", "symbol", "info", "trade", "time"],
              [(r.id, r.type, Amount(r.amount, r.asset), r.symbol or "-", r.info, r.trade_id or "-",
                format_time(r.time_ns)) for r in records])
    return 0


def _klines(c, a, out: Out) -> int:
    bars = c.klines(a.symbol, a.interval, a.source, **_range(a, c))
    if out.json:
        out.data(bars)
        return 0
    u = MarketUnits.of(c)
    p = lambda v: u.price(a.symbol, v)  # noqa: E731 - one cell format
    out.table(["open time", "open", "high", "low", "close", "volume", "trades"],
              [(format_time(k.open_time_ns), p(k.open), p(k.high), p(k.low), p(k.close), u.qty(a.symbol, k.volume),
                k.trades) for k in bars], title=f"{a.symbol} {a.source} {a.interval}")
    return 0


def _funding_rates(c, a, out: Out) -> int:
    rates = c.funding_rates(a.symbol, **_range(a, c))
    if out.json:
        out.data(rates)
        return 0
    u = MarketUnits.of(c)
    out.table(["symbol", "funding time", "rate", "mark"],
              [(r.symbol, format_time(r.funding_time_ns), r.rate, u.price(r.symbol, r.mark_price)) for r in rates])
    return 0
