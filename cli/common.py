"""The plumbing every command module shares: the venue flags, leaf and group parsers, running a
client command against the venue.

A command module exposes `add_parsers(sub)` and builds its commands with:

  leaf(parent, name, run, help)   a command that talks to the venue: run(client, args, out) -> exit code
  group(sub, name, help)          a command group (`order`, `watch`, ...), shared between modules: a
                                  second call with the same name returns the same sub-parsers
  standalone(parent, name, main, help, passthrough=False)
                                  a command that needs no venue: main(args, rest) -> exit code; with
                                  passthrough its arguments go unparsed to main (it has its own parser)

Client commands take --address (default $PERPSIM_ADDRESS or 127.0.0.1:50051), --key (default
$PERPSIM_API_KEY), --admin-key (default $PERPSIM_ADMIN_KEY, else ./perpsim-data/admin.key if
present), --timeout SECONDS and --json. Errors: one line `error: <reason> (<binance code>): <message>`
on stderr and exit code 1; bad arguments exit with 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from perpsim.cli.format import Out

DEFAULT_ADDRESS = "127.0.0.1:50051"
ADMIN_KEY_FILE = Path("perpsim-data") / "admin.key"
DEFAULT_TIMEOUT_S = 5.0

SIDES = ("buy", "sell")
POSITION_SIDES = ("both", "long", "short")
TIFS = ("gtc", "ioc", "fok", "gtx", "gtd")

_COMMON: list[argparse.ArgumentParser] = []


def lower(text: str) -> str:
    """argparse type of enum-like values: `Expire-Taker` -> `expire_taker`."""
    return text.strip().lower().replace("-", "_")


def venue_flags() -> argparse.ArgumentParser:
    """The parent parser of every client command (SUPPRESS: absent unless given, resolved in settings())."""
    if _COMMON:
        return _COMMON[0]
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("venue")
    g.add_argument("--address", default=argparse.SUPPRESS,
                   help=f"venue address (default $PERPSIM_ADDRESS or {DEFAULT_ADDRESS})")
    g.add_argument("--key", default=argparse.SUPPRESS,
                   help="API key of the account (default $PERPSIM_API_KEY); write --key=KEY if KEY starts with -")
    g.add_argument("--admin-key", default=argparse.SUPPRESS,
                   help=f"sandbox admin key (default $PERPSIM_ADMIN_KEY, else ./{ADMIN_KEY_FILE} if present)")
    g.add_argument("--timeout", type=float, default=argparse.SUPPRESS,
                   help=f"deadline of a call in seconds ({DEFAULT_TIMEOUT_S:g}); watch: stop after this long")
    g.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable JSON output")
    _COMMON.append(p)
    return p


def leaf(parent: argparse._SubParsersAction, name: str, run: Callable[..., int], help: str,
         **kwargs: Any) -> argparse.ArgumentParser:
    """A client command: `run(client, args, out)` is called with a connected Client."""
    p = parent.add_parser(name, help=help, description=help, parents=[venue_flags()], **kwargs)
    p.set_defaults(run=run)
    return p


def group(sub: argparse._SubParsersAction, name: str, help: str) -> argparse._SubParsersAction:
    """The sub-parsers of command group `name`, made on first use; several modules may add to one group."""
    p = sub.choices.get(name)
    if p is None:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(group_sub=p.add_subparsers(dest=f"{name.replace('-', '_')}_command", required=True,
                                                  metavar=f"{name.upper().replace('-', '_')}_COMMAND"))
    return p.get_default("group_sub")


def standalone(parent: argparse._SubParsersAction, name: str, main: Callable[..., int], help: str,
               passthrough: bool = False) -> argparse.ArgumentParser:
    """A command that needs no venue: `main(args, rest)`; with passthrough, rest is its unparsed argv."""
    p = parent.add_parser(name, help=help, description=help, add_help=not passthrough)
    p.set_defaults(main=main, passthrough=passthrough)
    return p


def settings(a: argparse.Namespace) -> dict[str, Any]:
    """Address, keys and timeout from the flags, else the environment, else the defaults."""
    address = getattr(a, "address", None) or os.environ.get("PERPSIM_ADDRESS") or DEFAULT_ADDRESS
    key = getattr(a, "key", None) or os.environ.get("PERPSIM_API_KEY") or None
    admin = getattr(a, "admin_key", None) or os.environ.get("PERPSIM_ADMIN_KEY") or None
    if admin is None and ADMIN_KEY_FILE.is_file():
        try:
            admin = ADMIN_KEY_FILE.read_text().strip() or None
        except OSError:
            admin = None
    timeout = getattr(a, "timeout", None)
    if timeout is not None and timeout <= 0:
        raise ValueError(f"--timeout must be > 0 seconds, got {timeout:g}")
    return {"address": address, "api_key": key, "admin_key": admin, "timeout": timeout}


def run_client(a: argparse.Namespace) -> int:
    """Run a parsed client command: exit code 0, 1 on a venue error, 2 on bad arguments."""
    from perpsim.clients.client import Client
    from perpsim.clients.errors import PerpsimError

    try:
        s = settings(a)
        with Client(s["address"], s["api_key"], s["timeout"] or DEFAULT_TIMEOUT_S, admin_key=s["admin_key"]) as c:
            return a.run(c, a, Out(getattr(a, "json", False)))
    except PerpsimError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except (TypeError, ValueError) as e:
        print(f"perpsim: error: {e}", file=sys.stderr)
        return 2
