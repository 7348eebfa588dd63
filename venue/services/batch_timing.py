"""The makes of an Apply's unit (venue.services.batch_unit) as the sequencer calls them.

The unit's commands all run at its first one's time (or at the clock a command of the unit moved
on to): the engine's time-driven work (marks, funding samples, expiries) runs once for the unit,
as for the commands of one step in process. A grouped order is made only while its group has no
refusal (venue.services.batch_groups.Gates). Each command's make is wrapped once, by one
`functools.partial` of a method here: one Python call per command on the sequencer's path.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from perpsim.venue.services.batch_groups import Gates

Make = Callable[[int], object]


class UnitMakes:
    """The unit's makes, at the unit's time and gated. `venue`: the Venue (its state's exchange
    clock is read at each command's turn); `applied()`: commands the venue applied so far."""

    def __init__(self, venue: Any, applied: Callable[[], int], gates: Gates | None) -> None:
        self._venue, self._applied, self._gates = venue, applied, gates
        self.ts = 0  # the time the sequencer gave the unit's first command
        self.before = (0, 0)  # commands the venue applied, and its next order id, before the unit

    def wrap(self, makes: list[Make], places: list[int]) -> list[Make]:
        """`makes` (of the commands at `places` in the batch, in order; at least one) as the
        sequencer is to call them."""
        partial, gates = functools.partial, self._gates
        first = partial(self._first, makes[0], None if gates is None else gates.group_of(places[0]), places[0])
        if gates is None:
            return [first, *[partial(self._at, m) for m in makes[1:]]]
        group_of, gate = gates.group_of, gates.make
        return [first, *[partial(self._gated, gate, m, group_of(p), p)
                         for m, p in zip(makes[1:], places[1:], strict=True)]]

    def _first(self, make: Make, group: int | None, place: int, ts: int) -> object | None:
        exchange = self._venue.state.exchange
        self.before = (self._applied(), exchange.next_order_id)
        self.ts = ts
        return make(ts) if self._gates is None else self._gates.make(group, place, make, ts)

    def _at(self, make: Make, ts: int) -> object:
        return make(max(self.ts, self._venue.state.exchange.ts))

    def _gated(self, gate: Callable[..., object | None], make: Make, group: int | None, place: int,
               ts: int) -> object | None:
        return gate(group, place, make, max(self.ts, self._venue.state.exchange.ts))
