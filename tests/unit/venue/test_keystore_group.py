"""The key store's grouped saves: accounts created together (one by one, or as one batch:
BatchService.CreateAccounts) share a write of keys.json or keys.log, made off the event loop,
and none is returned (nor authenticates) before it is on disk."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path

import pytest

from perpsim.venue.auth import KeyStore, KeyStoreError, digest
from perpsim.venue.keylog import LOG_FILE, read_log

ADMIN = "admin-key-for-the-tests-0123"


def _on_disk(data_dir: Path) -> dict[str, int]:
    """secret -> account id, as keys.json and keys.log hold them now."""
    saved = json.loads((data_dir / "keys.json").read_text())
    found = {v["secret"]: v["account"] for v in saved["accounts"].values()}
    found.update({r["secret"]: r["account"] for r in read_log(data_dir / LOG_FILE)[0] if "secret" in r})
    return found


def test_accounts_created_together_share_a_save_and_wait_for_it(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path, ADMIN)
    chosen = [(f"bot-key-{i:04d}-abcdefgh", f"bot-secret-{i:04d}-abcdefgh") for i in range(50)]

    async def scenario() -> list:
        # the disk is busy (a save of keys.json in progress): every request arrives meanwhile
        keys._write_lock.acquire()
        try:
            tasks = [asyncio.create_task(keys.create_account_async(k, s)) for k, s in chosen]
            while keys._group._asked < len(chosen):
                await asyncio.sleep(0.001)
            await asyncio.sleep(0.05)
            assert not any(t.done() for t in tasks), "answered before keys.json was written"
            assert all(keys.account_of(k) is None for k, _ in chosen), "a key authenticated before it was saved"
            assert not (tmp_path / "keys.json").exists()
        finally:
            keys._write_lock.release()
        return await asyncio.gather(*tasks)

    made = asyncio.run(scenario())
    assert [m.account for m in made] == list(range(1, 51))
    assert keys._group.saves <= 2  # one save may have begun before the last request: never one each
    disk = _on_disk(tmp_path)
    assert all(disk[m.api_secret] == m.account for m in made)
    assert stat.S_IMODE((tmp_path / "keys.json").stat().st_mode) == 0o600
    assert all(keys.account_of(k) == m.account for (k, _), m in zip(chosen, made, strict=True))
    reopened = KeyStore(tmp_path, ADMIN)
    assert reopened.next_account == 51 and reopened.account_of(chosen[7][0]) == 8


def test_a_repeated_request_waits_for_the_first_ones_save(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path, ADMIN)
    key, secret = "bot-key-repeated-0001", "bot-secret-repeated-01"

    async def scenario():
        keys._write_lock.acquire()
        try:
            first = asyncio.create_task(keys.create_account_async(key, secret))
            again = asyncio.create_task(keys.create_account_async(key, secret))
            await asyncio.sleep(0.05)
            assert not first.done() and not again.done()
        finally:
            keys._write_lock.release()
        return await first, await again

    first, again = asyncio.run(scenario())
    assert first == again and first.account == 1
    assert _on_disk(tmp_path) == {secret: 1}


def test_a_failed_save_fails_its_callers_and_the_next_save_writes_the_account(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path, ADMIN)
    blocker = tmp_path / "keys.json"
    blocker.mkdir()  # keys.json cannot be replaced: the write fails like a full or broken disk

    async def create():
        return await keys.create_account_async("bot-key-failing-0001", "bot-secret-failing-01")

    with pytest.raises(OSError):  # never acknowledged: keys.json could not be written
        asyncio.run(create())
    assert keys.account_of("bot-key-failing-0001") is None
    blocker.rmdir()
    made = asyncio.run(create())  # the same chosen key: the same account, now durable
    assert made.account == 1 and _on_disk(tmp_path) == {"bot-secret-failing-01": 1}
    assert keys.account_of("bot-key-failing-0001") == 1


def _store_with_log(tmp_path: Path) -> tuple[KeyStore, list]:
    keys = KeyStore(tmp_path, ADMIN)
    made = [keys.create_account() for _ in range(4)]  # the base, then three lines of keys.log
    return keys, made


def test_a_torn_last_line_is_left_out_and_cut_off_by_the_next_append(tmp_path: Path) -> None:
    _, made = _store_with_log(tmp_path)
    log = tmp_path / LOG_FILE
    assert len(log.read_bytes().splitlines()) == 3
    with log.open("ab") as f:
        f.write(b'0badc0de {"digest": "cut sh')  # a crash in the middle of an append
    reopened = KeyStore(tmp_path, ADMIN)
    assert [reopened.account_of(m.api_key) for m in made] == [1, 2, 3, 4] and reopened.next_account == 5
    fifth = reopened.create_account()
    assert fifth.account == 5
    again = KeyStore(tmp_path, ADMIN)
    assert again.account_of(fifth.api_key) == 5 and b"cut sh" not in log.read_bytes()


def test_a_damaged_or_lost_log_is_refused(tmp_path: Path) -> None:
    _store_with_log(tmp_path)
    log = tmp_path / LOG_FILE
    good = log.read_bytes()
    lines = good.splitlines(keepends=True)
    log.write_bytes(lines[0] + lines[1].replace(b'"account"', b'"acc0unt"') + lines[2])
    with pytest.raises(KeyStoreError, match=r"keys.log is damaged.*restore"):
        KeyStore(tmp_path, ADMIN)
    log.unlink()
    with pytest.raises(KeyStoreError, match=r"keys.log is missing"):
        KeyStore(tmp_path, ADMIN)
    log.write_bytes(good)
    assert KeyStore(tmp_path, ADMIN).next_account == 5


def test_a_store_from_before_the_log_is_carried_over_at_its_first_save(tmp_path: Path) -> None:
    old_key = "an-old-key-0123456789"
    legacy = {"accounts": {digest(old_key): 3}, "next_account": 4}  # before secrets and keys.log
    (tmp_path / "keys.json").write_text(json.dumps(legacy))
    keys = KeyStore(tmp_path, ADMIN)
    assert keys.account_of(old_key) == 3 and not (tmp_path / LOG_FILE).exists()
    made = keys.create_account()
    assert made.account == 4
    assert json.loads((tmp_path / "keys.json").read_text())["log"] == LOG_FILE
    later = keys.create_account()
    reopened = KeyStore(tmp_path, ADMIN)
    assert [reopened.account_of(k) for k in (old_key, made.api_key, later.api_key)] == [3, 4, 5]
    assert reopened.next_account == 6


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
