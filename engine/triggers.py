"""Conditional-order trigger index: the resting STOP / TAKE_PROFIT (limit and market) and
TRAILING_STOP_MARKET orders of one market for ONE trigger source (mark, last or index price; the
exchange keeps one index per source), keyed by integer order id. Rules: venue-mechanics §7; their
units, directions and the rounding of the trailing trigger: engine/trigger_rules.py.

``on_price(price)`` applies one observation: stops and active trailing orders that fire are removed
and returned; the extremes of the remaining active trailing orders move; pending trailing orders
whose activation price is reached activate at ``price``. Returned order: by trigger price
ascending, then order id ascending, stops and trailing orders merged (a trailing order's trigger is
its effective trigger at that moment, i.e. ``trailing_trigger`` of its extreme before the
observation, which the observation cannot have moved). Any price may follow any other: a gap fires
everything it passes through. Nothing is ever re-armed; the caller acts on the ids.

Method.

* Stops: two ``SortedList``s, ``(trigger, id)`` for RISE and ``(-trigger, id)`` for FALL, so the
  orders a price fires are a contiguous prefix of each (as in ``risk/liqindex_ref.py``).
* Pending trailing orders, per side: a ``SortedList`` of activation keys, again a prefix.
* Active trailing orders, per side, work in "u-space" (u = P for BUY, u = −P for SELL), where both
  sides track the *minimum* u and fire when ``u ≥ ⌈L_u × m / RATE_SCALE⌉`` with m = RATE_SCALE ± c.
  They are grouped by callback rate, and inside a group into *buckets* of orders with the same
  extreme (a ``SortedDict`` extreme → bucket). Orders whose extremes a new low reaches all get the
  same extreme and stay equal afterwards, so a new low pops the buckets above it and merges them
  into one (small sets into the largest): moving the extreme of k orders costs O(buckets popped),
  not O(k). Within a group the trigger is monotone in the extreme, so the buckets that fire are the
  lowest ones. Across groups, two ``SortedList``s hold each group's top extreme and bottom trigger,
  so a tick visits only the groups it changes.
* A cached *quiet band* ``lo < price < hi`` in which an observation changes nothing; it is exact
  after every non-quiet observation, shrunk exactly by every add (intersected with the new order's
  own quiet range), and left as it is by removals (a narrower band is still correct, merely
  conservative: the next observation outside it takes the full path and recomputes it).

Complexity (n resting orders, k fired, C = distinct callback rates among the active trailing
orders of a side; a handful in practice, and the spec's range is 0.1 %..10 %):

* ``add_stop``, ``remove``, ``add_trailing``: O(log n);
* ``on_price`` inside the quiet band: O(1); otherwise O(log n) to read the heads, plus per fired
  stop one sorted-list deletion (O(log n), near-constant in practice), plus O(k log k) to order the
  result, plus O(log n) per trailing group it touches (a group fires or its extreme moves). A tick
  of a trend (a new high or low) thus costs O(C log n) per side however many trailing orders
  follow it, where re-keying every order by its trigger would cost O(k_updated log n);
* bucket merges: small into large, so an order is moved O(log n) times amortised over its life
  (potential Σ log(n / bucket size) drops by ≥ 1 per move, rises by O(log n) per activation and by
  < 1.5 per cancellation);
* ``check_integrity``, ``entries``, ``state_hash``, pickling: O(n log n), for tests and snapshots.

Pickling stores the logical entries (``entries()``) and rebuilds the structures, so a restored
index has the same ``state_hash`` and behaves identically.
"""

from __future__ import annotations

import hashlib
import math
import struct
from typing import NamedTuple

from sortedcontainers import SortedDict, SortedList

from perpsim.engine.trigger_rules import (
    FALL,
    INT64_MAX,
    RISE,
    _check_direction,
    _check_id,
    _check_price,
    _check_rate,
    _check_side,
    trailing_trigger,
    would_activate,
    would_trigger,
)
from perpsim.model.enums import Side
from perpsim.risk.units import RATE_SCALE

__all__ = [
    "StopView",
    "TrailingView",
    "TriggerIndex",
    "TriggerIndexIntegrityError",
]

_INF = math.inf
_HASH_DOMAIN = b"perpsim.triggers.v1"
_STOP_ENTRY = struct.Struct("<qbbq")  # id, kind 0, direction, trigger
# id, kind 1, side, callback, activation (0 = none), active, extreme (0 = none)
_TRAIL_ENTRY = struct.Struct("<qbbqqbq")
_PICKLE_VERSION = 1


