"""The journal: group commit, replay, rotation, pruning, torn tails truncated, corruption refused,
and acknowledged records surviving SIGKILL of a real writer process."""

from __future__ import annotations

import struct
import threading
import zlib
from pathlib import Path

import pytest

from perpsim.venue.journal import Journal
from perpsim.venue.journal_format import HEADER_SIZE, MAX_PAYLOAD, RECORD_OVERHEAD, JournalCorrupt, JournalError

from .journal_kit import crash_payload, frame, kill_a_writer, payload, the_segment


def fill(path: Path, n: int, batch: int = 5, **kw) -> list[int]:
    """A journal with records 1..n of payload(seq), committed in batches; closed."""
    with Journal(path, **kw) as j:
        seqs = []
        for s in range(1, n + 1):
            seqs.append(j.append(payload(s)))
            if s % batch == 0:
                j.commit()
        j.commit()
    return seqs


def records(path: Path, from_seq: int = 1, **kw) -> list[tuple[int, bytes]]:
    with Journal(path, **kw) as j:
        return list(j.replay(from_seq))


def record_offsets(data: bytes) -> list[int]:
    """Start offsets of the records of one segment's bytes."""
    out, off = [], HEADER_SIZE
    while off < len(data):
        out.append(off)
        (length,) = struct.unpack_from("<I", data, off)
        off += 8 + length
    return out


# ---------------------------------------------------------------------------- basics


def test_append_commit_replay(tmp_path):
    with Journal(tmp_path / "j") as j:
        assert (j.last_seq, j.durable_seq, j.open_report.created) == (0, 0, True)
        assert [j.append(payload(s)) for s in (1, 2, 3)] == [1, 2, 3]
        assert j.durable_seq == 0 and j.pending == 3
        assert list(j.replay()) == []  # nothing durable yet
        assert j.commit() == 3
        assert j.commit() == 3  # nothing buffered: no write
        assert j.append_many([payload(4), payload(5)]) == 5
        assert j.append_many([]) == 5
        assert j.commit() == 5
        assert list(j.replay()) == [(s, payload(s)) for s in range(1, 6)]
        assert list(j.replay(4)) == [(4, payload(4)), (5, payload(5))]
        assert list(j.replay(6)) == []
    with Journal(tmp_path / "j") as j:
        r = j.open_report
        assert (r.records, r.first_seq, r.last_seq, r.truncated_bytes, r.created) == (5, 1, 5, 0, False)
        assert j.append(b"") == 6  # empty payloads are records too
        j.commit()
    assert records(tmp_path / "j")[-1] == (6, b"")


def test_record_layout(tmp_path):
    with Journal(tmp_path / "j") as j:
        j.append(b"hello")
        j.commit()
    data = the_segment(tmp_path / "j").read_bytes()
    assert data[:8] == b"PSJRNL\x00\x01" and struct.unpack_from("<Q", data, 8) == (1,)
    length, crc, seq = struct.unpack_from("<IIQ", data, HEADER_SIZE)
    assert (length, seq) == (8 + 5, 1)
    assert crc == zlib.crc32(data[HEADER_SIZE + 8:])
    assert data[HEADER_SIZE + RECORD_OVERHEAD:] == b"hello"


def test_group_commit_durability(tmp_path):
    """Committed records are there after reopening; appended but uncommitted ones are not, and
    their seqs are given out again."""
    path = tmp_path / "j"
    with Journal(path) as j:
        for s in range(1, 101):
            j.append(payload(s))
        assert j.commit() == 100
        for s in range(101, 131):
            j.append(payload(s))
        assert j.last_seq == 130 and j.durable_seq == 100
    # closed without commit (as a crash before the fsync): 101..130 were never acknowledged
    with Journal(path) as j:
        assert j.last_seq == j.durable_seq == 100
        assert j.append(b"again") == 101
        j.commit()
    got = records(path)
    assert [s for s, _ in got] == list(range(1, 102))
    assert got[:100] == [(s, payload(s)) for s in range(1, 101)] and got[100] == (101, b"again")


def test_discard_pending(tmp_path):
    with Journal(tmp_path / "j") as j:
        j.append(b"a")
        j.commit()
        j.append(b"b")
        j.append(b"c")
        assert j.discard_pending() == 2
        assert j.append(b"d") == 2
        j.commit()
        assert list(j.replay()) == [(1, b"a"), (2, b"d")]


def test_commit_in_another_thread_while_appending(tmp_path):
    """The server's pattern: appends on one thread, commits from an executor thread."""
    path = tmp_path / "j"
    stop = threading.Event()
    with Journal(path) as j:
        committed = []

        def committer():
            while not stop.is_set():
                committed.append(j.commit())
            committed.append(j.commit())

        t = threading.Thread(target=committer)
        t.start()
        for s in range(1, 3001):
            assert j.append(payload(s)) == s
        stop.set()
        t.join()
        assert committed == sorted(committed) and committed[-1] == 3000
    assert records(path) == [(s, payload(s)) for s in range(1, 3001)]


