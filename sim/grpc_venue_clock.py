"""The venue clock of a scenario run over gRPC (GrpcVenue), through the SandboxService.

The run holds the clock (SetClockMode) before its first command: every command is then stamped
with the venue's own time, which moves only by the run's AdvanceClock commands (made from the
scenario's timestamps), so the run's commands meet the same times, hence the same marks,
samples and liquidations, whatever the wall-clock time between its calls. The held time is
first moved on to the next whole minute (ALIGN_NS): the engine's time grids (the mark's and the
funding premium's 5 s samples, Hyperliquid's 3 s marks, the 30 s ADL window, the signals'
seconds) sit on multiples of their period, so the run's steps cross them where the in-process
run's do from ts 0 (the marks are then the in-process run's, step by step; a move of at most a
minute, which crosses a funding time only if one falls within it). At the end the clock is put
back in the mode it had.

The hold carries a lease (LEASE_MS): a run that dies (killed, crashed) stops renewing it, and the
venue goes back to wall-clock time by itself within the lease instead of staying frozen for its
other users. Each step's AdvanceClock renews it on the venue; so does the run itself, with
another hold, at its first call once RENEW_S has passed since the last (a setup of thousands of
accounts, or a scenario whose steps share one time, may go that long with no AdvanceClock). A
venue held before the run with no lease (`perpsim serve --held-clock`) is left so: the run
takes no lease of it.
Imported only over gRPC.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import grpc

from perpsim.clients.errors import from_rpc_error
from perpsim.sim.grpc_reads import bearer
from perpsim.v1 import sandbox_pb2, sandbox_pb2_grpc

HELD, WALL = sandbox_pb2.CLOCK_MODE_HELD, sandbox_pb2.CLOCK_MODE_WALL
#: the held run starts at a multiple of this venue time (ns): every engine time grid divides it
ALIGN_NS = 60 * 10**9
#: the run's hold lapses this long (ms of the venue's monotonic clock) after its last renewal: how
#: long the venue stays frozen after the run died. Steps take milliseconds and every call renews
#: once RENEW_S has passed, so a live run lapses only if one call (its 30 s deadline at most)
#: or a stall between calls outlasts LEASE_MS - RENEW_S.
LEASE_MS = 30_000
#: seconds after a renewal (the hold's or one of these) after which the run's next call renews
#: the lease again: a third of it, so a live run's lease never has less than 20 s left
RENEW_S = LEASE_MS / 1000 / 3


class ClockLapsed(RuntimeError):
    """The run's hold of the venue clock was lost mid-run (its lease lapsed, or someone released
    the clock): commands were stamped with wall-clock time, so the run is no longer reproducible."""


class RunClock:
    """The venue clock's mode for a run, and the venue state at its end, on `channel` with the
    admin's key (deadlines of `timeout` seconds); each call counted by `tally(rpc)`."""

    def __init__(self, channel: grpc.Channel, admin_key: str, timeout: float, tally: Callable[[str], None]) -> None:
        self._stub = sandbox_pb2_grpc.SandboxServiceStub(channel)
        self._admin = bearer(admin_key)
        self.timeout = timeout
        self._tally = tally
        # the mode to put back once the run ends (None: nothing to do)
        self.restore_to: sandbox_pb2.ClockMode | None = None
        self.held_at = 0  # the venue's time (ns) when the run held its clock
        self.lease_ms = 0  # the lease the run renews (0: none: not held by the run, or held before it)
        self._renewed = 0.0  # time.monotonic() of the last renewal

    def _call(self, rpc: str, request: Any) -> Any:
        self._tally(rpc)
        try:
            return getattr(self._stub, rpc)(request, timeout=self.timeout, metadata=self._admin)
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None

    def hold(self, align_ns: int = ALIGN_NS) -> int:
        """Hold the venue clock (it may be held already: a venue started with --held-clock) and
        move it on to the next multiple of `align_ns` (0: not moved), unless on one; the venue's
        time then, in ns. The hold is leased (LEASE_MS) unless the venue was held with no lease
        already: that hold is the venue's configuration and stays as it was."""
        self._renewed = time.monotonic()
        r = self._call("SetClockMode", sandbox_pb2.SetClockModeRequest(mode=HELD, lease_ms=LEASE_MS))
        self.restore_to = r.previous_mode if r.previous_mode != HELD else None
        if r.previous_mode == HELD and not r.previous_lease_ms:  # held for good before: left for good
            r = self._call("SetClockMode", sandbox_pb2.SetClockModeRequest(mode=HELD))
        self.lease_ms = r.lease_ms
        now = r.now_ns
        if align_ns and now % align_ns:
            advance = sandbox_pb2.AdvanceClockRequest(advance_ns=align_ns - now % align_ns)
            now = self._call("AdvanceClock", advance).now_ns
        self.held_at = now
        return now

    def keep_alive(self) -> None:
        """Renew the hold's lease if RENEW_S passed since it was last renewed (called before each
        of the run's calls; nothing without a lease). Raises ClockLapsed if the clock was not held
        any more: the run's later commands would not meet the times it holds."""
        if not self.lease_ms or time.monotonic() - self._renewed < RENEW_S:
            return
        self._renewed = time.monotonic()  # first: this call's own tally comes back here
        r = self._call("SetClockMode", sandbox_pb2.SetClockModeRequest(mode=HELD, lease_ms=self.lease_ms))
        if r.previous_mode != HELD:
            self.lease_ms = 0
            raise ClockLapsed("the venue clock was released during the run (its lease lapsed, or another caller "
                              "released it): commands since were stamped with wall-clock time")

    def restore(self) -> None:
        """The clock back in the mode it had before `hold` (nothing if it was held already: a lease
        the run took of another's leased hold lapses by itself)."""
        self.lease_ms = 0
        mode, self.restore_to = self.restore_to, None
        if mode is not None:
            self._call("SetClockMode", sandbox_pb2.SetClockModeRequest(mode=mode))

    def venue_state(self) -> Any:
        """GetVenueStateResponse: the venue's time, state hash, journal sequence, clock mode."""
        return self._call("GetVenueState", sandbox_pb2.GetVenueStateRequest())
