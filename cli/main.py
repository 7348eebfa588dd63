"""The `perpsim` command: the parser and the dispatch.

  perpsim serve [...]         run the venue (gRPC on 127.0.0.1:50051, data in ./perpsim-data)
  perpsim bench book [...]    the reference order-book stream through each implementation
  perpsim calc CALC [...]     risk calculator (perpsim calc --help)
  perpsim scenario list|run|sweep  cascade scenarios in-process or over gRPC

A client of a running venue (--address, --key, --admin-key, --timeout, --json):

  perpsim markets | book SYMBOL | mark SYMBOL
  perpsim order place|amend|cancel|cancel-all|list|conditional|bracket|oco|oto|... (perpsim order --help)
  perpsim positions | balance | preview SYMBOL SIDE QTY [PRICE]
  perpsim deposit|withdraw ASSET AMOUNT | transfer TO_ACCOUNT ASSET AMOUNT
  perpsim leverage | margin-mode | position-mode | margin add|remove ...
  perpsim watch trades|book|mark|liquidations|alerts SYMBOL | watch account
  perpsim order get|history, trades, income, klines SYMBOL, funding-rates   history
  perpsim risk [account|set|fills]   the account's risk: distance in σ, nudge, correlated exposure
  perpsim sandbox create-account|set-index|shock|state|advance-clock|fund-insurance|set-price-path ...

Each command group lives in one module of this package exposing `add_parsers(sub)`; COMMANDS lists
them in the order `perpsim --help` shows them. A new group is one module and one line here.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from importlib.metadata import version

COMMANDS = (
    "perpsim.cli.serve",
    "perpsim.cli.bench",
    "perpsim.cli.calc",
    "perpsim.cli.scenario",
    "perpsim.cli.trading",
    "perpsim.cli.conditional",
    "perpsim.cli.account",
    "perpsim.cli.watch",
    "perpsim.cli.sandbox",
    "perpsim.cli.loss_limit",
    "perpsim.cli.multi_assets",
    "perpsim.cli.history",
    "perpsim.cli.risk",
    "perpsim.cli.market_risk",
)


def build_parser() -> argparse.ArgumentParser:
    """The full `perpsim` parser: every module of COMMANDS adds its commands."""
    ap = argparse.ArgumentParser(prog="perpsim", description="A local perpetual-futures venue.",
                                 epilog="perpsim COMMAND --help describes a command.")
    ap.add_argument("--version", action="version", version=f"perpsim {version('perpsim')}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).add_parsers(sub)
    return ap


def _dispatch(argv: list[str]) -> int:
    ap = build_parser()
    a, rest = ap.parse_known_args(argv)
    if getattr(a, "passthrough", False):
        return a.main(a, rest)
    if rest:
        ap.error(f"unrecognized arguments: {' '.join(rest)}")
    if getattr(a, "run", None) is not None:
        from perpsim.cli.common import run_client

        return run_client(a)
    return a.main(a, rest)


def main(argv: list[str] | None = None) -> int:
    """Run `perpsim ARGS`; the exit code: 0 done, 1 refused by the venue, 2 bad arguments, 130 interrupted.

    A reader that stops early (`perpsim ... | head`) ends the command quietly with 0."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        try:
            return _dispatch(argv)
        finally:  # on --help and usage errors (SystemExit) too: a failing flush is a broken pipe here
            sys.stdout.flush()
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader is gone: point stdout at /dev/null so the interpreter's final flush cannot fail too
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):  # stdout replaced by something without a descriptor (tests)
            pass
        return 0


if __name__ == "__main__":
    sys.exit(main())
