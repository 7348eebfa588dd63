"""API keys and secrets: bearer tokens (gRPC) or signed requests (REST), mapped to accounts.

Every account has one API key and one API secret. The key identifies the account: gRPC calls
carry it as `authorization: Bearer <key>`, REST calls as `X-MBX-APIKEY`. The secret signs REST
requests (HMAC-SHA256, Binance's SIGNED rules), so the venue must be able to compute with it:
secrets are kept as given, keys only as SHA-256 digests. Both live in `keys.json` in the data
directory (mode 0600), written atomically and fsynced before a key is returned to the caller;
neither is ever logged.

`keys.json` is the only record of which key owns which account. A data directory that holds a
venue (a journal, snapshots, the liquidity account) but no `keys.json` is refused rather than
started with an empty store: account ids would be handed out again, and the next new account
would inherit an existing account's balance.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import string
from pathlib import Path
from typing import NamedTuple

from perpsim.venue.files import write_atomic

KEYS_FILE = "keys.json"
# files and folders that only exist once a venue has run in a data directory
_VENUE_MARKERS = ("journal", "snapshots", "liquidity-account", "created_ns")
_ALNUM = string.ascii_letters + string.digits
_KEY_CHARS = frozenset(_ALNUM + "-_.~")
KEY_MIN, KEY_MAX = 16, 128


class KeyStoreError(Exception):
    """The key store cannot be read or would be unsafe to start from; the message says what to do."""


class KeyConflict(Exception):
    """A caller-chosen API key is already taken by an account with another secret."""


class BadKey(ValueError):
    """A caller-chosen API key or secret is not acceptable (length or characters)."""


class Credentials(NamedTuple):
    account: int
    api_key: str
    api_secret: str


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def bearer(metadata) -> str | None:
    """The token of an `authorization: Bearer <token>` metadata entry, if any."""
    for k, v in metadata or ():
        if k == "authorization" and v.startswith("Bearer "):
            return v[len("Bearer "):].strip()
    return None


def new_token() -> str:
    """A generated key or secret: 40 letters and digits (238 bits; nothing a shell or a CLI
    flag parser reads specially, unlike a leading '-')."""
    return "".join(secrets.choice(_ALNUM) for _ in range(40))


def check_token(name: str, value: str) -> None:
    """A caller-chosen key or secret: KEY_MIN..KEY_MAX characters of [A-Za-z0-9-_.~]."""
    if not KEY_MIN <= len(value) <= KEY_MAX or not set(value) <= _KEY_CHARS:
        raise BadKey(f"{name} must be {KEY_MIN} to {KEY_MAX} characters of A-Z a-z 0-9 - _ . ~")


class KeyStore:
    """Accounts' API keys and secrets, and the admin key, of one data directory."""

    def __init__(self, data_dir: Path, admin_key: str | None = None) -> None:
        self.path = data_dir / KEYS_FILE
        saved = self._load(data_dir)
        # digest(api key) -> (account, secret)
        self._accounts: dict[str, tuple[int, str]] = {d: (int(a), s) for d, (a, s) in saved["accounts"].items()}
        self.next_account: int = int(saved["next_account"])
        self.admin_key_file = data_dir / "admin.key"
        if admin_key is None:
            if self.admin_key_file.exists():
                admin_key = self.admin_key_file.read_text().strip()
            else:
                admin_key = new_token()
                write_atomic(self.admin_key_file, (admin_key + "\n").encode(), mode=0o600)
        self._admin = digest(admin_key)

    def _load(self, data_dir: Path) -> dict:
        if not self.path.exists():
            found = [m for m in _VENUE_MARKERS if (data_dir / m).exists()]
            if found:
                raise KeyStoreError(
                    f"{self.path} is missing but {data_dir} holds a venue ({', '.join(found)}): restore keys.json "
                    f"from a backup, or start from an empty data directory; starting without it would give "
                    f"existing accounts' ids to new keys")
            return {"accounts": {}, "next_account": 1}
        try:
            saved = json.loads(self.path.read_text())
            accounts = saved["accounts"]
            # stores written before secrets existed map digest -> account; those keys get no secret
            saved["accounts"] = {d: (v, "") if isinstance(v, int) else (int(v["account"]), str(v["secret"]))
                                 for d, v in accounts.items()}
            if not isinstance(saved["next_account"], int) or saved["next_account"] < 1:
                raise ValueError("next_account is not a positive integer")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise KeyStoreError(f"{self.path} is damaged ({type(e).__name__}: {e}): restore it from a backup") from e
        return saved

    def _save(self) -> None:
        accounts = {d: {"account": a, "secret": s} for d, (a, s) in self._accounts.items()}
        write_atomic(self.path, json.dumps({"accounts": accounts, "next_account": self.next_account}).encode(),
                     mode=0o600)

    def create_account(self, api_key: str | None = None, api_secret: str | None = None) -> Credentials:
        """A new account with its key and secret, durable before this returns.

        A caller may choose the key and secret (so a bot's configuration survives a fresh venue);
        asking again with the same key and secret returns the same account, the same key with
        another secret raises KeyConflict. Generated keys and secrets are `new_token()`s.
        """
        if api_key is not None:
            check_token("api_key", api_key)
            existing = self._accounts.get(digest(api_key))
            if existing is not None:
                account, secret = existing
                if api_secret is None or hmac.compare_digest(secret, api_secret):
                    return Credentials(account, api_key, secret)
                raise KeyConflict("api_key is already in use with another secret")
        if api_secret is not None:
            check_token("api_secret", api_secret)
        account = self.next_account
        key = api_key if api_key is not None else new_token()
        secret = api_secret if api_secret is not None else new_token()
        self._accounts[digest(key)] = (account, secret)
        self.next_account += 1
        self._save()
        return Credentials(account, key, secret)

    def skip_past(self, account: int) -> None:
        """Never hand out `account` or a lower id again (ids seen in the recovered state)."""
        if account >= self.next_account:
            self.next_account = account + 1
            self._save()

    def account_of(self, key: str | None) -> int | None:
        if key is None:
            return None
        entry = self._accounts.get(digest(key))
        return None if entry is None else entry[0]

    def secret_of(self, key: str | None) -> str | None:
        """The secret that signs `key`'s REST requests; None for an unknown key or one without a secret."""
        if key is None:
            return None
        entry = self._accounts.get(digest(key))
        return entry[1] or None if entry is not None else None

    def has_account(self, account: int) -> bool:
        return any(a == account for a, _ in self._accounts.values())

    def is_admin(self, key: str | None) -> bool:
        return key is not None and hmac.compare_digest(digest(key), self._admin)
