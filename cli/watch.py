"""`perpsim watch STREAM`: follow a stream, one line (or one JSON document) per message."""

from __future__ import annotations

import argparse

from perpsim.cli.common import group, leaf
from perpsim.cli.format import Out, text


def add_parsers(sub: argparse._SubParsersAction) -> None:
    watch = group(sub, "watch", "follow a stream (Ctrl-C stops)")
    for name, help in (("trades", "public trades"), ("book", "book snapshot, then changed levels"),
                       ("mark", "mark price updates"), ("liquidations", "liquidation orders"),
                       ("alerts", "wide spread with extreme funding: raised / cleared")):
        p = leaf(watch, name, _watch, help)
        p.add_argument("symbol", metavar="SYMBOL")
        p.add_argument("--count", type=int, help="stop after this many messages")
        if name == "book":
            p.add_argument("--depth", type=int, default=10, help="levels per side (default 10)")


def _watch_line(kind: str, m) -> str:
    if kind == "trades":
        flag = " (liquidation)" if m.liquidation else ""
        return f"#{m.sequence} {m.symbol} {m.taker_side} {text(m.quantity)} @ {text(m.price)}{flag}"
    if kind == "book":
        head = "snapshot" if m.snapshot else "update"
        levels = [f"bid {text(lv.price)} {text(lv.quantity)}" for lv in m.bids]
        levels += [f"ask {text(lv.price)} {text(lv.quantity)}" for lv in m.asks]
        return f"#{m.sequence} {head}: " + (", ".join(levels) or "(empty)")
    if kind == "mark":
        return (f"#{m.sequence} {m.mark.symbol} mark {text(m.mark.mark_price)} index {text(m.mark.index_price)}"
                f" funding {text(m.mark.funding_rate)}")
    if kind == "alerts":
        return (f"#{m.sequence} {m.symbol} {m.state.upper()}: spread {text(m.spread_bps)} bps"
                f" (alert at {text(m.spread_threshold_bps)}), predicted funding {text(m.predicted_funding_rate)}"
                f" (alert at {text(m.funding_rate_threshold)})")
    return (f"#{m.sequence} {m.symbol} {m.side} {text(m.quantity)} bankruptcy {text(m.bankruptcy_price)}"
            f" filled {text(m.filled_quantity)} insurance {text(m.taken_by_insurance)}"
            f" adl {text(m.auto_deleveraged)}")


def _watch(c, a, out: Out) -> int:
    kind = a.watch_command
    if kind == "book":
        stream = c.stream_book(a.symbol, a.depth)
    else:
        stream = {"trades": c.stream_trades, "mark": c.stream_mark, "liquidations": c.stream_liquidations,
                  "alerts": c.stream_alerts}[kind](a.symbol)
    if a.count is not None and a.count <= 0:
        return 0
    seen = 0
    with stream:
        try:
            for msg in stream:
                if out.json:
                    out.data(msg)
                else:
                    print(_watch_line(kind, msg), flush=True)
                seen += 1
                if a.count is not None and seen >= a.count:
                    break
        except KeyboardInterrupt:
            return 0
    return 0


