"""The venue's books of account: wallets, the insurance fund, fees, and rounding dust.

Amounts are integer money units of each settlement asset. Every movement is a transfer
between two named holders, so the conservation identity

    deposits - withdrawals == sum(wallets) + insurance fund + fees collected + dust

holds after every movement by construction; `check_conservation()` proves it from scratch.
"""

from __future__ import annotations

import hashlib


class LedgerError(AssertionError):
    """The ledger's identity failed (a bug, never input)."""


OUTSIDE = ("outside", 0)
INSURANCE = ("insurance", 0)
FEES = ("fees", 0)
DUST = ("dust", 0)


class Ledger:
    """Balances per (holder, asset). Wallets may go negative only through losses the
    engine books on a bankrupt account before the insurance fund tops it up."""

    def __init__(self) -> None:
        # plain dicts (no defaultdict): a read never creates an entry, and the compiled
        # build reads them through the dict C API
        self._bal: dict[tuple[str, int], dict[str, int]] = {}
        self.deposited: dict[str, int] = {}
        self.withdrawn: dict[str, int] = {}

    def balance(self, holder: tuple[str, int], asset: str) -> int:
        """The balance of `holder` in `asset` (money units; 0 when it never held any)."""
        per_asset = self._bal.get(holder)
        return 0 if per_asset is None else per_asset.get(asset, 0)

    def wallet(self, account: int, asset: str) -> int:
        """The wallet balance of `account` in `asset` (money units; 0 when it never held any)."""
        return self.balance(("wallet", account), asset)

    def insurance(self, asset: str) -> int:
        """The insurance fund's balance in `asset` (money units)."""
        return self.balance(INSURANCE, asset)

    def move(self, asset: str, source: tuple[str, int], dest: tuple[str, int], amount: int) -> tuple[int, int]:
        """Book a transfer of `amount` >= 0 units from `source` to `dest`; returns the two
        holders' balances after it (source, dest).

        Holders are ("wallet", account), ("insurance", 0), ("fees", 0), ("dust", 0),
        ("outside", 0) for deposits and withdrawals, and the engine's pools and margins."""
        bal = self._bal
        src = bal.get(source)
        if src is None:
            src = bal[source] = {}
        dst = bal.get(dest)
        if dst is None:
            dst = bal[dest] = {}
        src_after = src[asset] = src.get(asset, 0) - amount
        dst_after = dst[asset] = dst.get(asset, 0) + amount
        if source[0] == "outside":  # OUTSIDE (its name alone: no tuple comparison per move)
            self.deposited[asset] = self.deposited.get(asset, 0) + amount
        elif dest[0] == "outside":
            self.withdrawn[asset] = self.withdrawn.get(asset, 0) + amount
        return src_after, dst_after

    def check_conservation(self) -> None:
        """Raise LedgerError unless deposits - withdrawals equals everything held inside."""
        assets = set(self.deposited) | set(self.withdrawn)
        for holder, per_asset in self._bal.items():
            if holder != OUTSIDE:
                assets |= set(per_asset)
        for asset in sorted(assets):
            inside = sum(b.get(asset, 0) for h, b in self._bal.items() if h != OUTSIDE)
            net_in = self.deposited.get(asset, 0) - self.withdrawn.get(asset, 0)
            if inside != net_in:
                raise LedgerError(f"{asset}: held {inside} != deposits - withdrawals {net_in}")

    def digest(self, h: hashlib._Hash) -> None:
        """Feed every non-zero balance, in sorted order, into a running hash."""
        for holder in sorted(self._bal):
            for asset in sorted(self._bal[holder]):
                amount = self._bal[holder][asset]
                if amount:
                    h.update(f"{holder[0]}:{holder[1]}:{asset}:{amount};".encode())
