"""`perpsim watch STREAM`: follow a stream, one line (or one JSON document) per message.

Public streams of a market (trades, book, mark, liquidations, alerts) and the account's own
stream (orders and fills, positions, balances, margin warnings, liquidations, conditional orders,
order lists; needs --key). Ctrl-C, --count N or --timeout SECONDS end it, with exit code 0.
"""

from __future__ import annotations

import argparse
from decimal import Decimal

from perpsim.cli.common import group, leaf
from perpsim.cli.format import Out, text
from perpsim.cli.units import MarketUnits


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register `perpsim watch STREAM` (a stream followed, one line per message)."""
    watch = group(sub, "watch", "follow a stream (Ctrl-C, --count or --timeout stops)")
    for name, help in (("trades", "public trades"), ("book", "book snapshot, then changed levels"),
                       ("mark", "mark price updates"), ("liquidations", "liquidation orders"),
                       ("alerts", "wide spread with extreme funding: raised / cleared"),
                       ("account", "the account's own updates: orders, fills, positions, balances, ... (--key)")):
        p = leaf(watch, name, _watch, help)
        if name != "account":
            p.add_argument("symbol", metavar="SYMBOL")
        p.add_argument("--count", type=int, help="stop after this many messages")
        if name == "book":
            p.add_argument("--depth", type=int, default=10, help="levels per side (default 10)")


def _market_line(kind: str, m, u: MarketUnits) -> str:
    if kind == "trades":
        flag = " (liquidation)" if m.liquidation else ""
        s = m.symbol
        return f"#{m.sequence} {s} {m.taker_side} {u.qty(s, m.quantity)} @ {u.price(s, m.price)}{flag}"
    if kind == "book":
        head = "snapshot" if m.snapshot else "update"
        levels = [f"bid {text(lv.price)} {text(lv.quantity)}" for lv in m.bids]
        levels += [f"ask {text(lv.price)} {text(lv.quantity)}" for lv in m.asks]
        return f"#{m.sequence} {head}: " + (", ".join(levels) or "(empty)")
    if kind == "mark":
        s = m.mark.symbol
        predicted = "" if m.mark.predicted_funding_rate is None else \
            f" predicted funding {text(m.mark.predicted_funding_rate)}"
        return (f"#{m.sequence} {s} mark {u.price(s, m.mark.mark_price)} index {u.price(s, m.mark.index_price)}"
                f"{predicted} last funding {text(m.mark.funding_rate)}")
    if kind == "alerts":
        return (f"#{m.sequence} {m.symbol} {m.state.upper()}: spread {text(m.spread_bps)} bps"
                f" (alert at {text(m.spread_threshold_bps)}), predicted funding {text(m.predicted_funding_rate)}"
                f" (alert at {text(m.funding_rate_threshold)})")
    s = m.symbol
    return (f"#{m.sequence} {s} {m.side} {u.qty(s, m.quantity)} bankruptcy {u.price(s, m.bankruptcy_price)}"
            f" filled {u.qty(s, m.filled_quantity)} insurance {u.qty(s, m.taken_by_insurance)}"
            f" adl {u.qty(s, m.auto_deleveraged)}")


def _money(m: dict | None) -> str:
    return "-" if not m else f"{text(m.get('amount'))} {m.get('asset', '')}".rstrip()


def account_line(m, u: MarketUnits) -> str:
    """One account update as a line: what changed, in the market's units."""
    d, s = m.data, m.data.get("symbol", "")
    head = f"#{m.sequence}"
    if m.kind == "order":
        price = f" @ {u.price(s, d['price'])}" if d.get("price") is not None else ""
        extra = [f"remaining {u.qty(s, d['remaining_quantity'])}"] if "remaining_quantity" in d else []
        extra += [d["liquidity"]] if "liquidity" in d else []
        extra += ["liquidation"] if d.get("liquidation") else []
        qty = f" {u.qty(s, d['quantity'])}" if d.get("quantity") is not None else ""
        return (f"{head} order {d.get('order_id', '')} {s} {d.get('event', '').lower()}{qty}{price}"
                + (f" ({', '.join(extra)})" if extra else ""))
    if m.kind == "position":
        return f"{head} position {s} {u.qty(s, d.get('quantity') or Decimal(0))}"
    if m.kind == "balance":
        return f"{head} balance {_money(d.get('delta'))} ({d.get('cause', '')}), wallet {_money(d.get('wallet'))}"
    if m.kind == "margin_warning":
        return f"{head} MARGIN WARNING {d.get('asset', '')}: margin ratio {text(d.get('margin_ratio_percent'))} %"
    if m.kind == "liquidation":
        amount = u.qty(s, d.get('quantity') or Decimal(0))
        return (f"{head} {d.get('kind', 'liquidation').replace('_', '-')} {s} {amount}"
                f" @ {u.price(s, d.get('price'))}")
    if m.kind == "conditional":
        order = f" order {d['order_id']}" if d.get("order_id") else ""
        reason = f" ({d['reason']})" if d.get("reason") else ""
        return f"{head} conditional {d.get('conditional_id', '')} {s} {d.get('status', '').lower()}{order}{reason}"
    if m.kind == "order_list":
        cause = f" ({d['cause']})" if d.get("cause") else ""
        covered = f" covered {u.qty(s, d['covered_quantity'])}" if d.get("covered_quantity") is not None else ""
        return f"{head} list {d.get('list_id', '')} {s} {d.get('status', '').lower()}{cause}{covered}"
    if m.kind == "risk_alert":
        hours = int(d.get("horizon_ns", 0)) / 3_600e9
        if d.get("state") == "CLEARED":
            return f"{head} RISK CLEARED {s} {d.get('position_side', '')}: liquidation back beyond {d.get('k')}σ"
        return (f"{head} RISK ALERT {s} {d.get('position_side', '')}: liquidation {float(d.get('z', 0)):.2f}σ away "
                f"over {hours:g}h (below {d.get('k')}σ), {float(d.get('touch_probability', 0)):.1%} chance of "
                "touching it at the last volatility")
    return f"{head} {m.kind} " + " ".join(f"{k}={text(v)}" for k, v in d.items())


def _watch(c, a, out: Out) -> int:
    """Follow the stream until --count messages, --timeout seconds, Ctrl-C or the venue ends it."""
    from perpsim.clients.errors import DeadlineExceeded

    kind = a.watch_command
    if a.count is not None and a.count <= 0:
        return 0
    u = MarketUnits.of(c)
    timeout = getattr(a, "timeout", None)  # how long to watch: the stream's deadline (none: until stopped)
    if kind == "book":
        stream = c.stream_book(a.symbol, a.depth, timeout=timeout)
    elif kind == "account":
        stream = c.stream_account(timeout=timeout)
    else:
        stream = {"trades": c.stream_trades, "mark": c.stream_mark, "liquidations": c.stream_liquidations,
                  "alerts": c.stream_alerts}[kind](a.symbol, timeout=timeout)
    seen = 0
    with stream:
        try:
            for msg in stream:
                if out.json:
                    out.data(msg)
                else:
                    out.line(account_line(msg, u) if kind == "account" else _market_line(kind, msg, u))
                seen += 1
                if a.count is not None and seen >= a.count:
                    break
        except DeadlineExceeded:
            return 0
        except KeyboardInterrupt:
            return 0
    return 0
