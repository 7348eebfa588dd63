"""API keys and secrets through the real venue: secrets issued and kept, keys of the caller's
choosing, and a data directory whose key store is lost or damaged refused before it can hand out
existing accounts' ids again."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from perpsim.clients.client import Client
from perpsim.clients.errors import AlreadyExistsError, InvalidArgumentError
from perpsim.venue.auth import KeyStore, KeyStoreError

from .conftest import own_venue


def test_every_account_gets_a_secret_kept_private(admin: Client, data_dir: Path) -> None:
    made = admin.create_account()
    assert made.api_secret and made.api_secret != made.api_key
    paths = [data_dir / "keys.json", data_dir / "keys.log"]  # the base and the accounts made since
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in paths)
    # the key is stored only as a digest; the secret as given (it signs REST requests)
    text = "".join(path.read_text() for path in paths)
    assert made.api_key not in text and made.api_secret in text
    assert KeyStore(data_dir, "x" * 20).secret_of(made.api_key) == made.api_secret


def test_a_chosen_key_and_secret_are_idempotent_and_cannot_be_taken_over(admin: Client) -> None:
    key, secret = "bot-key-0123456789", "bot-secret-0123456789"
    first = admin.create_account(api_key=key, api_secret=secret)
    assert (first.api_key, first.api_secret) == (key, secret)
    assert admin.create_account(api_key=key, api_secret=secret).account_id == first.account_id
    with pytest.raises(AlreadyExistsError):
        admin.create_account(api_key=key, api_secret="another-secret-0123456")
    before = admin.create_account().account_id
    with pytest.raises(InvalidArgumentError):
        admin.create_account(api_key="short")
    with pytest.raises(InvalidArgumentError):
        admin.create_account(api_key="has spaces in it, too many", api_secret="x" * 20)
    # refused requests hand out no account id
    assert admin.create_account().account_id == before + 1
    me = admin.with_key(key)
    assert me.deposit("USDT", "5") == 5


def _serve(data_dir: Path) -> subprocess.CompletedProcess:
    """`perpsim serve` on a data directory, expected to refuse to start: its result."""
    return subprocess.run([sys.executable, "-m", "perpsim.cli.main", "serve", "--listen", "127.0.0.1:0",
                           "--data-dir", str(data_dir), "--no-feed", "--no-liquidity"],
                          capture_output=True, text=True, timeout=60)


def _used_dir(tmp_path: Path) -> Path:
    data_dir = tmp_path / "data"
    with own_venue(data_dir) as (_, _, trader):
        trader.deposit("USDT", "1")
    return data_dir


def test_a_deleted_key_store_is_refused_with_a_one_line_error(tmp_path: Path) -> None:
    data_dir = _used_dir(tmp_path)
    (data_dir / "keys.json").unlink()
    done = _serve(data_dir)
    assert done.returncode == 2
    assert "keys.json is missing" in done.stderr and "Traceback" not in done.stderr
    assert not (data_dir / "keys.json").exists()


def test_a_lost_or_damaged_key_store_is_refused(tmp_path: Path) -> None:
    data_dir = _used_dir(tmp_path)
    path = data_dir / "keys.json"
    saved = path.read_bytes()
    path.unlink()
    with pytest.raises(KeyStoreError, match="missing"):
        KeyStore(data_dir, "admin-key-for-tests")
    path.write_bytes(saved[: len(saved) // 2])
    with pytest.raises(KeyStoreError, match=r"damaged.*restore it from a backup"):
        KeyStore(data_dir, "admin-key-for-tests")
    path.write_text(json.dumps({"accounts": {}, "next_account": "x"}))
    with pytest.raises(KeyStoreError, match="damaged"):
        KeyStore(data_dir, "admin-key-for-tests")


def test_a_truncated_key_store_stops_serve_with_one_line(tmp_path: Path) -> None:
    data_dir = _used_dir(tmp_path)
    path = data_dir / "keys.json"
    path.write_bytes(path.read_bytes()[:10])
    done = _serve(data_dir)
    assert done.returncode == 2, done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and str(path) in lines[0] and "Traceback" not in done.stderr


def test_an_older_key_store_never_reuses_an_id_the_state_holds(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with own_venue(data_dir) as (_, _, trader):
        trader.deposit("USDT", "1")
    old = (data_dir / "keys.json").read_bytes()
    with own_venue(data_dir) as (running, _, trader):
        third = running.venue.keys.next_account
    # a backup from before the second venue's trader: its id is in the state, not in the store
    (data_dir / "keys.json").write_bytes(old)
    with own_venue(data_dir) as (running, _, trader):
        assert running.venue.keys.account_of(trader.api_key) == third
