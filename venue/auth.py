"""API keys: bearer tokens in gRPC metadata, mapped to accounts; one admin key for the sandbox.

Keys are random (secrets), stored only as SHA-256 digests in `keys.json` in the data
directory, written atomically and fsynced before the key is returned to the caller.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from pathlib import Path

from perpsim.venue.files import write_atomic


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def bearer(metadata) -> str | None:
    """The token of an `authorization: Bearer <token>` metadata entry, if any."""
    for k, v in metadata or ():
        if k == "authorization" and v.startswith("Bearer "):
            return v[len("Bearer "):].strip()
    return None


class KeyStore:
    """Accounts' API keys and the admin key of one data directory."""

    def __init__(self, data_dir: Path, admin_key: str | None = None) -> None:
        self.path = data_dir / "keys.json"
        saved = json.loads(self.path.read_text()) if self.path.exists() else {}
        self._accounts: dict[str, int] = saved.get("accounts", {})
        self.next_account = saved.get("next_account", 1)
        self.admin_key_file = data_dir / "admin.key"
        if admin_key is None:
            if self.admin_key_file.exists():
                admin_key = self.admin_key_file.read_text().strip()
            else:
                admin_key = secrets.token_urlsafe(24)
                write_atomic(self.admin_key_file, (admin_key + "\n").encode(), mode=0o600)
        self._admin = digest(admin_key)

    def create_account(self) -> tuple[int, str]:
        """A new account id and its API key (returned once, stored as a digest)."""
        account, key = self.next_account, secrets.token_urlsafe(24)
        self._accounts[digest(key)] = account
        self.next_account += 1
        write_atomic(self.path, json.dumps({"accounts": self._accounts, "next_account": self.next_account}).encode(),
                     mode=0o600)
        return account, key

    def account_of(self, key: str | None) -> int | None:
        return None if key is None else self._accounts.get(digest(key))

    def has_account(self, account: int) -> bool:
        return account in self._accounts.values()

    def is_admin(self, key: str | None) -> bool:
        return key is not None and hmac.compare_digest(digest(key), self._admin)
