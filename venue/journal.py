"""The command journal: append-only segment files of checksummed, sequence-numbered records.

Every command is appended here and made durable before its result is acknowledged. Appends
are buffered; `commit()` writes everything buffered with one write and one fsync (group commit),
so the cost of an fsync is shared by every command of the batch.

Layout of a journal directory (a segment's bytes: venue/journal_format.py; the segment files and
the zeros written ahead of their records: venue/journal_segments.py; what opening checks and
does: venue/journal_open.py)::

    <dir>/LOCK                          flock()ed by the one process that has the journal open
    <dir>/<first seq, 20 digits>.seg    segment files, in sequence order
    <dir>/<first seq>.seg.pruned        a pruned segment being freed: ignored, removed by the next prune

Records never span segments; a segment is closed once it holds
`segment_bytes` or more (a commit batch is never split, so a segment can exceed that by one
batch) and the next one starts with the next seq. A new segment is created atomically (header
written to a temporary file, fsynced, renamed, directory fsynced).

Durability relies on `os.fdatasync` (`os.fsync` where it is missing). On macOS neither flushes
the drive's cache (F_FULLFSYNC would); the venue targets Linux.

A `Journal` is used from one thread at a time for appends, but `commit()` may run in another
thread (an executor) while appends for the next batch continue: appends and the swap of the
buffer are under one lock, the write and fsync under another.
"""

from __future__ import annotations

import os
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from perpsim.venue.files import fsync_dir
from perpsim.venue.journal_format import (
    HEADER_SIZE,
    LEN_CRC,
    MAX_PAYLOAD,
    RECORD_OVERHEAD,
    SEQ,
    JournalError,
)
from perpsim.venue.journal_open import OpenReport, check_segments, take_lock
from perpsim.venue.journal_segments import (
    Segment,
    create_segment,
    free_pruned,
    open_for_writing,
    read_records,
    rename_pruned,
    top_up,
    write_zeros,
)

__all__ = ["DEFAULT_SEGMENT_BYTES", "PREALLOCATE", "Journal"]

DEFAULT_SEGMENT_BYTES = 64 << 20
#: Zeros kept written ahead of the last record by the venue's journal (`Journal(preallocate=)`):
#: about 1.3 ms of writing every MB of records, against ~60 µs saved on every commit.
PREALLOCATE = 1 << 20

_fdatasync = getattr(os, "fdatasync", os.fsync)


