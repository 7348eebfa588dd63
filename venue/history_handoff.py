"""How the history (venue/history.py) takes the sequencer's commands: handed over in O(1) and
folded in later, in order, by `catch_up`.

`History.handoff(cmd, events, ts)` is called by `VenueState.apply` right after each command. An
order-entry command is only appended to a buffer; `catch_up()` folds the buffer in. It runs
while the sequencer waits for its journal fsync and when it is idle (venue/sequencer.py),
before every query (venue/history_query.py) and before a snapshot pickles the history, so
every read sees every command applied before it.

What a command's fold reads besides its events must not have changed by the time it is folded
in. Its events, its time (`ts`, taken at the handoff), the history's own state and the order
registry's entries (see PENDING_EVENTS) do not. The exchange's state does: so a command whose
fold reads it is folded in at once, after the buffer, at its handoff (as `observe` does):

  - a conditional order placed (its terms are read from the live conditional order);
  - a liquidation, a forced order's fill or auto-deleveraging (the position side of a forced
    fill and the positions the insurance fund and the counterparties moved);
  - a position change that is not one of the two of a book fill (the engine books a fill's
    taker position, then its maker position, each on its order's position side; any other
    change is read from the state);
  - a command at or past a funding time (the settled rates and marks are read).

So the history is the same whenever a command is folded in: live, in a replay, after a
snapshot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cython

from perpsim.engine.book_types import BookEvent
from perpsim.engine.events import AutoDeleveraged, ConditionalEvent, Liquidation, OrderEvent, PositionChanged
from perpsim.model.enums import EventKind

#: Events waiting to be folded in, at most (more are folded in at the next handoff). Small:
#: what waits is kept alive, so the collector counts it towards its youngest generation's
#: threshold (700 objects) and scans it, promoting it to older generations. Measured in process
#: on crossing orders: a buffer of 20,000 events cost 8 µs an order in collections; 512 events
#: (about 700 objects with their commands) set off a collection nearly every time it filled,
#: 628 per 100,000 orders; 128 set off 51. Far below the registry's COMPLETED_KEPT
#: (venue/state.py): no order a waiting command names can have left the registry when the
#: command is folded in.
PENDING_EVENTS = 128

_FILL = int(EventKind.FILL)

# The engine's events are NamedTuples: the history reads them by position (compiled, an item of
# a tuple is a bounds check where an attribute costs a type lookup and a descriptor call).
_EVENT, _LIQUIDATION = OrderEvent._fields.index("event"), OrderEvent._fields.index("liquidation")
_KIND = BookEvent._fields.index("kind")


def event_field(event: object, i: int):
    """Field `i` of an engine event (a NamedTuple: a TypeError for anything but a tuple)."""
    if not isinstance(event, tuple):
        raise TypeError(f"an engine event is a NamedTuple, not {type(event).__name__}")
    return cython.cast(tuple, event)[i]


class HistoryHandoff:
    """The hand-over side of `History` (see the module docstring): the first of its compiled
    parts (venue/history_handoff.pxd), each a C class extending the one before."""

    if TYPE_CHECKING:  # the C slots (venue/history_handoff.pxd), set by History.__init__
        _pending: list  # command, events, ts of each command handed over, flat (no tuple per command)
        _pending_events: int
        _funding_due: int | None

    def handoff(self, cmd, events: list, ts: int) -> None:
        """Take an applied command with its events; `ts`: the exchange's time right after it (ns)."""
        n = len(events)
        due = self._funding_due
        if (due is not None and ts >= due) or n > PENDING_EVENTS or _reads_state(events):
            self.catch_up()
            self._fold(cmd, events, ts)
            return
        if self._pending_events + n > PENDING_EVENTS:
            self.catch_up()
        pending = self._pending
        pending.append(cmd)
        pending.append(events)
        pending.append(ts)
        self._pending_events += n

    @property
    def behind(self) -> int:
        """Commands handed over and not yet folded in."""
        return len(self._pending) // 3

    def catch_up(self, budget: int | None = None) -> bool:
        """Fold in the commands handed over, in order; with `budget`, about that many events'
        worth (whole commands, at least one). Whether none is left."""
        pending = self._pending
        if not pending:
            return True
        if budget is None or budget >= self._pending_events:
            take = len(pending)
        else:  # (in steps of 3: command, events, ts)
            take, n = 0, 0
            while take < len(pending) and (n < budget or take == 0):
                n += len(pending[take + 1])
                take += 3
        batch = pending if take == len(pending) else pending[:take]
        # taken off before folding: a fold that raises must not be folded in twice
        self._pending = [] if take == len(pending) else pending[take:]
        for i in range(1, take, 3):
            self._pending_events -= len(batch[i])
        for i in range(0, take, 3):
            self._fold(batch[i], batch[i + 1], batch[i + 2])
        return not self._pending

    def _fold(self, cmd, events: list, ts: int) -> None:
        """Fold in one command at `ts` (History's)."""
        raise NotImplementedError


def _reads_state(events: list) -> bool:
    """Whether folding these events in reads the exchange's state (see the module docstring)."""
    after_fill = 2  # position changes since the last book fill (2: none may follow)
    for e in events:
        t = type(e)
        if t is OrderEvent:
            if event_field(e, _LIQUIDATION):
                return True
            after_fill = 0 if event_field(event_field(e, _EVENT), _KIND) == _FILL else 2
        elif t is PositionChanged:
            after_fill += 1
            if after_fill > 2:
                return True
        elif t is ConditionalEvent:
            if e.status == "NEW":
                return True
        elif t is Liquidation or t is AutoDeleveraged:
            return True
    return False
