"""Accounts created concurrently through `perpsim serve`: each answer is a key already on disk.
Killed with SIGKILL in the middle of a burst of CreateAccount calls, the venue restarts with
every acknowledged key working and never hands out an acknowledged account's id again."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from perpsim.clients.client import Client
from perpsim.venue.keylog import LOG_FILE, read_log

from .test_reliability_process import ADMIN_KEY, Serve, processes  # noqa: F401  (a fixture)

CLIENTS = 8


@pytest.mark.slow
def test_acknowledged_accounts_survive_kill_9_in_a_burst(tmp_path: Path, processes: list[Serve]) -> None:  # noqa: F811
    data_dir = tmp_path / "data"
    venue = Serve(data_dir, tmp_path / "logs-1")
    processes.append(venue)
    address = venue.started()
    acked: list[tuple[int, str, str]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def create() -> None:
        with Client(address, admin_key=ADMIN_KEY) as admin:
            while not stop.is_set():
                try:
                    made = admin.create_account()
                except Exception:  # the venue was killed: this call was never acknowledged
                    return
                with lock:
                    acked.append((made.account_id, made.api_key, made.api_secret))

    threads = [threading.Thread(target=create) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(acked) < 300 and time.monotonic() < deadline:
        time.sleep(0.01)
    venue.kill()  # SIGKILL, calls in flight
    stop.set()
    for t in threads:
        t.join(30)
    assert len(acked) >= 300
    ids = [a for a, _, _ in acked]
    assert len(set(ids)) == len(ids)

    saved = json.loads((data_dir / "keys.json").read_text())
    on_disk = {v["secret"]: v["account"] for v in saved["accounts"].values()}
    on_disk.update({r["secret"]: r["account"] for r in read_log(data_dir / LOG_FILE)[0] if "secret" in r})
    assert all(on_disk.get(secret) == account for account, _, secret in acked), "an acknowledged key was lost"

    again = Serve(data_dir, tmp_path / "logs-2")
    processes.append(again)
    address = again.started()
    with Client(address, admin_key=ADMIN_KEY) as admin:
        # every 20th and the last five, each once (a deposit's answer is the balance it leaves)
        for account, key, _ in dict.fromkeys(acked[:: max(1, len(acked) // 20)] + acked[-5:]):
            me = admin.with_key(key)
            assert me.deposit("USDT", "7") == 7, f"account {account}'s key no longer works"
        assert admin.create_account().account_id > max(ids)
