"""The sequencer journals a unit's commands together once they applied (Journal.append_many):
the records on disk are the commands that applied, in order, with the bytes `codec.encode`
gives each; a command that faults inside the core is never journaled, and the unit's commands
before it are durable before the state is rebuilt from the journal. Commands made with
`codec.stamped` equal those made by the class's __init__."""

from __future__ import annotations

import asyncio
import dataclasses
import typing

import pytest

from perpsim.engine import commands as C
from perpsim.venue import codec
from perpsim.venue.journal import Journal
from perpsim.venue.sequencer import Sequencer
from perpsim.venue.state import VenueState

from .conftest import SYMBOL, TickClock, U, make_exchange, px, qty


def _replayed(journal: Journal) -> VenueState:
    state = VenueState(make_exchange())
    for _, payload in journal.replay():
        state.apply(codec.decode(payload))
    return state


def _unit() -> list:
    stamp = codec.stamped(C.PlaceOrder)
    makes = [lambda ts, a=a: C.Deposit(ts, a, "USDT", 10_000 * U) for a in (1, 2)]
    for account, side, price in ((1, 0, 50_000), (2, 1, 50_000), (1, 0, 49_990), (2, 1, 50_010)):
        fields = (account, SYMBOL, side, qty("0.01"), px(price), 0, 0, 0, False, 0, 0, f"c{account}{price}")
        makes.append(lambda ts, f=fields: stamp(ts, f))
    return makes


def test_a_unit_is_journaled_in_order_with_the_encoded_bytes(tmp_path) -> None:
    async def run() -> tuple[list, list[bytes]]:
        journal = Journal(tmp_path / "j")
        seq = Sequencer(VenueState(make_exchange()), TickClock(), journal, codec)
        applied: list = []
        seq.after_apply.append(lambda cmd, events: applied.append(cmd))
        seq.start()
        try:
            results = await seq.submit_many(_unit())
        finally:
            await seq.stop()
        assert not any(isinstance(r, BaseException) for r in results)
        assert seq.sequenced == len(applied) == 6
        on_disk = [p for _, p in journal.replay()]
        assert journal.durable_seq == 6
        journal.close()
        return applied, on_disk

    applied, on_disk = asyncio.run(run())
    assert on_disk == [codec.encode(c) for c in applied]
    assert [codec.decode(p) for p in on_disk] == applied


def test_a_core_fault_mid_unit_journals_the_commands_before_it_and_rebuilds(tmp_path) -> None:
    async def run():
        journal = Journal(tmp_path / "j")
        seq = Sequencer(VenueState(make_exchange()), TickClock(), journal, codec)
        faulty = 4  # the third order (after two deposits and two orders) faults inside the core
        market = seq.state.exchange.markets[SYMBOL]
        book, calls = market.book, []

        class FaultyBook:  # the book fails once, right after it took the third order in
            def __getattr__(self, name):
                return getattr(book, name)

            def place(self, *args):
                out = book.place(*args)
                calls.append(1)
                if len(calls) == 3:
                    market.book = book
                    raise RuntimeError("core fault")
                return out

        market.book = FaultyBook()
        seq.rebuild = lambda: _replayed(journal)
        seq.start()
        try:
            results = await seq.submit_many(_unit())
            state = seq.state
        finally:
            await seq.stop()
        assert isinstance(results[faulty], RuntimeError)
        assert [i for i, r in enumerate(results) if isinstance(r, BaseException)] == [faulty]
        on_disk = [codec.decode(p) for _, p in journal.replay()]
        assert seq.sequenced == len(on_disk) == 5
        assert state.exchange.state_hash() == _replayed(journal).exchange.state_hash()
        journal.close()
        return on_disk

    on_disk = asyncio.run(run())
    assert [getattr(c, "client_order_id", None) for c in on_disk] == \
        [None, None, f"c1{50_000}", f"c2{50_000}", f"c2{50_010}"]


@pytest.mark.parametrize("cls", codec.command_classes(), ids=lambda c: c.__name__)
def test_stamped_equals_the_classes_init(cls) -> None:
    hints = typing.get_type_hints(cls)
    values = []
    for i, f in enumerate(dataclasses.fields(cls)):
        kind = hints[f.name]
        values.append(True if kind is bool else f"v{i}" if kind is str else 1_000 + i)
    built, made = codec.stamped(cls)(values[0], tuple(values[1:])), cls(*values)
    assert type(built) is cls and built == made and hash(built) == hash(made)
    assert codec.encode(built) == codec.encode(made)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.ts = 0  # type: ignore[misc]
