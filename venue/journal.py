"""The command journal: append-only segment files of checksummed, sequence-numbered records.

Every command is appended here and made durable before its result is acknowledged. Appends
are buffered; `commit()` writes everything buffered with one write and one fsync (group commit),
so the cost of an fsync is shared by every command of the batch.

Layout of a journal directory (a segment's bytes: venue/journal_format.py)::

    <dir>/LOCK                          flock()ed by the one process that has the journal open
    <dir>/<first seq, 20 digits>.seg    segment files, in sequence order
    <dir>/<first seq>.seg.pruned        a pruned segment being freed: ignored, removed by the next prune

Records never span segments; a segment is closed once it holds
`segment_bytes` or more (a commit batch is never split, so a segment can exceed that by one
batch) and the next one starts with the next seq. A new segment is created atomically (header
written to a temporary file, fsynced, renamed, directory fsynced).

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

Durability relies on `os.fdatasync` (`os.fsync` where it is missing). On macOS neither flushes
the drive's cache (F_FULLFSYNC would); the venue targets Linux.

A `Journal` is used from one thread at a time for appends, but `commit()` may run in another
thread (an executor) while appends for the next batch continue: appends and the swap of the
buffer are under one lock, the write and fsync under another.
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from perpsim.venue.files import fsync_dir, remove_gradually
from perpsim.venue.journal_format import (
    HEADER_SIZE,
    LEN_CRC,
    MAX_PAYLOAD,
    RECORD_HEADER,
    RECORD_OVERHEAD,
    SEGMENT_SUFFIX,
    SEQ,
    JournalCorrupt,
    JournalError,
    check_header,
    only_zeros_after,
    scan_segment,
    segment_header,
    segment_name,
    valid_record_at_or_after,
)

__all__ = [
    "HEADER_SIZE",
    "MAX_PAYLOAD",
    "PREALLOCATE",
    "RECORD_OVERHEAD",
    "SEGMENT_SUFFIX",
    "Journal",
    "JournalCorrupt",
    "JournalError",
    "OpenReport",
    "scan_segment",
]

DEFAULT_SEGMENT_BYTES = 64 << 20
#: Zeros kept written ahead of the last record by the venue's journal (`Journal(preallocate=)`):
#: about 1.3 ms of writing every MB of records, against ~60 µs saved on every commit.
PREALLOCATE = 1 << 20
#: A pruned segment's name while it is being freed (`<segment>.seg.pruned`); not part of the journal.
PRUNED_SUFFIX = ".pruned"
#: Bytes freed per fsynced cut when a pruned segment is removed.
PRUNE_STEP = 4 << 20

_fdatasync = getattr(os, "fdatasync", os.fsync)


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


@dataclass
class _Segment:
    first_seq: int
    path: Path
    last_seq: int  # first_seq - 1 while empty
    size: int  # bytes known good (header + whole records)


class Journal:
    """An open journal directory. `Journal(path)` creates it if needed, checks it, truncates a
    torn tail, and takes an exclusive lock on it (a second opener gets JournalError).

    `append(payload) -> seq` buffers a record (not yet durable); `commit() -> seq` writes and
    fsyncs everything buffered and returns the last durable seq. `replay(from_seq)` yields
    `(seq, payload)` of durable records. `readonly=True` checks without changing anything (a
    torn tail is reported, not truncated) and refuses appends. `first_seq` numbers the first
    record of a new, empty journal. `preallocate`: bytes of zeros kept written ahead of the
    last record (0: none, each commit grows the file; `PREALLOCATE` is the venue's; see the
    module docstring). `fsync=False` is for benchmarks of the rest only."""

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
            self._take_lock()
        try:
            self.open_report = OpenReport()
            self._segments = self._scan_all()
            if not readonly:
                if not self._segments:
                    self._segments.append(self._create_segment(first_seq))
                    self.open_report.created = True
                self._fd = self._open_for_writing(self._segments[-1])
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
                    if stop - start >= _top_up(self.preallocate) or start < stop == self.segment_bytes:
                        self._zeroed = _write_zeros(fd, start, stop)
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
        removed = []
        # Under the commit lock a segment is only renamed out of the journal (opening ignores the
        # PRUNED_SUFFIX); the folder's fsync and the freeing of 64 MB files, 11-20 ms each, come
        # after it so that no commit waits for them.
        with self._commit_lock:
            while len(self._segments) > 1 and self._segments[0].last_seq <= upto_seq:
                seg = self._segments.pop(0)
                os.rename(seg.path, seg.path.with_name(seg.path.name + PRUNED_SUFFIX))
                removed.append(seg.path)
        if removed:
            fsync_dir(self.path)
        self._remove_pruned()
        return removed

    def _remove_pruned(self) -> None:
        """Free the renamed-away segments, PRUNE_STEP bytes at a time (`files.remove_gradually`),
        including those a crash left behind after an earlier prune. The folder is not fsynced:
        an unlink a crash undoes leaves a `.pruned` file, which is harmless."""
        for p in sorted(self.path.glob("*" + SEGMENT_SUFFIX + PRUNED_SUFFIX)):
            remove_gradually(p, PRUNE_STEP)

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
        return self._replay(segments, from_seq, verify)

    @staticmethod
    def _replay(segments, from_seq: int, verify: bool) -> Iterator[tuple[int, bytes]]:
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

    # ------------------------------------------------------------------ internals

    def _refuse(self):
        if self.readonly:
            raise JournalError("journal opened read-only")
        if self._failed is not None:
            raise JournalError(f"journal failed earlier ({self._failed!r}); reopen it")
        raise JournalError("journal is closed")

    def _take_lock(self) -> None:
        fd = os.open(self.path / "LOCK", os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise JournalError(f"journal {self.path} is open in another process or Journal object") from None
            raise
        self._lock_fd = fd

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    def _list_segments(self) -> list[tuple[int, Path]]:
        out: list[tuple[int, Path]] = []
        if not self.path.is_dir():
            return out
        for p in self.path.iterdir():
            name = p.name
            if name.endswith(".tmp"):
                if not self.readonly:
                    p.unlink()  # a segment whose creation never completed: never part of the journal
                    self.open_report.removed_temp_files.append(str(p))
                continue
            if name.endswith(SEGMENT_SUFFIX):
                stem = name[: -len(SEGMENT_SUFFIX)]
                if len(stem) == 20 and stem.isdigit():
                    out.append((int(stem), p))
        return sorted(out)

    def _scan_all(self) -> list[_Segment]:
        found = self._list_segments()
        segments: list[_Segment] = []
        report = self.open_report
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
                if self.preallocate or self.readonly or not is_last:
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
                if not self.readonly:
                    fd = os.open(path, os.O_WRONLY)
                    try:
                        os.ftruncate(fd, scan.end)
                        os.fsync(fd)
                    finally:
                        os.close(fd)
            segments.append(_Segment(first, path, scan.last_seq, scan.end))
        return segments

    def _create_segment(self, first_seq: int) -> _Segment:
        path = self.path / segment_name(first_seq)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            os.write(fd, segment_header(first_seq))
            if self.preallocate:
                _write_zeros(fd, HEADER_SIZE, min(self.preallocate, self.segment_bytes))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        fsync_dir(self.path)
        return _Segment(first_seq, path, first_seq - 1, HEADER_SIZE)

    def _rotate(self) -> _Segment:
        """Start the next segment (the current one is complete and fsynced)."""
        seg = self._create_segment(self._segments[-1].last_seq + 1)
        fd = self._open_for_writing(seg)
        assert self._fd is not None  # rotated only while the journal takes writes
        os.close(self._fd)
        self._fd = fd
        self._segments.append(seg)
        return seg

    def _open_for_writing(self, seg: _Segment) -> int:
        """`seg`'s file opened for the next commit: the fd's offset at the end of its records
        (not O_APPEND: zeros may follow them), and the size known as the zeroed end."""
        fd = os.open(seg.path, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            os.lseek(fd, seg.size, os.SEEK_SET)
            self._zeroed = os.fstat(fd).st_size
        except BaseException:
            os.close(fd)
            raise
        return fd


def _top_up(preallocate: int) -> int:
    """The least a commit writes of zeros ahead when it writes any: an eighth of `preallocate`."""
    return max(preallocate // 8, 1)


def _write_zeros(fd: int, start: int, stop: int) -> int:
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
