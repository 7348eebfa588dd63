"""A journal that keeps zeros written ahead of its records (`Journal(preallocate=N)`): commits
overwrite them in place, every reader finds a segment's end from its records, a torn write over
the zeros is cut after a crash, and segments written without zeros read and continue alike."""

from __future__ import annotations

import itertools
import struct

import pytest

from perpsim.venue.journal import Journal
from perpsim.venue.journal_format import HEADER_SIZE, RECORD_OVERHEAD, JournalCorrupt
from perpsim.venue.journal_tail import JournalTail

from .journal_kit import append_upto, crash_payload, frame, kill_a_writer, payload, the_segment

#: the zeros kept ahead in these tests: a commit tops them up an eighth of this at a time
CHUNK = 32 * 1024


def records_end(data: bytes) -> int:
    """Where the records of one segment's bytes end (the first zero length field, or the end)."""
    off = HEADER_SIZE
    while off + RECORD_OVERHEAD <= len(data):
        (length,) = struct.unpack_from("<I", data, off)
        if length == 0:
            break
        off += 8 + length
    return off


def test_commits_write_in_place_and_a_reopen_continues_there(tmp_path):
    path = tmp_path / "j"
    with Journal(path, preallocate=CHUNK) as j:
        seg = the_segment(path)
        assert seg.stat().st_size == CHUNK  # header and zeros, before any record
        append_upto(j, 20)
    data = seg.read_bytes()
    end = records_end(data)
    assert len(data) == CHUNK and end < CHUNK // 2 and not data[end:].strip(b"\0")
    with Journal(path, preallocate=CHUNK) as j:
        r = j.open_report
        assert (r.last_seq, r.records, r.truncated_bytes) == (20, 20, 0)  # the zeros are no torn tail
        assert seg.stat().st_size == CHUNK
        append_upto(j, 30)
        assert seg.stat().st_size == CHUNK  # the new records went over the zeros
        assert [(s, p) for s, p in j.replay()] == [(s, payload(s)) for s in range(1, 31)]
    data = seg.read_bytes()
    assert data[end:end + RECORD_OVERHEAD + len(payload(21))] == frame(21, payload(21))


