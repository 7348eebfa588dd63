"""API keys and secrets: bearer tokens (gRPC) or signed requests (REST), mapped to accounts.

Every account has one API key and one API secret. The key identifies the account: gRPC calls
carry it as `authorization: Bearer <key>`, REST calls as `X-MBX-APIKEY`. The secret signs REST
requests (HMAC-SHA256, Binance's SIGNED rules), so the venue must be able to compute with it:
secrets are kept as given, keys only as SHA-256 digests. Both live in the data directory (mode
0600): `keys.json`, the base written atomically once, and `keys.log`, one line appended per
account made since (`venue.keylog`), fsynced before a key is returned to the caller; neither is
ever logged. Over gRPC, accounts created close together share one append and fdatasync, made on a
thread (`group_save.GroupSave`) rather than on the event loop; a key authenticates only once it
is durable.

`keys.json` and `keys.log` are the only record of which key owns which account (back them up
together). A store whose `keys.log` is missing or damaged is refused like one whose `keys.json`
is. A data directory that holds a
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
import threading
from pathlib import Path
from typing import NamedTuple

from perpsim.venue.files import write_atomic
from perpsim.venue.group_save import GroupSave
from perpsim.venue.keylog import LOG_FILE, KeyLog, line, read_log

KEYS_FILE = "keys.json"
# files and folders that only exist once a venue has run in a data directory
_VENUE_MARKERS = ("journal", "snapshots", "liquidity-account", "created_ns")
_ALNUM = string.ascii_letters + string.digits
_KEY_CHARS = frozenset(_ALNUM + "-_.~")
KEY_MIN, KEY_MAX = 16, 128
#: durable keys remembered as given (above this, further keys are digested on every call)
KNOWN_KEYS = 100_000


class KeyStoreError(Exception):
    """The key store cannot be read or would be unsafe to start from; the message says what to do."""


class KeyConflict(Exception):
    """A caller-chosen API key is already taken by an account with another secret."""


class BadKey(ValueError):
    """A caller-chosen API key or secret is not acceptable (length or characters)."""


class Credentials(NamedTuple):
    """An account's id with its API key and secret, as given or generated (the key in clear text)."""

    account: int
    api_key: str
    api_secret: str


def digest(key: str) -> str:
    """The SHA-256 hex digest of an API key: the form keys are stored and looked up in."""
    return hashlib.sha256(key.encode()).hexdigest()


def bearer(metadata) -> str | None:
    """The token of an `authorization: Bearer <token>` metadata entry, if any."""
    for k, v in metadata or ():
        if k == "authorization" and v.startswith("Bearer "):
            return v[len("Bearer "):].strip()
    return None


