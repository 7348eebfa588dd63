"""Liquidation index, reference twin: plain Python (sortedcontainers), the oracle for the Cython
`perpsim.risk.liqindex`, which has the same API and behaviour (see DESIGN.md "Hot paths"; choose one
with `perpsim.risk.liqindex_common.make_liqindex`). Positions of one market keyed by the price at which
they become liquidatable.

Each entry is ``key`` (the engine's position id) → (``direction``, ``trigger``):

* ``direction`` +1 (long) is liquidatable when the mark ``price ≤ trigger``;
* ``direction`` −1 (short) is liquidatable when ``price ≥ trigger``.

``trigger`` is an integer price in ticks, the liquidation price already rounded conservatively by
the caller (up for a long, down for a short); a trigger exactly equal to the price is crossed.

Input. ``upsert`` takes exact ints within int64 (TypeError for bool, float, numpy scalars; ValueError
outside int64; ValueError for a direction other than ±1). Query prices are any integer (``operator.index``:
bool and numpy integers are accepted, float is a TypeError), of any size. ``remove``, ``get`` and ``in``
look keys up as a dict does (``1.0`` and ``True`` name key 1; an unhashable key is a TypeError).

Method. One ``SortedList`` per direction, with tuple keys ordered so that the entries crossed at
any price form a contiguous *prefix*, most distressed first:

* longs as ``(-trigger, key)``: crossed iff ``-trigger ≤ -price``, i.e. every element below the
  probe ``(-price + 1,)`` (a 1-tuple sorts before every 2-tuple with the same first item);
* shorts as ``(trigger, key)``: crossed iff ``trigger ≤ price``, i.e. below ``(price + 1,)``.

A dict ``key → (direction, trigger)`` locates an entry in its list for updates.

Complexity (n entries, k of them returned): ``upsert``/``remove`` O(log n) (amortised, as the
sorted list's sublists split and merge); ``triggered`` O(1) when nothing is crossed (only the
head of each list is read) and O(log n + k) otherwise; ``nearest`` O(log n); ``buckets``
O(m log n) for m edges. Nothing on a mark tick scans the whole index. ``check_integrity``,
``entries`` and ``state_hash`` are O(n) / O(n log n) and meant for tests and snapshots.

Values are int64 (keys and triggers), so the compiled twin holds them in C++ containers.
"""

from __future__ import annotations

import operator

from sortedcontainers import SortedList

from perpsim.risk.liqindex_common import (
    LONG,
    PPM,
    SHORT,
    LiquidationIndexIntegrityError,
    check_direction,
    entries_digest,
)
from perpsim.risk.liqindex_common import check_int64 as _check_int64

__all__ = ["LONG", "PPM", "SHORT", "LiquidationIndex", "LiquidationIndexIntegrityError"]


