"""dYdX v4's pseudo-random starts, made deterministic (venue-mechanics §4.6, §6.5).

Source: dydxprotocol/v4-chain @ 84d4664bae71e3a077adaac67fb77ad19cd28d30. Two of dYdX's loops walk
a list from a pseudo-random index (`k.GetPseudoRand(ctx)`, seeded per block) and wrap around:

- protocol/x/clob/keeper/liquidations.go `LiquidateSubaccountsAgainstOrderbook`: "Process at-most
  `MaxLiquidationAttemptsPerBlock` subaccounts, starting from a pseudorandom location in the
  slice" (`index := (i + indexOffset) % numSubaccounts`; flags.go
  DefaultMaxLiquidationAttemptsPerBlock = 50);
- protocol/x/clob/keeper/deleveraging.go `OffsetSubaccountPerpetualPosition`: "Start from a random
  subaccount." over the subaccounts with a position on the opposite side, "Iterate at most
  `MaxDeleveragingSubaccountsToIterate` subaccounts" (flags.go default 500).

Here the start is a stable digest instead of a draw: BLAKE2b of (what the walk is for, the block,
the market), reduced modulo the list's length. The same commands give the same walk in every
process and run, and the start moves from block to block as dYdX's does. The lists are walked in
a stated order (account, then position side), where dYdX walks its daemon's list.
"""

from __future__ import annotations

import hashlib

#: what a walk is for: the digest differs, so the two walks of one block start independently
LIQUIDATIONS, DELEVERAGING = "liquidations", "deleveraging"


def start_index(purpose: str, block: int, symbol: str, n: int) -> int:
    """Where a walk over `n` items starts (0 ≤ start < n; n ≥ 1): 8 bytes of BLAKE2b over
    (`purpose`, `block`, `symbol`) as an unsigned integer, modulo n."""
    if n < 1:
        raise ValueError("a walk needs at least one item")
    digest = hashlib.blake2b(f"{purpose}/{block}/{symbol}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % n


def rotated(n: int, start: int, limit: int) -> range | list[int]:
    """The indexes a walk visits: (start + i) mod n for i < min(n, limit), in that order."""
    count = n if n < limit else limit
    if start + count <= n:
        return range(start, start + count)
    return [*range(start, n), *range(0, start + count - n)]


def window(items: list, purpose: str, block: int, symbol: str, limit: int) -> list:
    """At most `limit` of `items` (an ordered list), taken consecutively from the digest's start
    and wrapping around: dYdX's pseudo-random offset into its list."""
    if limit <= 0 or not items:
        return []
    start = start_index(purpose, block, symbol, len(items))
    return [items[i] for i in rotated(len(items), start, limit)]
