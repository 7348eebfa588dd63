"""Large writes and deletes paced for the journal's sake (venue/files.py, write_snapshot's
sync_every): the same bytes on disk, written out chunk by chunk, old snapshots gone."""

from __future__ import annotations

import os

import pytest

from perpsim.venue import files, snapshot

from .conftest import written_out_ranges


class _Book:
    """A picklable stand-in for a state: its hash names its contents."""

    def __init__(self, blob: bytes) -> None:
        self.blob = blob

    def state_hash(self) -> str:
        return f"{len(self.blob):x}"


@pytest.mark.parametrize("sync_every", [0, 1000, 4096, 1 << 20])
def test_write_atomic_writes_the_same_bytes_whatever_the_chunk(tmp_path, monkeypatch, sync_every):
    parts = [b"head", os.urandom(20_000), b"", b"tail" * 3]
    written_out = written_out_ranges(monkeypatch, files)
    path = tmp_path / "f.bin"
    files.write_atomic(path, *parts, sync_every=sync_every)
    assert path.read_bytes() == b"".join(parts)
    assert not list(tmp_path.glob("*.tmp"))
    if not sync_every:
        assert written_out == []
        return
    # contiguous ranges from the start, each at least sync_every long (the last one may be shorter than
    # the file's tail: the final fsync covers it)
    assert [o for o, _ in written_out] == [sum(n for _, n in written_out[:i]) for i in range(len(written_out))]
    assert all(n >= sync_every for _, n in written_out)
    assert sum(n for _, n in written_out) > len(b"".join(parts)) - sync_every


def test_remove_gradually_deletes_a_file_of_any_size(tmp_path):
    big, small = tmp_path / "big", tmp_path / "small"
    big.write_bytes(os.urandom(100_000))
    small.write_bytes(b"x")
    files.remove_gradually(big, 4096)
    files.remove_gradually(small, 4096)
    files.remove_gradually(tmp_path / "absent", 4096)  # not an error
    assert not big.exists() and not small.exists()


def test_paced_snapshots_keep_the_newest_and_clean_up(tmp_path):
    d = tmp_path / "snaps"
    states = {seq: _Book(os.urandom(30_000 + seq)) for seq in (10, 20, 30, 40)}
    for seq, state in states.items():
        snapshot.write_snapshot(d, seq, state, keep=2, sync_every=4096)
    assert [s for s, _ in snapshot.list_snapshots(d)] == [30, 40]
    assert sorted(p.name for p in d.iterdir()) == [f"{30:020d}.snap", f"{40:020d}.snap"]
    seq, loaded = snapshot.read_snapshot(d / f"{40:020d}.snap", check_integrity=False)
    assert seq == 40 and loaded.blob == states[40].blob


def test_an_old_snapshot_cut_short_by_a_crash_is_no_snapshot_and_goes_next_time(tmp_path):
    """Deleting paced renames first: what a crash midway leaves is a temporary file, which
    listing ignores and the next snapshot removes."""
    d = tmp_path / "snaps"
    snapshot.write_snapshot(d, 10, _Book(b"a" * 20_000), keep=1, sync_every=4096)
    old = d / f"{10:020d}.snap"
    left = old.with_name(f"{old.name}.{os.getpid() + 1}.tmp")
    old.rename(left)
    with open(left, "r+b") as f:
        f.truncate(5_000)
    assert snapshot.list_snapshots(d) == []
    snapshot.write_snapshot(d, 20, _Book(b"b" * 20_000), keep=1, sync_every=4096)
    assert sorted(p.name for p in d.iterdir()) == [f"{20:020d}.snap"]
