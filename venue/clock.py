"""The venue clock: the time (ns since the Unix epoch) the sequencer stamps each command with.

Two modes:

- wall (the default): wall-clock time plus an offset the sandbox's AdvanceClock adds to;
- held: the venue's own time, its last command's (`venue_ts`). Commands then all carry that
  time, and it moves only when AdvanceClock moves it, so a run of commands reaches the same
  state whatever the wall-clock gaps between its calls (a scenario over gRPC replays as in
  process).

Either way the sequencer never stamps a command below the venue's time, so time never goes
backwards: not across a hold, a release or a restart (the journal's commands carry their times;
a held venue restarted resumes from its last one).

A hold may carry a lease (venue.clock_lease): unrenewed for its length, the clock is released,
so a holder that died does not leave the venue's time frozen. A restart starts with none.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from perpsim.venue.clock_lease import ClockLease


def _no_venue() -> int:
    """The venue time of a clock told none: 0, below any command's (the sequencer's floor holds)."""
    return 0


class Clock:
    """Wall-clock time (ns) plus an offset the sandbox can advance; or, held, the venue's time.

    `now` is a plain attribute swapped on a mode change (the sequencer reads it once a batch:
    no mode test per command)."""

    def __init__(self, venue_ts: Callable[[], int] | None = None, held: bool = False) -> None:
        """`venue_ts()`: the venue's current time in ns (its exchange's last command's); `held`:
        start held."""
        self.offset = 0  # ns added to the wall clock (AdvanceClock's, and a restart's catch-up)
        self.venue_ts = venue_ts or _no_venue
        self.held = False
        self.now: Callable[[], int] = self._wall
        # the hold's lease, made by the sandbox's first SetClockMode (venue.services.sandbox)
        self.lease: ClockLease | None = None
        if held:
            self.hold()

    def _wall(self) -> int:
        return time.time_ns() + self.offset

    def _venue(self) -> int:
        return self.venue_ts()

    def hold(self) -> bool:
        """Stamp every later command with the venue's time, moved only by AdvanceClock; whether
        the clock was held already."""
        was, self.held = self.held, True
        self.now = self._venue
        return was

    def release(self) -> bool:
        """Back to wall-clock time plus the offset, never behind the venue's time (the offset
        grows to cover it when the venue was advanced past the wall clock); whether the clock
        was held."""
        was, self.held = self.held, False
        self.offset = max(self.offset, self.venue_ts() - time.time_ns())
        self.now = self._wall
        return was

    def renew_lease(self) -> None:
        """The hold's holder is alive (an AdvanceClock): its lease runs from now again; nothing
        without a lease."""
        if self.lease is not None:
            self.lease.renew()

    def lease_left_ms(self) -> int:
        """Milliseconds before the hold's lease lapses unrenewed (rounded up); 0 without one."""
        return self.lease.remaining_ms() if self.lease is not None else 0

    def set_held(self, held: bool) -> bool:
        """Hold or release; whether the clock was held before."""
        return self.hold() if held else self.release()

    def advanced(self, ns: int) -> None:
        """The sandbox moved the venue's time on by `ns`: wall-clock time keeps the move too."""
        self.offset += ns
