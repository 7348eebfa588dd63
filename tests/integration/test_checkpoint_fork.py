"""Checkpoints written off the sequencer: by the snapshot follower (venue/follower_checkpoint.py)
or, its fallback, a forked child (venue/checkpoint.py), each writing the snapshot of the state as
of its journal seq while the venue goes on.

Each snapshot on disk must hold exactly the state the journal's records up to its seq rebuild
(replayed here from a fresh state, command by command), and a forked writer that dies while
writing must leave a directory that recovers to the live state."""

from __future__ import annotations

import os
import pickle
import shutil
import signal
from pathlib import Path

import grpc
import pytest

from perpsim.v1 import sandbox_pb2, sandbox_pb2_grpc
from perpsim.venue import codec, snapshot
from perpsim.venue.initial_state import make_state
from perpsim.venue.journal import Journal
from perpsim.venue.recovery import JOURNAL_DIR, SNAPSHOT_DIR, recover

from .conftest import own_venue


def place_some(trader, n: int, start: int = 0) -> None:
    """Resting orders and trades against them (the trader's own sells taken by its buys)."""
    for i in range(start, start + n):
        side = "sell" if i % 2 == 0 else "buy"
        trader.place_order("BTCUSDT", side, "0.001", str(64_000 + (i % 7) * 10 if side == "buy" else 64_000))


def hashes_by_seq(cfg, upto: int) -> dict[int, str]:
    """The venue state's hash after each journal record, replayed from a fresh state."""
    state = make_state(cfg)
    out = {0: state.state_hash()}
    with Journal(cfg.data_dir / JOURNAL_DIR, readonly=True) as journal:
        for seq, payload in journal.replay(1):
            if seq > upto:
                break
            state.apply(codec.decode(payload))
            out[seq] = state.state_hash()
    return out


def snapshot_rpc(running, cfg) -> int:
    key = (cfg.data_dir / "admin.key").read_text().strip()
    with grpc.insecure_channel(running.address) as ch:
        return sandbox_pb2_grpc.SandboxServiceStub(ch).Snapshot(
            sandbox_pb2.SnapshotRequest(), metadata=(("authorization", f"Bearer {key}"),), timeout=60).journal_sequence


@pytest.mark.parametrize("writer", ["follower", "fork"])
def test_snapshots_written_while_the_venue_goes_on_hold_the_state_at_their_seq(tmp_path: Path, writer: str) -> None:
    data = tmp_path / "data"
    with own_venue(data, snapshot_every=7, rest_listen="off") as (running, cfg, trader):
        if writer == "fork":
            running.venue.seq.checkpoint.use_forks()
        place_some(trader, 60)  # automatic checkpoints every 7 commands, under traffic
        asked = snapshot_rpc(running, cfg)  # answered once its file is written
        live = trader.with_key((data / "admin.key").read_text().strip()).venue_state()
        assert live.journal_sequence == asked
        ck = running.venue.seq.checkpoint
        assert ck.written >= 2 and ck.failed == 0
        written = snapshot.list_snapshots(data / SNAPSHOT_DIR)
        assert written[-1][0] == asked
        # the one asked for holds the live state (nothing ran since)
        assert snapshot.read_snapshot(written[-1][1])[1].state_hash() == live.state_hash
    hashes = hashes_by_seq(cfg, asked)
    for seq, path in written:  # every kept snapshot: the state its seq replays to
        loaded_seq, state = snapshot.read_snapshot(path)
        assert loaded_seq == seq and seq in hashes
        assert state.state_hash() == hashes[seq], f"snapshot at seq {seq} is not the state at its seq"
    assert hashes[asked] == live.state_hash


def test_a_writer_killed_midway_leaves_a_recoverable_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    real_write = snapshot.write_pickled
    crash = {"on": False}

    def write_then_die(path, head, length_at, state, **kw):
        """In the child: half the snapshot reaches the temporary file, then the writer is killed."""
        if not crash["on"]:
            return real_write(path, head, length_at, state, **kw)
        blob = head + pickle.dumps(state, protocol=5)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            f.write(blob[: len(blob) // 2])
            f.flush()
            os.fsync(f.fileno())
        os.kill(os.getpid(), signal.SIGKILL)

    monkeypatch.setattr(snapshot, "write_pickled", write_then_die)
    with own_venue(data, snapshot_every=0, rest_listen="off") as (running, cfg, trader):
        running.venue.seq.checkpoint.use_forks()  # the fallback writer (a dying follower: test_snapshot_follower)
        admin = trader.with_key((data / "admin.key").read_text().strip())
        place_some(trader, 10)
        good = snapshot_rpc(running, cfg)
        place_some(trader, 10, start=10)
        crash["on"] = True  # the fork copies it: the next child dies mid-write
        with pytest.raises(grpc.RpcError) as failed:
            snapshot_rpc(running, cfg)
        assert failed.value.code() == grpc.StatusCode.INTERNAL
        ck = running.venue.seq.checkpoint
        assert ck.failed == 1
        leftovers = [p.name for p in (data / SNAPSHOT_DIR).iterdir() if p.name.endswith(".tmp")]
        assert leftovers, "the killed writer left no partial file: the crash was not mid-write"
        assert [s for s, _ in snapshot.list_snapshots(data / SNAPSHOT_DIR)] == [good]
        place_some(trader, 6, start=20)  # the venue goes on after the failed checkpoint
        live = admin.venue_state()
        copy = tmp_path / "copy"  # what a restart would find (the venue keeps its journal locked)
        shutil.copytree(data, copy)
        state, last, report = recover(copy, lambda: make_state(cfg))
        assert (state.state_hash(), last) == (live.state_hash, live.journal_sequence)
        assert report.snapshot_seq == good
        crash["on"] = False
        again = snapshot_rpc(running, cfg)  # the next checkpoint works and clears the partial file
        assert again == live.journal_sequence
        assert not [p for p in (data / SNAPSHOT_DIR).iterdir() if p.name.endswith(".tmp")]
