"""What a checkpoint leaves on the sequencer's path.

With the snapshot follower (venue/follower_checkpoint.py): a message on a pipe, no fork, no
thread started per checkpoint; the follower runs at the lowest CPU priority, in a session of its
own. With the forked
writer it falls back to (venue/checkpoint.py): the fork only; the writer is niced and flushes
the snapshot in chunks."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from perpsim.venue import checkpoint, snapshot
from perpsim.venue.recovery import SNAPSHOT_DIR

from .conftest import own_venue
from .test_checkpoint_fork import place_some, snapshot_rpc


def test_the_follower_takes_checkpoints_without_a_fork_or_a_thread_per_checkpoint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    forks: list[int] = []
    real_fork = os.fork

    def counted_fork() -> int:
        forks.append(1)
        return real_fork()

    monkeypatch.setattr(os, "fork", counted_fork)
    with own_venue(tmp_path / "data", snapshot_every=5, rest_listen="off") as (running, cfg, trader):
        place_some(trader, 8)  # the follower started, one automatic checkpoint, then more
        snapshot_rpc(running, cfg)
        threads = {t.ident for t in threading.enumerate()}
        place_some(trader, 30, start=8)
        snapshot_rpc(running, cfg)  # every snapshot asked for so far is on disk
        ck = running.venue.seq.checkpoint
        # (forking: the code on disk changed under the venue, and its follower refused to start)
        assert (ck.written >= 3, ck.failed, ck.forking) == (True, 0, False)
        started = [t.name for t in threading.enumerate() if t.ident not in threads]
        # (the loop's shared default executor may grow by a thread: not the checkpoints')
        assert not [n for n in started if n.startswith("perpsim-")], started
        pid = ck.follower_pid
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        assert int(stat[16]) == 19  # its niceness
        # a session of its own, whose autogroup (where the kernel has them) is niced too: it
        # yields to every other session's processes, the venue's clients too (venue/background.py)
        assert int(stat[3]) == pid
        autogroup = Path(f"/proc/{pid}/autogroup")
        if autogroup.exists():
            assert autogroup.read_text().split()[-1] == "19"
        assert ck.followers == 1
    assert not forks, "a checkpoint forked the venue"
    assert snapshot.list_snapshots(tmp_path / "data" / SNAPSHOT_DIR)


def test_the_forked_writer_is_niced_and_paced_and_the_venue_starts_no_thread_per_checkpoint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data, seen = tmp_path / "data", tmp_path / "writers"
    seen.mkdir()
    real_write = snapshot.write_pickled

    def observed(path, head, length_at, state, **kw):
        """In the writer: note its niceness and how it was asked to write, then write."""
        (seen / str(os.getpid())).write_text(json.dumps({"nice": os.nice(0), "sync_every": kw.get("sync_every")}))
        return real_write(path, head, length_at, state, **kw)

    monkeypatch.setattr(snapshot, "write_pickled", observed)
    with own_venue(data, snapshot_every=5, rest_listen="off") as (running, cfg, trader):
        ck = running.venue.seq.checkpoint
        ck.use_forks()
        by_follower = ck.written  # (the venue's start took its own)
        place_some(trader, 8)  # one automatic checkpoint, then more
        threads = {t.ident for t in threading.enumerate()}
        place_some(trader, 30, start=8)
        snapshot_rpc(running, cfg)  # every writer has exited
        assert ck.written - by_follower >= 2 and ck.failed == 0
        started = [t.name for t in threading.enumerate() if t.ident not in threads]
        assert not [n for n in started if n.startswith("perpsim-checkpoint")], started
    writers = [json.loads(p.read_text()) for p in seen.iterdir()]
    assert len(writers) == ck.written - by_follower
    assert all(w == {"nice": min(os.nice(0) + 19, 19), "sync_every": checkpoint.SYNC_EVERY}
               for w in writers), writers
    assert snapshot.list_snapshots(data / SNAPSHOT_DIR)
