"""The journal's bytes on disk: segment headers and records, and checking them.

    segment := header record* zero*
    header  := magic "PSJRNL\\x00\\x01" (8 bytes)  first_seq:u64  crc32(magic ‖ first_seq):u32
    record  := length:u32  crc:u32  seq:u64  payload
                 length = 8 + len(payload)   (the bytes after the crc field)
                 crc    = CRC-32 (zlib) of seq ‖ payload
                 seq    = the previous record's seq + 1; the first record of a segment
                          carries the segment's first_seq; a journal starts at seq 1

All integers are little-endian. A segment's records end at the file's end or at the first zero
length field (no record has one): zeros after the records are space written ahead of them
(`Journal(preallocate=)`, venue/journal.py), so the end of the records, not the file's size, is
the end of the segment. Segments written without zeros after them are the same format.
`scan_segment` checks a segment's records and says where they end and why; venue/journal_open.py
decides what a bad record there means (a torn tail, or corruption).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "HEADER_SIZE",
    "LEN_CRC",
    "MAGIC",
    "MAX_LENGTH",
    "MAX_PAYLOAD",
    "RECORD_HEADER",
    "RECORD_OVERHEAD",
    "SEGMENT_SUFFIX",
    "SEQ",
    "JournalCorrupt",
    "JournalError",
    "SegmentScan",
    "check_header",
    "only_zeros_after",
    "scan_segment",
    "segment_header",
    "segment_name",
    "valid_record_at_or_after",
]

MAGIC = b"PSJRNL\x00\x01"
SEGMENT_SUFFIX = ".seg"
SEGMENT_HEADER = struct.Struct("<8sQI")  # magic, first_seq, crc32(magic ‖ first_seq)
SEGMENT_HEADER_BODY = struct.Struct("<8sQ")
RECORD_HEADER = struct.Struct("<IIQ")  # length, crc, seq
LEN_CRC = struct.Struct("<II")
SEQ = struct.Struct("<Q")
HEADER_SIZE = SEGMENT_HEADER.size  # 20
RECORD_OVERHEAD = RECORD_HEADER.size  # 16
#: Largest payload of one record (bytes).
MAX_PAYLOAD = (1 << 24) - 8
MAX_LENGTH = MAX_PAYLOAD + 8


class JournalError(Exception):
    """The journal cannot do what was asked (in use, closed, failed earlier, pruned away)."""


class JournalCorrupt(JournalError):
    """A journal file is damaged somewhere other than a torn tail; nothing was changed."""

    def __init__(self, file: Path | str, offset: int, seq: int, problem: str) -> None:
        self.file, self.offset, self.seq, self.problem = str(file), offset, seq, problem
        super().__init__(f"journal corrupt: {file} at offset {offset} (seq {seq}): {problem}; "
                         "refusing to open, the files are unchanged")


@dataclass
class SegmentScan:
    """One segment's records, checked: where they end, and the first bad record if any."""

    last_seq: int
    end: int  # offset after the last good record
    count: int
    problem: str | None = None  # why the record at `end` is bad


def segment_name(first_seq: int) -> str:
    """A segment's file name: its first seq as 20 zero-padded digits, then SEGMENT_SUFFIX."""
    return f"{first_seq:020d}{SEGMENT_SUFFIX}"


def segment_header(first_seq: int) -> bytes:
    """The HEADER_SIZE header bytes of a segment starting at `first_seq` (magic, first seq, CRC-32)."""
    body = SEGMENT_HEADER_BODY.pack(MAGIC, first_seq)
    return body + struct.pack("<I", zlib.crc32(body))


def check_header(path: Path, data: bytes, first_seq: int) -> None:
    """Raise JournalCorrupt unless `data` starts with a whole header with the magic, a matching
    CRC and the first seq the file's name says."""
    if len(data) < HEADER_SIZE:
        raise JournalCorrupt(path, 0, first_seq, f"segment header cut short ({len(data)} bytes)")
    magic, seq, crc = SEGMENT_HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise JournalCorrupt(path, 0, first_seq, f"not a perpsim journal segment (magic {magic!r})")
    if zlib.crc32(data[:SEGMENT_HEADER_BODY.size]) != crc:
        raise JournalCorrupt(path, 0, first_seq, "segment header CRC mismatch")
    if seq != first_seq:
        raise JournalCorrupt(path, 0, first_seq, f"segment header says first seq {seq}, its name {first_seq}")


def scan_segment(data: bytes, first_seq: int, start: int = HEADER_SIZE) -> SegmentScan:
    """Check the records of one segment's bytes from `start`: stops at the first bad one."""
    mv = memoryview(data)
    size = len(data)
    off, seq, count = start, first_seq, 0
    unpack, crc32 = RECORD_HEADER.unpack_from, zlib.crc32
    problem = None
    while off < size:
        if size - off < RECORD_OVERHEAD:
            problem = f"record header cut short ({size - off} of {RECORD_OVERHEAD} bytes)"
            break
        length, crc, rseq = unpack(data, off)
        end = off + 8 + length
        if not 8 <= length <= MAX_LENGTH:
            problem = f"impossible record length {length}"
            break
        if end > size:
            problem = f"record cut short ({size - off - 8} of {length} bytes after the CRC)"
            break
        if crc32(mv[off + 8:end]) != crc:
            problem = "record CRC mismatch"
            break
        if rseq != seq:
            problem = f"sequence {rseq} where {seq} was expected"
            break
        off, seq, count = end, seq + 1, count + 1
    return SegmentScan(last_seq=seq - 1, end=off, count=count, problem=problem)


def valid_record_at_or_after(data: bytes, start: int, stop: int) -> int | None:
    """The offset of the first record with a plausible length and a matching CRC at or after
    `start` (any byte offset) and before `stop`, or None: tells a torn tail from corruption in
    the middle. A record's length field is not zero, so none starts at or after the last
    non-zero byte: `stop` past it spares scanning a preallocated tail byte by byte."""
    mv = memoryview(data)
    size = len(data)
    unpack, crc32 = LEN_CRC.unpack_from, zlib.crc32
    for y in range(start, min(stop, size - RECORD_OVERHEAD + 1)):
        length, crc = unpack(data, y)
        if 8 <= length <= MAX_LENGTH and y + 8 + length <= size and crc32(mv[y + 8:y + 8 + length]) == crc:
            return y
    return None


def only_zeros_after(data: bytes, end: int) -> bool:
    """Whether every byte of `data` from `end` on is zero: unwritten space after the records."""
    return data.count(0, end) == len(data) - end
