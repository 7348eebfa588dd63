"""The order-entry stream's multi-order messages, through the real server: one response per
message, one result per order in request order (each its order or its own error); the
single-order form unchanged beside them; a message refused whole places nothing; each order
charged to the rate limit on its own; the same per-order outcomes as PlaceOrders."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import grpc

from perpsim.clients import errors as E
from perpsim.clients.client import AsyncClient, Client, order_request
from perpsim.model.reasons import RejectReason as R
from perpsim.v1 import trading_pb2, trading_pb2_grpc
from perpsim.venue.services.order_stream import MAX_BATCH_ORDERS, STREAM_WINDOW

from .conftest import own_venue


def sell(price: str, qty: str = "0.001", symbol: str = "BTCUSDT", **more) -> dict:
    return {"symbol": symbol, "side": "sell", "quantity": qty, "price": price, **more}


def names(results: list) -> list[str]:
    return [type(r).__name__ for r in results]


def raw_stream(client: Client, address: str, requests: list[trading_pb2.StreamOrdersRequest]) -> list:
    """The wire responses of one StreamOrders call carrying `requests`."""
    with grpc.insecure_channel(address) as channel:
        stub = trading_pb2_grpc.TradingServiceStub(channel)
        return list(stub.StreamOrders(iter(requests), metadata=(("authorization", f"Bearer {client.api_key}"),),
                                      timeout=10))


def test_a_message_of_many_orders_is_answered_in_order(make_account: Callable[..., Client]) -> None:
    """Good orders and refused ones in one message: one result each, in order; the good ones
    are placed in request order, and a buy in the same message trades against a sell before it."""
    maker = make_account("5000")
    batch = [sell("67000"), sell("67000.05"), sell("67001", symbol="NOPE"), sell("67002", qty="100"),
             sell("67003"), {"symbol": "BTCUSDT", "side": "buy", "quantity": "0.001", "price": "67000"}]
    (results,) = maker.stream_order_batches([batch])
    assert names(results) == ["Order", "PriceOffTick", "UnknownSymbol", "MarginInsufficient", "Order", "Order"]
    first, later, buy = results[0], results[4], results[5]
    assert first.order_id < later.order_id < buy.order_id
    assert later.price == Decimal("67003")
    assert buy.filled_quantity == Decimal("0.001") and [f.price for f in buy.fills] == [Decimal("67000")]
    assert [o.order_id for o in maker.open_orders("BTCUSDT")] == [later.order_id]


def test_single_and_multi_order_messages_share_a_stream(make_account: Callable[..., Client], venue) -> None:
    """On the wire: a single-order message is answered by `result`, a multi-order one by
    `results`, each response in its request's place."""
    trader = make_account("5000")

    def req(price: str) -> trading_pb2.PlaceOrderRequest:
        return order_request("BTCUSDT", "buy", "0.001", price)

    responses = raw_stream(trader, venue.address, [
        trading_pb2.StreamOrdersRequest(order=req("60000")),
        trading_pb2.StreamOrdersRequest(orders=[req("60001"), req("60001.01"), req("60002")]),
        trading_pb2.StreamOrdersRequest(order=req("60003.01")),
        trading_pb2.StreamOrdersRequest(orders=[req("60004")]),
    ])
    assert len(responses) == 4
    assert [r.HasField("result") for r in responses] == [True, False, True, False]
    assert [len(r.results) for r in responses] == [0, 3, 0, 1]
    kinds = [[x.WhichOneof("result") for x in r.results] or [r.result.WhichOneof("result")] for r in responses]
    assert kinds == [["placed"], ["placed", "error", "placed"], ["error"], ["placed"]]
    prices = [x.placed.order.price for r in responses for x in (r.results or [r.result]) if x.HasField("placed")]
    assert prices == ["60000.0", "60001.0", "60002.0", "60004.0"]
    ids = [x.placed.order.order_id for r in responses for x in (r.results or [r.result]) if x.HasField("placed")]
    assert ids == sorted(ids)
    assert len(trader.open_orders("BTCUSDT")) == 4