def test_limits_and_refusals(tmp_path):
    with Journal(tmp_path / "j") as j:
        with pytest.raises(ValueError, match="exceeds"):
            j.append(b"x" * (MAX_PAYLOAD + 1))
        with pytest.raises(JournalError, match="another process"):
            Journal(tmp_path / "j")  # one writer at a time
    with pytest.raises(JournalError, match="closed"):
        j.append(b"x")
    with pytest.raises(ValueError):
        Journal(tmp_path / "k", first_seq=0)


def test_first_seq_of_a_new_journal(tmp_path):
    with Journal(tmp_path / "j", first_seq=1001) as j:
        assert j.append(b"x") == 1001
        j.commit()
    assert records(tmp_path / "j", 1001) == [(1001, b"x")]


def test_a_failed_fsync_poisons_the_journal(tmp_path):
    path = tmp_path / "j"
    with Journal(path) as j:
        j.append(b"a")
        j.commit()

        def broken(fd):
            raise OSError(5, "Input/output error")

        j._sync = broken
        j.append(b"b")
        with pytest.raises(JournalError, match="write failed"):
            j.commit()
        with pytest.raises(JournalError, match="failed earlier"):
            j.append(b"c")
        with pytest.raises(JournalError, match="failed earlier"):
            j.commit()
    # record 2 reached the file (only the fsync "failed"); reopening finds it whole
    assert [s for s, _ in records(path)] == [1, 2]


# ---------------------------------------------------------------------------- segments


def test_rotation_and_replay_across_segments(tmp_path):
    path = tmp_path / "j"
    fill(path, 500, batch=7, segment_bytes=1_000)
    segs = sorted(path.glob("*.seg"))
    assert len(segs) > 10
    assert all(s.stat().st_size < 1_000 + 7 * 60 for s in segs)
    assert segs[0].name == f"{1:020d}.seg"
    assert records(path) == [(s, payload(s)) for s in range(1, 501)]
    assert records(path, 333) == [(s, payload(s)) for s in range(333, 501)]
    with Journal(path, segment_bytes=1_000) as j:
        assert j.open_report.segments == len(segs) and j.last_seq == 500
        assert j.append(b"x") == 501
        j.commit()


def test_prune(tmp_path):
    path = tmp_path / "j"
    fill(path, 300, batch=10, segment_bytes=800)
    with Journal(path, segment_bytes=800) as j:
        before = j.segment_paths()
        removed = j.prune(150)
        assert removed and removed == before[: len(removed)]
        first = j.first_seq
        assert 1 < first <= 151
        assert [s for s, _ in j.replay(first)] == list(range(first, 301))
        with pytest.raises(JournalError, match="pruned"):
            j.replay(1)
        j.prune(10**9)  # never the segment being written
        assert len(j.segment_paths()) == 1
        assert j.append(b"x") == 301
        j.commit()
    with Journal(path) as j:
        assert j.open_report.first_seq == j.first_seq and j.last_seq == 301


# ---------------------------------------------------------------------------- torn tails


def test_torn_tail_at_every_byte_of_the_last_record_is_truncated(tmp_path):
    src = tmp_path / "src"
    fill(src, 20)
    data = the_segment(src).read_bytes()
    last = record_offsets(data)[-1]
    for cut in range(last, len(data)):
        path = tmp_path / f"cut{cut}"
        path.mkdir()
        (path / the_segment(src).name).write_bytes(data[:cut])
        with Journal(path) as j:
            r = j.open_report
            assert (j.last_seq, r.truncated_bytes) == (19, cut - last), cut
            if cut > last:
                assert (r.truncated_offset, r.truncated_seq) == (last, 20)
            assert j.append(b"next") == 20
            j.commit()
        assert the_segment(path).read_bytes()[:last] == data[:last]
        got = records(path)
        assert got == [(s, payload(s)) for s in range(1, 20)] + [(20, b"next")]


@pytest.mark.parametrize("where", ["length", "crc", "seq", "payload"])
def test_damaged_last_record_is_a_torn_tail(tmp_path, where):
    path = tmp_path / "j"
    fill(path, 20)
    seg = the_segment(path)
    data = bytearray(seg.read_bytes())
    last = record_offsets(bytes(data))[-1]
    at = {"length": last, "crc": last + 4, "seq": last + 8, "payload": len(data) - 1}[where]
    data[at] ^= 0x40
    seg.write_bytes(data)
    with Journal(path) as j:
        assert j.last_seq == 19 and j.open_report.truncated_bytes == len(data) - last


def test_zeros_after_the_last_record_are_truncated(tmp_path):
    """A file extended by the filesystem but whose data never reached the disk."""
    path = tmp_path / "j"
    fill(path, 10)
    seg = the_segment(path)
    size = seg.stat().st_size
    with open(seg, "ab") as f:
        f.write(bytes(4096))
    with Journal(path) as j:
        assert j.last_seq == 10 and j.open_report.truncated_bytes == 4096
    assert seg.stat().st_size == size


