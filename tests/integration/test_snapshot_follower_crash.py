"""`perpsim serve` killed with SIGKILL while its snapshot follower writes checkpoints: the follower
dies with it (no stray process, nothing left holding the data directory), the venue restarts on
the same directory with every acknowledged order, and a new follower takes the checkpoints."""

from __future__ import annotations

import fcntl
import os
import random
import re
import signal
import threading
import time
from pathlib import Path

import grpc
import pytest

from perpsim.v1 import sandbox_pb2
from perpsim.venue.recovery import JOURNAL_DIR

from .test_crash import (
    ADMIN_MD,
    CALL_TIMEOUT,
    Ledger,
    Server,
    Stubs,
    funded_accounts,
    run_load_and_kill,
    verify_after_restart,
    write_config,
)
from .test_snapshot_follower import alive, wait_for


def children(pid: int) -> set[int]:
    """The live child processes of `pid` (every thread's)."""
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out |= {int(c) for c in (task / "children").read_text().split()}
        except OSError:
            pass
    return {c for c in out if alive(c)}


def follower_of(server: Server) -> int:
    """The venue's snapshot follower (its child running perpsim.venue.snapshot_follower), once
    the venue's log says it is ready (it has set PR_SET_PDEATHSIG by then)."""
    assert server.proc is not None
    log = server.logs / f"serve-{server.starts}.err"

    def find() -> int:
        for c in children(server.proc.pid):
            try:
                if b"perpsim.venue.snapshot_follower" in Path(f"/proc/{c}/cmdline").read_bytes() and \
                        f"snapshot follower {c} ready" in log.read_text(errors="replace"):
                    return c
            except OSError:
                pass
        return 0
    return wait_for(find, 30)


@pytest.mark.slow
def test_sigkill_during_checkpoints_leaves_no_follower_and_loses_no_acknowledged_order(tmp_path: Path) -> None:
    data, logs = tmp_path / "data", tmp_path / "logs"
    logs.mkdir()
    server = Server(data, logs, write_config(tmp_path / "venue.toml"))  # a checkpoint every 100 commands
    rng = random.Random(20261207)
    ledger = Ledger()
    try:
        keys = funded_accounts(server.start())
        for r in range(2):
            with grpc.insecure_channel(server.address) as ch:  # a checkpoint starts the follower
                Stubs(ch).sandbox.Snapshot(sandbox_pb2.SnapshotRequest(), metadata=ADMIN_MD, timeout=60)
            follower = follower_of(server)
            stop = threading.Event()

            def ask_snapshots(address: str = server.address, stop: threading.Event = stop) -> None:
                """Snapshots asked for back to back besides the automatic ones: the kill finds one underway."""
                with grpc.insecure_channel(address) as ch:
                    while not stop.is_set():
                        try:
                            Stubs(ch).sandbox.Snapshot(sandbox_pb2.SnapshotRequest(), metadata=ADMIN_MD,
                                                       timeout=CALL_TIMEOUT)
                        except grpc.RpcError:
                            return

            if r == 0:  # stopped: the checkpoint asked of it is surely underway when the venue is killed
                os.kill(follower, signal.SIGSTOP)
            asker = threading.Thread(target=ask_snapshots, daemon=True)
            asker.start()
            try:
                run_load_and_kill(server, keys, ledger, f"r{r}", acks=rng.randint(300, 600), seed=r)
            finally:
                stop.set()
                asker.join(30)
            killed_at = time.monotonic()
            log = (logs / f"serve-{server.starts}.err").read_text(errors="replace")
            asked = list(re.finditer(r"snapshot at seq (\d+): asked of follower", log))
            assert asked, "no checkpoint was asked of the follower"
            if r == 0:  # the last one asked was never written
                last = asked[-1]
                assert f"snapshot at seq {last.group(1)} written" not in log[last.end():], \
                    "the kill found no checkpoint underway"
            wait_for(lambda f=follower: not alive(f), 10)  # PR_SET_PDEATHSIG
            print(f"\nround {r}: follower {follower} gone {time.monotonic() - killed_at:.3f} s after the kill")
            with open(data / JOURNAL_DIR / "LOCK", "rb") as lock:  # nothing holds the journal's lock
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            address = server.start()
            with grpc.insecure_channel(address) as ch:
                verify_after_restart(Stubs(ch), keys, ledger)
        with grpc.insecure_channel(server.address) as ch:  # the restarted venue has a follower of its own
            Stubs(ch).sandbox.Snapshot(sandbox_pb2.SnapshotRequest(), metadata=ADMIN_MD, timeout=60)
        follower = follower_of(server)
        assert server.stop() == 0
        wait_for(lambda: not alive(follower), 10)
    finally:
        server.close()
    assert len(ledger.acked) >= 600
    errs = "".join(p.read_text(errors="replace") for p in logs.glob("serve-*.err"))
    assert "asked of follower" in errs and "off the sequencer" in errs
