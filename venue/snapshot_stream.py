"""A snapshot's pickle streamed into its file as it is made, written out in chunks and paced.

`write_pickled(path, head, length_at, obj, sync_every=, duty=)` writes `head`, then the pickle
of `obj` as the pickler produces it (frames of about 64 KB), then the CRC-32 of everything
before it; the pickle's length is stored into `head` at `length_at` (u64) once known. The file
is written atomically as `files.write_atomic` writes one (a temporary file, fsynced, renamed,
the folder fsynced): the bytes are those of `head ‖ pickle ‖ crc` written at once.

Why stream: the pickler hands over its output a frame at a time, which gives the writer a
point every ~64 KB of output (a few ms of pickling) to pace itself at; the whole pickle is never
held in memory (9-14 MB at 50,000 orders), and writing it out overlaps the pickling.

Pacing (`duty`, 0 < duty <= 1): after each frame the writer sleeps so that its time running is
about `duty` of the time spent (CPU time of this thread: a writer kept off the CPU by the
venue is not slowed twice). Pickling the venue's state is CPU work (0.45-0.7 s at 50,000
orders); however low its priority, a writer that runs while a venue thread wakes on its core
can hold that thread until the scheduler's next tick, and a shared machine's two cores are
both busy often. Sleeping between frames gives the venue's threads free turns; the snapshot
takes 1/duty as long.

The CRC is computed over the pickle as it streams and combined with the head's once the length
is written into it (`crc32_combine`: the CRC-32 of `a ‖ b` from those of `a` and `b`).
"""

from __future__ import annotations

import os
import pickle
import struct
import zlib
from pathlib import Path
from typing import Any

from perpsim.venue.background import Pacer
from perpsim.venue.files import _write_out, replacing

__all__ = ["crc32_combine", "write_pickled"]

_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
#: objects of classes of their own pickled between two looks at the pacing (_PacedPickler)
PACE_EVERY = 64


def _gf2_times(matrix: list[int], vector: int) -> int:
    """A 32x32 matrix over GF(2) (its columns as ints) times a 32-bit vector."""
    out, i = 0, 0
    while vector:
        if vector & 1:
            out ^= matrix[i]
        vector >>= 1
        i += 1
    return out


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_times(matrix, column) for column in matrix]


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """zlib.crc32(a + b) from crc1 = zlib.crc32(a), crc2 = zlib.crc32(b) and len2 = len(b):
    the register of `a` carried through len2 zero bytes (the CRC's linear operator for one zero
    bit, squared up to the powers of two that make up 8 * len2 bits), XORed with crc2."""
    if len2 <= 0:
        return crc1
    odd = [0xEDB88320] + [1 << n for n in range(31)]  # one zero bit (the reflected polynomial)
    even = _gf2_square(odd)  # two zero bits
    odd = _gf2_square(even)  # four zero bits
    while True:
        even = _gf2_square(odd)  # 8, 32, 128... zero bits: one byte, then 4, 16...
        if len2 & 1:
            crc1 = _gf2_times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = _gf2_square(even)
        if len2 & 1:
            crc1 = _gf2_times(odd, crc1)
        len2 >>= 1
        if not len2:
            break
    return crc1 ^ crc2


def _write_all(fd: int, data: Any) -> None:
    view = memoryview(data).cast("B")
    while view:
        view = view[os.write(fd, view):]


class _Body:
    """The pickler's file: each frame CRCed, written, written out every `sync_every` bytes,
    and paced to `duty` (module docstring)."""

    def __init__(self, fd: int, offset: int, sync_every: int, duty: float) -> None:
        self.fd, self.sync_every = fd, sync_every
        self.crc = 0
        self.length = 0
        self._at = offset  # file offset written up to
        self._out = offset  # ... and written out up to
        self.pacer = Pacer(duty)

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        n = len(view)
        self.crc = zlib.crc32(view, self.crc)
        _write_all(self.fd, view)
        self._at += n
        self.length += n
        if self.sync_every and self._at - self._out >= self.sync_every:
            _write_out(self.fd, self._out, self._at - self._out)
            self._out = self._at
        self.pacer.pace()
        return n


class _PacedPickler(pickle.Pickler):
    """A pickler that also paces between frames: every PACE_EVERY objects of a class of their
    own (the pickler asks `reducer_override` about those, not about ints, strings and
    containers), some 0.3 ms of pickling at 50,000 orders rather than a frame's few ms."""

    def __init__(self, body: _Body) -> None:
        super().__init__(body, protocol=5)
        self._body = body
        self._seen = 0

    def reducer_override(self, obj: Any) -> Any:
        self._seen += 1
        if not self._seen % PACE_EVERY:
            self._body.pacer.pace()
        return NotImplemented


def write_pickled(path: Path, head: bytes, length_at: int, obj: Any, *, sync_every: int = 0,
                  duty: float = 1.0, mode: int = 0o644) -> Path:
    """Write `head ‖ pickle(obj, protocol 5) ‖ crc32` atomically at `path`, the pickle's length
    (u64) stored into the head at `length_at` (module docstring); the temporary file's path
    (`<name>.<pid>.tmp`, gone once renamed). `sync_every` as `files.write_atomic` takes it;
    `duty` paces the pickling (1.0: at full speed). Whatever the pickler raises is raised, the
    temporary file removed."""
    Pacer(duty)  # (a bad duty refused before anything is written)
    with replacing(path, mode) as (fd, tmp):
        _write_all(fd, head)
        body = _Body(fd, len(head), sync_every, duty)
        (pickle.Pickler(body, protocol=5) if duty == 1.0 else _PacedPickler(body)).dump(obj)
        final_head = head[:length_at] + _U64.pack(body.length) + head[length_at + 8:]
        crc = crc32_combine(zlib.crc32(final_head), body.crc, body.length)
        _write_all(fd, _U32.pack(crc))
        os.pwrite(fd, final_head, 0)
    return tmp
