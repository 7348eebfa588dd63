"""`perpsim bench ...`: benchmarks that ship with the package (each parses its own arguments)."""

from __future__ import annotations

import argparse

from perpsim.cli.common import standalone


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register `perpsim bench` (the order-book benchmark)."""
    bench = sub.add_parser("bench", help="benchmarks", description="benchmarks")
    benches = bench.add_subparsers(dest="bench", required=True, metavar="BENCH")
    standalone(benches, "book", _book, "the reference order-book stream through each implementation",
               passthrough=True)


def _book(a: argparse.Namespace, rest: list[str]) -> int:
    from perpsim.sim import bookbench

    return bookbench.main(rest)
