"""`perpsim scenario list|run|sweep`: cascade scenarios (perpsim.sim.cli parses their arguments)."""

from __future__ import annotations

import argparse

from perpsim.cli.common import standalone


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register `perpsim scenario` (list, run, sweep)."""
    standalone(sub, "scenario", _scenario, "cascade scenarios: list, run, sweep", passthrough=True)


def _scenario(a: argparse.Namespace, rest: list[str]) -> int:
    from perpsim.sim import cli as scenario_cli

    return scenario_cli.main(rest)
