# cython: language_level=3
# distutils: language = c++
"""Liquidation index, Cython twin: positions of one market keyed by the price at which they become
liquidatable, held in C++ containers.

Same API, behaviour, exceptions, ordering and `state_hash` as the reference twin
`perpsim.risk.liqindex_ref`, whose module docstring states the semantics (choose one explicitly
with `perpsim.risk.liqindex_common.make_liqindex`). Method:

* longs in a ``std::set`` of ``(~trigger, key)`` (``~t == -t - 1``: ordered like ``-t``, the
  highest trigger first, without the overflow of ``-INT64_MIN``);
* shorts in a ``std::set`` of ``(trigger, key)``, the lowest trigger first;
* a ``std::unordered_map`` key → (direction, trigger) to find an entry's slot on updates.

The entries crossed at a price are a prefix of each set. Complexity (n entries, k returned):
``upsert``/``remove`` O(log n); ``triggered`` O(1) when nothing is crossed (the first element of
each set is compared) and O(k) otherwise; ``nearest`` O(log n); ``buckets`` O(m log m + m log n +
c) for m edges, c the largest count (a std::set cannot count a prefix in O(log n), so the counts
are taken in one walk over the crossed prefix, edges sorted); ``entries``, ``state_hash`` and
``check_integrity`` O(n log n) / O(n), for tests and snapshots.

Query prices may be any integer (``operator.index``), also outside int64: such prices are
compared exactly, as Python ints, without being squeezed into int64.
"""

from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.number cimport PyNumber_Index
from cython.operator cimport dereference as deref, preincrement as inc
from libc.stdint cimport INT64_MAX, INT64_MIN, int64_t
from libcpp.algorithm cimport sort
from libcpp.set cimport set as cpp_set
from libcpp.unordered_map cimport unordered_map
from libcpp.utility cimport pair
from libcpp.vector cimport vector

from perpsim.risk.liqindex_common import (
    LONG,
    PPM,
    SHORT,
    LiquidationIndexIntegrityError,
    check_direction,
    check_int64,
    entries_digest,
)

__all__ = ["LONG", "PPM", "SHORT", "LiquidationIndex", "LiquidationIndexIntegrityError"]

ctypedef pair[int64_t, Py_ssize_t] Probe  # (bound, edge index) in buckets


# ---------------------------------------------------------------- argument conversion
# The fast paths read an exact int with no exception; every other case is handed to the shared
# Python checks, so the exceptions and messages are the reference twin's.

cdef inline int64_t _as_int64(str name, object value) except? -1:
    cdef int overflow = 0
    cdef int64_t v
    if type(value) is int:
        v = PyLong_AsLongLongAndOverflow(value, &overflow)
        if overflow == 0:
            return v
    check_int64(name, value)  # raises TypeError or ValueError
    raise AssertionError(f"check_int64 accepted {value!r}")  # unreachable


cdef inline int64_t _as_direction(object direction) except? -1:
    cdef int overflow = 0
    cdef int64_t v
    if type(direction) is int:
        v = PyLong_AsLongLongAndOverflow(direction, &overflow)
        if overflow == 0 and (v == 1 or v == -1):
            return v
    check_direction(direction)  # raises ValueError
    raise AssertionError(f"check_direction accepted {direction!r}")  # unreachable


cdef inline int _price_class(object price, int64_t* out) except -2:
    """0 with *out = price if the integer ``price`` is within int64, -1 if below, +1 if above;
    TypeError if ``price`` is not an integer (the reference twin's ``operator.index``)."""
    cdef int overflow = 0
    if type(price) is not int:
        price = PyNumber_Index(price)
    out[0] = PyLong_AsLongLongAndOverflow(price, &overflow)
    return overflow


cdef inline bint _lookup_key(object key, int64_t* out) except -1:
    """True with *out set if ``key`` may name an entry, looked up as the reference twin's dict
    does: an int within int64, or an object equal to and hashing like one (1.0, True, numpy
    integers). TypeError, as a dict, for an unhashable key; False for anything else."""
    cdef int overflow = 0
    if type(key) is not int:
        h = hash(key)
        try:
            i = int(key)
        except (TypeError, ValueError, ArithmeticError):
            return False
        if type(i) is not int or not (i == key and hash(i) == h):
            return False
        key = i
    out[0] = PyLong_AsLongLongAndOverflow(key, &overflow)
    return overflow == 0


# A side's crossed prefix is every element with sort key <= bound. Per side and price class:
# longs (crossed iff trigger >= price): below int64 all, within ~price, above none;
# shorts (crossed iff trigger <= price): below none, within price, above all.

cdef inline bint _long_bound(int cls, int64_t p, int64_t* bound) noexcept:
    if cls > 0:
        return False
    bound[0] = INT64_MAX if cls < 0 else ~p
    return True


