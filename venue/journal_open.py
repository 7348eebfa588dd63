"""Opening a journal directory: the lock that keeps it to one writer, and the check of every
segment, which tells a torn tail (cut away) from damage (refused) and says what it found in an
`OpenReport`.

Opening checks everything: every segment header, every record's length, CRC and sequence
number, and that each segment continues the previous one. Then:

* nothing but zeros after a segment's last whole record is unwritten space, not damage: kept
  as it is when the journal preallocates or is opened read-only, truncated away (and reported
  as below) in the last segment when a writer that does not preallocate opens it;
* a bad record at the end of the last segment with no valid record after it — a short length
  field, a payload cut short, a CRC mismatch on the last record, zeros then leftovers of the
  same write — is a torn write that was never acknowledged: it is truncated away
  (`open_report.truncated_bytes` says how many bytes, any zeros after it included);
* a bad record anywhere else, i.e. followed by any record with a valid CRC, a bad segment
  header, a sequence gap or repeat: `JournalCorrupt` naming the file, the offset and the
  sequence number, and nothing on disk is changed. Refusing is deliberate: acknowledged
  commands would otherwise be lost silently; an operator decides what to do.
"""

from __future__ import annotations

import errno
import fcntl
import os
from dataclasses import dataclass, field
from pathlib import Path

from perpsim.venue.journal_format import (
    SEGMENT_SUFFIX,
    JournalCorrupt,
    JournalError,
    check_header,
    only_zeros_after,
    scan_segment,
    valid_record_at_or_after,
)
from perpsim.venue.journal_segments import Segment

__all__ = ["OpenReport", "check_segments", "list_segments", "take_lock"]


@dataclass
class OpenReport:
    """What opening the journal found (and, for a torn tail, did)."""

    segments: int = 0
    records: int = 0
    first_seq: int = 1  # the first seq still present (after pruning)
    last_seq: int = 0  # the last durable seq; 0 for an empty journal
    truncated_bytes: int = 0  # torn tail removed (in read-only mode: found, left in place)
    truncated_file: str | None = None
    truncated_offset: int | None = None
    truncated_seq: int | None = None  # the seq the torn record would have had
    removed_temp_files: list[str] = field(default_factory=list)
    created: bool = False  # no segment existed: the journal was created by this open
    duration_s: float = 0.0


def take_lock(directory: Path) -> int:
    """flock() `<directory>/LOCK` exclusively; its fd (closing it releases the lock). JournalError
    if another process or Journal object holds it."""
    fd = os.open(directory / "LOCK", os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        os.close(fd)
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise JournalError(f"journal {directory} is open in another process or Journal object") from None
        raise
    return fd


def list_segments(directory: Path, *, readonly: bool, report: OpenReport) -> list[tuple[int, Path]]:
    """`(first_seq, path)` of the segment files of `directory`, in sequence order. A writer
    (not `readonly`) removes the temporary files of segments never created (in `report`)."""
    out: list[tuple[int, Path]] = []
    if not directory.is_dir():
        return out
    for p in directory.iterdir():
        name = p.name
        if name.endswith(".tmp"):
            if not readonly:
                p.unlink()  # a segment whose creation never completed: never part of the journal
                report.removed_temp_files.append(str(p))
            continue
        if name.endswith(SEGMENT_SUFFIX):
            stem = name[: -len(SEGMENT_SUFFIX)]
            if len(stem) == 20 and stem.isdigit():
                out.append((int(stem), p))
    return sorted(out)


def check_segments(directory: Path, *, readonly: bool, preallocate: int, report: OpenReport) -> list[Segment]:
    """Check every segment of `directory` (see the module docstring): the segments, each as far
    as its records are good. A torn tail is cut away unless `readonly`; the records and the torn
    tail go into `report`. JournalCorrupt for anything else."""
    found = list_segments(directory, readonly=readonly, report=report)
    segments: list[Segment] = []
    for i, (first, path) in enumerate(found):
        with open(path, "rb") as f:
            data = f.read()
        check_header(path, data, first)
        if segments and first != segments[-1].last_seq + 1:
            raise JournalCorrupt(path, 0, first, f"segment starts at seq {first} but the previous one ends "
                                                 f"at {segments[-1].last_seq}")
        scan = scan_segment(data, first)
        report.records += scan.count
        is_last = i == len(found) - 1
        if scan.problem is not None and only_zeros_after(data, scan.end):
            # only zeros after the last whole record: unwritten space (preallocated, or a
            # size the filesystem kept without the data); a gap at the end of an earlier
            # segment shows as the next segment's first seq. A reader (readonly) cannot
            # tell whose zeros they are and cuts nothing: none of it is a torn write.
            if preallocate or readonly or not is_last:
                scan.problem = None
        if scan.problem is not None:
            written = len(data.rstrip(b"\0"))
            later = valid_record_at_or_after(data, scan.end + 1, written)
            if not is_last or later is not None or scan.problem.startswith("sequence"):
                where = (f"a valid record follows at offset {later}" if later is not None
                         else "later segments follow" if not is_last else "not a torn write")
                raise JournalCorrupt(path, scan.end, scan.last_seq + 1, f"{scan.problem}, and {where}")
            report.truncated_bytes = len(data) - scan.end
            report.truncated_file = str(path)
            report.truncated_offset = scan.end
            report.truncated_seq = scan.last_seq + 1
            if not readonly:
                fd = os.open(path, os.O_WRONLY)
                try:
                    os.ftruncate(fd, scan.end)
                    os.fsync(fd)
                finally:
                    os.close(fd)
        segments.append(Segment(first, path, scan.last_seq, scan.end))
    return segments
