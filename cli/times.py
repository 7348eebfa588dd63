"""Times a person types: `--good-till 30m` (from venue time now) or `--good-till 2026-12-07T08:00`
(UTC); programs keep `--good-till-ns` (nanoseconds since the epoch, venue time)."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from perpsim.cli.format import parse_duration


def good_till_flags(p: argparse.ArgumentParser, what: str) -> None:
    """Add the mutually exclusive --good-till / --good-till-ns flags of a GTD expiry."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--good-till", metavar="WHEN",
                   help=f"{what}: a duration from venue time now (30m, 8h, 1d) or a UTC time (2026-12-07T08:00)")
    g.add_argument("--good-till-ns", type=int, default=0, help=f"{what}, ns since the epoch (venue time)")


def good_till(a: argparse.Namespace, client=None, symbol: str = "") -> int:
    """The GTD expiry in ns since the epoch: --good-till-ns as given, or --good-till resolved
    against the venue's clock (GetMarkPrice's time of `symbol`; the local clock if it sends none)."""
    when = getattr(a, "good_till", None)
    if not when:
        return getattr(a, "good_till_ns", 0)
    try:
        at = datetime.fromisoformat(when)
    except ValueError:
        at = None
    if at is not None and not when.strip().isdigit():
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return int(at.timestamp()) * 1_000_000_000 + at.microsecond * 1_000
    try:
        span = parse_duration(when)
    except ValueError:
        raise ValueError(f"--good-till: expected a duration (30m, 8h, 1d) or a UTC time, got {when!r}") from None
    now = client.mark(symbol).time_ns if client is not None and symbol else 0
    return (now or time.time_ns()) + span