cdef inline bint _short_bound(int cls, int64_t p, int64_t* bound) noexcept:
    if cls < 0:
        return False
    bound[0] = INT64_MAX if cls > 0 else p
    return True


cdef inline int _append_prefix(cpp_set[Slot]& s, int64_t bound, list out) except -1:
    cdef cpp_set[Slot].iterator it = s.begin()
    cdef cpp_set[Slot].iterator end = s.end()
    while it != end and deref(it).first <= bound:
        out.append(deref(it).second)
        inc(it)
    return 0


cdef inline cpp_set[Slot].iterator _first_uncrossed(cpp_set[Slot]& s, bint any_crossed, int64_t bound):
    if not any_crossed:
        return s.begin()
    return s.upper_bound(Slot(bound, INT64_MAX))


cdef int _prefix_counts(cpp_set[Slot]& s, vector[Probe]& probes, list counts) except -1:
    """counts[i] += number of elements with sort key <= bound, for each (bound, i) in probes:
    one walk over the largest prefix, probes taken in ascending order of bound."""
    cdef cpp_set[Slot].iterator it = s.begin()
    cdef cpp_set[Slot].iterator end = s.end()
    cdef Py_ssize_t n = 0, j
    sort(probes.begin(), probes.end())
    for j in range(<Py_ssize_t>probes.size()):
        while it != end and deref(it).first <= probes[j].first:
            n += 1
            inc(it)
        counts[probes[j].second] += n
    return 0


