"""Commands in flight over gRPC: sent without waiting for their answers, in order per account.

`GrpcVenue` lets a command fly when the venue may sequence it in any order with the others in
flight and reach the same state with the same refusals (see `GrpcVenue._may_fly`); those of one
account (one `key`) still reach the venue in the order they were sent: each call waits for the
one before it. Every call in flight shares the venue's group commit, so N accounts' setup
costs about one fsync per batch instead of one per command.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from concurrent.futures import Executor, Future
from typing import Any


def _after(before: Future | None, call: Callable[[], Any]) -> Any:
    """`call()` once `before` is answered, whatever its answer (a refusal is reported by settle)."""
    if before is not None:
        try:
            before.result()
        except Exception:  # its refusal goes out through Flights.settle
            pass
    return call()


class Flights:
    """Calls in flight on `pool`: `send(key, call, cmd)` returns at once; `settle()` waits for
    all of them and returns the (command, exception) of each refused one, in the order sent.

    A pool thread waits only for a call sent before its own, which the pool took first, so the
    calls always finish (the pool runs its work in the order submitted)."""

    def __init__(self, pool: Executor) -> None:
        self._pool = pool
        self._pending: list[tuple[Future, Any]] = []
        self._last: dict[Hashable, Future] = {}  # the latest call in flight of each key

    def __bool__(self) -> bool:
        return bool(self._pending)

    def send(self, key: Hashable, call: Callable[[], Any], cmd: Any) -> None:
        future = self._pool.submit(_after, self._last.get(key), call)
        self._last[key] = future
        self._pending.append((future, cmd))

    def settle(self) -> list[tuple[Any, BaseException]]:
        pending, self._pending = self._pending, []
        self._last.clear()
        refused = []
        for future, cmd in pending:
            error = future.exception()
            if error is not None:
                refused.append((cmd, error))
        return refused
