"""Groups of an Apply's orders (BatchCommand.group): a group ends at its first refused order,
the orders after it are skipped (not applied), as a client sending the group order by order
would stop at the first refusal.

A refusal is what the engine refuses (a CommandRejected among the order's events) or an order
that never reaches the state (refused before the sequencer, not journaled, a fault in the
core); an order the book takes and rejects (a post-only that would cross, an FOK it cannot
fill) is answered with its rejection but does not end its group, as in process. The unit's
commands are made and applied back to back, so each order's gate, called at its turn, knows how
every earlier order of the unit ended: the sequencer hands each applied command's events to
`applied` (an after-apply hook) before it makes the next one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from perpsim.engine.events import CommandRejected
from perpsim.venue.services.batch_orders import Refused


class Skipped:
    """The outcome of an order its group's earlier refusal skipped."""


SKIPPED = Skipped()


def refusal(outcome: Any, events: list | None) -> bool:
    """Whether a command's outcome ends its group."""
    if events is None:
        return isinstance(outcome, Refused)
    return any(type(e) is CommandRejected for e in events)


class Gates:
    """The makes of a unit's orders, gated by their groups. `groups`: place in the batch -> its
    group; `gone`: the places of grouped orders that will not be made (refused before the
    sequencer)."""

    def __init__(self, groups: dict[int, int], gone: set[int]) -> None:
        self._groups = groups
        self._ended: dict[int, int] = {}  # group -> the place of its first refusal
        for place in gone:
            self._end(groups[place], place)
        self._made: tuple[int, int] | None = None  # (group, place) of the order made last, until applied

    def group_of(self, place: int) -> int | None:
        """The group of the command at `place` (None: it has none)."""
        return self._groups.get(place)

    def make(self, group: int | None, place: int, make: Callable[[int], object], ts: int) -> object | None:
        """The command at `place` (of `group`, from `group_of`) made at `ts` at its turn, or None
        once an earlier order of its group was refused."""
        if self._made is not None:  # the order made last was never applied (`_not_applied`)
            self._end(*self._made)
            self._made = None
        if group is None:
            return make(ts)
        if self._ended.get(group, place) < place:
            return None
        cmd = make(ts)
        self._made = (group, place)
        return cmd

    def applied(self, cmd, events: list) -> None:
        """The sequencer's after-apply hook: how the order made last ended."""
        made, self._made = self._made, None
        if made is not None and CommandRejected in map(type, events):
            self._end(*made)

    def _not_applied(self) -> None:
        """The order made last was never applied (not journaled, a fault): a refusal."""
        if self._made is not None:
            self._end(*self._made)
            self._made = None

    def _end(self, group: int, place: int) -> None:
        self._ended[group] = min(place, self._ended.get(group, place))


def skip_after_refusals(groups: dict[int, int], outcomes: list) -> list:
    """The outcomes with each grouped command after its group's first refusal as skipped (one
    refused before the sequencer too: its group had ended before its turn). `groups`: place in
    the batch -> group, of the grouped commands, in place order."""
    ended: set[int] = set()
    for i, group in groups.items():
        outcome, events = outcomes[i]
        if group in ended:
            outcomes[i] = (SKIPPED, None)
        elif refusal(outcome, events):
            ended.add(group)
    return outcomes
