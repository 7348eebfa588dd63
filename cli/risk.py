"""`perpsim risk`: the account's risk, measured at the venue's last volatility and correlations.

  perpsim risk [--json]                per position: distance to liquidation in % and in σ over
                                       1h/8h/24h with the chance of touching it, the size-down nudge;
                                       per asset: margin ratio, daily loss limit use, correlated
                                       exposure, effective leverage and clusters; the warnings
  perpsim risk set [--k K] [--horizon 8h] [--rho R] [--max-leverage L] | --reset
                                       the account's own thresholds
  perpsim risk fills [SYMBOL] [--limit N]
                                       the latest fills with their slippage against the mid and the
                                       mark at the order's arrival (bps, positive: worse)

None of these figures predicts prices: "2.3σ over 8h" is the distance at the last 8h's volatility.
"""

from __future__ import annotations

import argparse

from perpsim.cli.common import venue_flags
from perpsim.cli.format import Out, duration_arg, format_duration, format_time, text
from perpsim.cli.units import MarketUnits

HOUR_NS = 3_600 * 10**9


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register `perpsim risk` (the account summary) and `risk account`, `risk set`, `risk fills`."""
    risk = sub.choices.get("risk")
    if risk is None:
        risk = sub.add_parser("risk", help="the account's risk: distance to liquidation in σ, nudge, exposure",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                              parents=[venue_flags()])
        risk.set_defaults(group_sub=risk.add_subparsers(dest="risk_command", metavar="RISK_COMMAND"))
    else:  # a group made by another module: bare `perpsim risk` becomes the account's summary
        risk._add_container_actions(venue_flags())
    commands = risk.get_default("group_sub")
    commands.required = False
    risk.set_defaults(run=_summary)
    p = commands.add_parser("account", help="the account's risk summary (the same as bare `perpsim risk`)",
                            parents=[venue_flags()])
    p.set_defaults(run=_summary)
    p = commands.add_parser("set", help="the account's own thresholds (those not given are kept)",
                            parents=[venue_flags()])
    p.add_argument("--k", type=_positive, help="warn below this many σ of distance to liquidation (default 3)")
    p.add_argument("--horizon", type=duration_arg, help="the σ horizon, e.g. 8h (default 8h)")
    p.add_argument("--rho", type=_positive, help="correlation above which exposures count as stacked (default 0.7)")
    p.add_argument("--max-leverage", type=_positive,
                   help="correlated effective leverage above which stacking is warned about (default 10)")
    p.add_argument("--reset", action="store_true", help="back to the venue's defaults")
    p.set_defaults(run=_set)
    p = commands.add_parser("fills", help="the latest fills with their slippage at arrival", parents=[venue_flags()])
    p.add_argument("symbol", metavar="SYMBOL", nargs="?", default="")
    p.add_argument("--limit", type=int, default=20, help="how many (default 20, at most 500)")
    p.set_defaults(run=_fills)


def _positive(s: str) -> float:
    x = float(s)
    if not x > 0:
        raise ValueError(s)
    return x


_positive.__name__ = "positive number"


# ---------------------------------------------------------------- shared with other commands


def horizon_text(ns: int) -> str:
    """A horizon of venue time (ns) as `8h`, or a duration when it is not whole hours."""
    return f"{ns / HOUR_NS:g}h" if ns % HOUR_NS == 0 else format_duration(ns)


def sigma_text(distances) -> str | None:
    """`8h 2.27σ (2.3 %)` per horizon: z and the chance of touching the liquidation price."""
    if not distances:
        return None
    return ", ".join(f"{horizon_text(d.horizon_ns)} {d.z:.2f}σ ({d.touch_probability:.1%})" for d in distances)


def warning_lines(warnings) -> list[str]:
    """One `warning [code]: message` line per risk warning."""
    return [f"warning [{w.code}]: {w.message}" for w in warnings]


# ---------------------------------------------------------------- commands


def _summary(c, a, out: Out) -> int:
    r = c.account_risk()
    limits = {x.asset: c.daily_loss_limit(x.asset) for x in r.assets}
    if out.json:
        out.data({**r.to_dict(), "loss_limits": list(limits.values())})
        return 0
    u = MarketUnits.of(c)
    t = r.thresholds
    rows = []
    for p in r.positions:
        s = p.symbol
        n = p.nudge
        nudge = None if n is None else ("within kσ" if n.within_k_sigma else
                                        f"reduce {u.qty(s, n.reduce_quantity)} (max {u.qty(s, n.max_quantity)})")
        rows.append((s, p.position_side, u.qty(s, p.quantity), u.price(s, p.mark_price),
                     u.price(s, p.liquidation_price), f"{p.distance_pct:.2f} %" if p.liquidation_price else None,
                     sigma_text(p.distance_sigma), nudge))
    out.table(["symbol", "side", "quantity", "mark", "liquidation", "distance", "σ distance (touch chance)",
               f"nudge to {t.k:g}σ/{horizon_text(t.horizon_ns)}"], rows, title="positions")
    out.table(["asset", "equity", "margin ratio", "loss limit use", "correlated exposure", "gross notional",
               "effective leverage", "clusters"],
              [(x.asset, f"{x.equity:.2f}", None if x.margin_ratio_pct is None else f"{x.margin_ratio_pct:.2f} %",
                _loss_use(limits[x.asset]), f"{x.exposure:.2f}", f"{x.gross_notional:.2f}",
                None if x.effective_leverage is None else f"{x.effective_leverage:.2f}x",
                "; ".join("+".join(cl) for cl in x.clusters) or None) for x in r.assets], title="exposure")
    out.line(f"thresholds: k {t.k:g}σ over {horizon_text(t.horizon_ns)}, ρ {t.rho:g}, L {t.max_leverage:g}x "
             "(measured at the last volatility and correlations, not a forecast)")
    for line in warning_lines(r.warnings):
        out.line(line)
    return 0


def _loss_use(limit) -> str | None:
    """Today's loss against the daily loss limit: `120.5 / 500 USDT (24.1 %)`; None without a limit."""
    if not limit.limit:
        return None
    used = max(limit.loss, 0) / limit.limit * 100
    return f"{text(limit.loss)} / {text(limit.limit)} {limit.asset} ({used:.1f} %)" + (" HIT" if limit.hit else "")


def _set(c, a, out: Out) -> int:
    t = c.set_risk_thresholds(k=a.k, horizon_ns=a.horizon, rho=a.rho, max_leverage=a.max_leverage, reset=a.reset)
    if out.json:
        out.data(t)
    else:
        out.line(f"thresholds: k {t.k:g}σ over {horizon_text(t.horizon_ns)}, ρ {t.rho:g}, L {t.max_leverage:g}x")
    return 0


def _fills(c, a, out: Out) -> int:
    fills = c.recent_fills(a.symbol, a.limit)
    if out.json:
        out.data(fills)
        return 0
    u = MarketUnits.of(c)

    def bps(x: float | None) -> str | None:
        return None if x is None else f"{x:+.2f}"

    out.table(["order", "symbol", "side", "price", "quantity", "liquidity", "vs mid (bps)", "vs mark (bps)", "time"],
              [(f.order_id, f.symbol, f.side, u.price(f.symbol, f.price), u.qty(f.symbol, f.quantity),
                f.liquidity + (" (liquidation)" if f.liquidation else ""), bps(f.slippage_mid_bps),
                bps(f.slippage_mark_bps), format_time(f.time_ns)) for f in fills], title="recent fills")
    return 0
