"""The `perpsim` command.

  perpsim serve [...]         run the venue (gRPC on 127.0.0.1:50051, data in ./perpsim-data)
  perpsim bench book [...]    the reference order-book stream through each implementation
  perpsim calc CALC [...]     risk calculator: liq-price, bankruptcy-price, order-cost, maint-margin,
                              funding-rate, brackets (perpsim calc --help)
  perpsim scenario list|run|sweep  cascade scenarios in-process or over gRPC (perpsim scenario --help)

A client of a running venue (perpsim.clients.commands; --address, --key, --admin-key, --json):

  perpsim markets | book SYMBOL | mark SYMBOL
  perpsim order place|cancel|cancel-all|list ...
  perpsim positions | balance | preview SYMBOL SIDE QTY [PRICE]
  perpsim deposit|withdraw ASSET AMOUNT | transfer TO_ACCOUNT ASSET AMOUNT
  perpsim watch trades|book|mark|liquidations|alerts SYMBOL
  perpsim sandbox create-account|set-index|shock|state|advance-clock|fund-insurance ...
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import version
from pathlib import Path

from perpsim.clients import commands


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(prog="perpsim", description="A local perpetual-futures venue.")
    ap.add_argument("--version", action="version", version=f"perpsim {version('perpsim')}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", help="run the venue")
    serve.add_argument("--listen", help="address to listen on (default 127.0.0.1:50051)")
    serve.add_argument("--data-dir", type=Path, help="data directory (default ./perpsim-data)")
    serve.add_argument("--config", type=Path, help="a TOML file of VenueConfig settings")
    serve.add_argument("--admin-key", help="the sandbox admin key (default: $PERPSIM_ADMIN_KEY or generated)")
    serve.add_argument("--no-feed", action="store_true", help="no moving index feed")
    serve.add_argument("--no-liquidity", action="store_true", help="no built-in liquidity provider")
    bench = sub.add_parser("bench", help="benchmarks")
    bench_sub = bench.add_subparsers(dest="bench", required=True, metavar="BENCH")
    bench_sub.add_parser("book", help="the reference order-book stream", add_help=False)
    sub.add_parser("calc", help="risk calculator (liquidation price, margins, cost, funding)", add_help=False)
    sub.add_parser("scenario", help="cascade scenarios: list, run, sweep", add_help=False)
    commands.add_parsers(sub)
    a, rest = ap.parse_known_args(argv)
    if getattr(a, "run", None) is not None:
        if rest:
            ap.error(f"unrecognized arguments: {' '.join(rest)}")
        return commands.run(a)
    if a.command == "serve":
        if rest:
            ap.error(f"unrecognized arguments: {' '.join(rest)}")
        return _serve(a)
    if a.command == "bench" and a.bench == "book":
        from perpsim.sim import bookbench

        return bookbench.main(rest)
    if a.command == "calc":
        from perpsim.clients import calc

        return calc.main(rest)
    if a.command == "scenario":
        from perpsim.sim import cli as scenario_cli

        return scenario_cli.main(rest)
    ap.error(f"unknown command {argv}")
    return 2


def _serve(a: argparse.Namespace) -> int:
    from perpsim.venue.app import VenueConfig, serve

    overrides = {"listen": a.listen, "data_dir": a.data_dir, "admin_key": a.admin_key}
    cfg = VenueConfig.from_toml(a.config, **overrides) if a.config else VenueConfig(
        **{k: v for k, v in overrides.items() if v is not None})
    if a.no_feed:
        cfg.feed = False
    if a.no_liquidity:
        cfg.liquidity = False
    return serve(cfg)


if __name__ == "__main__":
    sys.exit(main())
