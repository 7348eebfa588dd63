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

The views and the trailing-order records: engine/trigger_records.py; the state hash, the integrity
check and pickling: engine/trigger_checks.py.
"""

from __future__ import annotations

import math

from sortedcontainers import SortedList

from perpsim.engine import trigger_checks
from perpsim.engine.trigger_records import StopView, TrailingView, _Bucket, _Group, _Trail, _TrailSide
from perpsim.engine.trigger_rules import (
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

__all__ = ["TriggerIndex"]

_INF = math.inf


# ---------------------------------------------------------------------- internals


def _pop_through(entries: SortedList, bound: int) -> list:
    """Remove and return, in order, the entries (tuples sorted by their first field) whose first
    field is at most `bound`."""
    k = entries.bisect_left((bound + 1,))
    hits = entries[:k]
    del entries[:k]
    return hits


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
        return trigger_checks.state_hash(self)

    def __getstate__(self) -> tuple:
        return trigger_checks.pickled_state(self)

    def __setstate__(self, state: tuple) -> None:
        trigger_checks.restore(self, state)

    def check_integrity(self) -> None:
        """Raise TriggerIndexIntegrityError (engine.trigger_checks) if the structures disagree with
        each other or the quiet band is wider than the exact one."""
        trigger_checks.check_integrity(self)
