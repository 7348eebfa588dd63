"""The hand-over buffer of `Signals` (venue.signals.hub): the sequencer's O(1) `handoff` of each
applied command and the `catch_up` that folds the buffer in later, whole or in slices."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from itertools import accumulate, chain
from operator import itemgetter
from typing import Any

from perpsim.engine import commands as C

#: commands that move an account's margin or leverage without a position or wallet event
MARGIN_COMMANDS = frozenset({C.SetLeverage, C.SetMarginMode, C.AdjustIsolatedMargin})
_COMMAND, _EVENTS = itemgetter(0), itemgetter(1)
#: entries whose sizes `_slice` totals at a time
_CHUNK = 512


class HandoffBuffer:
    """What `Signals` takes the sequencer's commands with. It expects of its subclass: `source`,
    `ex`, `attach(ex)` (which empties `buf`), `next_step`, `ts`, `scores`, `wake`, `_score()`,
    `_advance(ts)`, `_fold(ts, events)`, `_paid(accounts)`, `stale(cmd, events)`, `read_ahead()`
    and `saw(events)`."""

    buf: list[tuple[Any, list]]  # (command, its events)
    buf_at: int
    next_step: int
    ts: int
    wake: Callable[[], object] | None
    scores: list
    source: Callable[[], object]
    ex: object

    def attach(self, ex) -> None:
        """Start over on `ex`, emptying `buf` (Signals.attach)."""
        ...
    def _score(self) -> None: ...
    def _advance(self, ts: int) -> None: ...
    def _fold(self, ts: int, events: list) -> None: ...
    def _paid(self, accounts) -> None: ...
    def saw(self, events: list) -> None:
        """Take note of a step's closing command's events before the close reads them (Signals.saw)."""
        ...
    def stale(self, cmd, events: list) -> None:
        """Before a step's close, mark what its closing command made stale (ReadAhead.stale)."""
        ...
    def read_ahead(self) -> None:
        """After a catch-up, read what the next close needs of the accounts changed (ReadAhead.read_ahead)."""
        ...

    def handoff(self, cmd, events: list) -> None:
        """The sequencer's hand-over of an applied command, right after applying it: appended
        to the buffer, folded in later by `catch_up`. A command of a new step Δ first catches up
        and closes the open step here (its reads of the engine must see the state right after
        this command): once per Δ of venue time. That catch-up only folds: what the close needs
        and was not read ahead is read by the close itself (nothing when it closes no step)."""
        if cmd.ts >= self.next_step:
            self.stale(cmd, events)
            self._catch_up(None)
            self.saw(events)
            self._advance(cmd.ts)
        buf = self.buf
        buf.append((cmd, events))
        if self.wake is not None and len(buf) == 1:  # in process (no catch-up task) only the append
            self.wake()

    def catch_up(self, budget: int | None = None) -> bool:
        """Fold in the commands handed over and not yet folded, in order; with `budget`, about
        that many events (a slice: the drain task yields the loop between slices); then read
        ahead what the next step's close needs of the accounts they changed. Whether the buffer
        is now empty."""
        done = self._catch_up(budget)
        self.read_ahead()
        return done

    def _catch_up(self, budget: int | None) -> bool:
        if self.scores:
            self._score()
        buf = self.buf
        if not buf:
            return True
        ex = self.source()
        if ex is not self.ex:  # a reset or a rebuild: start over from the new state, which holds them
            self.attach(ex)
            return True
        if budget is None:
            entries, events = buf, self._events(buf, self.buf_at)
            self.buf, self.buf_at = [], 0
        else:
            entries, events = self._slice(budget)
        self.ts = (entries[-1] if entries else self.buf[0])[0].ts
        self._fold(self.ts, events)
        if not MARGIN_COMMANDS.isdisjoint(map(type, map(_COMMAND, entries))):
            self._paid([cmd.account for cmd, _ in entries if type(cmd) in MARGIN_COMMANDS])
        return not self.buf

    def _slice(self, budget: int) -> tuple[list, list]:
        """Take about `budget` events off the buffer's head: (the entries now fully taken, the
        events taken). A command with more events than that is taken in parts."""
        buf, at = self.buf, self.buf_at
        # i: the head entries whose events (the first one's from `at`) fit in the budget, found
        # from their running totals, a chunk of entries at a time (at C speed)
        i, n, size = 0, -at, len(buf)
        while i < size:
            totals = list(accumulate(map(len, map(_EVENTS, buf[i:i + _CHUNK])), initial=n))
            if totals[-1] <= budget:
                i, n = i + len(totals) - 1, totals[-1]
                continue
            i += bisect_right(totals, budget) - 1  # totals[0] = n fits: the entries after it that do
            break
        if i == 0:  # the head entry alone is over the budget: a part of its events
            events = buf[0][1][at:at + budget]
            self.buf_at = at + budget
            if self.buf_at >= len(buf[0][1]):
                self.buf, self.buf_at = buf[1:], 0
                return buf[:1], events
            return [], events
        entries = buf[:i]
        events = self._events(entries, self.buf_at)
        self.buf, self.buf_at = buf[i:], 0
        return entries, events

    @staticmethod
    def _events(entries: list, at: int) -> list:
        """The entries' events in order (the first from index `at`), as one list."""
        if len(entries) == 1:
            events = entries[0][1]
            return events[at:] if at else events
        out = list(chain.from_iterable(map(_EVENTS, entries)))
        return out[at:] if at else out

