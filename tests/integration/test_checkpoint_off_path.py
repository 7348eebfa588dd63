"""What a checkpoint leaves on the sequencer's path (venue/checkpoint.py): the fork only. The
writer runs at the lowest CPU priority and flushes the snapshot in chunks, and no thread is
started per checkpoint."""

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


def test_the_writer_is_niced_and_paced_and_the_venue_starts_no_thread_per_checkpoint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data, seen = tmp_path / "data", tmp_path / "writers"
    seen.mkdir()
    real_write = snapshot.write_atomic

    def observed(path, *parts, **kw):
        """In the writer: note its niceness and how it was asked to write, then write."""
        (seen / str(os.getpid())).write_text(json.dumps({"nice": os.nice(0), "sync_every": kw.get("sync_every")}))
        return real_write(path, *parts, **kw)

    monkeypatch.setattr(snapshot, "write_atomic", observed)
    with own_venue(data, snapshot_every=5, rest_listen="off") as (running, cfg, trader):
        place_some(trader, 8)  # one automatic checkpoint, then more
        threads = {t.ident for t in threading.enumerate()}
        place_some(trader, 30, start=8)
        snapshot_rpc(running, cfg)  # every writer has exited
        ck = running.venue.seq.checkpoint
        assert ck.written >= 3 and ck.failed == 0
        started = [t.name for t in threading.enumerate() if t.ident not in threads]
        assert not [n for n in started if n.startswith("perpsim-checkpoint")], started
    writers = [json.loads(p.read_text()) for p in seen.iterdir()]
    assert len(writers) == ck.written
    assert all(w == {"nice": min(os.nice(0) + 19, 19), "sync_every": checkpoint.SYNC_EVERY}
               for w in writers), writers
    assert snapshot.list_snapshots(data / SNAPSHOT_DIR)
