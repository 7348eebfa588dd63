"""An Apply's orders placed straight from their requests (the BatchService's unit,
venue.services.batch_unit), without a PlaceOrders call around them: each is converted as
PlaceOrder converts it (Trading.order_fields: the same validation, the same refusals), placed
in the unit's one sequencer submission, and answered from its events as PlaceOrder reads them
(Trading.placed_order: the same rejections), with only what a batch result carries (the order's
id and whether it rests), no order message built.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from perpsim.venue.errors import VenueError, internal_rpc_status, to_rpc_status
from perpsim.venue.services.trading import Trading, _place_order

log = logging.getLogger("perpsim.venue")


@dataclass(slots=True)
class Placed:
    """An order an Apply placed: its id, and whether some of it rests on the book once the
    unit is applied."""

    order_id: int
    resting: bool


class Refused(Exception):
    """How a command of an Apply ended when its own call would have been refused: the status
    (google.rpc.Status) that call would carry."""

    def __init__(self, status) -> None:
        super().__init__(status.message)
        self.status = status


class OrderRun:
    """Consecutive orders of one account in an Apply: converted when made, answered once the
    unit is applied."""

    def __init__(self, trading: Trading, refused: Callable[[VenueError], VenueError], account: int,
                 requests: list, places: list[int]) -> None:
        """`refused(error)`: reports a rejection a caller is answered with (Venue.refused);
        `places`: the requests' places in the batch."""
        self._trading, self._refused, self.account = trading, refused, account
        self.converted: list = []  # per order: its command's fields, or the Refused it ended with
        self.makes: list[Callable[[int], object]] = []
        self.made: list[int] = []  # the places of the orders made (those converted)
        fields_of = trading.order_fields
        for r, place in zip(requests, places, strict=True):
            try:
                fields = fields_of(account, r)
            except VenueError as e:
                self.converted.append(self._refusal(e))
                continue
            self.converted.append(fields)
            self.makes.append(functools.partial(_place_order, fields))
            self.made.append(place)

    def _refusal(self, e: VenueError) -> Refused:
        return Refused(to_rpc_status(self._refused(e)))

    def answers(self, results: list, before: int) -> list[tuple[Any, list | None]]:
        """Each order's outcome (Placed, Refused, or None: withdrawn at its turn) with its events
        (None: it did not reach the state), from the unit's results of this run's makes, in
        order; `before`: the next order id before the unit (older orders' events are not these
        orders')."""
        placed_order = self._trading.placed_order
        orders = self._trading.venue.state.orders
        outcomes = iter(results)
        out: list[tuple[Any, list | None]] = []
        for fields in self.converted:
            if isinstance(fields, Refused):
                out.append((fields, None))
                continue
            result = next(outcomes)
            if result is None:
                out.append((None, None))
                continue
            if isinstance(result, BaseException):
                out.append((self._failed(result, fields), None))
                continue
            try:
                mine, _ = placed_order(self.account, fields[1], before, result)
            except VenueError as e:
                out.append((self._refusal(e), result))
                continue
            out.append((Placed(mine, orders[mine].open), result))
        return out

    def _failed(self, error: BaseException, fields: tuple) -> Refused:
        """An order the sequencer did not apply: shed, halted, not journaled, or a fault in the
        core (already undone by the sequencer)."""
        if isinstance(error, VenueError):
            return self._refusal(error)
        log.error("order %r failed", fields, exc_info=error)
        return Refused(internal_rpc_status())