class Journal:
    """An open journal directory. `Journal(path)` creates it if needed, checks it, truncates a
    torn tail, and takes an exclusive lock on it (a second opener gets JournalError).

    `append(payload) -> seq` buffers a record (not yet durable); `commit() -> seq` writes and
    fsyncs everything buffered and returns the last durable seq. `replay(from_seq)` yields
    `(seq, payload)` of durable records. `readonly=True` checks without changing anything (a
    torn tail is reported, not truncated) and refuses appends. `first_seq` numbers the first
    record of a new, empty journal. `preallocate`: bytes of zeros kept written ahead of the
    last record (0: none, each commit grows the file; `PREALLOCATE` is the venue's; see the
    docstring of venue/journal_segments.py). `fsync=False` is for benchmarks of the rest only."""

    def __init__(self, path: str | os.PathLike, *, segment_bytes: int = DEFAULT_SEGMENT_BYTES,
                 readonly: bool = False, first_seq: int = 1, preallocate: int = 0, fsync: bool = True) -> None:
        if segment_bytes < HEADER_SIZE + RECORD_OVERHEAD:
            raise ValueError(f"segment_bytes {segment_bytes} is too small")
        if first_seq < 1:
            raise ValueError("first_seq must be >= 1")
        if preallocate < 0:
            raise ValueError("preallocate must be >= 0")
        self.path = Path(path)
        self.segment_bytes = segment_bytes
        self.readonly = readonly
        self.preallocate = preallocate
        self._zeroed = 0  # the file size of the segment being written: zeros from its records' end on
        self._sync = _fdatasync if fsync else (lambda fd: None)
        self._lock = threading.Lock()  # the buffer and the sequence counter
        self._commit_lock = threading.Lock()  # writes, fsyncs, rotation, pruning
        self._buf: list[bytes] = []
        self._fd: int | None = None
        self._lock_fd: int | None = None
        self._failed: BaseException | None = None
        self._closed = False
        t0 = time.perf_counter()
        if not readonly:
            self.path.mkdir(parents=True, exist_ok=True)
            self._lock_fd = take_lock(self.path)
        try:
            self.open_report = OpenReport()
            self._segments = check_segments(self.path, readonly=readonly, preallocate=preallocate,
                                            report=self.open_report)
            if not readonly:
                if not self._segments:
                    self._segments.append(self._create_segment(first_seq))
                    self.open_report.created = True
                self._fd, self._zeroed = open_for_writing(self._segments[-1])
        except BaseException:
            self._release_lock()
            raise
        last_seq = self._segments[-1].last_seq if self._segments else first_seq - 1
        self._next_seq = last_seq + 1
        self._durable_seq = last_seq
        r = self.open_report
        r.segments = len(self._segments)
        r.first_seq = self._segments[0].first_seq if self._segments else first_seq
        r.last_seq = last_seq
        r.duration_s = time.perf_counter() - t0

    # ------------------------------------------------------------------ properties

    @property
    def last_seq(self) -> int:
        """The seq of the last record appended (durable or still buffered)."""
        return self._next_seq - 1

    @property
    def durable_seq(self) -> int:
        """The seq of the last record known durable (0 if none)."""
        return self._durable_seq

    @property
    def first_seq(self) -> int:
        """The first seq still in the journal (pruning removes older segments)."""
        with self._commit_lock:
            return self._segments[0].first_seq if self._segments else self._next_seq

    @property
    def pending(self) -> int:
        """Records appended and not yet committed."""
        return len(self._buf) // 2

    def segment_paths(self) -> list[Path]:
        """The paths of the journal's segments, oldest first."""
        with self._commit_lock:
            return [s.path for s in self._segments]

    # ------------------------------------------------------------------ writing

    def append(self, payload: bytes) -> int:
        """Buffer one record; its seq. Not durable (and not acknowledged) until `commit()`."""
        if payload.__class__ is not bytes:
            payload = bytes(payload)
        if len(payload) > MAX_PAYLOAD:
            raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
        with self._lock:
            if self._fd is None or self._failed is not None:
                self._refuse()
            seq = self._next_seq
            sb = SEQ.pack(seq)
            self._buf.append(LEN_CRC.pack(len(payload) + 8, zlib.crc32(payload, zlib.crc32(sb))) + sb)
            self._buf.append(payload)
            self._next_seq = seq + 1
            return seq

    def append_many(self, payloads: Iterable[bytes]) -> int:
        """Buffer several records in order; the seq of the last one (last_seq if none)."""
        pack, spack, crc32 = LEN_CRC.pack, SEQ.pack, zlib.crc32
        with self._lock:
            if self._fd is None or self._failed is not None:
                self._refuse()
            seq = self._next_seq
            out: list[bytes] = []  # buffered only once every payload passed (all or none)
            put = out.append
            for payload in payloads:
                if payload.__class__ is not bytes:
                    payload = bytes(payload)
                n = len(payload)
                if n > MAX_PAYLOAD:
                    raise ValueError(f"payload of {n} bytes exceeds {MAX_PAYLOAD}")
                sb = spack(seq)
                put(pack(n + 8, crc32(payload, crc32(sb))) + sb)
                put(payload)
                seq += 1
            self._buf.extend(out)
            self._next_seq = seq
            return seq - 1

    def commit(self) -> int:
        """Write everything buffered with one write and one fsync; the last durable seq.

        If the write or the fsync fails the journal refuses every further call (after a failed
        fsync the state of the page cache is unknown); reopen it to recover."""
        with self._commit_lock:
            with self._lock:
                if self._fd is None or self._failed is not None:
                    self._refuse()
                buf, self._buf = self._buf, []
                last = self._next_seq - 1
            if not buf:
                return self._durable_seq
            try:
                seg = self._segments[-1]
                if seg.size >= self.segment_bytes:
                    seg = self._rotate()
                data = b"".join(buf)
                view = memoryview(data)
                fd = self._fd
                assert fd is not None  # open while the journal takes writes
                while view:  # at the fd's offset, kept at the end of the records
                    n = os.write(fd, view)
                    view = view[n:]
                end = seg.size + len(data)
                if self.preallocate:
                    # topped up an eighth at a time: one commit in many carries a fill, never a
                    # whole N of zeros (1 MB: ~1.3 ms of writing on a quiet disk, far more while a
                    # snapshot is being written)
                    start, stop = max(self._zeroed, end), min(end + self.preallocate, self.segment_bytes)
                    if stop - start >= top_up(self.preallocate) or start < stop == self.segment_bytes:
                        self._zeroed = write_zeros(fd, start, stop)
                self._sync(fd)
            except BaseException as e:
                self._failed = e
                raise JournalError(f"journal write failed ({e!r}); it refuses further writes, reopen it") from e
            seg.size += len(data)
            seg.last_seq = last
            self._durable_seq = last
            return last

    def discard_pending(self) -> int:
        """Drop the buffered, uncommitted records (their seqs are reused); how many."""
        with self._lock:
            n = len(self._buf) // 2
            self._buf = []
            self._next_seq -= n
            return n

    def prune(self, upto_seq: int) -> list[Path]:
        """Delete whole segments whose records all have seq <= upto_seq (never the segment being
        written), e.g. once a snapshot at upto_seq is durable; the removed paths. Commits wait
        only for the renames; a crash before the files are freed leaves `*.seg.pruned` files,
        which opening ignores and the next prune removes."""
        if self.readonly:
            raise JournalError("journal opened read-only")
        # Under the commit lock a segment is only renamed out of the journal (opening ignores the
        # PRUNED_SUFFIX); the folder's fsync and the freeing of 64 MB files, 11-20 ms each, come
        # after it so that no commit waits for them.
        with self._commit_lock:
            removed = rename_pruned(self._segments, upto_seq)
        if removed:
            fsync_dir(self.path)
        free_pruned(self.path)
        return removed

    def close(self) -> None:
        """Close the files and release the lock. Records not committed are dropped (they were
        never acknowledged): commit first for a clean shutdown."""
        with self._commit_lock, self._lock:
            self._buf = []
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            self._closed = True
            self._release_lock()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ reading

    def replay(self, from_seq: int = 1, *, verify: bool = True) -> Iterator[tuple[int, bytes]]:
        """Yield `(seq, payload)` for every durable record with seq >= from_seq, in order.
        Records are checked again as they are read (CRC with `verify`, sequence always);
        JournalError if from_seq is before the first record still kept."""
        with self._commit_lock:
            segments = [(s.first_seq, s.path, s.last_seq, s.size) for s in self._segments]
        if segments and from_seq < segments[0][0]:
            raise JournalError(f"records before seq {segments[0][0]} were pruned; replay from {from_seq} asked")
        return read_records(segments, from_seq, verify)

    # ------------------------------------------------------------------ internals

    def _refuse(self):
        if self.readonly:
            raise JournalError("journal opened read-only")
        if self._failed is not None:
            raise JournalError(f"journal failed earlier ({self._failed!r}); reopen it")
        raise JournalError("journal is closed")

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    def _create_segment(self, first_seq: int) -> Segment:
        return create_segment(self.path, first_seq, preallocate=self.preallocate, segment_bytes=self.segment_bytes)

    def _rotate(self) -> Segment:
        """Start the next segment (the current one is complete and fsynced)."""
        seg = self._create_segment(self._segments[-1].last_seq + 1)
        fd, self._zeroed = open_for_writing(seg)
        assert self._fd is not None  # rotated only while the journal takes writes
        os.close(self._fd)
        self._fd = fd
        self._segments.append(seg)
        return seg