class TriggerIndexIntegrityError(AssertionError):
    """The index's structures disagree with each other (a bug, never input)."""


class StopView(NamedTuple):
    """A resting STOP / TAKE_PROFIT order."""

    order_id: int
    direction: int  # RISE or FALL
    trigger: int


class TrailingView(NamedTuple):
    """A resting TRAILING_STOP_MARKET order; ``extreme`` and ``trigger`` are None until it is active."""

    order_id: int
    side: Side
    callback_rate: int
    activation_price: int | None
    active: bool
    extreme: int | None  # lowest (BUY) / highest (SELL) price since activation
    trigger: int | None  # trailing_trigger(side, extreme, callback_rate)


# ---------------------------------------------------------------------- internals


def _pop_through(entries: SortedList, bound: int) -> list:
    """Remove and return, in order, the entries (tuples sorted by their first field) whose first
    field is at most `bound`."""
    k = entries.bisect_left((bound + 1,))
    hits = entries[:k]
    del entries[:k]
    return hits


class _Trail:
    """A trailing order; ``bucket`` is None while pending."""

    __slots__ = ("activation", "bucket", "callback", "order_id", "side")

    def __init__(self, order_id: int, side: Side, callback: int, activation: int | None) -> None:
        self.order_id = order_id
        self.side = side
        self.callback = callback
        self.activation = activation
        self.bucket: _Bucket | None = None


class _Bucket:
    """Active trailing orders of one side and callback rate sharing one extreme (in u-space)."""

    __slots__ = ("extreme", "members")

    def __init__(self, extreme: int) -> None:
        self.extreme = extreme
        self.members: set[int] = set()


