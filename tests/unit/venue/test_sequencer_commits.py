"""Where the real sequencer's group commits run (a real journal on disk): a lone unary caller's
command is fsynced on the loop only once it has been alone for LONE_STREAK batches in a row;
with several callers in flight, and for a unit of several commands, the fsync runs on the commit
thread. Either way every acknowledged command is durable before its caller hears back."""

from __future__ import annotations

import asyncio
import threading

from perpsim.engine import commands as C
from perpsim.venue import codec, group_commit
from perpsim.venue.journal import Journal
from perpsim.venue.recovery import JOURNAL_DIR
from perpsim.venue.sequencer import Sequencer
from perpsim.venue.state import VenueState

from .conftest import SYMBOL, TickClock, U, make_exchange, px, qty


def _deposit(account: int):
    return lambda ts: C.Deposit(ts, account, "USDT", 1_000 * U)


def _order(account: int, price: int):
    return lambda ts: C.PlaceOrder(ts, account, SYMBOL, 1, qty("0.01"), px(price))


async def _session(data_dir, calls) -> tuple[list[str], list[int], Journal]:
    """Run `calls(seq)` against a started sequencer; the thread of each fsync in order, and the
    journal's durable seq each caller saw on its acknowledgment."""
    journal = Journal(data_dir / JOURNAL_DIR)
    seq = Sequencer(VenueState(make_exchange()), TickClock(), journal, codec)
    threads: list[str] = []
    real = journal._sync

    def sync(fd: int) -> None:  # the real fdatasync, its thread noted
        threads.append(threading.current_thread().name)
        real(fd)

    journal._sync = sync
    seq.start()
    seen: list[int] = []
    try:
        await calls(seq, seen)
    finally:
        await seq.stop()
    return threads, seen, journal


def test_a_lone_caller_is_fsynced_on_the_loop_only_after_a_streak(tmp_path) -> None:
    async def calls(seq, seen):
        for account in range(1, 8):  # one caller, one command at a time
            await seq.submit(_deposit(account))
            seen.append(seq.journal.durable_seq)

    threads, seen, journal = asyncio.run(_session(tmp_path, calls))
    loop = threading.main_thread().name
    streak = group_commit.LONE_STREAK
    assert loop not in threads[:streak]  # not alone long enough yet: the commit thread
    assert threads[streak:] == [loop] * (7 - streak)
    assert seen == list(range(1, 8))  # each acknowledged after its own record was fsynced
    journal.close()


def test_concurrent_callers_and_units_are_fsynced_off_the_loop(tmp_path) -> None:
    async def calls(seq, seen):
        for account in range(1, 6):  # a lone caller first: the loop's fsync is earned
            await seq.submit(_deposit(account))
        for round_ in range(3):  # then four callers at once, three times
            results = await asyncio.gather(*(seq.submit(_order(a, 60_000 - round_)) for a in range(1, 5)))
            assert all(isinstance(r, list) for r in results)
            seen.append(seq.journal.durable_seq)
        await seq.submit(_deposit(1))  # alone again, right after many: not on the loop yet
        seen.append(seq.journal.durable_seq)
        await seq.submit_many([_deposit(2), _deposit(3)])  # a unit of two: never on the loop
        seen.append(seq.journal.durable_seq)

    threads, seen, journal = asyncio.run(_session(tmp_path, calls))
    loop = threading.main_thread().name
    lone = threads[:5]
    assert lone[group_commit.LONE_STREAK:] == [loop] * (5 - group_commit.LONE_STREAK)
    assert loop not in threads[5:]  # the concurrent rounds, the lone call after them, the unit
    assert seen[-1] == journal.last_seq == journal.durable_seq == 5 + 3 * 4 + 1 + 2
    journal.close()
