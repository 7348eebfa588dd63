"""Snapshots written by the snapshot follower (venue/follower_checkpoint.py), through the real
venue: the follower's snapshot at a seq holds the state the journal replays to at that seq and
the live venue's history; it follows a reset; one that dies is replaced (and after a few deaths
the venue forks writers); it ends with the venue and holds nothing of the data directory."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from pathlib import Path

import grpc
import pytest

from perpsim.clients.errors import PerpsimError
from perpsim.venue import follower_checkpoint, snapshot
from perpsim.venue.app import RunningVenue
from perpsim.venue.recovery import JOURNAL_DIR, SNAPSHOT_DIR

from .conftest import fault_once_in_book, own_venue
from .test_checkpoint_fork import hashes_by_seq, place_some, snapshot_rpc


def wait_for(what, timeout: float = 30.0, step: float = 0.02):
    """Poll `what()` until it is truthy; its value."""
    deadline = time.monotonic() + timeout
    while not (value := what()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(step)
    return value


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def nice_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def same_history(a, b, accounts: list[int]) -> None:
    """The two states' histories hold the same (their digests) and answer alike (what a client
    reads after a restart)."""
    ha, hb = a.history, b.history
    assert ha.digest() == hb.digest()
    for account in accounts:
        assert ha.orders(account) == hb.orders(account)
        assert ha.trades(account) == hb.trades(account)
        assert ha.income(account) == hb.income(account)
    for symbol in ("BTCUSDT", "ETHUSDT"):
        assert ha.public_trades(symbol) == hb.public_trades(symbol)
        assert ha.klines(symbol) == hb.klines(symbol)
        assert ha.klines(symbol, source="mark") == hb.klines(symbol, source="mark")


@contextlib.contextmanager
def snapshotted_venue(data: Path, orders: int):
    """A venue on `data` (no automatic snapshots, no REST) after `orders` orders and one snapshot
    asked of its follower: (running, cfg, trader, admin, its FollowerCheckpoint)."""
    with own_venue(data, snapshot_every=0, rest_listen="off") as (running, cfg, trader):
        admin = trader.with_key((data / "admin.key").read_text().strip())
        place_some(trader, orders)
        snapshot_rpc(running, cfg)
        yield running, cfg, trader, admin, running.venue.seq.checkpoint


def test_a_checkpoint_under_load_is_the_followers_and_the_venue_restarts_from_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"

    def no_fork():
        raise AssertionError("a checkpoint forked the venue")

    monkeypatch.setattr(os, "fork", no_fork)  # (the follower is spawned, never forked)
    with own_venue(data, snapshot_every=0, rest_listen="off") as (running, cfg, trader):
        admin = trader.with_key((data / "admin.key").read_text().strip())
        second = admin.with_key(admin.create_account().api_key)
        second.deposit("USDT", "1000")
        stop, failures = threading.Event(), []

        def load(client, start: int) -> None:
            i = start
            try:
                while not stop.is_set():
                    place_some(client, 2, start=i)
                    i += 2
            except Exception as e:  # surfaced below
                failures.append(e)

        threads = [threading.Thread(target=load, args=(c, k * 1000)) for k, c in enumerate((trader, second))]
        for t in threads:
            t.start()
        try:
            under_load = [snapshot_rpc(running, cfg) for _ in range(3)]
        finally:
            stop.set()
            for t in threads:
                t.join()
        assert not failures, failures
        asked = snapshot_rpc(running, cfg)  # quiet now: the live state is the one at `asked`
        live = admin.venue_state()
        assert live.journal_sequence == asked > under_load[-1] > under_load[0]
        ck = running.venue.seq.checkpoint
        assert (ck.written, ck.failed, ck.forking) == (4, 0, False)
        assert snapshot_rpc(running, cfg) == asked and ck.written == 4  # on disk already: not written again
        pid = ck.follower_pid
        assert alive(pid) and nice_of(pid) == min(os.nice(0) + 19, 19)
        # the follower holds neither the journal's lock nor a socket of the venue; it reads the journal
        held = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        assert not [h for h in held if h == str(data / JOURNAL_DIR / "LOCK") or h.startswith("socket:")], held
        assert [h for h in held if h.startswith(str(data / JOURNAL_DIR) + "/") and h.endswith(".seg")], held
        written = snapshot.list_snapshots(data / SNAPSHOT_DIR)
        assert [s for s, _ in written] == [*under_load[1:], asked]  # the last 3 kept
        _, latest = snapshot.read_snapshot(written[-1][1])
        assert latest.state_hash() == live.state_hash == running.venue.state.state_hash()
        accounts = sorted({o.account for o in running.venue.state.orders.values()})
        assert len(accounts) == 2
        same_history(latest, running.venue.state, accounts)
    assert not alive(pid), "the follower outlived the venue"
    hashes = hashes_by_seq(cfg, asked)
    for seq, path in written:  # taken under load: each holds the state its seq replays to
        assert snapshot.read_snapshot(path)[1].state_hash() == hashes[seq], f"snapshot at seq {seq}"

    again = RunningVenue(cfg).start_in_thread()  # a restart recovers from the follower's snapshot
    try:
        assert (again.recovery.snapshot_seq, again.recovery.replayed) == (asked, 0)
        assert again.venue.state.state_hash() == live.state_hash
        same_history(again.venue.state, latest, accounts)
    finally:
        again.stop()


def test_after_a_reset_a_new_follower_snapshots_the_new_state(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with snapshotted_venue(data, 6) as (running, cfg, _trader, admin, ck):
        before = ck.follower_pid
        admin.reset_venue()  # archives the journal and snapshots, starts a fresh state (seeded)
        fresh = admin.with_key(admin.create_account().api_key)
        fresh.deposit("USDT", "500")
        place_some(fresh, 4)
        asked = snapshot_rpc(running, cfg)
        live = admin.venue_state()
        assert live.journal_sequence == asked
        assert ck.follower_pid != before and ck.followers == 2
        wait_for(lambda: not alive(before), 10)
        (seq, path), = snapshot.list_snapshots(data / SNAPSHOT_DIR)  # the new folder's only one
        assert seq == asked and snapshot.read_snapshot(path)[1].state_hash() == live.state_hash
        assert ck.failed == 0


def test_a_dead_follower_fails_its_snapshot_is_replaced_and_after_three_the_venue_forks(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = tmp_path / "data"
    with snapshotted_venue(data, 4) as (running, cfg, trader, admin, ck):
        first = ck.follower_pid
        place_some(trader, 2, start=100)  # (a new seq: the snapshot at the last one is on disk already)
        os.kill(first, 19)  # SIGSTOP: asked for a snapshot, it cannot answer ...
        outcome: list = []
        asking = threading.Thread(target=lambda: outcome.append(_rpc_outcome(running, cfg)))
        asking.start()
        wait_for(lambda: ck.busy)
        os.kill(first, 9)  # ... and dies with the snapshot unwritten
        asking.join(30)
        assert outcome == [grpc.StatusCode.INTERNAL]
        assert ck.failed == 1
        second = wait_for(lambda: ck.follower_pid if ck.follower_pid not in (0, first) else 0)
        place_some(trader, 4, start=4)
        asked = snapshot_rpc(running, cfg)  # the new follower writes it
        live = admin.venue_state()
        _, state = snapshot.read_snapshot(snapshot.list_snapshots(data / SNAPSHOT_DIR)[-1][1])
        assert (asked, state.state_hash()) == (live.journal_sequence, live.state_hash)
        os.kill(second, 9)
        third = wait_for(lambda: ck.follower_pid if ck.follower_pid not in (0, second) else 0)
        os.kill(third, 9)  # the third death within a minute: forked writers from now on
        wait_for(lambda: ck.forking)
        place_some(trader, 4, start=8)
        caplog.clear()
        caplog.set_level(logging.INFO, logger="perpsim.venue")
        asked = snapshot_rpc(running, cfg)
        assert "forked in" in caplog.text
        live = admin.venue_state()
        _, state = snapshot.read_snapshot(snapshot.list_snapshots(data / SNAPSHOT_DIR)[-1][1])
        assert (asked, state.state_hash()) == (live.journal_sequence, live.state_hash)
        assert ck.follower_pid == 0 and not alive(third)


def _rpc_outcome(running, cfg) -> grpc.StatusCode:
    try:
        snapshot_rpc(running, cfg)
    except grpc.RpcError as e:
        return e.code()
    return grpc.StatusCode.OK


def test_a_follower_running_other_code_than_the_venue_refuses_and_the_venue_forks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    # the venue believes it runs another build than the code on disk (an upgrade installed under it)
    monkeypatch.setattr(follower_checkpoint, "build_id", lambda: "0+another-build")
    with own_venue(data, snapshot_every=0, rest_listen="off") as (running, cfg, trader):
        admin = trader.with_key((data / "admin.key").read_text().strip())
        ck = running.venue.seq.checkpoint
        place_some(trader, 4)
        # the follower started for it refuses; the checkpoint is asked again, of a forked writer
        asked = snapshot_rpc(running, cfg)
        assert ck.forking
        live = admin.venue_state()
        _, state = snapshot.read_snapshot(snapshot.list_snapshots(data / SNAPSHOT_DIR)[-1][1])
        assert (asked, state.state_hash()) == (live.journal_sequence, live.state_hash)
        assert (ck.followers, ck.written, ck.failed, ck.follower_pid) == (1, 1, 0, 0)


def test_after_a_command_raised_and_the_state_was_rebuilt_the_follower_still_holds_it(tmp_path: Path) -> None:
    """The rebuilt state is the journal's (the command that raised was never journaled), which
    is what the follower follows: it needs no restart."""
    data = tmp_path / "data"
    with snapshotted_venue(data, 4) as (running, cfg, trader, admin, ck):
        follower = ck.follower_pid
        fault_once_in_book(running)
        with pytest.raises(PerpsimError) as failed:
            trader.place_order("BTCUSDT", "buy", "0.002", "60001")
        assert failed.value.status == grpc.StatusCode.INTERNAL
        place_some(trader, 4, start=4)  # on the rebuilt state
        asked = snapshot_rpc(running, cfg)
        live = admin.venue_state()
        _, state = snapshot.read_snapshot(snapshot.list_snapshots(data / SNAPSHOT_DIR)[-1][1])
        assert (asked, state.state_hash()) == (live.journal_sequence, live.state_hash)
        assert (ck.follower_pid, ck.failed) == (follower, 0)
