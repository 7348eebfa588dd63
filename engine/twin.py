"""The exchange as plain Python: the reference twin of the compiled build.

`engine/exchange.py`, its stage modules (engine/state.py, settlement.py, liquidation.py, ...:
`COMPILED`) and the money modules under them (`risk/units.py`, `risk/positions.py`,
`risk/ledger.py`) are compiled by Cython as they are, with a `.pxd` beside each that gives
their classes fixed attribute slots and their hot methods C signatures. Their source is the
same file either way, so the plain-Python import of it is the twin the compiled build is
tested against (tests/property/test_exchange_machine.py), like the book's and the margin kernel's
`*_ref` twins, and the readable place to step through with a debugger.

`risk/brackets.py` and `risk/margin.py` are compiled too (margin's `.pxd` declares only the
per-order formulas the exchange calls in C), but not reloaded here: both builds share them,
since their classes (`Brackets`, `CostModel`) are compared by identity.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

#: The modules compiled from their own .py, in import order (each only imports earlier ones).
COMPILED = (
    "perpsim.risk.units", "perpsim.risk.positions", "perpsim.risk.ledger",
    # the exchange: its contract math and market records, shared state and stages in dependency
    # order, then itself
    "perpsim.engine.contracts", "perpsim.engine.market", "perpsim.engine.state", "perpsim.engine.accounts",
    "perpsim.engine.settlement", "perpsim.engine.standing", "perpsim.engine.forced_orders",
    "perpsim.engine.position_risk", "perpsim.engine.liquidation_index", "perpsim.engine.deleveraging",
    "perpsim.engine.liquidation", "perpsim.engine.marking", "perpsim.engine.loss_limits",
    "perpsim.engine.entry", "perpsim.engine.market_commands", "perpsim.engine.order_lists",
    "perpsim.engine.conditionals", "perpsim.engine.loss_limit_hits", "perpsim.engine.exchange",
)


def is_compiled() -> bool:
    """Whether the imported exchange is the compiled build (False: running from source)."""
    return not importlib.import_module("perpsim.engine.exchange").__file__.endswith(".py")


def pure_exchange() -> ModuleType:
    """A fresh plain-Python import of `perpsim.engine.exchange` (and of its stages and the
    compiled money modules they use), beside the normal one: its `Exchange` takes the same arguments and
    commands. The rest of perpsim is shared with the normal import."""
    for name in COMPILED:  # everything they import is loaded the normal way first
        importlib.import_module(name)
    saved = {name: sys.modules[name] for name in COMPILED}
    try:
        for name in COMPILED:
            source = Path(saved[name].__file__).with_name(name.rpartition(".")[2] + ".py")
            spec = importlib.util.spec_from_file_location(name, source)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # so that the later ones import this one
            spec.loader.exec_module(module)
        return sys.modules["perpsim.engine.exchange"]
    finally:
        sys.modules.update(saved)
