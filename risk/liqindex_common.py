"""What both liquidation-index implementations share: constants, input checks, hashing, the factory.

The semantics of the index are stated in the reference twin's module docstring
(`perpsim.risk.liqindex_ref`); the Cython twin is `perpsim.risk.liqindex`. Both import the
helpers below, so their error messages and `state_hash` are one piece of code.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable

__all__ = [
    "LONG",
    "PPM",
    "SHORT",
    "LiquidationIndexIntegrityError",
    "check_direction",
    "check_int64",
    "entries_digest",
    "make_liqindex",
]

LONG = 1
SHORT = -1

PPM = 1_000_000
"""Scale of ``buckets`` edges: 10_000 ppm = 1 %."""

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_ENTRY = struct.Struct("<qbq")  # key, direction, trigger
_HASH_DOMAIN = b"perpsim.liqindex.v1"


class LiquidationIndexIntegrityError(AssertionError):
    """The index's structures disagree with each other (a bug, never input)."""


def check_int64(name: str, value: object) -> int:
    """``value`` if it is an int (exactly: bool, float and numpy scalars are refused with TypeError)
    within int64, else ValueError."""
    if type(value) is not int:  # rejects bool, float, numpy scalars
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"{name} {value} is outside int64")
    return value


def check_direction(direction: object) -> int:
    """``direction`` if it is the int +1 (LONG) or −1 (SHORT), else ValueError."""
    if type(direction) is not int or direction not in (LONG, SHORT):
        raise ValueError(f"direction must be +1 (long) or -1 (short), got {direction!r}")
    return direction


def entries_digest(entries: Iterable[tuple[int, int, int]]) -> str:
    """blake2b of (key, direction, trigger) entries, given sorted by key: the ``state_hash`` of both
    twins, so it depends only on the entries, never on the implementation or the update history."""
    h = hashlib.blake2b(_HASH_DOMAIN, digest_size=16)
    pack = _ENTRY.pack
    for entry in entries:
        h.update(pack(*entry))
    return h.hexdigest()


def make_liqindex(impl: str):
    """Create an empty liquidation index; ``impl`` is "cython" or "ref", chosen explicitly (no fallback)."""
    if impl == "cython":
        from perpsim.risk.liqindex import LiquidationIndex
    elif impl == "ref":
        from perpsim.risk.liqindex_ref import LiquidationIndex
    else:
        raise ValueError(f"unknown liquidation index implementation {impl!r} (expected 'cython' or 'ref')")
    return LiquidationIndex()
