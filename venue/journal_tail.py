"""Reading a journal another process is appending to: its durable records, in order, as it grows.

`JournalTail(directory, next_seq)` reads the records of a journal (venue/journal.py; its format:
venue/journal_format.py) from `next_seq` on, without opening it as a `Journal`: it takes no
lock and writes nothing, so it can follow the journal of a running venue. `read(upto)` yields
`(seq, payload)` for the records after the last one read, through `upto`, as far as the files
hold them; each is checked (CRC, sequence) like `Journal.replay` checks them.

Only records the writer has made durable may be asked for (`upto`): past the durable seq the
bytes of a write may still be arriving, so nothing there is read. A segment's records end where
its bytes do or at a zero length field (zeros the writer preallocated): either way the records
asked for are in the next segment. The folder is opened once and
segments are found through that handle, so a folder renamed away (a sandbox reset archives it)
is still the one read; a segment pruned after it was read through is never needed again.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

from perpsim.venue.journal_format import (
    HEADER_SIZE,
    MAX_PAYLOAD,
    RECORD_HEADER,
    RECORD_OVERHEAD,
    SEGMENT_SUFFIX,
    JournalCorrupt,
    JournalError,
)

__all__ = ["JournalTail"]

_REC = RECORD_HEADER  # length, crc, seq
#: bytes read from a segment at a time
READ_CHUNK = 1 << 20


class JournalTail:
    """Durable records of the journal in `directory` from `next_seq` on (see the module docstring)."""

    def __init__(self, directory: str | os.PathLike, next_seq: int) -> None:
        if next_seq < 1:
            raise ValueError("next_seq must be >= 1")
        self.path = Path(directory)
        self.next_seq = next_seq
        self._dir = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self._fd: int | None = None
        self._name = ""
        self._off = 0
        try:
            self._open_at(next_seq)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close the open segment and the directory (safe to call again)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._dir >= 0:
            os.close(self._dir)
            self._dir = -1

    def __enter__(self) -> JournalTail:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _segments(self) -> list[int]:
        """The first seqs of the segments in the folder, ascending."""
        out = []
        for name in os.listdir(self._dir):
            stem = name[: -len(SEGMENT_SUFFIX)] if name.endswith(SEGMENT_SUFFIX) else ""
            if len(stem) == 20 and stem.isdigit():
                out.append(int(stem))
        return sorted(out)

    def _open_at(self, seq: int) -> None:
        """Open the segment holding `seq` and move past the records before it."""
        firsts = [f for f in self._segments() if f <= seq]
        if not firsts:
            raise JournalError(f"{self.path}: no segment holds seq {seq} (pruned, or not a journal)")
        self._switch(firsts[-1])
        fd = self._fd
        assert fd is not None  # opened by _switch
        skip = seq - firsts[-1]
        while skip:
            data = os.pread(fd, READ_CHUNK, self._off)
            off = 0
            while skip and len(data) - off >= RECORD_OVERHEAD:
                length, _, _ = _REC.unpack_from(data, off)
                if length == 0 or off + 8 + length > len(data):  # zeros: the records end here
                    break
                off += 8 + length
                skip -= 1
            if off == 0:
                raise JournalError(f"{self.path}: the segment holding seq {seq} ends before it")
            self._off += off

    def _switch(self, first: int) -> None:
        name = f"{first:020d}{SEGMENT_SUFFIX}"
        fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC, dir_fd=self._dir)
        try:
            head = os.pread(fd, HEADER_SIZE, 0)
        except BaseException:
            os.close(fd)
            raise
        if len(head) < HEADER_SIZE or struct.unpack_from("<Q", head, 8)[0] != first:
            os.close(fd)
            raise JournalCorrupt(self.path / name, 0, first, "segment header does not name its first seq")
        if self._fd is not None:
            os.close(self._fd)
        self._fd, self._name, self._off = fd, name, HEADER_SIZE

    def read(self, upto: int) -> Iterator[tuple[int, bytes]]:
        """`(seq, payload)` of the records from `next_seq` through `upto` (durable: see the
        module docstring) that the files hold now; `next_seq` moves past each one yielded."""
        unpack, crc32 = _REC.unpack_from, zlib.crc32
        while self.next_seq <= upto:
            fd = self._fd
            assert fd is not None  # open from the constructor on
            data = os.pread(fd, READ_CHUNK, self._off)
            if len(data) >= RECORD_OVERHEAD:
                length = unpack(data, 0)[0]
                if length == 0:  # preallocated zeros: nothing more in this segment
                    data = b""
                elif not 8 <= length <= MAX_PAYLOAD + 8:
                    raise JournalCorrupt(self.path / self._name, self._off, self.next_seq,
                                         f"impossible record length {length} in a durable record")
                elif 8 + length > len(data):  # one record larger than a chunk
                    data = os.pread(fd, 8 + length, self._off)
            mv = memoryview(data)
            off, read_some = 0, False
            while self.next_seq <= upto and len(data) - off >= RECORD_OVERHEAD:
                length, crc, seq = unpack(data, off)
                end = off + 8 + length
                if length == 0 or end > len(data):
                    break
                if seq != self.next_seq or crc32(mv[off + 8:end]) != crc:
                    raise JournalCorrupt(self.path / self._name, self._off, self.next_seq,
                                         "a durable record does not check (CRC or sequence)")
                payload = data[off + 16:end]
                self._off += end - off
                self.next_seq, off, read_some = seq + 1, end, True
                yield seq, payload
            if read_some:
                continue
            # nothing whole at the end of this segment: the writer moved on to the next one, or
            # the asked-for records are not all in the files yet
            if f"{self.next_seq:020d}{SEGMENT_SUFFIX}" in os.listdir(self._dir):
                self._switch(self.next_seq)
                continue
            return
