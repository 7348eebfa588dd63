"""The order-entry stream (TradingService.StreamOrders): requests of one order or of many, read
ahead, sequenced in units of up to MAX_BATCH_ORDERS orders, each request answered in order.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable

from perpsim.model.reasons import RejectReason as R
from perpsim.v1 import trading_pb2
from perpsim.venue.errors import VenueError, to_rpc_status
from perpsim.venue.services.placed_wire import message_of

MAX_BATCH_ORDERS = 1_000  # orders of one request, and of one sequencer unit
STREAM_WINDOW = 2_000  # orders read and not yet submitted (a request refused whole counts as one)

_Response = trading_pb2.StreamOrdersResponse
_ONE = -1  # a request's shape: the single-order form (answered by `result`)


def refusal(request) -> VenueError | None:
    """The error a multi-order request is refused with as a whole, if it is: too many orders,
    or `order` given beside `orders`."""
    n = len(request.orders)
    if n > MAX_BATCH_ORDERS:
        return VenueError(R.INVALID_VALUE, field="orders", count=n, problem=f"1 to {MAX_BATCH_ORDERS} orders")
    if request.HasField("order"):
        return VenueError(R.INVALID_VALUE, field="order", problem="give order or orders, not both")
    return None


async def answer_stream(requests: AsyncIterator, key: str | None, take: Callable[[str | None], None],
                        place_many: Callable[[list], Awaitable[list[bytes]]],
                        refused: Callable[[VenueError], VenueError]) -> AsyncIterator[_Response]:
    """The responses to a stream of StreamOrdersRequests, one per request, in order.

    Every order is charged to the key's rate limit as it is read (`take(key)`, raising a
    VenueError that answers that order alone). `place_many(orders)` places a unit (orders, or
    the VenueErrors standing for refused ones) and returns a PlaceOrderResult each, as wire
    bytes (venue.services.placed_wire).
    Requests are read ahead while earlier units are sequenced (up to STREAM_WINDOW orders
    waiting; then reading stops and gRPC's flow control pushes back on the client), and what
    arrived meanwhile goes to the sequencer as one unit: whole requests, up to
    MAX_BATCH_ORDERS orders a unit (one request at least). `refused(e)` reports an error a
    request is answered with as a whole.
    """
    # requests read and not yet submitted: (shape, orders); shape is _ONE, the number of its
    # orders, or the VenueError it is refused with as a whole (no orders); None ends the stream
    waiting: collections.deque = collections.deque()
    held = 0  # orders in `waiting`
    arrived, room = asyncio.Event(), asyncio.Event()
    units: asyncio.Queue = asyncio.Queue()  # (shapes, future of the unit's results), in request order

    def charged(order):
        try:
            take(key)
            return order
        except VenueError as e:
            return e

    async def read() -> None:
        nonlocal held
        async for r in requests:
            many = r.orders
            if not many:
                waiting.append((_ONE, [charged(r.order)]))
                held += 1
            elif (e := refusal(r)) is not None:
                waiting.append((e, []))
                held += 1
            else:
                waiting.append((len(many), [charged(o) for o in many]))
                held += len(many)
            arrived.set()
            while held >= STREAM_WINDOW:  # stop reading until submit() takes some
                room.clear()
                await room.wait()
        waiting.append(None)
        arrived.set()

    def done(results: list) -> asyncio.Future:
        f = asyncio.get_running_loop().create_future()
        f.set_result(results)
        return f

    async def submit() -> None:
        nonlocal held
        while True:
            await arrived.wait()
            arrived.clear()
            while waiting and waiting[0] is not None:
                shapes: list = []  # of the requests in this unit
                orders: list = []  # their orders, in order
                while waiting and waiting[0] is not None and (
                        not shapes or len(orders) + len(waiting[0][1]) <= MAX_BATCH_ORDERS):
                    shape, mine = waiting.popleft()
                    shapes.append(shape)
                    orders += mine
                    held -= max(1, len(mine))
                units.put_nowait((shapes, asyncio.ensure_future(place_many(orders)) if orders else done([])))
            room.set()
            if waiting and waiting[0] is None:
                units.put_nowait(None)
                return

    tasks = [asyncio.ensure_future(read()), asyncio.ensure_future(submit())]
    try:
        while (unit := await units.get()) is not None:
            shapes, future = unit
            results = iter(await future)
            for shape in shapes:
                if isinstance(shape, VenueError):
                    yield _Response(result={"error": to_rpc_status(refused(shape))})
                elif shape == _ONE:
                    yield message_of(_Response, "result", (next(results),))
                else:
                    yield message_of(_Response, "results", itertools.islice(results, shape))
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