cdef class LiquidationIndex:
    """Liquidation triggers of the positions of one market; see the module docstring."""

    # ------------------------------------------------------------------ updates

    def upsert(self, key, direction, trigger) -> None:
        """Insert ``key``, or move it to a new direction and/or trigger; ``trigger`` None removes it
        (the position has no liquidation price). ValueError on a direction other than ±1."""
        cdef int64_t k = _as_int64("key", key)
        cdef int64_t d = _as_direction(direction)
        if trigger is None:
            self._remove(k)
            return
        self._upsert(k, d, _as_int64("trigger", trigger))

    def remove(self, key) -> None:
        """Remove ``key``; no-op if absent."""
        cdef int64_t k
        if _lookup_key(key, &k):
            self._remove(k)

    cdef int _insert_slot(self, int64_t key, int64_t direction, int64_t trigger) except -1:
        if direction == 1:
            self.longs.insert(Slot(~trigger, key))
        else:
            self.shorts.insert(Slot(trigger, key))
        return 0

    cdef void _erase_slot(self, int64_t key, int64_t direction, int64_t trigger) noexcept:
        if direction == 1:
            self.longs.erase(Slot(~trigger, key))
        else:
            self.shorts.erase(Slot(trigger, key))

    cdef int _upsert(self, int64_t key, int64_t direction, int64_t trigger) except -1:
        # Allocate first (insert may raise MemoryError) so that a failure changes nothing.
        cdef unordered_map[int64_t, Slot].iterator it = self.by_key.find(key)
        cdef Slot old
        if it != self.by_key.end():
            old = deref(it).second
            if old.first == direction and old.second == trigger:
                return 0
            self._insert_slot(key, direction, trigger)
            self._erase_slot(key, old.first, old.second)
            deref(it).second = Slot(direction, trigger)
            return 0
        self._insert_slot(key, direction, trigger)
        try:
            self.by_key.insert(pair[int64_t, Slot](key, Slot(direction, trigger)))
        except MemoryError:
            self._erase_slot(key, direction, trigger)
            raise
        return 0

    cdef void _remove(self, int64_t key) noexcept:
        cdef unordered_map[int64_t, Slot].iterator it = self.by_key.find(key)
        if it == self.by_key.end():
            return
        self._erase_slot(key, deref(it).second.first, deref(it).second.second)
        self.by_key.erase(it)

    # ------------------------------------------------------------------ queries

    def __contains__(self, key) -> bool:
        cdef int64_t k
        return _lookup_key(key, &k) and self.by_key.count(k) != 0

    def __len__(self) -> int:
        return self.by_key.size()

    def get(self, key):
        """(direction, trigger) of ``key``, or None."""
        cdef int64_t k
        cdef unordered_map[int64_t, Slot].iterator it
        if not _lookup_key(key, &k):
            return None
        it = self.by_key.find(k)
        if it == self.by_key.end():
            return None
        return (deref(it).second.first, deref(it).second.second)

    def triggered(self, price) -> list:
        """Keys whose trigger is crossed at ``price`` (longs with trigger ≥ price, shorts with
        trigger ≤ price), not removed. Order: longs first (trigger descending, then key ascending),
        then shorts (trigger ascending, then key ascending) — most distressed first on each side.
        Correct for any price, not only a small step from the previous one."""
        cdef int64_t p, bound
        cdef int cls = _price_class(price, &p)
        cdef list out = []
        # Fast path: a side whose first (most distressed) element is not crossed adds nothing.
        if _long_bound(cls, p, &bound) and not self.longs.empty() and deref(self.longs.begin()).first <= bound:
            _append_prefix(self.longs, bound, out)
        if _short_bound(cls, p, &bound) and not self.shorts.empty() and deref(self.shorts.begin()).first <= bound:
            _append_prefix(self.shorts, bound, out)
        return out

    def nearest(self, price) -> tuple:
        """(highest long trigger < price, lowest short trigger > price): the next trigger on each
        side not yet crossed at ``price``; None where there is none."""
        cdef int64_t p, bound
        cdef int cls = _price_class(price, &p)
        cdef bint crossed
        cdef cpp_set[Slot].iterator it
        crossed = _long_bound(cls, p, &bound)
        it = _first_uncrossed(self.longs, crossed, bound)
        long_next = None if it == self.longs.end() else ~deref(it).first
        crossed = _short_bound(cls, p, &bound)
        it = _first_uncrossed(self.shorts, crossed, bound)
        short_next = None if it == self.shorts.end() else deref(it).first
        return (long_next, short_next)

    def buckets(self, price, edges_ppm) -> list:
        """For each edge e (ppm of ``price``, ≥ 0), how many entries would be crossed by an adverse
        move of d = ⌊price × e / PPM⌋ ticks: longs with trigger ≥ price − d plus shorts with
        trigger ≤ price + d. Cumulative (includes entries already crossed; e = 0 counts exactly
        ``triggered(price)``); results follow the order of ``edges_ppm``."""
        cdef int64_t p, bound
        cdef int cls
        cdef vector[Probe] long_probes, short_probes
        cdef Py_ssize_t i = 0
        price = PyNumber_Index(price)
        counts = []
        for e in edges_ppm:
            if type(e) is not int or e < 0:
                raise ValueError(f"edge must be a non-negative int (ppm), got {e!r}")
            d = price * e // PPM
            counts.append(0)
            cls = _price_class(price - d, &p)
            if _long_bound(cls, p, &bound):
                long_probes.push_back(Probe(bound, i))
            cls = _price_class(price + d, &p)
            if _short_bound(cls, p, &bound):
                short_probes.push_back(Probe(bound, i))
            i += 1
        _prefix_counts(self.longs, long_probes, counts)
        _prefix_counts(self.shorts, short_probes, counts)
        return counts

    def entries(self) -> list:
        """Every entry as (key, direction, trigger), by key (for snapshots and tests)."""
        cdef list out = []
        cdef unordered_map[int64_t, Slot].iterator it = self.by_key.begin()
        while it != self.by_key.end():
            out.append((deref(it).first, deref(it).second.first, deref(it).second.second))
            inc(it)
        out.sort()
        return out

    # ------------------------------------------------------------------ integrity

    def __reduce__(self):
        return (_rebuild_index, (self.entries(),))

    def state_hash(self) -> str:
        """blake2b of the entries sorted by key: independent of insertion and update history."""
        return entries_digest(self.entries())

    def check_integrity(self) -> None:
        """Raise LiquidationIndexIntegrityError if the map and the two sets disagree."""
        cdef cpp_set[Slot].iterator it
        cdef unordered_map[int64_t, Slot].iterator found
        cdef Slot prev
        cdef bint first
        cdef int64_t trigger
        if self.longs.size() + self.shorts.size() != self.by_key.size():
            raise LiquidationIndexIntegrityError(
                f"{self.longs.size()} longs + {self.shorts.size()} shorts != {self.by_key.size()} entries"
            )
        # Each set element names a map entry of its direction and trigger; with the sizes equal,
        # that makes set elements and map entries one-to-one (a key listed twice would need two
        # triggers or two directions in the map).
        for direction in (1, -1):
            it = self.longs.begin() if direction == 1 else self.shorts.begin()
            first = True
            while it != (self.longs.end() if direction == 1 else self.shorts.end()):
                trigger = ~deref(it).first if direction == 1 else deref(it).first
                side = "long" if direction == 1 else "short"
                if not first and not prev < deref(it):
                    raise LiquidationIndexIntegrityError(f"{side} set out of order at {deref(it).second}")
                found = self.by_key.find(deref(it).second)
                if (
                    found == self.by_key.end()
                    or deref(found).second.first != direction
                    or deref(found).second.second != trigger
                ):
                    raise LiquidationIndexIntegrityError(
                        f"{side} {deref(it).second} at {trigger} not in the map or listed twice"
                    )
                prev = deref(it)
                first = False
                inc(it)

    def _corrupt_map_entry(self, key: int, direction: int, trigger: int) -> None:
        """Test hook: overwrite the map entry of ``key`` without touching the sets, so that a test
        can see ``check_integrity`` notice. Never use otherwise."""
        self.by_key[key] = Slot(direction, trigger)


def _rebuild_index(entries):
    index = LiquidationIndex()
    for key, direction, trigger in entries:
        index.upsert(key, direction, trigger)
    return index
