"""Client policy without a venue: which calls retry, deadlines, decimal edge, error parsing."""

from __future__ import annotations

from decimal import Decimal

import grpc
import pytest

from perpsim.clients import errors as E
from perpsim.clients.client import Client, decimal_text, order_request
from perpsim.model.reasons import RejectReason as R
from perpsim.v1 import common_pb2
from perpsim.venue.errors import VenueError, to_status

UNREACHABLE = "127.0.0.1:1"


class Counter(grpc.UnaryUnaryClientInterceptor):
    """Counts attempts per method and records their deadlines and metadata."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float | None, tuple]] = []

    def intercept_unary_unary(self, continuation, details, request):
        self.calls.append((details.method.rsplit("/", 1)[-1], details.timeout, tuple(details.metadata or ())))
        return continuation(details, request)

    def count(self, method: str) -> int:
        return sum(1 for m, _, _ in self.calls if m == method)


@pytest.fixture
def counted():
    counter = Counter()
    channel = grpc.intercept_channel(grpc.insecure_channel(UNREACHABLE), counter)
    client = Client(UNREACHABLE, api_key="k", timeout=2, admin_key="admin", retries=2, channel=channel)
    yield client, counter
    channel.close()


def test_reads_retry_on_unavailable(counted) -> None:
    client, counter = counted
    with pytest.raises(E.Unavailable):
        client.markets()
    with pytest.raises(E.Unavailable):
        client.open_orders()
    assert counter.count("ListMarkets") == 3 and counter.count("ListOpenOrders") == 3


def test_writes_do_not_retry_unless_idempotent(counted) -> None:
    client, counter = counted
    for call in (lambda: client.place_order("BTCUSDT", "buy", "0.001", "65000"),
                 lambda: client.deposit("USDT", "1"), lambda: client.cancel_order("BTCUSDT", 1),
                 lambda: client.set_index_price("BTCUSDT", "1")):
        with pytest.raises(E.Unavailable):
            call()
    assert counter.count("PlaceOrder") == 1 and counter.count("Deposit") == 1
    assert counter.count("CancelOrder") == 1 and counter.count("SetIndexPrice") == 1
    with pytest.raises(E.Unavailable):
        client.place_order("BTCUSDT", "buy", "0.001", "65000", client_order_id="abc")
    assert counter.count("PlaceOrder") == 1 + 3
    with pytest.raises(E.Unavailable):
        client.place_order("BTCUSDT", "buy", "0.001", "65000", idempotent=True)
    assert counter.count("PlaceOrder") == 1 + 3 + 3


def test_deadlines_and_lowercase_bearer_metadata(counted) -> None:
    client, counter = counted
    for call in (client.account, client.venue_state):
        with pytest.raises(E.Unavailable):
            call()
    by_method = {m: (t, md) for m, t, md in counter.calls}
    timeout, metadata = by_method["GetAccount"]
    assert timeout is not None and 0 < timeout <= 2
    assert metadata == (("authorization", "Bearer k"),)
    timeout, metadata = by_method["GetVenueState"]
    assert timeout is not None and 2 < timeout <= 8  # sandbox calls get a longer deadline
    assert metadata == (("authorization", "Bearer admin"),)


def test_decimal_edge() -> None:
    assert decimal_text(Decimal("1E+3")) == "1000"
    assert decimal_text("0.00100") == "0.00100"
    assert decimal_text(5) == "5"
    for bad in (1.5, True, None, b"1"):
        with pytest.raises(TypeError):
            decimal_text(bad)  # type: ignore[arg-type]
    for bad in ("x", "NaN", "Infinity", ""):
        with pytest.raises(ValueError):
            decimal_text(bad)


def test_order_request_defaults() -> None:
    limit = order_request("BTCUSDT", "BUY", "0.001", "65000")
    assert (limit.type, limit.time_in_force, limit.side) == (
        common_pb2.ORDER_TYPE_LIMIT, common_pb2.TIME_IN_FORCE_GTC, common_pb2.SIDE_BUY)
    market = order_request("BTCUSDT", "sell", Decimal("0.001"))
    assert (market.type, market.time_in_force, market.price) == (
        common_pb2.ORDER_TYPE_MARKET, common_pb2.TIME_IN_FORCE_UNSPECIFIED, "")
    gtd = order_request("BTCUSDT", "buy", "1", "2", good_till_ns=10)
    assert gtd.time_in_force == common_pb2.TIME_IN_FORCE_GTD and gtd.good_till_time_ns == 10
    post = order_request("BTCUSDT", "buy", "1", "2", time_in_force="post-only", position_side="long",
                         stp="expire-maker")
    assert post.time_in_force == common_pb2.TIME_IN_FORCE_GTX
    assert post.position_side == common_pb2.POSITION_SIDE_LONG
    assert post.self_trade_prevention == common_pb2.SELF_TRADE_PREVENTION_EXPIRE_MAKER
    assert order_request("BTCUSDT", 0, "1", "2").side == common_pb2.SIDE_UNSPECIFIED
    with pytest.raises(ValueError, match="time_in_force"):
        order_request("BTCUSDT", "buy", "1", "2", time_in_force="day")


class FakeRpcError(grpc.RpcError):
    """What a failed call raises, built from the venue's own status mapping."""

    def __init__(self, status: grpc.Status) -> None:
        self._status = status

    def code(self):
        return self._status.code

    def details(self):
        return self._status.details

    def trailing_metadata(self):
        return self._status.trailing_metadata


def test_from_rpc_error_reads_the_rich_status() -> None:
    err = E.from_rpc_error(FakeRpcError(to_status(VenueError(R.PRICE_OFF_TICK, field="price", value="1.05"))))
    assert type(err) is E.PriceOffTick and err.reason is R.PRICE_OFF_TICK
    assert err.status is grpc.StatusCode.INVALID_ARGUMENT and err.binance_code == -4014
    assert err.field == "price" and err.metadata["value"] == "1.05" and err.metadata["reason_code"] == "1008"
    limited = E.from_rpc_error(FakeRpcError(to_status(VenueError(R.RATE_LIMITED, retry_after_ms=250))))
    assert isinstance(limited, E.RateLimited) and isinstance(limited, E.ResourceExhaustedError)
    assert limited.binance_code == -1015
    assert limited.retry_after == 0.25  # from the google.rpc.RetryInfo detail the venue sends
    bare = E.from_rpc_error(grpc.RpcError())  # no status at all
    assert type(bare) is E.PerpsimError and bare.status is grpc.StatusCode.UNKNOWN


def test_statuses_without_details_map_to_the_status_class() -> None:
    class Plain(grpc.RpcError):
        def code(self):
            return grpc.StatusCode.NOT_FOUND

        def details(self):
            return "unknown symbol 'X'"

        def trailing_metadata(self):
            return ()

    err = E.from_rpc_error(Plain())
    assert type(err) is E.NotFoundError and err.reason is None and str(err) == "not_found: unknown symbol 'X'"
