"""Durable file writes for the data directory: a file is the old one or the new one, never torn."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

_fdatasync = getattr(os, "fdatasync", os.fsync)


def _sync_file_range():
    """libc's sync_file_range (Linux), looked up once here (a forked child must not dlopen);
    None elsewhere."""
    try:
        import ctypes

        f = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    f.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    return f


_SYNC_FILE_RANGE = _sync_file_range()
#: SYNC_FILE_RANGE_WAIT_BEFORE | _WRITE | _WAIT_AFTER: the range is on the device when it returns
_SFR_WRITE_AND_WAIT = 1 | 2 | 4


def _write_out(fd: int, offset: int, length: int) -> None:
    """Push a written range of `fd` to the device and wait for it, without a cache flush nor a
    filesystem commit (the final fsync makes it durable); fdatasync where that is not offered."""
    if _SYNC_FILE_RANGE is None or _SYNC_FILE_RANGE(fd, offset, length, _SFR_WRITE_AND_WAIT) != 0:
        _fdatasync(fd)


def fsync_dir(path: Path) -> None:
    """Make a folder's entries (created, renamed, removed files) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, *parts: bytes, mode: int = 0o644, sync_every: int = 0) -> Path:
    """Write `parts` to a temporary file beside `path` (created with `mode`), fsync it, rename
    it over `path` and fsync the folder. The temporary name is `<name>.<pid>.tmp`; a crash can
    leave one behind, never a partial `path`.

    `sync_every` (bytes; 0: once at the end): write the data out to the device every that many
    bytes as it is written (sync_file_range: no cache flush, no filesystem commit), the fsync at
    the end making it durable. An fsync of any other file of the filesystem (the journal's)
    meanwhile then waits for at most one such chunk, not for the whole file (ext4's ordered mode
    writes out the data of every file whose blocks a commit allocates before that commit)."""
    with replacing(path, mode) as (fd, tmp):
        written = out = 0  # bytes written, and written out
        for part in parts:
            view = memoryview(part)
            while view:
                n = os.write(fd, view[:sync_every] if sync_every else view)
                view, written = view[n:], written + n
                if sync_every and written - out >= sync_every:
                    _write_out(fd, out, written - out)
                    out = written
    return tmp


@contextlib.contextmanager
def replacing(path: Path, mode: int = 0o644) -> Iterator[tuple[int, Path]]:
    """(fd, path) of a temporary file beside `path` (`<name>.<pid>.tmp`, created with `mode`) for
    the body to write: on a clean exit it is fsynced, renamed over `path` and the folder fsynced;
    on an error it is closed and removed, and the error raised."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), mode)
    try:
        yield fd, tmp
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def remove_gradually(path: Path, step: int) -> None:
    """Delete a file by cutting it down `step` bytes at a time, each cut fsynced, then
    unlinking it (its folder is not fsynced). Freeing a large file at once makes the next fsync
    of any file of the filesystem wait for all of it (on a filesystem mounted with `discard`,
    for the device to trim it); a cut at a time bounds that wait. The caller makes sure a crash
    midway, which leaves the file shortened, is harmless. A missing file is not an error."""
    try:
        fd = os.open(path, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return
    try:
        size = os.fstat(fd).st_size
        while size > step:
            size -= step
            os.ftruncate(fd, size)
            os.fsync(fd)
    finally:
        os.close(fd)
    path.unlink(missing_ok=True)
