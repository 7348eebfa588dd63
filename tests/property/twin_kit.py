"""What the twin state machines share: each step goes to the compiled exchange and to its
plain-Python twin (perpsim.engine.twin), which must answer alike and end in the same state."""

from __future__ import annotations

from typing import Any


def apply_both(a: Any, b: Any, cmd) -> list:
    """`cmd` applied to exchange `a` and to its twin `b`: a's events, asserted equal to b's."""
    ea, eb = a.apply(cmd), b.apply(cmd)
    assert ea == eb
    return ea


def checked_twins(machine: Any) -> Any:
    """The machine's exchange `a` after its integrity check and its state hash asserted equal to
    the twin `b`'s; None before the machine's set-up made them."""
    ex = getattr(machine, "a", None)
    if ex is None:
        return None
    ex.check_integrity()
    assert ex.state_hash() == machine.b.state_hash()
    return ex