def test_readonly_reports_a_torn_tail_and_leaves_it(tmp_path, dir_digest):
    path = tmp_path / "j"
    fill(path, 10)
    seg = the_segment(path)
    with open(seg, "ab") as f:
        f.write(b"\x05\x00")
    before = dir_digest(path)
    j = Journal(path, readonly=True)
    assert j.last_seq == 10 and j.open_report.truncated_bytes == 2
    assert [s for s, _ in j.replay()] == list(range(1, 11))
    with pytest.raises(JournalError, match="read-only"):
        j.append(b"x")
    j.close()
    assert dir_digest(path) == before


def test_an_interrupted_segment_creation_is_ignored(tmp_path):
    path = tmp_path / "j"
    fill(path, 5)
    (path / "00000000000000000006.seg.tmp").write_bytes(b"PSJ")
    with Journal(path) as j:
        assert j.last_seq == 5 and len(j.open_report.removed_temp_files) == 1
    assert not list(path.glob("*.tmp"))


# ---------------------------------------------------------------------------- corruption


@pytest.mark.parametrize("where", ["length", "crc", "seq", "payload"])
@pytest.mark.parametrize("victim", [0, 7, 18])
def test_corrupted_middle_record_refuses_and_changes_nothing(tmp_path, where, victim, dir_digest):
    path = tmp_path / "j"
    fill(path, 20)
    seg = the_segment(path)
    data = bytearray(seg.read_bytes())
    off = record_offsets(bytes(data))[victim]
    at = {"length": off, "crc": off + 4, "seq": off + 8, "payload": off + RECORD_OVERHEAD}[where]
    data[at] ^= 0x01
    seg.write_bytes(data)
    before = dir_digest(path)
    with pytest.raises(JournalCorrupt) as info:
        Journal(path)
    e = info.value
    assert (e.file, e.offset, e.seq) == (str(seg), off, victim + 1)
    assert str(seg) in str(e) and f"offset {off}" in str(e) and f"seq {victim + 1}" in str(e)
    assert dir_digest(path) == before  # byte-identical, nothing truncated
    with pytest.raises(JournalCorrupt):
        Journal(path, readonly=True)
    assert dir_digest(path) == before


def test_damage_at_the_end_of_an_earlier_segment_is_corruption(tmp_path, dir_digest):
    path = tmp_path / "j"
    fill(path, 200, batch=10, segment_bytes=1_000)
    first = sorted(path.glob("*.seg"))[0]
    data = first.read_bytes()
    first.write_bytes(data[:-3])  # a later segment exists: this can never be a torn write
    before = dir_digest(path)
    with pytest.raises(JournalCorrupt, match="later segments follow"):
        Journal(path, segment_bytes=1_000)
    assert dir_digest(path) == before


def test_missing_segment_is_a_sequence_gap(tmp_path):
    path = tmp_path / "j"
    fill(path, 200, batch=10, segment_bytes=1_000)
    segs = sorted(path.glob("*.seg"))
    segs[2].unlink()
    with pytest.raises(JournalCorrupt, match="previous one ends"):
        Journal(path)


def test_bad_segment_header(tmp_path):
    path = tmp_path / "j"
    fill(path, 5)
    seg = the_segment(path)
    data = bytearray(seg.read_bytes())
    data[10] ^= 1
    seg.write_bytes(data)
    with pytest.raises(JournalCorrupt, match="header"):
        Journal(path)
    seg.write_bytes(b"NOTAJRNL" + bytes(data[8:]))
    with pytest.raises(JournalCorrupt, match="magic"):
        Journal(path)


def test_valid_record_with_wrong_sequence_is_corruption(tmp_path):
    path = tmp_path / "j"
    fill(path, 3)
    seg = the_segment(path)
    with open(seg, "ab") as f:
        f.write(frame(9, payload(9)))
    with pytest.raises(JournalCorrupt, match="sequence 9 where 4 was expected"):
        Journal(path)


# ---------------------------------------------------------------------------- crash


def test_sigkill_never_loses_an_acknowledged_record(tmp_path):
    """A child appends and commits in a loop, printing each acknowledged seq; SIGKILL at several
    points (twice in the middle of a half-written batch); after each, every acknowledged seq is
    in the reopened journal with its payload, and the journal is clean (only a torn tail, if
    any, was truncated)."""
    path = tmp_path / "j"
    acked = 0
    for n, tear in [(1, 0), (40, 0), (30, 30), (300, 0), (7, 0), (60, 60), (150, 0)]:
        acked = kill_a_writer(path, n, tear, acked, segment_bytes=20000)
        with Journal(path, segment_bytes=20000) as j:
            assert j.last_seq >= acked
            # a deliberately torn batch is always truncated; a kill can also land inside an
            # ordinary write, leaving a torn tail that is (correctly) truncated as well
            if tear:
                assert j.open_report.truncated_bytes > 0
            got = list(j.replay())
        assert [s for s, _ in got] == list(range(1, len(got) + 1))
        assert all(p == crash_payload(s) for s, p in got)
        with Journal(path, segment_bytes=20000) as j:  # clean now: nothing more to truncate
            assert j.open_report.truncated_bytes == 0 and j.last_seq == len(got)
    assert len(list(path.glob("*.seg"))) > 1
