"""`perpsim account loss-limit set ASSET AMOUNT` / `perpsim account loss-limit show [ASSET]`:
the account's daily loss limit per settlement asset.

Once today's loss (realized PnL + funding − fees since 00:00 UTC of venue time; with
--include-unrealized also the day's change in unrealized PnL) reaches the limit, the venue
refuses every order that could add exposure in the asset until the next 00:00 UTC; reduce-only
orders, closes and cancels still work. A lower limit takes effect at once, a higher one (or 0,
which removes it) at the next 00:00 UTC.
"""

from __future__ import annotations

import argparse
from decimal import Decimal, InvalidOperation

from perpsim.cli.common import group, leaf
from perpsim.cli.format import Out, format_time, text
from perpsim.cli.units import Amount


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register `perpsim account loss-limit set / show`."""
    account = group(sub, "account", "account settings")
    limits = group(account, "loss-limit", "the daily loss limit per settlement asset (resets at 00:00 UTC)")
    p = leaf(limits, "set", _set, "set the daily loss limit of an asset (lower: at once; higher or 0: from 00:00 UTC)")
    p.add_argument("asset", metavar="ASSET")
    p.add_argument("amount", metavar="AMOUNT", type=_amount, help="in the asset, e.g. 250; 0 removes the limit")
    p.add_argument("--include-unrealized", action="store_true",
                   help="count the day's change in unrealized PnL as well")
    p.add_argument("--flatten", action="store_true",
                   help="once hit, close every position in the asset with reduce-only market orders")
    p = leaf(limits, "show", _show, "the daily loss limits, today's loss and when they reset")
    p.add_argument("asset", metavar="ASSET", nargs="?", default="", help="one asset (default: every asset)")


def _amount(s: str) -> Decimal:
    try:
        d = Decimal(s)
    except InvalidOperation:
        raise ValueError(s) from None
    if not d.is_finite() or d < 0:
        raise ValueError(s)
    return d


_amount.__name__ = "decimal amount (0 or more)"


def _set(c, a, out: Out) -> int:
    limit = c.set_daily_loss_limit(a.asset, a.amount, include_unrealized=a.include_unrealized, flatten=a.flatten)
    if out.json:
        out.data(limit.to_dict())
    elif limit.change_pending:
        now = "none" if not limit.limit else f"{text(limit.limit)} {limit.asset}"
        later = "no limit" if not limit.pending_limit else f"{text(limit.pending_limit)} {limit.asset}"
        out.line(f"{limit.asset}: a higher limit waits for 00:00 UTC: {later} from "
                 f"{format_time(limit.pending_from_ns)}; in force until then: {now}")
    else:
        out.line(f"{limit.asset}: daily loss limit {text(limit.limit)} {limit.asset} in force"
                 + (" (hit: reduce-only until the reset)" if limit.hit else ""))
    return 0


def _show(c, a, out: Out) -> int:
    assets = [a.asset] if a.asset else [b.asset for b in c.account().balances]
    limits = [c.daily_loss_limit(asset) for asset in assets]
    if out.json:
        out.data([x.to_dict() for x in limits])
        return 0
    out.table(["asset", "limit", "loss today", "hit", "unrealized", "flatten", "resets at", "waiting change"],
              [(x.asset, Amount(x.limit, x.asset) if x.limit else "none", Amount(x.loss, x.asset),
                "yes" if x.hit else "no",
                "counted" if x.include_unrealized else "-", "yes" if x.flatten else "no",
                format_time(x.resets_at_ns),
                (f"{text(x.pending_limit) if x.pending_limit else 'none'} from {format_time(x.pending_from_ns)}"
                 if x.change_pending else "-")) for x in limits],
              title="daily loss limits")
    return 0
