"""What the `perpsim` command prints and reads: tables, fields, JSON, decimals, durations, times.

Tables go to stdout as rich tables when stdout is a terminal, else as aligned plain text (stable
for scripts and tests); `--json` prints one JSON document per result with decimals as exact
strings. Durations are read and written like `8h`, `30m`, `1d`, `1h30m`, `250ms`; a bare integer
is read as nanoseconds, the unit programs use.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

NS_PER = {"d": 86_400_000_000_000, "h": 3_600_000_000_000, "m": 60_000_000_000, "s": 1_000_000_000,
          "ms": 1_000_000, "us": 1_000, "ns": 1}
_PART = re.compile(r"(\d+)(d|h|ms|us|ns|m|s)")


def parse_duration(text: str) -> int:
    """`8h`, `30m`, `1d`, `1h30m`, `250ms` or a bare integer of nanoseconds -> nanoseconds (exact).

    Raises ValueError naming the text for anything else (negative, empty, unknown unit)."""
    s = text.strip().lower()
    if s.isdigit():
        return int(s)
    pos, total = 0, 0
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        total += int(m.group(1)) * NS_PER[m.group(2)]
        pos = m.end()
    if pos != len(s) or not s:
        raise ValueError(f"not a duration: {text!r} (use e.g. 8h, 30m, 1d, 1h30m, 250ms, or nanoseconds)")
    return total


def duration_arg(text: str) -> int:
    """argparse type: a duration in nanoseconds (argparse turns ValueError into a usage error)."""
    return parse_duration(text)


duration_arg.__name__ = "duration"  # argparse names the type in its message: "invalid duration value"


def format_duration(ns: int) -> str:
    """Nanoseconds as `1d2h`, `3h12m`, `45s`, `250ms` (the two largest units, truncated toward zero)."""
    if ns < 0:
        return "-" + format_duration(-ns)
    if ns == 0:
        return "0s"
    parts = []
    for unit in ("d", "h", "m", "s", "ms", "us", "ns"):
        n, ns = divmod(ns, NS_PER[unit])
        if n:
            parts.append(f"{n}{unit}")
        if len(parts) == 2 or (parts and unit == "s"):
            break
    return "".join(parts) or "0s"


def format_time(ns: int, now_ns: int | None = None) -> str:
    """Nanoseconds since the epoch as `2026-12-07 08:00:00 UTC`, plus `(in 3h12m)` / `(5m ago)` given now."""
    if not ns:
        return "-"
    stamp = datetime.fromtimestamp(ns // 1_000_000_000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if now_ns is None:
        return stamp
    delta = ns - now_ns
    return f"{stamp} (in {format_duration(delta)})" if delta >= 0 else f"{stamp} ({format_duration(-delta)} ago)"


def text(value: Any) -> str:
    """One cell: decimals in plain notation (never 1E+3), None as `-`, booleans as yes/no."""
    if value is None:
        return "-"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _numeric(value: Any) -> bool:
    from perpsim.cli.units import Amount

    return isinstance(value, Decimal | int | Amount) and not isinstance(value, bool)


def _rich_console():
    if not sys.stdout.isatty():
        return None
    try:
        from rich.console import Console
    except ImportError:
        return None
    return Console()


class Out:
    """Tables, fields or JSON on stdout (`as_json` chooses)."""

    def __init__(self, as_json: bool) -> None:
        self.json = as_json

    def data(self, value: Any) -> None:
        """Print `value` as one line of JSON (`to_jsonable`: Decimals as exact strings)."""
        from perpsim.clients.models import to_jsonable

        print(json.dumps(to_jsonable(value)), flush=True)

    def line(self, message: str) -> None:
        """Print `message` as is."""
        print(message, flush=True)

    def table(self, columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> None:
        """Print `rows` under `columns` (and `title`): a rich table on a terminal with rich installed,
        else aligned plain text ("(none)" when empty); columns of numbers (Decimal, int, Amount; None
        allowed) are right-aligned."""
        rows = [list(r) for r in rows]
        right = [bool(rows) and all(_numeric(r[i]) or r[i] is None for r in rows) and any(_numeric(r[i]) for r in rows)
                 for i in range(len(columns))]
        console = _rich_console()
        if console is not None:
            from rich.table import Table
            from rich.text import Text

            t = Table(title=title)
            for c, r in zip(columns, right, strict=True):
                t.add_column(c, justify="right" if r else "left")
            for row in rows:
                t.add_row(*(Text(text(v)) for v in row))  # Text: values are never read as markup
            console.print(t)
            return
        if title:
            print(title)
        cells = [[text(v) for v in r] for r in rows]
        widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]

        def line(values: Sequence[str]) -> str:
            return "  ".join(v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right, strict=True))

        print(line(list(columns)).rstrip())
        for values in cells:
            print(line(values).rstrip())
        if not rows:
            print("(none)")

    def fields(self, pairs: Sequence[tuple[str, Any]], title: str | None = None) -> None:
        """Print (name, value) pairs as two columns (and `title`): a rich table on a terminal with rich
        installed, else aligned plain text."""
        console = _rich_console()
        if console is not None:
            from rich.table import Table
            from rich.text import Text

            t = Table(title=title, show_header=False)
            t.add_column("field", style="bold")
            t.add_column("value")
            for k, v in pairs:
                t.add_row(Text(k), Text(text(v)))
            console.print(t)
            return
        if title:
            print(title)
        width = max((len(k) for k, _ in pairs), default=0)
        for k, v in pairs:
            print(f"{k.ljust(width)}  {text(v)}")
