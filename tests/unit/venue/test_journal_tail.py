"""JournalTail: the durable records of a journal another object appends to, in order, as it grows."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from perpsim.venue.journal import Journal
from perpsim.venue.journal_format import JournalCorrupt, JournalError
from perpsim.venue.journal_tail import JournalTail

from .journal_kit import append_upto


def payload(seq: int) -> bytes:
    return f"record {seq} ".encode() * (seq % 5 + 1)


def grow(journal: Journal, upto: int) -> None:
    append_upto(journal, upto, payload, every=3)


def test_reads_from_any_seq_across_segments_as_the_journal_grows(tmp_path: Path) -> None:
    with Journal(tmp_path / "j", segment_bytes=300) as journal:
        grow(journal, 40)
        assert len(journal.segment_paths()) > 3
        with JournalTail(tmp_path / "j", 7) as tail:
            assert list(tail.read(20)) == [(s, payload(s)) for s in range(7, 21)]
            assert tail.next_seq == 21
            assert list(tail.read(40)) == [(s, payload(s)) for s in range(21, 41)]
            assert list(tail.read(45)) == []  # not written yet: nothing, and it waits there
            grow(journal, 60)
            assert [s for s, _ in tail.read(45)] == list(range(41, 46))
            assert [s for s, _ in tail.read(60)] == list(range(46, 61))


def test_stops_where_the_caller_stops_and_goes_on_from_there(tmp_path: Path) -> None:
    with Journal(tmp_path / "j", segment_bytes=300) as journal:
        grow(journal, 30)
        with JournalTail(tmp_path / "j", 1) as tail:
            for seq, _ in tail.read(30):
                if seq == 12:
                    break
            assert [s for s, _ in tail.read(30)] == list(range(13, 31))


def test_a_pruned_start_is_refused_and_a_renamed_folder_is_still_read(tmp_path: Path) -> None:
    with Journal(tmp_path / "j", segment_bytes=300) as journal:
        grow(journal, 40)
        journal.prune(20)
        first = journal.first_seq
        assert first > 1
        with pytest.raises(JournalError, match="no segment holds seq 1"):
            JournalTail(tmp_path / "j", 1)
        tail = JournalTail(tmp_path / "j", first)
    os.rename(tmp_path / "j", tmp_path / "archived")  # what a sandbox reset does to the folder
    with Journal(tmp_path / "j") as other:  # a new journal where the old one was
        grow(other, 50)
        assert [s for s, p in tail.read(40) if p == payload(s)] == list(range(first, 41))
    tail.close()


def test_a_durable_record_that_does_not_check_is_corruption(tmp_path: Path) -> None:
    with Journal(tmp_path / "j") as journal:
        grow(journal, 10)
        seg = journal.segment_paths()[0]
    data = bytearray(seg.read_bytes())
    data[-3] ^= 0xFF  # in record 10's payload
    seg.write_bytes(bytes(data))
    with JournalTail(tmp_path / "j", 1) as tail:
        assert [s for s, _ in tail.read(9)] == list(range(1, 10))
        with pytest.raises(JournalCorrupt):
            list(tail.read(10))
