"""The reads ahead of a step's close (see MarketSignals.read_ahead): `Signals` reads the changed
accounts' margins in its catch-ups, off the sequencer's path, and the close takes them as they
are but for the accounts its own command moved."""

from __future__ import annotations

from itertools import compress, repeat
from operator import attrgetter, is_

from perpsim.engine.events import BalanceChanged, PositionChanged
from perpsim.venue.signals.handoff import MARGIN_COMMANDS
from perpsim.venue.signals.market import MarketSignals
from perpsim.venue.signals.reader import EngineReader

_ACCOUNT = attrgetter("account")


class ReadAhead:
    """What `Signals` reads ahead with. It expects of its subclass: `markets` (symbol ->
    MarketSignals), `held`, `rd` and `ahead_any` (some market holds reads ahead since the last
    close; the close clears it)."""

    markets: dict[str, MarketSignals]
    held: dict[int, set[str]]
    rd: EngineReader
    ahead_any: bool

    def stale(self, cmd, events: list) -> None:
        """A step's closing command, before the close: the margins read ahead of the accounts
        it moved predate it, so they are read again, after it, as the close must (its events are
        folded in only after the close); O(min(its events, the accounts read ahead)). With
        none read ahead it allocates nothing: the first allocation after a cascade's command
        pays for the collection of the young objects the engine left (0.2 s after 100k
        liquidations), and that is the engine's cost, not the signals'."""
        if not self.ahead_any:
            return
        read = [m for m in self.markets.values() if m.ahead]
        if len(events) > 16 * sum(len(m.ahead) for m in read):  # a cascade closing a quiet step
            for m in read:
                m.unread |= m.ahead.keys()
            return
        types = list(map(type, events))
        moved = set(map(_ACCOUNT, compress(events, map(is_, types, repeat(BalanceChanged)))))
        moved.update(map(_ACCOUNT, compress(events, map(is_, types, repeat(PositionChanged)))))
        if type(cmd) in MARGIN_COMMANDS:
            moved.add(cmd.account)
        for m in read:
            m.unread |= m.ahead.keys() & moved

    def read_ahead(self) -> None:
        """Read the margins of the accounts changed since their last read (see
        MarketSignals.read_ahead): after a catch-up, against the state the folded events led to."""
        held = self.held
        for m in self.markets.values():
            if m.unread:
                m.read_ahead(self.rd, held)
                self.ahead_any = self.ahead_any or bool(m.ahead)
