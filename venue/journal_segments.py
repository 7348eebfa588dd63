"""A journal's segment files (their bytes: venue/journal_format.py): created atomically, opened
for writing at the end of their records, kept with zeros written ahead of those records, and
read back, and the pruned ones renamed out of the journal and freed.

A segment's records may be followed by zeros: its end is where the records end (a zero length
field is never a record), not the file's size. A journal opened with `preallocate=N` keeps N
bytes of zeros written ahead of its last record (a new segment gets them before its rename; a
commit that leaves less than 7N/8 ahead writes zeros up to N ahead under the same fdatasync,
so one commit in many carries an eighth of N), so that a commit overwrites blocks that are
already allocated and durable: the file's size does not
change, and ext4 commits no metadata for it (bench/journal_prealloc.py: a 100 B to 32 KB
write + fdatasync at about half the wall time of an append). The zeros stop at `segment_bytes`;
a batch crossing that extends the file as an append does. Segments written without it (or
before it existed) are the same format without the zeros, and both are read alike.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from perpsim.venue.files import fsync_dir, remove_gradually
from perpsim.venue.journal_format import (
    HEADER_SIZE,
    RECORD_HEADER,
    SEGMENT_SUFFIX,
    JournalCorrupt,
    segment_header,
    segment_name,
)

__all__ = [
    "PRUNED_SUFFIX",
    "PRUNE_STEP",
    "Segment",
    "create_segment",
    "free_pruned",
    "open_for_writing",
    "read_records",
    "rename_pruned",
    "top_up",
    "write_zeros",
]

#: A pruned segment's name while it is being freed (`<segment>.seg.pruned`); not part of the journal.
PRUNED_SUFFIX = ".pruned"
#: Bytes freed per fsynced cut when a pruned segment is removed.
PRUNE_STEP = 4 << 20


@dataclass
class Segment:
    """One segment file of an open journal, as far as it is known good."""

    first_seq: int
    path: Path
    last_seq: int  # first_seq - 1 while empty
    size: int  # bytes known good (header + whole records)


def create_segment(directory: Path, first_seq: int, *, preallocate: int, segment_bytes: int) -> Segment:
    """A new, empty segment of `directory` whose first record will be `first_seq`: its header (and
    `preallocate` bytes of zeros, at most up to `segment_bytes`) written to a temporary file,
    fsynced, renamed, and the directory fsynced."""
    path = directory / segment_name(first_seq)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        os.write(fd, segment_header(first_seq))
        if preallocate:
            write_zeros(fd, HEADER_SIZE, min(preallocate, segment_bytes))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(directory)
    return Segment(first_seq, path, first_seq - 1, HEADER_SIZE)


def open_for_writing(seg: Segment) -> tuple[int, int]:
    """`seg`'s file opened for the next commit, and its size (where its zeros end): the fd's
    offset is at the end of its records (not O_APPEND: zeros may follow them)."""
    fd = os.open(seg.path, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        os.lseek(fd, seg.size, os.SEEK_SET)
        zeroed = os.fstat(fd).st_size
    except BaseException:
        os.close(fd)
        raise
    return fd, zeroed


def read_records(segments: Iterable[tuple[int, Path, int, int]], from_seq: int,
                 verify: bool) -> Iterator[tuple[int, bytes]]:
    """`(seq, payload)` of every record with seq >= from_seq in `segments` (`(first_seq, path,
    last_seq, size)` each, in order), checked again as they are read (CRC with `verify`,
    sequence always): JournalCorrupt if a file changed since the journal was opened."""
    unpack, crc32 = RECORD_HEADER.unpack_from, zlib.crc32
    for first, path, last, size in segments:
        if last < from_seq:
            continue
        with open(path, "rb") as f:
            data = f.read(size)
        if len(data) < size:
            raise JournalCorrupt(path, len(data), last + 1, f"segment shrank to {len(data)} bytes while open")
        mv = memoryview(data)
        off, seq = HEADER_SIZE, first
        while off < size:
            length, crc, rseq = unpack(data, off)
            end = off + 8 + length
            if rseq != seq or end > size or (verify and crc32(mv[off + 8:end]) != crc):
                raise JournalCorrupt(path, off, seq, "record changed on disk since the journal was opened")
            if seq >= from_seq:
                yield seq, data[off + 16:end]
            off, seq = end, seq + 1


def top_up(preallocate: int) -> int:
    """The least a commit writes of zeros ahead when it writes any: an eighth of `preallocate`."""
    return max(preallocate // 8, 1)


def write_zeros(fd: int, start: int, stop: int) -> int:
    """Write zeros over [start, stop) of `fd` (not fsynced: the caller's next sync covers them);
    where they end. A failure (a full disk) stops them early and is not an error: the zeros
    only save later commits' metadata updates, and a record that does not fit fails its own write."""
    zeros = memoryview(bytes(min(max(stop - start, 0), 1 << 20)))
    off = start
    try:
        while off < stop:
            off += os.pwrite(fd, zeros[:stop - off], off)
    except OSError:
        pass
    return off


def rename_pruned(segments: list[Segment], upto_seq: int) -> list[Path]:
    """Take the leading segments whose records all have seq <= upto_seq out of `segments`, never
    the last one (being written), and rename their files out of the journal (PRUNED_SUFFIX,
    which opening ignores); their former paths. The directory is not fsynced here."""
    removed = []
    while len(segments) > 1 and segments[0].last_seq <= upto_seq:
        seg = segments.pop(0)
        os.rename(seg.path, seg.path.with_name(seg.path.name + PRUNED_SUFFIX))
        removed.append(seg.path)
    return removed


def free_pruned(directory: Path) -> None:
    """Free the renamed-away segments, PRUNE_STEP bytes at a time (`files.remove_gradually`),
    including those a crash left behind after an earlier prune. The folder is not fsynced:
    an unlink a crash undoes leaves a `.pruned` file, which is harmless."""
    for p in sorted(directory.glob("*" + SEGMENT_SUFFIX + PRUNED_SUFFIX)):
        remove_gradually(p, PRUNE_STEP)