class _Group:
    """Active trailing orders of one side and one callback rate: buckets by extreme (u-space)."""

    __slots__ = ("buckets", "mult")

    def __init__(self, mult: int) -> None:
        self.mult = mult  # RATE_SCALE + c (BUY) or RATE_SCALE - c (SELL)
        self.buckets: SortedDict = SortedDict()  # extreme_u -> _Bucket

    def trigger_u(self, extreme_u: int) -> int:
        """⌈extreme_u × mult / RATE_SCALE⌉: fires when u ≥ it."""
        return -((-extreme_u * self.mult) // RATE_SCALE)


class _TrailSide:
    """The trailing orders of one side. u = sign × price (BUY +1, SELL −1)."""

    __slots__ = ("bottoms", "groups", "pending", "sign", "tops")

    def __init__(self, sign: int) -> None:
        self.sign = sign
        # pending, activated when u ≤ activation_u: (-activation_u, id), the activated are a prefix
        self.pending: SortedList = SortedList()
        self.groups: dict[int, _Group] = {}  # callback rate -> group
        self.tops: SortedList = SortedList()  # (highest extreme_u of the group, c): moved when > u
        self.bottoms: SortedList = SortedList()  # (lowest trigger_u of the group, c): fires when ≤ u


# ---------------------------------------------------------------------- the index


class TriggerIndex:
    """Resting conditional orders of one market for one trigger source; see the module docstring."""

    __slots__ = ("_fall", "_hi", "_lo", "_orders", "_rise", "_sides")

    def __init__(self) -> None:
        self._orders: dict[int, tuple[int, int] | _Trail] = {}  # id -> (direction, trigger) | _Trail
        self._rise: SortedList = SortedList()  # (trigger, id): fires when trigger ≤ price
        self._fall: SortedList = SortedList()  # (-trigger, id): fires when -trigger ≤ -price
        self._sides = (_TrailSide(1), _TrailSide(-1))  # indexed by Side.BUY (0), Side.SELL (1)
        self._lo: float | int = -_INF  # quiet band: an observation lo < price < hi changes nothing
        self._hi: float | int = _INF

    # ------------------------------------------------------------------ rules as methods

    would_trigger = staticmethod(would_trigger)
    would_activate = staticmethod(would_activate)

    # ------------------------------------------------------------------ updates

    def add_stop(self, order_id: int, direction: int, trigger: int) -> None:
        """Rest a STOP / TAKE_PROFIT order; ValueError if ``order_id`` is already here. The venue checks
        ``would_trigger`` (-2021) first; an order added already crossed fires on the next ``on_price``."""
        _check_id(order_id)
        _check_direction(direction)
        _check_price("trigger", trigger)
        if order_id in self._orders:
            raise ValueError(f"order {order_id} is already in the trigger index")
        self._orders[order_id] = (direction, trigger)
        if direction == RISE:
            self._rise.add((trigger, order_id))
            if trigger < self._hi:
                self._hi = trigger
        else:
            self._fall.add((-trigger, order_id))
            if trigger > self._lo:
                self._lo = trigger

    def add_trailing(
        self, order_id: int, side: Side, callback_rate: int, activation_price: int | None, price_now: int
    ) -> None:
        """Rest a TRAILING_STOP_MARKET order placed when the source price is ``price_now``. Active at once
        (extreme = ``price_now``) when ``activation_price`` is None or already reached, else pending.
        ValueError if ``order_id`` is already here."""
        _check_id(order_id)
        side = _check_side(side)
        _check_rate(callback_rate)
        if activation_price is not None:
            _check_price("activation_price", activation_price)
        _check_price("price_now", price_now)
        if order_id in self._orders:
            raise ValueError(f"order {order_id} is already in the trigger index")
        rec = _Trail(order_id, side, callback_rate, activation_price)
        self._orders[order_id] = rec
        ts = self._sides[side]
        if activation_price is None or would_activate(side, activation_price, price_now):
            self._activate(ts, rec, ts.sign * price_now)
            # the new order's own quiet range, intersected with the band: its extreme moves at a price
            # beyond price_now, it fires at its trigger
            trigger = trailing_trigger(side, price_now, callback_rate)
            if side == Side.BUY:  # moves at price < price_now, fires at price ≥ trigger
                self._lo = max(self._lo, price_now - 1)
                self._hi = min(self._hi, trigger)
            else:  # moves at price > price_now, fires at price ≤ trigger
                self._lo = max(self._lo, trigger)
                self._hi = min(self._hi, price_now + 1)
        else:
            ts.pending.add((-ts.sign * activation_price, order_id))
            if side == Side.BUY:  # activates at price ≤ A
                if activation_price > self._lo:
                    self._lo = activation_price
            elif activation_price < self._hi:  # SELL activates at price ≥ A
                self._hi = activation_price

    def remove(self, order_id: int) -> bool:
        """Remove an order (cancelled, expired); False if it is not here."""
        rec = self._orders.pop(order_id, None)
        if rec is None:
            return False
        if type(rec) is tuple:
            direction, trigger = rec
            if direction == RISE:
                self._rise.remove((trigger, order_id))
            else:
                self._fall.remove((-trigger, order_id))
            return True
        ts = self._sides[rec.side]
        bucket = rec.bucket
        if bucket is None:
            ts.pending.remove((-ts.sign * rec.activation, order_id))
            return True
        rec.bucket = None
        bucket.members.remove(order_id)
        if not bucket.members:
            c = rec.callback
            group = ts.groups[c]
            self._unlist(ts, c, group)
            del group.buckets[bucket.extreme]
            if group.buckets:
                self._list(ts, c, group)
            else:
                del ts.groups[c]
        return True

    def on_price(self, price: int) -> list[int]:
        """Apply one observation of the source price: return, and remove, the ids of every order that
        fires at ``price`` (by trigger, then id); move trailing extremes; activate pending trailing orders."""
        if type(price) is not int or price < 1 or price > INT64_MAX:
            _check_price("price", price)
        if self._lo < price < self._hi:
            return []
        orders = self._orders
        fired: list[tuple[int, int]] = []
        rise = self._rise
        if rise and rise[0][0] <= price:
            hits = _pop_through(rise, price)
            for _, oid in hits:
                del orders[oid]
            fired.extend(hits)
        fall = self._fall
        if fall and fall[0][0] <= -price:
            for neg_trigger, oid in _pop_through(fall, -price):
                del orders[oid]
                fired.append((-neg_trigger, oid))
        for ts in self._sides:
            self._tick_side(ts, price, fired)
        self._recompute_band()
        if len(fired) > 1:
            fired.sort()
        return [oid for _, oid in fired]

    # ------------------------------------------------------------------ trailing internals

    def _list(self, ts: _TrailSide, c: int, group: _Group) -> None:
        """Enter a non-empty group's top extreme and bottom trigger in the side's lists."""
        buckets = group.buckets
        ts.tops.add((buckets.peekitem(-1)[0], c))
        ts.bottoms.add((group.trigger_u(buckets.peekitem(0)[0]), c))

    def _unlist(self, ts: _TrailSide, c: int, group: _Group) -> None:
        buckets = group.buckets
        ts.tops.remove((buckets.peekitem(-1)[0], c))
        ts.bottoms.remove((group.trigger_u(buckets.peekitem(0)[0]), c))

    def _activate(self, ts: _TrailSide, rec: _Trail, extreme_u: int) -> None:
        c = rec.callback
        group = ts.groups.get(c)
        if group is None:
            group = ts.groups[c] = _Group(RATE_SCALE + ts.sign * c)
        else:
            self._unlist(ts, c, group)
        bucket = group.buckets.get(extreme_u)
        if bucket is None:
            bucket = group.buckets[extreme_u] = _Bucket(extreme_u)
        bucket.members.add(rec.order_id)
        rec.bucket = bucket
        self._list(ts, c, group)

    def _tick_side(self, ts: _TrailSide, price: int, fired: list[tuple[int, int]]) -> None:
        sign = ts.sign
        u = sign * price
        orders = self._orders
        groups = ts.groups
        # 1. fire: the lowest buckets of the groups whose bottom trigger is reached (extremes before
        #    this observation; a firing order's extreme is below u, so the observation cannot move it).
        #    The group's top changes only if every bucket fires.
        bottoms, tops = ts.bottoms, ts.tops
        if bottoms and bottoms[0][0] <= u:
            for entry in bottoms[: bottoms.bisect_left((u + 1,))]:
                c = entry[1]
                group = groups[c]
                bottoms.remove(entry)
                buckets = group.buckets
                while buckets:
                    extreme_u, bucket = buckets.peekitem(0)
                    trigger_u = group.trigger_u(extreme_u)
                    if trigger_u > u:
                        bottoms.add((trigger_u, c))
                        break
                    buckets.popitem(0)
                    trigger = sign * trigger_u
                    for oid in bucket.members:
                        orders.pop(oid).bucket = None
                        fired.append((trigger, oid))
                else:  # every bucket fired; the last one popped was the top
                    tops.remove((extreme_u, c))
                    del groups[c]
        # 2. move extremes: in every group whose top extreme is above u, the buckets at or above u
        #    merge into one at u (small sets into the largest). The group's bottom changes only if
        #    every bucket moves.
        if tops and tops[-1][0] > u:
            for entry in list(tops.irange(minimum=(u + 1,))):
                c = entry[1]
                group = groups[c]
                buckets = group.buckets
                tops.remove(entry)
                first = buckets.bisect_left(u)
                if first == 0:
                    bottoms.remove((group.trigger_u(buckets.peekitem(0)[0]), c))
                n_moved = len(buckets) - first
                if n_moved == 1:  # a trend: only the top bucket moves
                    survivor = buckets.popitem(-1)[1]
                else:
                    moved = [buckets.popitem(-1)[1] for _ in range(n_moved)]
                    survivor = max(moved, key=lambda b: len(b.members))
                    members = survivor.members
                    for bucket in moved:
                        if bucket is not survivor:
                            for oid in bucket.members:
                                orders[oid].bucket = survivor
                            members |= bucket.members
                survivor.extreme = u
                buckets[u] = survivor
                tops.add((u, c))
                if first == 0:
                    bottoms.add((group.trigger_u(u), c))
        # 3. activate pending orders whose activation price is reached, at extreme u
        pending = ts.pending
        if pending and pending[0][0] <= -u:
            for _, oid in _pop_through(pending, -u):
                self._activate(ts, orders[oid], u)

    def _recompute_band(self) -> None:
        """The exact quiet band: lo < price < hi fires nothing, moves nothing and activates nothing."""
        lo: float | int = -self._fall[0][0] if self._fall else -_INF  # FALL stops fire at price ≤ trigger
        hi: float | int = self._rise[0][0] if self._rise else _INF  # RISE stops fire at price ≥ trigger
        for ts in self._sides:
            u_lo: float | int = -ts.pending[0][0] if ts.pending else -_INF  # activation at u ≤ A_u
            if ts.tops:
                u_lo = max(u_lo, ts.tops[-1][0] - 1)  # extremes move at u < top
            u_hi: float | int = ts.bottoms[0][0] if ts.bottoms else _INF  # fires at u ≥ trigger_u
            if ts.sign > 0:
                lo, hi = max(lo, u_lo), min(hi, u_hi)
            else:
                lo, hi = max(lo, -u_hi), min(hi, -u_lo)
        self._lo, self._hi = lo, hi

    # ------------------------------------------------------------------ queries

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._orders

    def __len__(self) -> int:
        return len(self._orders)

    def get(self, order_id: int) -> StopView | TrailingView | None:
        """A view of the order, or None."""
        rec = self._orders.get(order_id)
        if rec is None:
            return None
        if type(rec) is tuple:
            return StopView(order_id, rec[0], rec[1])
        bucket = rec.bucket
        if bucket is None:
            return TrailingView(order_id, rec.side, rec.callback, rec.activation, False, None, None)
        ts = self._sides[rec.side]
        trigger_u = ts.groups[rec.callback].trigger_u(bucket.extreme)
        return TrailingView(
            order_id, rec.side, rec.callback, rec.activation, True, ts.sign * bucket.extreme, ts.sign * trigger_u
        )

    def entries(self) -> list[StopView | TrailingView]:
        """Every order's view, by id (for snapshots and tests)."""
        return [self.get(oid) for oid in sorted(self._orders)]

    # ------------------------------------------------------------------ integrity, hashing, pickling

    def state_hash(self) -> str:
        """blake2b of the entries by id: depends only on the logical state (orders, activation,
        extremes), never on insertion order, bucket layout or the quiet band."""
        h = hashlib.blake2b(_HASH_DOMAIN, digest_size=16)
        for v in self.entries():
            if type(v) is StopView:
                h.update(_STOP_ENTRY.pack(v.order_id, 0, v.direction, v.trigger))
            else:
                h.update(
                    _TRAIL_ENTRY.pack(
                        v.order_id, 1, int(v.side), v.callback_rate, v.activation_price or 0, v.active, v.extreme or 0
                    )
                )
        return h.hexdigest()

    def __getstate__(self) -> tuple:
        return (_PICKLE_VERSION, [tuple(v) for v in self.entries()])

    def __setstate__(self, state: tuple) -> None:
        version, entries = state
        if version != _PICKLE_VERSION:
            raise ValueError(f"unknown TriggerIndex pickle version {version!r}")
        self.__init__()
        for e in entries:
            if len(e) == len(StopView._fields):
                self.add_stop(*e)
                continue
            order_id, side, callback, activation, active, extreme, _ = e
            if active:
                rec = _Trail(order_id, Side(side), callback, activation)
                self._orders[order_id] = rec
                ts = self._sides[side]
                self._activate(ts, rec, ts.sign * extreme)
            else:
                ts = self._sides[side]
                self._orders[order_id] = _Trail(order_id, Side(side), callback, activation)
                ts.pending.add((-ts.sign * activation, order_id))
        self._recompute_band()

    def check_integrity(self) -> None:
        """Raise TriggerIndexIntegrityError if the structures disagree with each other or the quiet band
        is wider than the exact one."""

        def fail(msg: str) -> None:
            raise TriggerIndexIntegrityError(msg)

        seen: set[int] = set()
        for trigger, oid in self._rise:
            if self._orders.get(oid) != (RISE, trigger) or oid in seen:
                fail(f"RISE stop {oid} at {trigger} not in the map or listed twice")
            seen.add(oid)
        for neg_trigger, oid in self._fall:
            if self._orders.get(oid) != (FALL, -neg_trigger) or oid in seen:
                fail(f"FALL stop {oid} at {-neg_trigger} not in the map or listed twice")
            seen.add(oid)
        for side, ts in zip((Side.BUY, Side.SELL), self._sides, strict=True):
            if ts.sign != (1 if side == Side.BUY else -1):
                fail(f"side {side.name} has sign {ts.sign}")
            for neg_act_u, oid in ts.pending:
                rec = self._orders.get(oid)
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
                        rec = self._orders.get(oid)
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
                self._check_sorted(sl)
        if seen != set(self._orders):
            fail(f"{len(self._orders)} orders in the map, {len(seen)} in the structures")
        self._check_sorted(self._rise)
        self._check_sorted(self._fall)
        lo, hi = self._lo, self._hi
        self._recompute_band()
        exact_lo, exact_hi = self._lo, self._hi
        self._lo, self._hi = lo, hi
        if lo < hi and (lo < exact_lo or hi > exact_hi):
            fail(f"quiet band ({lo}, {hi}) is wider than the exact ({exact_lo}, {exact_hi})")

    @staticmethod
    def _check_sorted(sl: SortedList) -> None:
        try:
            sl._check()
        except AssertionError as exc:  # sortedcontainers' own invariants
            raise TriggerIndexIntegrityError(f"sorted list corrupt: {exc!r}") from exc
