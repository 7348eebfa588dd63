"""The `perpsim` command.

  perpsim bench book [...]    the reference order-book stream through each implementation
  perpsim calc CALC [...]     risk calculator: liq-price, bankruptcy-price, order-cost, maint-margin,
                              funding-rate, brackets (perpsim calc --help)
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import version


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(prog="perpsim", description="A local perpetual-futures venue.")
    ap.add_argument("--version", action="version", version=f"perpsim {version('perpsim')}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    bench = sub.add_parser("bench", help="benchmarks")
    bench_sub = bench.add_subparsers(dest="bench", required=True, metavar="BENCH")
    bench_sub.add_parser("book", help="the reference order-book stream", add_help=False)
    sub.add_parser("calc", help="risk calculator (liquidation price, margins, cost, funding)", add_help=False)
    a, rest = ap.parse_known_args(argv)
    if a.command == "bench" and a.bench == "book":
        from perpsim.sim import bookbench

        return bookbench.main(rest)
    if a.command == "calc":
        from perpsim.clients import calc

        return calc.main(rest)
    ap.error(f"unknown command {argv}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
