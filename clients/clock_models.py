"""The venue clock's modes as the client shows them (SandboxService.SetClockMode, GetVenueState).

"wall": wall-clock time plus every AdvanceClock (the default); "held": the venue's own time, its
last command's, moved only by AdvanceClock, so a run of calls reaches the same state whatever
the wall-clock time between them; a hold with a lease goes back to "wall" once that long passes
with no AdvanceClock or hold renewing it. A value the client does not know shows as its number.
"""

from __future__ import annotations

from dataclasses import dataclass

from perpsim.clients.models import _Model, enum_name
from perpsim.v1 import sandbox_pb2

HELD = "held"
WALL = "wall"


def clock_mode_name(value: int) -> str:
    """CLOCK_MODE_HELD -> "held", CLOCK_MODE_WALL -> "wall", CLOCK_MODE_UNSPECIFIED -> "unspecified"."""
    return enum_name(sandbox_pb2.ClockMode, value)


def clock_mode_value(held: bool) -> sandbox_pb2.ClockMode:
    """The wire value of a mode: True -> CLOCK_MODE_HELD, False -> CLOCK_MODE_WALL."""
    return sandbox_pb2.CLOCK_MODE_HELD if held else sandbox_pb2.CLOCK_MODE_WALL


@dataclass(frozen=True, slots=True)
class ClockModeChange(_Model):
    """What `set_clock_mode` did: the mode now and before the call ("held" or "wall"; pass
    `previous_mode == "held"` back to restore it), the venue's time, its last command's, in
    ns since the Unix epoch, and the hold's lease in ms now and before the call (0: none, held
    until released; always 0 on wall time): unrenewed by an `advance_clock` or another hold for
    that long, a hold lapses back to wall time."""

    mode: str
    previous_mode: str
    now_ns: int
    lease_ms: int = 0
    previous_lease_ms: int = 0

    @property
    def changed(self) -> bool:
        """Whether the call changed the mode (False: it was in that mode already)."""
        return self.mode != self.previous_mode

    @classmethod
    def from_pb(cls, r) -> ClockModeChange:
        """From a `SetClockModeResponse`: the modes by `clock_mode_name` ("held", "wall")."""
        return cls(clock_mode_name(r.mode), clock_mode_name(r.previous_mode), r.now_ns, r.lease_ms,
                   r.previous_lease_ms)
