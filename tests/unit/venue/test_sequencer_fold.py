"""The real sequencer (journal on disk, group commit) folds the history in while its fsyncs run
and while it idles: no read is needed for the history to catch up, and what it holds is what a
replay of the journal rebuilds."""

from __future__ import annotations

import asyncio
import dataclasses

from perpsim.venue import codec
from perpsim.venue.journal import Journal
from perpsim.venue.recovery import JOURNAL_DIR, recover
from perpsim.venue.sequencer import Sequencer
from perpsim.venue.state import VenueState

from .conftest import make_exchange, random_session

S = 10**9


class SteppingClock:
    """Venue time that moves 1.5 s per command stamped: the session crosses funding times and
    open-interest sample boundaries."""

    def __init__(self) -> None:
        self.t = 10 * S

    def now(self) -> int:
        self.t += 3 * S // 2
        return self.t


async def _run(data_dir) -> tuple[Sequencer, int]:
    journal = Journal(data_dir / JOURNAL_DIR)
    seq = Sequencer(VenueState(make_exchange()), SteppingClock(), journal, codec)
    seq.start()
    try:
        commands = list(random_session(17, 1_200))
        behind = 0
        for i in range(0, len(commands), 40):  # units of 40: several batches, each one fsync
            unit = [lambda ts, c=c: dataclasses.replace(c, ts=ts) for c in commands[i:i + 40]]
            await seq.submit_many(unit)
            behind = max(behind, seq.state.history.behind)
        for _ in range(50):  # the loop idles: the sequencer catches the history up
            if not seq.state.history.behind:
                break
            await asyncio.sleep(0)
        return seq, behind
    finally:
        await seq.stop()
        journal.close()


def test_the_history_catches_up_without_a_read_and_equals_a_replay(tmp_path) -> None:
    seq, _ = asyncio.run(_run(tmp_path))
    assert seq.state.history.behind == 0  # no query ran: the sequencer folded it all in
    replayed, _, _ = recover(tmp_path, lambda: VenueState(make_exchange()))
    assert replayed.state_hash() == seq.state.state_hash()
    assert replayed.history.digest() == seq.state.history.digest()