def test_zeros_are_written_ahead_in_chunks_up_to_the_segment_size(tmp_path):
    path = tmp_path / "j"
    with Journal(path, preallocate=CHUNK, segment_bytes=5 * CHUNK) as j:
        seg = the_segment(path)
        sizes = set()
        while len(j.segment_paths()) == 1:
            j.append(b"x" * 200)
            j.commit()
            end = records_end(seg.read_bytes())
            size = seg.stat().st_size
            if end < 5 * CHUNK:  # never less than 7/8 of a chunk of zeros ahead, nor past the segment size
                assert size - end >= min(CHUNK * 7 // 8 - 200, 5 * CHUNK - end) and size <= 5 * CHUNK
            sizes.add(size)
        grown = sorted(s for s in sizes if s <= 5 * CHUNK)
        assert grown[0] == CHUNK and grown[-1] == 5 * CHUNK and len(grown) > 8
        # topped up an eighth of a chunk at a time at least (the last fill: what is left to the size)
        assert all(b - a >= CHUNK // 8 for a, b in itertools.pairwise(grown[:-1]))
        # the batch that crossed segment_bytes grew the file as an append does; the next one rotated
        closed, current = j.segment_paths()
        assert closed.stat().st_size == records_end(closed.read_bytes()) > 5 * CHUNK
        assert current.stat().st_size == CHUNK
    with Journal(path, preallocate=CHUNK, segment_bytes=5 * CHUNK) as j:
        assert j.open_report.truncated_bytes == 0 and j.last_seq == sum(1 for _ in j.replay())


def test_a_batch_straddling_the_preallocated_end_extends_the_file(tmp_path):
    path = tmp_path / "j"
    with Journal(path, preallocate=CHUNK) as j:
        seg = the_segment(path)
        big = [bytes([seq]) * (CHUNK // 2) for seq in range(1, 4)]  # 1.5 chunks: past the first chunk's zeros
        j.append_many(big)
        j.commit()
        end = HEADER_SIZE + sum(RECORD_OVERHEAD + len(p) for p in big)
        assert end > CHUNK and seg.stat().st_size == end + CHUNK  # the records, then a chunk of zeros
        j.append(b"after")
        j.commit()
    with Journal(path, preallocate=CHUNK) as j:
        assert j.open_report.truncated_bytes == 0
        assert list(j.replay()) == [(1, big[0]), (2, big[1]), (3, big[2]), (4, b"after")]


def test_a_torn_write_over_the_zeros_is_cut_and_the_rest_kept(tmp_path):
    """What a crash in the middle of a commit leaves in a preallocated segment: the first part of
    a record, or its first bytes lost and later ones there (pages written out of order), zeros
    after. Reopening keeps every committed record, cuts the rest, and goes on."""
    for lost_head in (False, True):
        path = tmp_path / f"j{lost_head}"
        with Journal(path, preallocate=CHUNK) as j:
            append_upto(j, 12)
        seg = the_segment(path)
        end = records_end(seg.read_bytes())
        record = frame(13, payload(13) * 20)
        torn = bytearray(record[: len(record) // 2])
        if lost_head:
            torn[:RECORD_OVERHEAD + 2] = bytes(RECORD_OVERHEAD + 2)  # a zero header, leftovers after it
        with open(seg, "r+b") as f:
            f.seek(end)
            f.write(torn)
        with Journal(path, preallocate=CHUNK) as j:
            r = j.open_report
            assert (j.last_seq, r.truncated_offset, r.truncated_seq) == (12, end, 13)
            assert r.truncated_bytes == CHUNK - end  # the torn bytes and the zeros after them
            assert seg.stat().st_size == end
            assert j.append(b"next") == 13
            j.commit()
            assert seg.stat().st_size == end + RECORD_OVERHEAD + 4 + CHUNK  # zeros ahead again
        with Journal(path, preallocate=CHUNK) as j:
            assert j.open_report.truncated_bytes == 0
            assert list(j.replay()) == [(s, payload(s)) for s in range(1, 13)] + [(13, b"next")]


def test_damage_among_the_records_of_a_preallocated_segment_is_still_refused(tmp_path, dir_digest):
    path = tmp_path / "j"
    with Journal(path, preallocate=CHUNK) as j:
        append_upto(j, 20)
    seg = the_segment(path)
    data = bytearray(seg.read_bytes())
    data[HEADER_SIZE + RECORD_OVERHEAD] ^= 0x01  # record 1's payload
    seg.write_bytes(bytes(data))
    before = dir_digest(path)
    with pytest.raises(JournalCorrupt, match="a valid record follows"):
        Journal(path, preallocate=CHUNK)
    assert dir_digest(path) == before


def test_a_segment_written_without_zeros_is_read_and_continued(tmp_path):
    """Old journals: the file ends where its records do. Opened by a preallocating journal, the
    records are all there and the next commits continue after them, zeros ahead from then on."""
    path = tmp_path / "j"
    with Journal(path, segment_bytes=600) as j:
        append_upto(j, 60)
    old = sorted(path.glob("*.seg"))
    sizes = [p.stat().st_size for p in old]
    assert len(old) > 2 and all(s == records_end(p.read_bytes()) for s, p in zip(sizes, old, strict=True))
    with Journal(path, segment_bytes=600, preallocate=CHUNK) as j:
        assert (j.open_report.truncated_bytes, j.last_seq) == (0, 60)
        append_upto(j, 65)
        assert [s for s, _ in j.replay()] == list(range(1, 66))
    assert [p.stat().st_size for p in old[:-1]] == sizes[:-1]  # closed segments untouched
    with JournalTail(path, 1) as tail:
        assert list(tail.read(65)) == [(s, payload(s)) for s in range(1, 66)]


def test_a_preallocated_journal_opened_without_preallocating(tmp_path):
    """Zeros after an earlier segment's records are its end (a segment closed before its zeros
    ran out: opened with a smaller segment_bytes than it was written with); in the last segment,
    a reader leaves them, and a writer that does not preallocate cuts them as it always cut
    zeros there (and says so)."""
    path = tmp_path / "j"
    with Journal(path, segment_bytes=4000, preallocate=CHUNK) as j:
        append_upto(j, 30)
    first = the_segment(path)
    assert first.stat().st_size == 4000 > records_end(first.read_bytes()) > 600
    with Journal(path, segment_bytes=600, preallocate=CHUNK) as j:
        append_upto(j, 60)
        while records_end(j.segment_paths()[-1].read_bytes()) >= 600:  # the last one with zeros after it
            j.append(payload(j.last_seq + 1))
            j.commit()
        segs, n = j.segment_paths(), j.last_seq
    assert len(segs) > 2 and segs[0] == first and first.stat().st_size == 4000
    with JournalTail(path, 1) as tail:  # across the first segment's zeros into the next one
        assert list(tail.read(n)) == [(s, payload(s)) for s in range(1, n + 1)]
    last_end = records_end(segs[-1].read_bytes())
    with Journal(path, segment_bytes=600, readonly=True) as j:  # a reader: unwritten space, no torn tail
        assert j.last_seq == n and j.open_report.truncated_bytes == 0
    assert segs[-1].stat().st_size == 600
    with Journal(path, segment_bytes=600) as j:
        assert j.last_seq == n and j.open_report.truncated_bytes == 600 - last_end
        assert segs[-1].stat().st_size == last_end and first.stat().st_size == 4000
        assert [s for s, _ in j.replay()] == list(range(1, n + 1))


def test_journal_tail_reads_preallocated_segments_as_they_grow(tmp_path):
    path = tmp_path / "j"
    with Journal(path, segment_bytes=300, preallocate=CHUNK) as j:
        append_upto(j, 40, every=3)
        assert len(j.segment_paths()) > 3
        with JournalTail(path, 9) as tail:  # skips to seq 9 inside a segment with zeros after it
            assert list(tail.read(40)) == [(s, payload(s)) for s in range(9, 41)]
            assert list(tail.read(45)) == []  # zeros where 41 will be: nothing yet, no error
            append_upto(j, 43)
            # asked past what is written: the records there, then zeros in the same read
            assert list(tail.read(50)) == [(s, payload(s)) for s in range(41, 44)]
            append_upto(j, 70, every=4)
            assert list(tail.read(70)) == [(s, payload(s)) for s in range(44, 71)]
        with JournalTail(path, 70) as tail:
            assert list(tail.read(70)) == [(70, payload(70))]


def test_sigkill_of_a_preallocating_writer_loses_no_acknowledged_record(tmp_path):
    path = tmp_path / "j"
    acked = 0
    for n, tear in [(5, 0), (40, 40), (200, 0), (25, 25), (90, 0)]:
        acked = kill_a_writer(path, n, tear, acked, segment_bytes=30000, preallocate=8192)
        with Journal(path, segment_bytes=30000, preallocate=8192) as j:
            assert j.last_seq >= acked
            if tear:
                assert j.open_report.truncated_bytes > 0
            got = list(j.replay())
        assert got == [(s, crash_payload(s)) for s in range(1, len(got) + 1)]
        with Journal(path, segment_bytes=30000, preallocate=8192) as j:
            assert j.open_report.truncated_bytes == 0 and j.last_seq == len(got)
    # the last kill may land between a commit's records and its zeros: the next commit writes them
    with Journal(path, segment_bytes=30000, preallocate=8192) as j:
        j.append(crash_payload(j.last_seq + 1))
        j.commit()
    segs = sorted(path.glob("*.seg"))
    assert len(segs) > 1 and segs[-1].stat().st_size > records_end(segs[-1].read_bytes())
