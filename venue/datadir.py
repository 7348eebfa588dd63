"""The data directory's small files and how they must fit together, checked before a start
writes anything: a damaged or inconsistent directory is a `DataDirError` naming the path and
what to do (`perpsim serve` prints it as one line and exits 2).

    <data_dir>/created_ns          the venue's epoch (ns): replay builds the exchange from it
    <data_dir>/liquidity-account   the built-in liquidity provider's account id
    <data_dir>/journal/, snapshots/  see perpsim.venue.recovery
"""

from __future__ import annotations

from pathlib import Path

from perpsim.venue.errors import cut
from perpsim.venue.journal_format import SEGMENT_SUFFIX
from perpsim.venue.recovery import JOURNAL_DIR, SNAPSHOT_DIR
from perpsim.venue.snapshot import list_snapshots

CREATED = "created_ns"
LIQUIDITY_ACCOUNT = "liquidity-account"


class DataDirError(Exception):
    """The data directory cannot be started from as it is; the message says what to do."""


def read_int(path: Path, what: str) -> int | None:
    """The positive integer `path` holds (None if it does not exist); DataDirError if damaged."""
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        raise DataDirError(f"{path} cannot be read ({e}): restore it from a backup") from None
    if not text.isdigit() or int(text) == 0:
        raise DataDirError(f"{path} is damaged: expected {what}, found {cut(repr(text))}; restore it from a backup")
    return int(text)


def check(data_dir: Path) -> None:
    """Refuse a data directory whose files are damaged or do not fit together."""
    created = read_int(data_dir / CREATED, "the venue's creation time in nanoseconds")
    read_int(data_dir / LIQUIDITY_ACCOUNT, "an account id")
    journal, snapshots = data_dir / JOURNAL_DIR, data_dir / SNAPSHOT_DIR
    segments = journal.is_dir() and any(journal.glob("*" + SEGMENT_SUFFIX))
    snapped = bool(list_snapshots(snapshots))
    if snapped and not segments:
        raise DataDirError(f"{journal} holds no journal segment but {snapshots} holds snapshots: the commands after "
                           "the newest snapshot would be lost; restore the journal from a backup, or move the data "
                           "directory away to start an empty venue")
    if created is None and (segments or snapped):
        raise DataDirError(f"{data_dir / CREATED} is missing but {data_dir} holds a journal: the replay would not "
                           "rebuild the same state without the venue's epoch; restore the file from a backup")
