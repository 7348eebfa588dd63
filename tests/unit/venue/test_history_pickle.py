"""The order registry and the history pickle every attribute they hold (venue/state.py,
venue/history.py): compiled, their attributes are C slots, which pickle only by the names their
modules list, so a slot left off the list would come back empty after a snapshot."""

from __future__ import annotations

import dataclasses
import pickle

from perpsim.venue import history as history_module
from perpsim.venue import state as state_module
from perpsim.venue.history import History
from perpsim.venue.state import VenueState

from .conftest import make_exchange, random_session


def _slots(obj: object) -> set[str]:
    """The attribute slots an object's compiled class and its bases declare (none for a plain
    class): the data descriptors that take a value (a read-only property does not)."""
    names = set()
    for c in type(obj).__mro__:
        for name, v in vars(c).items():
            if type(v).__name__ in ("getset_descriptor", "member_descriptor") and not name.startswith("__"):
                try:
                    setattr(obj, name, getattr(obj, name))
                except AttributeError:
                    continue
                names.add(name)
    return names


def test_every_slot_is_pickled_by_name() -> None:
    state = VenueState(make_exchange())
    assert _slots(state) <= set(state_module._STATE_FIELDS)
    assert _slots(state.history) <= set(history_module._FIELDS)
    assert isinstance(state.history, History)


def test_a_pickled_state_comes_back_whole() -> None:
    state = VenueState(make_exchange())
    for cmd in random_session(5, 400):
        state.apply(dataclasses.replace(cmd))
    back = pickle.loads(pickle.dumps(state, protocol=5))
    assert back.state_hash() == state.state_hash()
    assert back.history.digest() == state.history.digest()
    for name in state_module._STATE_FIELDS:
        assert type(getattr(back, name)) is type(getattr(state, name)), name
    for name in history_module._FIELDS:
        assert type(getattr(back.history, name)) is type(getattr(state.history, name)), name
    assert back.history.behind == 0  # folded in before it was pickled
