"""Snapshots: the whole state at one journal seq, so that recovery replays only the tail.

`write_snapshot(dir, seq, exchange)` stores the exchange as it is after applying the journal's
records up to `seq`; `load_latest(dir)` returns `(seq, exchange)` of the newest good snapshot or
None. Any object with `state_hash()` that pickles can be snapshotted (an `Exchange`, or a venue
state wrapping one).

File `<dir>/<seq, 20 digits>.snap`::

    magic "PSSNAP\\x00\\x02" (8 bytes)  seq:u64  hash_len:u16  state_hash (ASCII)
    build_len:u16  build (ASCII)  body_len:u64  body (pickle, protocol 5)
    crc32 of everything before it:u32

`build` names the perpsim build that wrote it (`build_id()`: its version and a digest of the
code whose objects the pickle holds). A pickle is only as good as the classes it is loaded
into, so a snapshot of another build, or of the older format without one, is refused like a
damaged one and recovery falls back past it (to an older snapshot, or to the journal's start).

Written atomically: a temporary file in the same directory, fsynced, renamed over the final
name, the directory fsynced; the pickle streamed into it as it is made (venue/snapshot_stream.py:
the same bytes as pickling first and writing after, without a copy of the state's size in
memory). The last `keep` snapshots are kept. Loading checks the CRC, unpickles
and recomputes `state_hash()`: a snapshot whose state does not hash to what was recorded when it
was written is refused (`SnapshotError`), and `load_latest` falls back to the next older one.

Snapshots are pickles: load only snapshots this venue wrote (a pickle can run code).

Pickling support of the kernels (checked by tests/unit/venue/test_snapshot.py):

* the reference book (`book_impl="ref"`) and the reference liquidation index pickle as plain
  Python objects;
* the Cython `Book` and `LiquidationIndex` pickle through their `__reduce__`, which rebuilds them
  from their resting orders (priority order) and their entries; a Cython type without one fails
  with "no default __reduce__ due to non-trivial __cinit__", and `write_snapshot` raises
  `SnapshotError` saying so, writing nothing.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.metadata
import os
import pickle
import struct
import zlib
from pathlib import Path
from typing import Any

from perpsim.venue.files import fsync_dir, remove_gradually
from perpsim.venue.snapshot_stream import write_pickled

__all__ = ["SNAPSHOT_SUFFIX", "SnapshotError", "build_id", "list_snapshots", "load_latest", "read_snapshot",
           "write_snapshot"]

MAGIC = b"PSSNAP\x00\x02"
_OLDER_MAGIC = (b"PSSNAP\x00\x01",)
#: The packages whose objects a snapshot pickles: their code makes up the build id.
_STATE_PACKAGES = ("perpsim.engine", "perpsim.model", "perpsim.risk", "perpsim.venue")
SNAPSHOT_SUFFIX = ".snap"
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
_U16 = struct.Struct("<H")


class SnapshotError(Exception):
    """A snapshot cannot be written (the state does not pickle) or is not good to load."""


def dumps(state: Any) -> bytes:
    """Pickle `state` (protocol 5); SnapshotError if it does not pickle, naming the class that
    refuses."""
    try:
        return pickle.dumps(state, protocol=5)
    except (TypeError, pickle.PicklingError, AttributeError) as e:
        raise _unpicklable(e) from e


def _unpicklable(e: Exception) -> SnapshotError:
    hint = ""
    if "__cinit__" in str(e) or "__reduce__" in str(e):
        hint = " (a Cython extension type without __reduce__)"
    return SnapshotError(f"state does not pickle: {e}{hint}")


@functools.cache
def build_id() -> str:
    """This build of perpsim: its version and a digest of the source (Python and Cython, which
    the package ships) of the packages a snapshot's pickle refers to; the same source rebuilt
    gives the same id. Computed once per process."""
    h = hashlib.blake2b(digest_size=8)
    for name in _STATE_PACKAGES:
        source = importlib.import_module(name).__file__
        assert source is not None  # a regular package, never a namespace one
        folder = Path(source).parent
        for f in sorted(folder.iterdir()):
            if f.suffix in (".py", ".pyx", ".pxd"):
                h.update(f.name.encode() + b"\0" + f.read_bytes())
    try:
        version = importlib.metadata.version("perpsim")
    except importlib.metadata.PackageNotFoundError:
        version = "0"
    return f"{version}+{h.hexdigest()}"


def _path(directory: Path, seq: int) -> Path:
    return directory / f"{seq:020d}{SNAPSHOT_SUFFIX}"


def list_snapshots(directory: str | os.PathLike) -> list[tuple[int, Path]]:
    """(seq, path) of the snapshot files in `directory`, oldest first (not checked)."""
    d = Path(directory)
    if not d.is_dir():
        return []
    out = []
    for p in d.iterdir():
        stem = p.name[: -len(SNAPSHOT_SUFFIX)] if p.name.endswith(SNAPSHOT_SUFFIX) else ""
        if len(stem) == 20 and stem.isdigit():
            out.append((int(stem), p))
    return sorted(out)


def write_snapshot(directory: str | os.PathLike, seq: int, exchange: Any, *, keep: int = 3,
                   sync_every: int = 0, duty: float = 1.0) -> Path:
    """Write the snapshot of `exchange` at journal seq `seq` atomically; then delete all but
    the newest `keep` snapshots (and leftover temporary files). Returns the file's path.

    The pickle is streamed into the file as it is made (`snapshot_stream.write_pickled`: no
    copy of the state's size in memory). `sync_every` (bytes, 0: off): flush the file every
    that many bytes as it is written, and free the deleted ones 16 times that at a time
    (`files.remove_gradually`): a journal fsync meanwhile then never waits for a whole
    snapshot. `duty` (0 < duty <= 1): the share of the time the pickling runs, sleeping the
    rest (1.0: at full speed), so that a writer beside a busy venue takes the memory bus and
    the caches from it for only that share of the time."""
    if seq < 0:
        raise ValueError("seq must be >= 0")
    if keep < 1:
        raise ValueError("keep must be >= 1")
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    state_hash = exchange.state_hash().encode("ascii")
    build = build_id().encode("ascii")
    head = MAGIC + _U64.pack(seq) + _U16.pack(len(state_hash)) + state_hash + _U16.pack(len(build)) + build
    final = _path(d, seq)
    try:
        tmp = write_pickled(final, head + _U64.pack(0), len(head), exchange, sync_every=sync_every, duty=duty)
    except (TypeError, pickle.PicklingError, AttributeError) as e:
        raise _unpicklable(e) from e
    snaps = list_snapshots(d)
    removed = False
    for _, p in snaps[: max(0, len(snaps) - keep)]:
        if sync_every:  # renamed first: a crash midway leaves a temporary file, never a cut snapshot
            p = p.replace(p.with_name(f"{p.name}.{os.getpid()}.tmp"))
            remove_gradually(p, sync_every * 16)
        p.unlink(missing_ok=True)
        removed = True
    for p in d.glob(f"*{SNAPSHOT_SUFFIX}.*.tmp"):
        if p != tmp:
            if sync_every:
                remove_gradually(p, sync_every * 16)
            p.unlink(missing_ok=True)
            removed = True
    if removed:
        fsync_dir(d)
    return final


def read_snapshot(path: str | os.PathLike, *, check_integrity: bool = True) -> tuple[int, Any]:
    """(seq, state) of one snapshot file, checked: CRC, unpickling, the recomputed state_hash
    (and the state's own check_integrity() if it has one and `check_integrity`)."""
    p = Path(path)
    data = p.read_bytes()
    try:
        if data[:8] in _OLDER_MAGIC:
            raise SnapshotError("written by an older perpsim (snapshot format without a build id)")
        if len(data) < len(MAGIC) + 8 + 2 + 2 + 8 + 4 or data[:8] != MAGIC:
            raise SnapshotError("not a perpsim snapshot (bad magic or too short)")
        (crc,) = _U32.unpack_from(data, len(data) - 4)
        if zlib.crc32(memoryview(data)[:-4]) != crc:
            raise SnapshotError("CRC mismatch")
        (seq,) = _U64.unpack_from(data, 8)
        (n,) = _U16.unpack_from(data, 16)
        recorded = data[18:18 + n].decode("ascii")
        (b,) = _U16.unpack_from(data, 18 + n)
        build = data[20 + n:20 + n + b].decode("ascii")
        (body_len,) = _U64.unpack_from(data, 20 + n + b)
        start = 28 + n + b
        if start + body_len + 4 != len(data):
            raise SnapshotError("length fields disagree with the file size")
        if build != build_id():
            raise SnapshotError(f"written by perpsim build {build}, this is {build_id()}")
        stem = p.name[: -len(SNAPSHOT_SUFFIX)] if p.name.endswith(SNAPSHOT_SUFFIX) else ""
        if stem.isdigit() and int(stem) != seq:
            raise SnapshotError(f"the file name says seq {int(stem)}, the contents {seq}")
        try:
            state = pickle.loads(memoryview(data)[start:start + body_len])
        except Exception as e:
            raise SnapshotError(f"does not unpickle: {e!r}") from e
        try:
            actual = state.state_hash()
        except Exception as e:
            raise SnapshotError(f"its state does not hash: {e!r}") from e
        if actual != recorded:
            raise SnapshotError(f"state hash {actual} != {recorded} recorded when it was written")
        if check_integrity and hasattr(state, "check_integrity"):
            try:
                state.check_integrity()
            except Exception as e:
                raise SnapshotError(f"integrity check failed: {e!r}") from e
    except SnapshotError as e:
        raise SnapshotError(f"{p}: {e}") from e.__cause__
    return seq, state


def load_latest(directory: str | os.PathLike, *, errors: list[str] | None = None) -> tuple[int, Any] | None:
    """(seq, state) of the newest snapshot that loads and checks, or None if there is none.
    A snapshot that fails is skipped for the next older one; its error is appended to `errors`
    when given."""
    for _, path in reversed(list_snapshots(directory)):
        try:
            return read_snapshot(path)
        except SnapshotError as e:
            if errors is not None:
                errors.append(str(e))
    return None
