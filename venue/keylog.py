"""The key store's append-only log, `keys.log` beside `keys.json` (mode 0600).

`keys.json` is the base; every account made after it was written is one line appended here,
a group of them with one write and one fdatasync (`KeyLog.append`). A line is
`<crc32 of the JSON, 8 hex digits> <JSON>\\n`, the JSON `{"digest", "account", "secret"}` for an
account or `{"next_account"}` for ids skipped.

Reading (`read_log`) mirrors the journal's rules: a bad line at the end, with no good line
after it, is a write a crash cut short, never acknowledged: it is left out, and cut off before
the next append; a bad line followed by a good one means the file was damaged: `KeyLogDamaged`.
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

from perpsim.venue.files import fsync_dir

LOG_FILE = "keys.log"
_fdatasync = getattr(os, "fdatasync", os.fsync)


class KeyLogDamaged(ValueError):
    """keys.log has a bad line before a good one (not a torn last write)."""


def line(record: dict) -> bytes:
    """One record as a log line."""
    text = json.dumps(record, separators=(",", ":")).encode()
    return b"%08x %s\n" % (zlib.crc32(text), text)


def _parse(raw: bytes) -> dict | None:
    if len(raw) < 10 or raw[8:9] != b" ":
        return None
    try:
        crc, text = int(raw[:8], 16), raw[9:]
        return json.loads(text) if zlib.crc32(text) == crc else None
    except ValueError:
        return None


def read_log(path: Path) -> tuple[list[dict], int]:
    """The records of a log and the length of its good part (bytes); ([], 0) if it is missing."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], 0
    records: list[dict] = []
    good = off = 0
    bad_at: int | None = None
    while off < len(data):
        end = data.find(b"\n", off)
        if end < 0:  # no newline: the last write was cut short
            break
        rec = _parse(data[off:end])
        if rec is None:
            bad_at = off if bad_at is None else bad_at
        elif bad_at is not None:
            raise KeyLogDamaged(f"line at byte {bad_at} is damaged")
        else:
            records.append(rec)
            good = end + 1
        off = end + 1
    return records, good


class KeyLog:
    """Appends to keys.log; a torn tail left by a crash is cut off by the first append."""

    def __init__(self, path: Path, good: int) -> None:
        self.path = path
        self._good = good  # bytes of whole lines; anything after is a torn write
        self._cut = False  # the file holds nothing after _good (cut once, and after an error)

    def _open(self, flags: int = 0) -> int:
        return os.open(self.path, os.O_WRONLY | flags | getattr(os, "O_CLOEXEC", 0), 0o600)

    def ensure(self) -> None:
        """The log exists, durably (the file and its folder entry); its lines are kept."""
        fd = self._open(os.O_CREAT)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_dir(self.path.parent)

    def clear(self) -> None:
        """Empty the log (its lines are in a base written since), durably."""
        fd = self._open()
        try:
            os.ftruncate(fd, 0)
            os.fsync(fd)
        finally:
            os.close(fd)
        self._good, self._cut = 0, True

    def append(self, lines: list[bytes]) -> None:
        """Write `lines` at the end of the good part with one write and make them durable with
        one fdatasync. On an error the file is cut back (no torn line before the next append's)."""
        blob = b"".join(lines)
        fd = self._open()
        try:
            if not self._cut:
                os.ftruncate(fd, self._good)
                self._cut = True
            os.lseek(fd, self._good, os.SEEK_SET)
            view = memoryview(blob)
            while view:
                view = view[os.write(fd, view):]
            _fdatasync(fd)
        except BaseException:
            self._cut = False
            try:
                os.ftruncate(fd, self._good)
            except OSError:
                pass
            raise
        finally:
            os.close(fd)
        self._good += len(blob)