_TOKEN_DRAWS = (2**240 // 62**40) * 62**40  # draws below this map evenly onto 62**40 tokens


def new_token() -> str:
    """A generated key or secret: 40 letters and digits (238 bits; nothing a shell or a CLI
    flag parser reads specially, unlike a leading '-').

    One draw of 240 random bits read as 40 base-62 digits: a draw at or past the largest
    multiple of 62**40 below 2**240 is drawn again, so every token is equally likely (one
    draw in 3.4 is redrawn at most; 40 draws of one character each cost ten times more)."""
    while True:
        n = int.from_bytes(secrets.token_bytes(30), "big")
        if n < _TOKEN_DRAWS:
            break
    digits = []
    for _ in range(40):
        n, d = divmod(n, 62)
        digits.append(_ALNUM[d])
    return "".join(digits)


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
        records, good = self._replay(data_dir, saved)
        for r in records:
            if "digest" in r:
                self._accounts[r["digest"]] = (r["account"], r["secret"])
            self.next_account = max(self.next_account, r.get("account", 0) + 1, r.get("next_account", 0))
        self._log = KeyLog(data_dir / LOG_FILE, good)
        # keys.json is written (with every account so far) before the first append: a new store,
        # or one from before keys.log
        self._needs_base = saved.get("log") != LOG_FILE
        # accounts below this id are on disk; the ones above exist only in memory until the next
        # save, and their keys do not authenticate yet
        self._durable_next = self.next_account
        self._unsaved: list[bytes] = []  # log lines of the accounts made since the last save
        # durable keys as given -> (account, secret), in memory only (like the secrets): a key's
        # digest is computed once, not on every call it authenticates (a key never changes
        # account, and only durable keys go here)
        self._known: dict[str, tuple[int, str]] = {}
        self._lock = threading.Lock()  # _accounts, _unsaved, next_account: changed together
        self._write_lock = threading.Lock()  # one write of keys.json at a time, newest last
        self._group = GroupSave(self._save, "keys-fsync")
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
            if saved.get("log", LOG_FILE) != LOG_FILE:
                raise ValueError(f"log is not {LOG_FILE!r}")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise KeyStoreError(f"{self.path} is damaged ({type(e).__name__}: {e}): restore it from a backup") from e
        return saved

    def _replay(self, data_dir: Path, saved: dict) -> tuple[list[dict], int]:
        """keys.log's records and the length of its good part; KeyStoreError if it is missing
        although keys.json says it exists, or damaged."""
        path = data_dir / LOG_FILE
        if saved.get("log") == LOG_FILE and not path.exists():
            raise KeyStoreError(f"{path} is missing but {self.path} relies on it: restore both from a backup "
                                f"(starting without it would give existing accounts' ids to new keys)")
        try:
            records, good = read_log(path)
            for r in records:  # the fields the store reads, of the types it needs
                if "digest" in r and not (isinstance(r["digest"], str) and isinstance(r["account"], int)
                                          and isinstance(r["secret"], str)):
                    raise ValueError("an account record has fields of the wrong types")
                if not isinstance(r.get("account", r.get("next_account")), int):
                    raise ValueError("a record has no account id")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:  # KeyLogDamaged too
            raise KeyStoreError(f"{path} is damaged ({type(e).__name__}: {e}): restore it from a backup") from e
        return records, good

    def _save(self) -> None:
        """Make every account made so far durable: its line appended to keys.log and fsynced (the
        first time, keys.json written with all of them instead). Mode 0600."""
        with self._write_lock:
            with self._lock:  # a consistent cut: the lines of every account below `upto`
                lines, upto, self._unsaved = self._unsaved, self.next_account, []
                base = {"accounts": {d: {"account": a, "secret": s} for d, (a, s) in self._accounts.items()},
                        "next_account": upto, "log": LOG_FILE} if self._needs_base else None
            try:
                if base is not None:
                    # the log exists before keys.json names it, and is emptied only once keys.json
                    # holds its lines (a crash in between: they are replayed again, to the same)
                    self._log.ensure()
                    write_atomic(self.path, json.dumps(base).encode(), mode=0o600)
                    self._log.clear()
                    self._needs_base = False
                elif lines:
                    self._log.append(lines)
            except BaseException:
                with self._lock:  # written by the next save
                    self._unsaved[:0] = lines
                raise
            self._durable_next = max(self._durable_next, upto)

    def _make(self, api_key: str | None, api_secret: str | None) -> Credentials:
        """The account of `api_key` and `api_secret` (an existing one or a new one, in memory)."""
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
        key = api_key if api_key is not None else new_token()
        secret = api_secret if api_secret is not None else new_token()
        d = digest(key)
        with self._lock:
            account = self.next_account
            self._accounts[d] = (account, secret)
            self._unsaved.append(line({"digest": d, "account": account, "secret": secret}))
            self.next_account += 1
        return Credentials(account, key, secret)

    def create_account(self, api_key: str | None = None, api_secret: str | None = None) -> Credentials:
        """A new account with its key and secret, durable before this returns (the write and
        fsync on the calling thread; `create_account_async` shares them and keeps them off the
        event loop).

        A caller may choose the key and secret (so a bot's configuration survives a fresh venue);
        asking again with the same key and secret returns the same account, the same key with
        another secret raises KeyConflict. Generated keys and secrets are `new_token()`s.
        """
        made = self._make(api_key, api_secret)
        if made.account >= self._durable_next:
            self._save()
        return made

    async def create_account_async(self, api_key: str | None = None, api_secret: str | None = None) -> Credentials:
        """`create_account` for asyncio code: returns once the account is durable, its write
        shared with the accounts created meanwhile and made on a thread of its own. A failed
        write raises its OSError (the account is then written by the next save, its key unknown
        to anyone unless the caller chose it)."""
        made = self._make(api_key, api_secret)
        if made.account >= self._durable_next:  # new, or made by a call still waiting
            await self._group.saved()
        return made

    async def create_accounts_async(self, count: int) -> list[Credentials]:
        """`count` new accounts with generated keys and secrets, numbered in order, made durable
        by one shared write (the accounts of a batch: one save for all of them, not a save for
        each one that happens to miss the one before)."""
        made = [self._make(None, None) for _ in range(count)]
        if made and made[-1].account >= self._durable_next:
            await self._group.saved()
        return made

    def skip_past(self, account: int) -> None:
        """Never hand out `account` or a lower id again (ids seen in the recovered state)."""
        if account >= self.next_account:
            with self._lock:
                self.next_account = account + 1
                self._unsaved.append(line({"next_account": account + 1}))
            self._save()

    def _durable(self, key: str | None) -> tuple[int, str] | None:
        if key is None:
            return None
        entry = self._known.get(key)
        if entry is None:
            entry = self._accounts.get(digest(key))
            if entry is None or entry[0] >= self._durable_next:
                return None
            if len(self._known) < KNOWN_KEYS:
                self._known[key] = entry
        return entry

    def account_of(self, key: str | None) -> int | None:
        """The account of a durable key; None for an unknown key or one not yet saved."""
        entry = self._durable(key)
        return None if entry is None else entry[0]

    def secret_of(self, key: str | None) -> str | None:
        """The secret that signs `key`'s REST requests; None for an unknown key or one without a secret."""
        entry = self._durable(key)
        return entry[1] or None if entry is not None else None

    def has_account(self, account: int) -> bool:
        """Whether `account` exists and is durable (saved); a scan of every key."""
        return account < self._durable_next and any(a == account for a, _ in self._accounts.values())

    def is_admin(self, key: str | None) -> bool:
        """Whether `key` is the admin key (digests compared in constant time)."""
        return key is not None and hmac.compare_digest(digest(key), self._admin)
