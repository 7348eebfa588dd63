"""What the exchange benches (exchange_tick, exchange_cascade) share: progress on stderr, build
commands that must be accepted, and one fresh process per size so that peak RSS is that size's own.

bench/ is a directory of scripts, not a package: a script beside this file imports it by name.
"""

from __future__ import annotations

import subprocess
import sys

from perpsim.engine.exchange import Exchange


def log(msg: str) -> None:
    """A progress line on stderr (stdout carries only the JSON results)."""
    print(msg, file=sys.stderr, flush=True)


def apply_accepted(ex: Exchange, cmd) -> list:
    """`ex.apply(cmd)`'s events; RuntimeError if the command was rejected (a build that went wrong)."""
    events = ex.apply(cmd)
    if events and type(events[0]).__name__ == "CommandRejected":
        raise RuntimeError(f"{cmd} rejected: {events[0]}")
    return events


def run_sizes_in_children(script: str, sizes: list[int], args: list[str]) -> None:
    """Run `script --child --positions N *args` for each N in turn, each in a fresh process;
    CalledProcessError if one fails."""
    for n in sizes:
        subprocess.run([sys.executable, script, "--child", "--positions", str(n), *args], check=True)
