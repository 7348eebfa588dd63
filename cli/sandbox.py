"""`perpsim sandbox ...`: control the simulated world (the admin key)."""

from __future__ import annotations

import argparse
from decimal import Decimal, InvalidOperation

from perpsim.cli.common import group, leaf
from perpsim.cli.format import NS_PER, Out, duration_arg, format_duration, format_time, parse_duration, text
from perpsim.cli.units import Amount, MarketUnits
from perpsim.clients.clock_models import HELD, WALL


def _path_point(item: str) -> tuple[int, str]:
    """`30s:60000` -> (30000 ms, "60000"); the offset must be a whole number of milliseconds."""
    offset, sep, price = item.rpartition(":")
    if not sep or not offset or not price:
        raise ValueError(item)
    ns = parse_duration(offset)
    if ns % NS_PER["ms"]:
        raise ValueError(item)
    return ns // NS_PER["ms"], price


_path_point.__name__ = "OFFSET:PRICE point"


def _lease_ms(text: str) -> int:
    """`--lease`: seconds (`30`, `0.5`) or a duration (`30s`, `500ms`, `2m`) -> whole milliseconds;
    0: no lease. Finer than a millisecond or negative: ValueError (argparse's usage error)."""
    try:
        seconds = Decimal(text.strip())
    except InvalidOperation:
        ns = parse_duration(text)
    else:
        if not seconds.is_finite() or seconds < 0:
            raise ValueError(text)
        ns_exact = seconds * NS_PER["s"]
        if ns_exact != ns_exact.to_integral_value():
            raise ValueError(text)
        ns = int(ns_exact)
    if ns % NS_PER["ms"]:
        raise ValueError(text)
    return ns // NS_PER["ms"]