class LiquidationIndex:
    """Liquidation triggers of the positions of one market; see the module docstring."""

    __slots__ = ("_entries", "_longs", "_shorts")

    def __init__(self) -> None:
        self._entries: dict[int, tuple[int, int]] = {}  # key -> (direction, trigger)
        self._longs: SortedList = SortedList()  # (-trigger, key): highest trigger first
        self._shorts: SortedList = SortedList()  # (trigger, key): lowest trigger first

    # ------------------------------------------------------------------ updates

    def upsert(self, key: int, direction: int, trigger: int | None) -> None:
        """Insert ``key``, or move it to a new direction and/or trigger; ``trigger`` None removes it
        (the position has no liquidation price). ValueError on a direction other than ±1."""
        _check_int64("key", key)
        check_direction(direction)
        if trigger is None:
            self.remove(key)
            return
        _check_int64("trigger", trigger)
        old = self._entries.get(key)
        if old is not None:
            if old == (direction, trigger):
                return
            self._discard(key, *old)
        self._entries[key] = (direction, trigger)
        if direction == LONG:
            self._longs.add((-trigger, key))
        else:
            self._shorts.add((trigger, key))

    def remove(self, key: int) -> None:
        """Remove ``key``; no-op if absent."""
        old = self._entries.pop(key, None)
        if old is not None:
            self._discard(key, *old)

    def _discard(self, key: int, direction: int, trigger: int) -> None:
        if direction == LONG:
            self._longs.remove((-trigger, key))
        else:
            self._shorts.remove((trigger, key))

    # ------------------------------------------------------------------ queries

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: int) -> tuple[int, int] | None:
        """(direction, trigger) of ``key``, or None."""
        return self._entries.get(key)

    def triggered(self, price: int) -> list[int]:
        """Keys whose trigger is crossed at ``price`` (longs with trigger ≥ price, shorts with
        trigger ≤ price), not removed. Order: longs first (trigger descending, then key ascending),
        then shorts (trigger ascending, then key ascending) — most distressed first on each side.
        Correct for any price, not only a small step from the previous one."""
        price = operator.index(price)
        out: list[int] = []
        longs, shorts = self._longs, self._shorts
        # Fast path: the head of each list is its most distressed entry (O(1) read).
        if longs and longs[0][0] <= -price:
            out.extend(k for _, k in longs.irange(maximum=(-price + 1,), inclusive=(True, False)))
        if shorts and shorts[0][0] <= price:
            out.extend(k for _, k in shorts.irange(maximum=(price + 1,), inclusive=(True, False)))
        return out

    def nearest(self, price: int) -> tuple[int | None, int | None]:
        """(highest long trigger < price, lowest short trigger > price): the next trigger on each
        side not yet crossed at ``price``; None where there is none."""
        price = operator.index(price)
        long_head = next(self._longs.irange(minimum=(-price + 1,)), None)
        short_head = next(self._shorts.irange(minimum=(price + 1,)), None)
        return (
            None if long_head is None else -long_head[0],
            None if short_head is None else short_head[0],
        )

    def buckets(self, price: int, edges_ppm: list[int]) -> list[int]:
        """For each edge e (ppm of ``price``, ≥ 0), how many entries would be crossed by an adverse
        move of d = ⌊price × e / PPM⌋ ticks: longs with trigger ≥ price − d plus shorts with
        trigger ≤ price + d. Cumulative (includes entries already crossed; e = 0 counts exactly
        ``triggered(price)``); results follow the order of ``edges_ppm``."""
        price = operator.index(price)
        counts = []
        for e in edges_ppm:
            if type(e) is not int or e < 0:
                raise ValueError(f"edge must be a non-negative int (ppm), got {e!r}")
            d = price * e // PPM
            counts.append(self._longs.bisect_left((-(price - d) + 1,)) + self._shorts.bisect_left((price + d + 1,)))
        return counts

    def entries(self) -> list[tuple[int, int, int]]:
        """Every entry as (key, direction, trigger), by key (for snapshots and tests)."""
        return [(k, d, t) for k, (d, t) in sorted(self._entries.items())]

    # ------------------------------------------------------------------ integrity

    def state_hash(self) -> str:
        """blake2b of the entries sorted by key: independent of insertion and update history."""
        return entries_digest(self.entries())

    def check_integrity(self) -> None:
        """Raise LiquidationIndexIntegrityError if the dict and the two sorted lists disagree."""
        if len(self._longs) + len(self._shorts) != len(self._entries):
            raise LiquidationIndexIntegrityError(
                f"{len(self._longs)} longs + {len(self._shorts)} shorts != {len(self._entries)} entries"
            )
        seen: set[int] = set()
        for neg_trigger, key in self._longs:
            if self._entries.get(key) != (LONG, -neg_trigger) or key in seen:
                raise LiquidationIndexIntegrityError(f"long {key} at {-neg_trigger} not in the map or listed twice")
            seen.add(key)
        for trigger, key in self._shorts:
            if self._entries.get(key) != (SHORT, trigger) or key in seen:
                raise LiquidationIndexIntegrityError(f"short {key} at {trigger} not in the map or listed twice")
            seen.add(key)
        try:
            self._longs._check()
            self._shorts._check()
        except AssertionError as exc:  # sortedcontainers' own invariants (order, sublist sizes)
            raise LiquidationIndexIntegrityError(f"sorted list corrupt: {exc!r}") from exc
