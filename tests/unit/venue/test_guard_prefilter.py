"""The request guard's byte prefilter (venue.guard.may_exceed_int64): a request it passes holds
no uint64 above INT64_MAX, so the tolerant deserializer finds the same out-of-range field as a
walk of every field would, in every message, wherever the value sits."""

from __future__ import annotations

import random

import grpc
import pytest

from perpsim.v1 import account_pb2, batch_pb2, common_pb2, trading_pb2
from perpsim.venue import guard

INT64_MAX = (1 << 63) - 1
B = batch_pb2.BatchCommand


def _deserializer(message_type):
    handler = grpc.unary_unary_rpc_method_handler(_behavior, request_deserializer=message_type.FromString)
    return guard._guard("/perpsim.v1.Test/Call", handler).request_deserializer


async def _behavior(request, context):
    return request


def _order(rng: random.Random) -> trading_pb2.PlaceOrderRequest:
    # int64 fields only: a negative one is a ten-byte varint the prefilter passes on to the walk
    return trading_pb2.PlaceOrderRequest(
        symbol=rng.choice(["BTCUSDT", "ÉTH-€"]), side=common_pb2.SIDE_BUY, type=common_pb2.ORDER_TYPE_LIMIT,
        quantity_lots=rng.choice([1, 1000, INT64_MAX, 2**62]), price_ticks=rng.choice([6_500_000, 2**56]),
        time_in_force=common_pb2.TIME_IN_FORCE_GTC, good_till_time_ns=rng.choice([0, -1, -(2**63)]),
        client_order_id=rng.choice(["", "c1", "ÿÿÿÿÿÿÿÿÿÿ"]))


def _batch(rng: random.Random) -> batch_pb2.ApplyRequest:
    commands = []
    for _ in range(rng.randint(0, 12)):
        big = rng.choice([None, None, None, INT64_MAX, INT64_MAX + 1, 2**64 - 1])
        kind = rng.randrange(3)
        account = rng.choice([1, 77, INT64_MAX, INT64_MAX + 1, 2**64 - 1]) if rng.random() < 0.2 else 5
        if kind == 0:
            commands.append(B(account_id=account, group=rng.choice([0, 3]), place_order=_order(rng)))
        elif kind == 1:
            commands.append(B(account_id=account, cancel_order=trading_pb2.CancelOrderRequest(
                symbol="BTCUSDT", order_id=big or 12)))
        else:
            commands.append(B(account_id=account, deposit=account_pb2.DepositRequest(asset="USDT", amount="1e9")))
    return batch_pb2.ApplyRequest(commands=commands, sparse_results=rng.random() < 0.5)


def test_a_varint_above_int64_max_always_trips_the_prefilter() -> None:
    for value in (INT64_MAX + 1, 2**63 + 12345, 2**64 - 1):
        data = trading_pb2.CancelOrderRequest(symbol="BTCUSDT", order_id=value).SerializeToString()
        assert guard.may_exceed_int64(data)
    for value in (0, 1, 2**56, INT64_MAX):
        data = trading_pb2.CancelOrderRequest(symbol="BTCUSDT", order_id=value).SerializeToString()
        assert not guard.may_exceed_int64(data)


@pytest.mark.parametrize("seed", range(40))
def test_the_deserializer_answers_as_a_walk_of_every_field(seed: int) -> None:
    rng = random.Random(seed)
    decode = _deserializer(batch_pb2.ApplyRequest)
    for _ in range(25):
        request = _batch(rng)
        walked = guard.out_of_range(request)
        got = decode(request.SerializeToString())
        if walked is None:
            assert got == request
        else:
            assert isinstance(got, guard.OutOfRange)
            assert (got.path, got.value) == walked


def test_undecodable_bytes_stay_undecodable() -> None:
    assert isinstance(_deserializer(batch_pb2.ApplyRequest)(b"\xff\xff\xff\xff"), guard.Undecodable)