def test_a_message_refused_whole_places_nothing(make_account: Callable[..., Client], venue) -> None:
    """More than MAX_BATCH_ORDERS orders, or `order` beside `orders`: the message's error in
    `result`, none of its orders placed, and the stream goes on."""
    trader = make_account("5000")
    req = order_request("BTCUSDT", "buy", "0.001", "60000")
    responses = raw_stream(trader, venue.address, [
        trading_pb2.StreamOrdersRequest(orders=[req] * (MAX_BATCH_ORDERS + 1)),
        trading_pb2.StreamOrdersRequest(order=req, orders=[req, req]),
        trading_pb2.StreamOrdersRequest(orders=[req]),
    ])
    too_many, both, good = responses
    for r, field in ((too_many, "orders"), (both, "order")):
        assert not r.results and r.result.WhichOneof("result") == "error"
        err = E.from_status_pb(r.result.error)
        assert err.reason == R.INVALID_VALUE and err.field == field
    assert [x.WhichOneof("result") for x in good.results] == ["placed"]
    assert len(trader.open_orders("BTCUSDT")) == 1
    # the SDK answers each order of a batch refused whole with the batch's error
    (refused,) = trader.stream_order_batches([[sell("70000")] * (MAX_BATCH_ORDERS + 1)])
    assert len(refused) == MAX_BATCH_ORDERS + 1 and {type(e) for e in refused} == {E.InvalidValue}
    assert len(trader.open_orders("BTCUSDT")) == 1


def test_the_same_outcomes_as_place_orders(make_account: Callable[..., Client]) -> None:
    """One batch through PlaceOrders and through one stream message of two fresh accounts:
    the same result per order (an idempotent repeat of a client order id included)."""
    batch = [sell("68000", client_order_id="a-1"), sell("68000", client_order_id="a-1"),
             sell("68000.5", client_order_id="a-1"), sell("68001", time_in_force="gtx"), sell("68002", qty="0"),
             sell("68003", reduce_only=True), sell("68004", qty="0.002")]
    placed = make_account("5000").place_orders(batch)
    (streamed,) = make_account("5000").stream_order_batches([batch])
    assert names(streamed) == names(placed)
    assert "Order" in names(placed) and len(set(names(placed))) > 2
    assert streamed[0].order_id == streamed[1].order_id  # the repeat: the original order
    same = [(o.side, o.price, o.quantity, o.status, o.client_order_id) if type(o).__name__ == "Order" else o.reason
            for o in streamed]
    assert same == [(o.side, o.price, o.quantity, o.status, o.client_order_id) if type(o).__name__ == "Order"
                    else o.reason for o in placed]


def test_each_order_of_a_message_is_charged_to_the_rate_limit(tmp_path: Path) -> None:
    # a burst of 6 that hardly refills: the deposit took one, the stream call takes one
    with own_venue(tmp_path, rate_limit_per_s=0.01, rate_limit_burst=6) as (_, _, trader):
        (results,) = trader.stream_order_batches([[sell(str(70_000 + i)) for i in range(7)]])
        assert names(results) == ["Order"] * 4 + ["RateLimited"] * 3
        assert results[-1].retry_after is not None
        assert len({o.order_id for o in results[:4]}) == 4


def test_the_async_client_streams_batches(venue, make_account: Callable[..., Client]) -> None:
    key = make_account("5000").api_key

    async def run() -> list[list]:
        async with AsyncClient(venue.address, api_key=key) as c:
            batches = [[sell("69000"), sell("69000.01")], [], [sell("69001")]]
            return [r async for r in c.stream_order_batches(batches)]

    got = asyncio.run(run())
    assert [names(r) for r in got] == [["Order", "PriceOffTick"], ["Order"]]  # the empty batch: not sent


def test_a_long_stream_of_full_messages_is_answered_whole(make_account: Callable[..., Client]) -> None:
    """More orders than the stream reads ahead (STREAM_WINDOW), in messages of 500 crossing
    pairs' legs: reading pauses and resumes, and every order of every message is answered, in
    order, each sell resting until the buy after it takes it."""
    trader = make_account("100000")
    legs = [{"symbol": "BTCUSDT", "side": "sell" if i % 2 == 0 else "buy", "quantity": "0.001", "price": "65000",
             "client_order_id": f"long-{i}"} for i in range(STREAM_WINDOW + 1_000)]
    batches = [legs[i:i + 500] for i in range(0, len(legs), 500)]
    answered = list(trader.stream_order_batches(iter(batches)))
    assert [len(a) for a in answered] == [len(b) for b in batches]
    flat = [o for a in answered for o in a]
    assert {type(o).__name__ for o in flat} == {"Order"}
    assert [o.client_order_id for o in flat] == [leg["client_order_id"] for leg in legs]
    assert all(o.filled_quantity == Decimal("0.001") for o in flat[1::2])  # every buy took its sell
    assert trader.open_orders("BTCUSDT") == []
