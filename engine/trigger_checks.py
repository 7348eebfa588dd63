"""A trigger index's checks and saved form: its state hash, its integrity check and its pickled
state, which `TriggerIndex.state_hash`, `check_integrity`, `__getstate__` and `__setstate__`
(engine/triggers.py) call. They read the index's structures and, but for `restore`, change
nothing; none is on the per-tick path (each is O(n log n), for tests and snapshots).

Pickling stores the logical entries (``entries()``) and rebuilds the structures, so a restored
index has the same ``state_hash`` and behaves identically.
"""

from __future__ import annotations

import hashlib
import struct
from typing import TYPE_CHECKING

from sortedcontainers import SortedList

from perpsim.engine.trigger_records import StopView, _Trail
from perpsim.engine.trigger_rules import FALL, RISE
from perpsim.model.enums import Side
from perpsim.risk.units import RATE_SCALE

if TYPE_CHECKING:
    from perpsim.engine.triggers import TriggerIndex

__all__ = ["TriggerIndexIntegrityError", "check_integrity", "pickled_state", "restore", "state_hash"]

_HASH_DOMAIN = b"perpsim.triggers.v1"
_STOP_ENTRY = struct.Struct("<qbbq")  # id, kind 0, direction, trigger
# id, kind 1, side, callback, activation (0 = none), active, extreme (0 = none)
_TRAIL_ENTRY = struct.Struct("<qbbqqbq")
_PICKLE_VERSION = 1


class TriggerIndexIntegrityError(AssertionError):
    """The index's structures disagree with each other (a bug, never input)."""


def state_hash(index: TriggerIndex) -> str:
    """blake2b of the index's entries by id (`TriggerIndex.state_hash`)."""
    h = hashlib.blake2b(_HASH_DOMAIN, digest_size=16)
    for v in index.entries():
        if type(v) is StopView:
            h.update(_STOP_ENTRY.pack(v.order_id, 0, v.direction, v.trigger))
        else:
            h.update(
                _TRAIL_ENTRY.pack(
                    v.order_id, 1, int(v.side), v.callback_rate, v.activation_price or 0, v.active, v.extreme or 0
                )
            )
    return h.hexdigest()


def pickled_state(index: TriggerIndex) -> tuple:
    """The index's pickled state: a version and its entries as plain tuples."""
    return (_PICKLE_VERSION, [tuple(v) for v in index.entries()])


def restore(index: TriggerIndex, state: tuple) -> None:
    """Rebuild ``index`` from ``pickled_state``'s tuple (what it held before is dropped);
    ValueError for an unknown version."""
    version, entries = state
    if version != _PICKLE_VERSION:
        raise ValueError(f"unknown TriggerIndex pickle version {version!r}")
    index.__init__()
    for e in entries:
        if len(e) == len(StopView._fields):
            index.add_stop(*e)
            continue
        order_id, side, callback, activation, active, extreme, _ = e
        if active:
            rec = _Trail(order_id, Side(side), callback, activation)
            index._orders[order_id] = rec
            ts = index._sides[side]
            index._activate(ts, rec, ts.sign * extreme)
        else:
            ts = index._sides[side]
            index._orders[order_id] = _Trail(order_id, Side(side), callback, activation)
            ts.pending.add((-ts.sign * activation, order_id))
    index._recompute_band()


def check_integrity(index: TriggerIndex) -> None:
    """Raise TriggerIndexIntegrityError if the index's structures disagree with each other or its
    quiet band is wider than the exact one (`TriggerIndex.check_integrity`)."""

    def fail(msg: str) -> None:
        raise TriggerIndexIntegrityError(msg)

    seen: set[int] = set()
    for trigger, oid in index._rise:
        if index._orders.get(oid) != (RISE, trigger) or oid in seen:
            fail(f"RISE stop {oid} at {trigger} not in the map or listed twice")
        seen.add(oid)
    for neg_trigger, oid in index._fall:
        if index._orders.get(oid) != (FALL, -neg_trigger) or oid in seen:
            fail(f"FALL stop {oid} at {-neg_trigger} not in the map or listed twice")
        seen.add(oid)
    for side, ts in zip((Side.BUY, Side.SELL), index._sides, strict=True):
        if ts.sign != (1 if side == Side.BUY else -1):
            fail(f"side {side.name} has sign {ts.sign}")
        for neg_act_u, oid in ts.pending:
            rec = index._orders.get(oid)
            if type(rec) is not _Trail or rec.side != side or rec.bucket is not None or oid in seen:
                fail(f"pending {side.name} trailing {oid} not in the map, active or listed twice")
            if -neg_act_u != ts.sign * rec.activation:
                fail(f"pending trailing {oid} keyed at {-neg_act_u}, activation {rec.activation}")
            seen.add(oid)
        tops, bottoms = [], []
        for c, group in ts.groups.items():
            if group.mult != RATE_SCALE + ts.sign * c or not group.buckets:
                fail(f"{side.name} group {c}: multiplier {group.mult} or empty")
            for extreme_u, bucket in group.buckets.items():
                if bucket.extreme != extreme_u or not bucket.members:
                    fail(f"{side.name} group {c}: bucket keyed {extreme_u} holds {bucket.extreme} or is empty")
                if ts.sign * extreme_u < 1:
                    fail(f"{side.name} group {c}: extreme {ts.sign * extreme_u} is not a price")
                for oid in bucket.members:
                    rec = index._orders.get(oid)
                    if type(rec) is not _Trail or rec.side != side or rec.callback != c or rec.bucket is not bucket:
                        fail(f"active trailing {oid} not in the map or in the wrong bucket")
                    if oid in seen:
                        fail(f"active trailing {oid} listed twice")
                    seen.add(oid)
            tops.append((group.buckets.peekitem(-1)[0], c))
            bottoms.append((group.trigger_u(group.buckets.peekitem(0)[0]), c))
        if list(ts.tops) != sorted(tops) or list(ts.bottoms) != sorted(bottoms):
            fail(f"{side.name} group heads out of date")
        for sl in (ts.pending, ts.tops, ts.bottoms):
            _check_sorted(sl)
    if seen != set(index._orders):
        fail(f"{len(index._orders)} orders in the map, {len(seen)} in the structures")
    _check_sorted(index._rise)
    _check_sorted(index._fall)
    lo, hi = index._lo, index._hi
    index._recompute_band()
    exact_lo, exact_hi = index._lo, index._hi
    index._lo, index._hi = lo, hi
    if lo < hi and (lo < exact_lo or hi > exact_hi):
        fail(f"quiet band ({lo}, {hi}) is wider than the exact ({exact_lo}, {exact_hi})")


def _check_sorted(sl: SortedList) -> None:
    try:
        sl._check()
    except AssertionError as exc:  # sortedcontainers' own invariants
        raise TriggerIndexIntegrityError(f"sorted list corrupt: {exc!r}") from exc