_lease_ms.__name__ = "lease (seconds)"


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register the `perpsim sandbox` commands (accounts, index, shock, clock, insurance, state)."""
    sb = group(sub, "sandbox", "control the simulated world (admin key)")
    p = leaf(sb, "create-account", _create_account, "a new account, its API key and secret")
    p.add_argument("--label", default="")
    p.add_argument("--api-key", help="choose the key (16-128 of A-Z a-z 0-9 - _ . ~), e.g. a bot's saved one")
    p.add_argument("--api-secret", help="choose the secret that signs REST requests (with --api-key)")
    p = leaf(sb, "set-index", _set_index, "set the index price (liquidations run)")
    p.add_argument("symbol", metavar="SYMBOL")
    p.add_argument("price", metavar="PRICE")
    p = leaf(sb, "shock", _shock, "move the index by a percentage in one step")
    p.add_argument("symbol", metavar="SYMBOL")
    p.add_argument("percent", metavar="PERCENT", help="e.g. -8 for an 8 %% drop")
    leaf(sb, "state", _state,
         "venue time, clock mode (and a hold's lease left), state hash, journal sequence, insurance funds")
    p = leaf(sb, "advance-clock", _advance_clock, "move the venue clock forward")
    p.add_argument("ns", metavar="DURATION", type=duration_arg, help="e.g. 8h, 30m, 1d, or nanoseconds")
    p = leaf(sb, "clock", _clock, "hold the venue clock (time moves only by advance-clock) or release it to wall time")
    p.add_argument("mode", choices=[HELD, WALL],
                   help="held: every command is stamped with the venue's time, moved only by advance-clock, so "
                        "a run of calls gives the same state whatever the time between them; wall: wall-clock "
                        "time plus every advance, never behind the venue's (until a restart, which takes "
                        "`perpsim serve --held-clock`)")
    p.add_argument("--lease", metavar="SECONDS", type=_lease_ms,
                   help="held only: release the clock by itself once this long (seconds, or 500ms, 2m; at most "
                        "a day) passes with no advance-clock or hold renewing it, so a holder that dies does not "
                        "leave the venue's time frozen; every advance-clock and every `clock held` renews it "
                        "(the latter with its own --lease; without one the hold is permanent)")
    p = leaf(sb, "fund-insurance", _fund_insurance, "add money to the insurance fund")
    p.add_argument("asset", metavar="ASSET")
    p.add_argument("amount", metavar="AMOUNT")
    p = leaf(sb, "set-price-path", _set_price_path,
             "drive the index along OFFSET:PRICE points from now, e.g. 0s:65000 30s:60000 2m:62000 (none: stop)")
    p.add_argument("symbol", metavar="SYMBOL")
    p.add_argument("points", metavar="OFFSET:PRICE", nargs="*", type=_path_point,
                   help="OFFSET a duration from now (wall clock: 500ms, 30s, 2m), PRICE the index then")


def _create_account(c, a, out: Out) -> int:
    acct = c.create_account(a.label, api_key=a.api_key, api_secret=a.api_secret)
    if out.json:
        out.data(acct._asdict())
    else:
        out.fields(list(acct._asdict().items()))
    return 0


def _set_index(c, a, out: Out) -> int:
    r = c.set_index_price(a.symbol, a.price)
    if out.json:
        out.data({"symbol": a.symbol, **r.to_dict()})
    else:
        u = MarketUnits.of(c)
        out.fields([("symbol", a.symbol), ("mark_price", u.price(a.symbol, r.mark_price)),
                    ("liquidations", r.liquidations)])
    return 0


def _shock(c, a, out: Out) -> int:
    r = c.shock_price(a.symbol, a.percent)
    if out.json:
        out.data({"symbol": a.symbol, **r.to_dict()})
    else:
        u = MarketUnits.of(c)
        out.fields([("symbol", a.symbol), ("index_price", u.price(a.symbol, r.index_price)),
                    ("mark_price", u.price(a.symbol, r.mark_price)), ("liquidations", r.liquidations)])
        for i, f in enumerate(r.forced_orders, start=1):  # what each forced order traded at
            at = "" if f.fill_price is None else f" at {text(f.fill_price)} ({f.improvement_bps:+} bps vs bankruptcy)"
            out.line(f"#{i} {f.symbol} {f.side} {text(f.quantity)} bankruptcy {text(f.bankruptcy_price)} "
                     f"filled {text(f.filled_quantity)}{at} insurance {text(f.taken_by_insurance)} "
                     f"adl {text(f.deleveraged)}")
    return 0


def _state(c, a, out: Out) -> int:
    s = c.venue_state()
    if out.json:
        out.data(s)
    else:
        lease = s.clock_lease_remaining_ms
        out.fields([("now", format_time(s.now_ns)), ("clock", s.clock_mode)]
                   + ([("clock_lease_remaining", format_duration(lease * NS_PER["ms"]))] if lease else [])
                   + [("state_hash", s.state_hash), ("journal_sequence", s.journal_sequence)]
                   + [(f"insurance_fund {asset}", Amount(amount, asset)) for asset, amount in
                      s.insurance_funds.items()])
    return 0


def _advance_clock(c, a, out: Out) -> int:
    now = c.advance_clock(a.ns)
    if out.json:
        out.data({"now_ns": now, "advanced_ns": a.ns})
    else:
        out.line(f"now {format_time(now)} (advanced {format_duration(a.ns)})")
    return 0


def _clock(c, a, out: Out) -> int:
    if a.lease is not None and a.mode != HELD:
        raise ValueError("--lease goes with `clock held` (wall time takes no lease)")
    change = c.set_clock_mode(a.mode == HELD, lease_ms=a.lease or 0)
    if out.json:
        out.data(change)
    else:
        was = f"was {change.previous_mode}" if change.changed else "already"
        out.line(f"clock {change.mode} ({was}), now {format_time(change.now_ns)}")
        if change.lease_ms:
            out.line(f"lease {format_duration(change.lease_ms * NS_PER['ms'])}: back to wall time unless "
                     f"advance-clock or another `clock held` renews it within that")
    return 0


def _fund_insurance(c, a, out: Out) -> int:
    fund = c.fund_insurance(a.asset, a.amount)
    if out.json:
        out.data({"asset": a.asset, "insurance_fund": fund})
    else:
        out.line(f"insurance fund {text(fund)} {a.asset}")
    return 0


def _set_price_path(c, a, out: Out) -> int:
    n = c.set_price_path(a.symbol, a.points)
    if out.json:
        out.data({"symbol": a.symbol, "points": n})
    elif not a.points:
        out.line(f"{a.symbol} price path stopped")
    else:
        last_ms, last_price = a.points[-1]
        out.line(f"{a.symbol} index follows {n} point{'s' if n != 1 else ''} over "
                 f"{format_duration(last_ms * NS_PER['ms'])}, to {last_price}")
    return 0

