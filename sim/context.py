"""What an agent sees during a run: the venue, the clock, the index and its volatility."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from perpsim.engine.events import CommandRejected
from perpsim.sim.venues import SimVenue


@dataclass
class Context:
    """Shared state of one run, handed to every agent at setup and at each step.

    ts: the current command timestamp (ns); step: 0 during setup, then 1..steps; dt_s: seconds
    per step; index: the index of each market this step (ticks); index_history: the index at
    every step so far (ticks); vol_bps: an EWMA of the absolute one-step index return (bps);
    leverage_of: the leverage each leveraged account opened with (for the metrics' buckets).
    """

    venue: SimVenue
    submit: Callable[[object], list]
    dt_s: float
    ts: int = 0
    step: int = 0
    index: dict[str, int] = field(default_factory=dict)
    index_history: dict[str, list[int]] = field(default_factory=dict)
    vol_bps: dict[str, float] = field(default_factory=dict)
    leverage_of: dict[int, int] = field(default_factory=dict)
    next_account: int = 1
    #: sends groups as `submit_groups` does, in fewer calls (a venue over gRPC); None: one by one
    send_groups: Callable[[list[list]], list[list[list]]] | None = None

    def new_accounts(self, n: int) -> range:
        """`n` fresh account numbers (contiguous)."""
        first = self.next_account
        self.next_account += n
        accounts = range(first, first + n)
        reserve = getattr(self.venue, "reserve", None)
        if reserve is not None:  # over gRPC: the venue accounts made together, not one call at a time
            reserve(accounts)
        return accounts

    def submit_groups(self, groups: list[list]) -> list[list[list]]:
        """Send groups of commands: each group's in order, a group ending at its first refused
        command (the rest of it is not sent); the events of each sent command, per group."""
        if self.send_groups is not None:
            return self.send_groups(groups)
        out = []
        for group in groups:
            sent: list[list] = []
            for cmd in group:
                sent.append(self.submit(cmd))
                if rejection(sent[-1]) is not None:
                    break
            out.append(sent)
        return out

    def index_ago(self, symbol: str, seconds: float) -> int:
        """The index `seconds` ago (ticks), or the oldest one known."""
        history = self.index_history[symbol]
        back = round(seconds / self.dt_s)
        return history[max(0, len(history) - 1 - back)]


def rejection(events: list) -> CommandRejected | None:
    """The CommandRejected among a command's events, or None if it was accepted."""
    for e in events:
        if type(e) is CommandRejected:
            return e
    return None
