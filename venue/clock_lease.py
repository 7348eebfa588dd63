"""The lease on a held venue clock (SandboxService.SetClockMode with `lease_ms`).

A holder that may die (a scenario run over gRPC) holds the clock with a lease, which every
AdvanceClock and every SetClockMode(HELD) renews. A holder killed mid-run renews nothing: once
its lease runs out the clock is released exactly as SetClockMode(WALL) releases it, between
the sequencer's batches (`run_quiet`), so each command is stamped wholly before or wholly after,
and the venue's other users see time run again.

The lease is timed on the event loop's monotonic clock, never on the venue's: it guards the
holder's liveness, not the simulated world. A lapse changes only how later commands are stamped;
the journal carries every command's timestamp, so a replay restamps nothing and reaches the
same state whether, and whenever, a lease lapsed.

Nothing runs per command. One timer handle on the loop is armed for the deadline when the lease
is set; a renewal only moves the deadline (an AdvanceClock per scenario step costs a float
store, not a timer), and a timer firing before the moved deadline re-arms itself for it.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from perpsim.venue.errors import VenueError

if TYPE_CHECKING:
    from perpsim.venue.clock import Clock

log = logging.getLogger("perpsim.venue")

#: the longest lease a hold takes (ms): a day
MAX_LEASE_MS = 24 * 3_600 * 1_000
#: seconds before a lapse refused by the sequencer (overloaded) is tried again
RETRY_S = 1.0

#: the sequencer's `run_quiet`: runs a control between batches, returns its result
RunQuiet = Callable[[Callable[[], Any]], Awaitable[Any]]


class ClockLease:
    """The lease of `clock`'s hold: `ms` milliseconds (0: none) from its last renewal, after
    which the clock is released through `run_quiet`. Used on the venue's event loop only."""

    def __init__(self, clock: Clock, run_quiet: RunQuiet) -> None:
        self._clock = clock
        self._run_quiet = run_quiet
        self.ms = 0  # the lease's length in ms (0: no lease)
        self.lapses = 0  # holds released because their lease ran out
        self._deadline = 0.0  # loop.time() (s) at which the lease runs out unless renewed
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._lapsing: asyncio.Task | None = None  # the lapse waiting for its quiet point

    def set(self, ms: int) -> None:
        """The hold's lease from now: `ms` milliseconds, or none (0: held until released, or
        released). Call it where the clock's mode is set, between batches, after setting it."""
        self._disarm()
        self.ms = ms
        if ms:
            loop = self._loop = asyncio.get_running_loop()
            self._deadline = loop.time() + ms / 1000
            self._arm()

    def renew(self) -> None:
        """Another `ms` from now (an AdvanceClock); nothing without a lease."""
        if self.ms and self._loop is not None:
            self._deadline = self._loop.time() + self.ms / 1000

    def remaining_ms(self) -> int:
        """Milliseconds before the lease runs out unrenewed, rounded up (a running lease never
        shows 0); 0 without a lease."""
        if not self.ms or self._loop is None:
            return 0
        return max(0, math.ceil((self._deadline - self._loop.time()) * 1000))

    def close(self) -> None:
        """Stop timing (the venue shuts down): no lapse runs after this."""
        self._disarm()
        self.ms = 0
        if self._lapsing is not None:
            self._lapsing.cancel()
            self._lapsing = None

    # ---------------------------------------------------------------- the timer

    def _arm(self, at: float | None = None) -> None:
        assert self._loop is not None
        self._disarm()
        self._timer = self._loop.call_at(self._deadline if at is None else at, self._fire)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self) -> None:
        self._timer = None
        loop = self._loop
        if not self.ms or loop is None:
            return
        if loop.time() < self._deadline:  # renewed since armed
            self._arm()
        elif self._lapsing is None or self._lapsing.done():
            self._lapsing = loop.create_task(self._lapse(), name="clock lease lapse")

    async def _lapse(self) -> None:
        try:
            await self._run_quiet(self._release_if_out)
        except VenueError as e:  # overloaded: the quiet point is refused for now
            log.warning("the venue clock's lease ran out but the clock could not be released yet (%s); "
                        "trying again in %g s", e, RETRY_S)
            if self.ms and self._loop is not None:
                self._arm(self._loop.time() + RETRY_S)
        except Exception:  # halted: no batch follows, so no command is stamped held again
            log.exception("the venue clock's lease ran out but the sequencer took no quiet point")

    def _release_if_out(self) -> bool:
        """The quiet point's control: release the clock unless a renewal or a SetClockMode came
        since the timer fired; whether it released it."""
        loop = self._loop
        if not self.ms or loop is None:
            return False  # set anew (0) or released meanwhile
        if loop.time() < self._deadline:
            self._arm()  # renewed meanwhile: time it again
            return False
        ms = self.ms
        self.set(0)
        if not self._clock.held:
            return False
        self._clock.release()
        self.lapses += 1
        log.warning("the venue clock's hold lapsed: nothing renewed its %d ms lease (SetClockMode(HELD) or "
                    "AdvanceClock), so its holder is taken for gone; back on wall-clock time, never behind "
                    "the venue's (now %d ns)", ms, self._clock.venue_ts())
        return True
