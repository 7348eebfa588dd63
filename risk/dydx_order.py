"""The order in which dYdX v4 liquidates the accounts under water in one block (venue-mechanics §4.6).

Source: dydxprotocol/v4-chain @ 84d4664bae71e3a077adaac67fb77ad19cd28d30,
protocol/x/clob/keeper/liquidations.go. `LiquidateSubaccountsAgainstOrderbook` takes at most
`MaxLiquidationAttemptsPerBlock` (flags.go: 50) liquidatable subaccounts "starting from a
pseudorandom location" (random.go: seeded with the previous block's time), builds each one's
liquidation order, and `SortLiquidationOrders` "deterministically sorts" them: "first ordered by
their absolute percentage difference from the oracle price in descending order, followed by
their size in quote quantums in descending order, and finally by order hashes"; "The most
underwater accounts should be liquidated first". Each account's order is built again when its
turn comes ("previous liquidation orders can alter quantity sizes of subsequent liquidation
orders"), and one no longer liquidatable is skipped.

Here the same sort, with the order hash (SHA-256 of the order, in effect a pseudo-random draw)
replaced by a stable digest of (block, symbol, account, position side): deterministic, the same
in every process and run, and reshuffled from block to block as dYdX's is. The 50 accounts a
block and their pseudo-random start, every market's together: engine.dydx_sweep (risk.dydx_rotation).
"""

from __future__ import annotations

import hashlib
from fractions import Fraction


def tie_break(block: int, symbol: str, account: int, pside: int) -> bytes:
    """The last sort key: 8 bytes of BLAKE2b over the block, market, account and position side."""
    return hashlib.blake2b(f"{block}/{symbol}/{account}/{pside}".encode(), digest_size=8).digest()


def rank_key(*, oracle: int, limit: int, notional: int, block: int, symbol: str, account: int,
             pside: int) -> tuple[Fraction, int, bytes]:
    """The sort key of one liquidation order (ascending sort = dYdX's order): its limit's distance
    from the oracle as an exact fraction of the oracle (larger first), its notional in money
    units (larger first), then `tie_break`. Prices in ticks."""
    return -Fraction(abs(limit - oracle), oracle), -notional, tie_break(block, symbol, account, pside)
