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
Imported only over gRPC.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from perpsim.clients.errors import from_rpc_error
from perpsim.sim.grpc_reads import bearer
from perpsim.v1 import sandbox_pb2, sandbox_pb2_grpc

HELD, WALL = sandbox_pb2.CLOCK_MODE_HELD, sandbox_pb2.CLOCK_MODE_WALL
#: the held run starts at a multiple of this venue time (ns): every engine time grid divides it
ALIGN_NS = 60 * 10**9


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

    def _call(self, rpc: str, request: Any) -> Any:
        self._tally(rpc)
        try:
            return getattr(self._stub, rpc)(request, timeout=self.timeout, metadata=self._admin)
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None

    def hold(self, align_ns: int = ALIGN_NS) -> int:
        """Hold the venue clock (it may be held already: a venue started with --held-clock) and
        move it on to the next multiple of `align_ns` (0: not moved), unless on one; the venue's
        time then, in ns."""
        r = self._call("SetClockMode", sandbox_pb2.SetClockModeRequest(mode=HELD))
        self.restore_to = r.previous_mode if r.previous_mode != HELD else None
        now = r.now_ns
        if align_ns and now % align_ns:
            advance = sandbox_pb2.AdvanceClockRequest(advance_ns=align_ns - now % align_ns)
            now = self._call("AdvanceClock", advance).now_ns
        self.held_at = now
        return now

    def restore(self) -> None:
        """The clock back in the mode it had before `hold` (nothing if it was held already)."""
        mode, self.restore_to = self.restore_to, None
        if mode is not None:
            self._call("SetClockMode", sandbox_pb2.SetClockModeRequest(mode=mode))

    def venue_state(self) -> Any:
        """GetVenueStateResponse: the venue's time, state hash, journal sequence, clock mode."""
        return self._call("GetVenueState", sandbox_pb2.GetVenueStateRequest())
