"""The client side of the venue benches: per-client order streams (resting, crossing, read),
the tally of latencies and errors, and the drivers that send them over gRPC (aio, thread, batch,
stream), each for S seconds or N orders; percentile() reads the sorted latencies.

bench/ is a directory of scripts, not a package: a script beside this file imports it by name.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time

import grpc
from venue_server_kit import CALL_TIMEOUT

from perpsim.v1 import common_pb2, trading_pb2, trading_pb2_grpc

# ---------------------------------------------------------------------------- orders


CANCEL_EVERY = 180  # resting orders per client between two CancelAllOrders (the venue allows 200)


class Orders:
    """The request stream of one client: (method, request, counted); unique client order ids."""

    def __init__(self, mix: str, client: int) -> None:
        self.mix, self.client, self.n, self.resting = mix, client, 0, 0

    def next(self) -> tuple[str, object, bool]:
        if self.mix == "read":
            return "ListOpenOrders", trading_pb2.ListOpenOrdersRequest(symbol="BTCUSDT"), True
        if self.mix == "resting" and self.resting >= CANCEL_EVERY:
            self.resting = 0
            return "CancelAllOrders", trading_pb2.CancelAllOrdersRequest(symbol="BTCUSDT"), False
        n = self.n = self.n + 1
        if self.mix == "crossing":  # sell then buy at one price: the buy takes a resting sell
            side = common_pb2.SIDE_SELL if n % 2 else common_pb2.SIDE_BUY
            price = 650_000
        else:  # far apart: nothing crosses
            self.resting += 1
            side = common_pb2.SIDE_BUY if n % 2 else common_pb2.SIDE_SELL
            offset = (n * 7919 + self.client * 104729) % 20_000  # 0 .. 1999.9 in ticks of 0.1
            price = 620_000 + offset if side == common_pb2.SIDE_BUY else 660_000 + offset
        return "PlaceOrder", trading_pb2.PlaceOrderRequest(
            symbol="BTCUSDT", side=side, type=common_pb2.ORDER_TYPE_LIMIT, quantity_lots=1, price_ticks=price,
            time_in_force=common_pb2.TIME_IN_FORCE_GTC, client_order_id=f"c{self.client}-{n}"), True


class Tally:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0
        self.sent = 0
        self.uncounted = 0  # calls outside the measurement (the resting mix's cancels)
        self.first_error = ""

    def error(self, e: grpc.RpcError) -> None:
        self.errors += 1
        self.first_error = self.first_error or f"{e.code().name}: {e.details()}"

    def answer(self, result, latency: float) -> None:
        """One PlaceOrderResult of a batch or stream: its latency, or its error."""
        if result.WhichOneof("result") == "placed":
            self.latencies.append(latency)
        else:
            self.errors += 1
            self.first_error = self.first_error or result.error.message


# ---------------------------------------------------------------------------- drivers


def run_aio(address: str, keys: list[str], work) -> Tally:
    """`await work(tally, i, stub, metadata)` for every client on one event loop, one channel each."""
    async def main() -> Tally:
        tally = Tally()
        channels = [grpc.aio.insecure_channel(address) for _ in keys]
        try:
            await asyncio.gather(*(work(tally, i, trading_pb2_grpc.TradingServiceStub(ch),
                                        (("authorization", f"Bearer {keys[i]}"),)) for i, ch in enumerate(channels)))
        finally:
            for ch in channels:
                await ch.close()
        return tally

    return asyncio.run(main())


def phase_aio(address: str, keys: list[str], streams: list[Orders], seconds: float, limit: int) -> Tally:
    end = time.perf_counter() + seconds

    async def worker(tally: Tally, i: int, stub, md) -> None:
        orders = streams[i]
        while time.perf_counter() < end and (not limit or tally.sent < limit):
            method, req, counted = orders.next()
            tally.sent += counted
            t0 = time.perf_counter()
            try:
                await getattr(stub, method)(req, metadata=md, timeout=CALL_TIMEOUT)
            except grpc.aio.AioRpcError as e:
                tally.error(e)
                continue
            if counted:
                tally.latencies.append(time.perf_counter() - t0)
            else:
                tally.uncounted += 1

    return run_aio(address, keys, worker)


def phase_thread(address: str, keys: list[str], streams: list[Orders], seconds: float, limit: int) -> Tally:
    tally = Tally()
    lock = threading.Lock()
    end = time.perf_counter() + seconds

    def worker(i: int) -> None:
        md = (("authorization", f"Bearer {keys[i]}"),)
        mine, errors, uncounted = Tally(), [], 0
        with grpc.insecure_channel(address) as ch:
            stub = trading_pb2_grpc.TradingServiceStub(ch)
            while time.perf_counter() < end:
                method, req, counted = streams[i].next()
                with lock:
                    if limit and counted and tally.sent >= limit:
                        break
                    tally.sent += counted
                t0 = time.perf_counter()
                try:
                    getattr(stub, method)(req, metadata=md, timeout=CALL_TIMEOUT)
                except grpc.RpcError as e:
                    errors.append(e)
                    continue
                if counted:
                    mine.latencies.append(time.perf_counter() - t0)
                else:
                    uncounted += 1
        with lock:
            tally.latencies += mine.latencies
            tally.uncounted += uncounted
            for e in errors:
                tally.error(e)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(len(keys))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tally


def phase_batch(address: str, keys: list[str], streams: list[Orders], seconds: float, limit: int) -> Tally:
    end = time.perf_counter() + seconds

    async def worker(tally: Tally, i: int, stub, md) -> None:
        # --in-flight calls at once on the client's channel: while the venue works on one, the
        # client builds and sends the next (one at a time, the venue idles meanwhile)
        await asyncio.gather(*(calls(tally, i, stub, md) for _ in range(DRIVER_SETTINGS["in_flight"])))

    async def calls(tally: Tally, i: int, stub, md) -> None:
        while time.perf_counter() < end and (not limit or tally.sent < limit):
            batch = [streams[i].next()[1] for _ in range(DRIVER_SETTINGS["batch"])]
            tally.sent += len(batch)
            t0 = time.perf_counter()
            try:
                r = await stub.PlaceOrders(trading_pb2.PlaceOrdersRequest(orders=batch), metadata=md,
                                           timeout=CALL_TIMEOUT)
            except grpc.aio.AioRpcError as e:
                tally.error(e)
                continue
            took = time.perf_counter() - t0
            for x in r.results:
                tally.answer(x, took)

    return run_aio(address, keys, worker)


def phase_stream(address: str, keys: list[str], streams: list[Orders], seconds: float, limit: int) -> Tally:
    end = time.perf_counter() + seconds
    per_message = max(1, min(DRIVER_SETTINGS["per_message"], DRIVER_SETTINGS["batch"]))

    async def worker(tally: Tally, i: int, stub, md) -> None:
        window = asyncio.Semaphore(DRIVER_SETTINGS["batch"])
        sent: collections.deque[float] = collections.deque()  # per message: when it was sent

        async def requests():
            while time.perf_counter() < end and (not limit or tally.sent < limit):
                for _ in range(per_message):
                    await window.acquire()
                tally.sent += per_message
                sent.append(time.perf_counter())
                if per_message == 1:  # the single-order form
                    yield trading_pb2.StreamOrdersRequest(order=streams[i].next()[1])
                else:
                    yield trading_pb2.StreamOrdersRequest(orders=[streams[i].next()[1] for _ in range(per_message)])

        try:
            async for r in stub.StreamOrders(requests(), metadata=md, timeout=seconds + CALL_TIMEOUT):
                took = time.perf_counter() - sent.popleft()
                for x in (r.results if per_message > 1 else (r.result,)):
                    window.release()
                    tally.answer(x, took)
        except grpc.aio.AioRpcError as e:
            tally.error(e)

    return run_aio(address, keys, worker)


DRIVERS = {"aio": phase_aio, "thread": phase_thread, "batch": phase_batch, "stream": phase_stream}
# orders per PlaceOrders call, or unanswered orders per stream (--batch); orders per StreamOrders
# message (--per-message; 1: the single-order form); PlaceOrders calls a client keeps in flight
# (--in-flight)
DRIVER_SETTINGS = {"batch": 500, "per_message": 100, "in_flight": 1}


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, max(0, round(q * len(sorted_values)) - 1))]

