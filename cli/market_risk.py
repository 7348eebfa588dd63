"""`perpsim risk market SYMBOL` and `perpsim watch risk SYMBOL`: a market's risk figures.

  perpsim risk market SYMBOL [--notional N] [--json]
        open interest (and its change over 1h / 24h), predicted funding and its z-score, the
        long/short account ratio, the OI-weighted average leverage, the temperature and its
        parts, volatility per horizon, execution quality (spread, depth, expected slippage of
        N quote), insurance-fund stress for moves of ±5/10/20 %, the liquidation map and flags
  perpsim watch risk SYMBOL [--interval-ms MS] [--count N]
        the headline figures, one line per update

Measurements and stress tests at the venue's last figures, never forecasts.
"""

from __future__ import annotations

import argparse

from perpsim.cli.common import group, leaf, venue_flags
from perpsim.cli.format import Out


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register `perpsim risk market` and `perpsim watch risk`."""
    risk = sub.choices.get("risk")
    if risk is None:
        commands = group(sub, "risk", "risk figures")
    else:
        commands = risk.get_default("group_sub")
    p = commands.add_parser("market", help="a market's risk figures: OI, funding, temperature, liquidation map, ...",
                            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                            parents=[venue_flags()])
    p.add_argument("symbol", metavar="SYMBOL")
    p.add_argument("--notional", help="quote notional whose expected slippage to show (default: the venue's)")
    p.set_defaults(run=_market)
    watch = group(sub, "watch", "follow a stream (Ctrl-C, --count or --timeout stops)")
    w = leaf(watch, "risk", _watch, "a market's risk figures, one line per update")
    w.add_argument("symbol", metavar="SYMBOL")
    w.add_argument("--interval-ms", type=int, default=1_000, help="milliseconds between updates (default 1000)")
    w.add_argument("--count", type=int, help="stop after this many updates")


def _pct(x: float | None, digits: int = 2) -> str | None:
    return None if x is None else f"{x:+.{digits}f} %"


def _market(c, a, out: Out) -> int:
    r = c.market_risk(a.symbol, a.notional)
    if out.json:
        out.data(r)
        return 0
    t = r.temperature_parts
    out.fields([
        ("mark", r.mark_price),
        ("open interest", f"{r.open_interest} ({r.open_interest_notional:,.2f} at mark)"),
        ("OI change 1h / 24h", f"{_pct(r.open_interest_change_1h_pct) or '-'} / "
                               f"{_pct(r.open_interest_change_24h_pct) or '-'}"),
        ("predicted funding", f"{r.predicted_funding_rate * 100:.4f} % (z {r.funding_z:+.2f})"),
        ("accounts long / short", f"{r.long_accounts} / {r.short_accounts} (ratio "
                                  f"{'-' if r.long_short_ratio is None else f'{r.long_short_ratio:.2f}'})"),
        ("average leverage", f"{r.average_leverage:.2f}x (OI-weighted)"),
        ("temperature", f"{r.temperature:.0f} / 100 (z: funding {t['funding']:+.2f}, OI {t['open_interest']:+.2f}, "
                        f"leverage {t['leverage']:+.2f}, proximity {t['proximity']:+.2f})"),
        ("volatility", ", ".join(f"{h} {'-' if v is None else f'{v:.2f} %'}" for h, v in r.volatility_pct.items())),
        ("spread", "-" if r.spread_bps is None else f"{r.spread_bps:.2f} bps"),
        ("depth ±10 / ±50 bps", f"{r.depth_quote['bid_10bps']:,.0f}+{r.depth_quote['ask_10bps']:,.0f} / "
                                f"{r.depth_quote['bid_50bps']:,.0f}+{r.depth_quote['ask_50bps']:,.0f}"),
        (f"slippage of {r.slippage_notional:,.0f}",
         f"buy {_bps(r.buy_slippage_bps)}, sell {_bps(r.sell_slippage_bps)}"),
        ("near liquidation", ", ".join(f"{k} % move: {v:.1f} % of OI" for k, v in r.near_liquidation_pct.items())),
        ("leverage spikes", f"{r.spike_accounts} account(s), {r.spike_oi_pct:.1f} % of OI"),
        ("correlation", ", ".join(f"{s} {rho:.2f}" for s, rho in r.correlations.items()) or "-"),
    ], title=f"{r.symbol} market risk")
    out.table(["shock", "price", "liquidated", "notional", "beyond book", "fund draw", "fund", "coverage",
               "to ADL"],
              [(f"{s.shock_pct:+g} %", s.shocked_price, s.liquidated_lots, f"{s.liquidated_notional:,.2f}",
                s.unabsorbed_lots, f"{s.fund_draw:,.2f}", f"{s.fund_balance:,.2f}",
                "-" if s.coverage is None else f"{s.coverage:.2f}x", f"{s.adl_share:.0%}") for s in r.stress],
              title="insurance fund stress (the book as it stands: a lower bound)")
    out.table(["from", "to", "long notional", "short notional"],
              [(b.price_low, b.price_high, f"{b.long_notional:,.2f}", f"{b.short_notional:,.2f}")
               for b in r.liquidation_map], title=f"liquidation map ({r.bucket_pct:g} % buckets)")
    for f in r.flags:
        out.line(f"FLAG {f.code}: {f.message}")
    return 0


def _bps(x: float | None) -> str:
    return "beyond the book" if x is None else f"{x:.2f} bps"


def line(r) -> str:
    """The headline figures of one update."""
    flags = ",".join(f.code for f in r.flags) or "-"
    vol = r.volatility_pct.get("1h")
    return (f"{r.symbol} mark {r.mark_price} OI {r.open_interest} funding {r.predicted_funding_rate * 100:.4f} % "
            f"(z {r.funding_z:+.2f}) L/S {r.long_accounts}/{r.short_accounts} lev {r.average_leverage:.2f}x "
            f"temp {r.temperature:.0f} σ1h {'-' if vol is None else f'{vol:.2f} %'} "
            f"spread {'-' if r.spread_bps is None else f'{r.spread_bps:.1f}'} bps spikes {r.spike_accounts} "
            f"flags {flags}")


def _watch(c, a, out: Out) -> int:
    from perpsim.clients.errors import DeadlineExceeded

    if a.count is not None and a.count <= 0:
        return 0
    seen = 0
    with c.stream_market_risk(a.symbol, a.interval_ms, timeout=getattr(a, "timeout", None)) as stream:
        try:
            for msg in stream:
                if out.json:
                    out.data(msg)
                else:
                    out.line(f"#{msg.sequence} {line(msg.risk)}")
                seen += 1
                if a.count is not None and seen >= a.count:
                    break
        except (DeadlineExceeded, KeyboardInterrupt):
            return 0
    return 0
