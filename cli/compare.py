"""`perpsim calc compare`: one position across every venue profile, side by side
(a shell over perpsim.risk.compare; registered by cli/calc.py).

  perpsim calc compare --side long --size 1 --entry 65000 --leverage 50 [--mark M] [--premium P]
                       [--symbol BTCUSDT] [--profiles binance,bybit] [--maker] [--json]

The table has one column per profile and one row per figure; --json gives one object with a
"venues" list. Rounding of each figure: perpsim.risk.compare.
"""

from __future__ import annotations

import argparse
from dataclasses import fields
from typing import Any

from perpsim.risk import compare as cmp

#: The figures shown, in order, with their unit: "price" (quote), "money" (settlement), "%", "".
ROWS = (
    ("leverage", ""), ("max_leverage", ""), ("initial_margin", "money"), ("cost_to_open", "money"),
    ("maintenance_margin", "money"), ("maintenance_rate", ""), ("liquidation_price", "price"),
    ("bankruptcy_price", "price"), ("liquidation_distance_pct", "%"), ("fee_rate", ""), ("fee_open", "money"),
    ("fee_close", "money"), ("funding_rate", ""), ("funding_every_hours", "h"), ("funding_payment", "money"),
    ("liquidation_trigger", ""),
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `perpsim compare` (one position under each venue profile)."""
    p = sub.add_parser("compare", help="one position across every venue profile, side by side")
    g = p.add_argument_group("position")
    g.add_argument("--side", required=True, choices=["long", "short", "buy", "sell"])
    g.add_argument("--size", "--qty", dest="size", required=True, help="base units (linear) or contracts (inverse)")
    g.add_argument("--entry", "--price", dest="entry", required=True, help="entry (or order) price")
    g.add_argument("--leverage", required=True, help="requested leverage; each venue caps it at its tier's maximum")
    g.add_argument("--mark", help="mark price (default: the entry)")
    g.add_argument("--index", help="oracle/index price for Hyperliquid and dYdX funding (default: the mark)")
    g.add_argument("--premium", default="0", help="average premium index of the funding interval (default 0)")
    g.add_argument("--symbol", default="BTCUSDT", help="a default market (default BTCUSDT)")
    g.add_argument("--profiles", help="comma-separated profiles (default: all)")
    g.add_argument("--maker", action="store_true", help="fees at the maker rate (default taker)")
    g.add_argument("--wallet", help="the same isolated margin at every venue (default: each venue's IM)")
    o = p.add_argument_group("output")
    o.add_argument("--money-places", type=int, help="money decimals (default 2 for a quote asset, 8 for a coin)")
    o.add_argument("--nearest", action="store_true", help="round half-to-even instead of the venue's display rounding")
    o.add_argument("--json", action="store_true", help="one JSON object instead of a table")


def run(a: argparse.Namespace) -> dict[str, Any]:
    """The comparison the parsed arguments ask for, as `as_dict` gives it."""
    c = cmp.compare(side=a.side, size=a.size, entry=a.entry, leverage=a.leverage, mark=a.mark, index=a.index,
                    premium=a.premium, market=a.symbol,
                    profiles=None if a.profiles is None else [x for x in a.profiles.split(",") if x.strip()],
                    maker=a.maker, wallet=a.wallet, money_places=a.money_places,
                    rounding="nearest" if a.nearest else "venue")
    return as_dict(c)


def as_dict(c: cmp.Comparison) -> dict[str, Any]:
    """A Comparison as plain data (Decimals kept) for the table and the JSON output."""
    out = {f.name: getattr(c, f.name) for f in fields(c) if f.name != "venues"}
    out["venues"] = [{f.name: getattr(v, f.name) for f in fields(v)} for v in c.venues]
    for v in out["venues"]:
        v["warnings"] = list(v["warnings"])
    return out


def _cell(value: Any, unit: str) -> str:
    if value is None:
        return "--"
    text = format(value, "f") if not isinstance(value, str | int) else str(value)
    return f"{text} {unit}" if unit and not isinstance(value, str) else text


def table(out: dict[str, Any], quote: str) -> str:
    """Figures down, profiles across; unlisted venues show their reason; warnings after."""
    venues = out["venues"]
    units = {"price": quote, "money": out["asset"], "%": "%", "h": "h", "": ""}
    head = [f"{out['side']} {out['size']} {out['symbol']} @ {out['entry_price']}, mark {out['mark_price']}, "
            f"premium {out['premium']}"]
    cols = [["", *[name for name, _ in ROWS]]]
    for v in venues:
        cells = [_cell(v[name], units[unit]) for name, unit in ROWS] if v["listed"] else \
            ["(not listed)", *[""] * (len(ROWS) - 1)]
        cols.append([v["profile"], *cells])
    widths = [max(len(x) for x in col) for col in cols]
    lines = ["  ".join(col[i].ljust(w) if j == 0 else col[i].rjust(w) for j, (col, w) in
                       enumerate(zip(cols, widths, strict=True))).rstrip() for i in range(len(ROWS) + 1)]
    notes = [f"{v['profile']}: {v['note']}" for v in venues if v["note"]]
    notes += [f"warning: {v['profile']}: {w}" for v in venues for w in v["warnings"]]
    return "\n".join(head + lines + notes)
