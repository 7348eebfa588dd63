"""The key store's batch of accounts (BatchService.CreateAccounts): numbered in order, made
durable by one save, none returned (nor authenticating) before it is on disk."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from perpsim.venue.auth import KeyStore
from perpsim.venue.keylog import LOG_FILE, read_log

ADMIN = "admin-key-for-the-tests-0123"


def _on_disk(data_dir: Path) -> dict[str, int]:
    """secret -> account id, as keys.json and keys.log hold them now."""
    saved = json.loads((data_dir / "keys.json").read_text())
    found = {v["secret"]: v["account"] for v in saved["accounts"].values()}
    found.update({r["secret"]: r["account"] for r in read_log(data_dir / LOG_FILE)[0] if "secret" in r})
    return found


def test_a_batch_of_accounts_is_saved_once_before_it_is_returned(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path, ADMIN)
    keys.create_account()  # keys.json exists: the batch goes to keys.log
    saves = keys._group.saves

    async def scenario() -> list:
        keys._write_lock.acquire()  # the disk is busy: the batch waits for its save
        try:
            task = asyncio.create_task(keys.create_accounts_async(300))
            await asyncio.sleep(0.05)
            assert not task.done(), "answered before the accounts were saved"
        finally:
            keys._write_lock.release()
        return await task

    made = asyncio.run(scenario())
    assert [m.account for m in made] == list(range(2, 302))
    assert keys._group.saves - saves == 1
    assert all(keys.account_of(m.api_key) == m.account for m in made)
    disk = _on_disk(tmp_path)
    assert all(disk[m.api_secret] == m.account for m in made)
    reopened = KeyStore(tmp_path, ADMIN)
    assert reopened.next_account == 302 and reopened.account_of(made[-1].api_key) == 301
