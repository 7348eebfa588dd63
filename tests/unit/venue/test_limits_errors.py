"""Rate limits and the reason -> gRPC status table."""

import asyncio

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from perpsim.model.reasons import REASONS, RejectReason
from perpsim.venue import sequencer
from perpsim.venue.errors import DOMAIN, VenueError, status_code, to_status
from perpsim.venue.limits import RateLimiter
from perpsim.venue.state import VenueState

from .conftest import make_exchange


def _details(status) -> status_pb2.Status:
    (name, value), = status.trailing_metadata
    assert name == "grpc-status-details-bin"
    return status_pb2.Status.FromString(value)


def test_token_bucket_allows_a_burst_then_the_rate():
    lim = RateLimiter(rate=10, burst=3)
    assert [lim.acquire("k", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert lim.acquire("k", now=0.0) == pytest.approx(0.1)
    assert lim.acquire("k", now=0.1) == 0.0  # one token refilled
    assert lim.acquire("other", now=0.1) == 0.0  # keys are independent
    assert RateLimiter(0, 0).acquire("k") == 0.0  # disabled


def test_a_batch_weighs_its_orders():
    lim = RateLimiter(rate=10, burst=100)
    assert lim.acquire("k", now=0.0, weight=60) == 0.0
    assert lim.acquire("k", now=0.0, weight=60) == pytest.approx(2.0)  # 20 more tokens: 2 s at 10/s
    assert lim.acquire("k", now=2.0, weight=60) == 0.0
    assert lim.acquire("k", now=2.0, weight=101) == float("inf")  # never fits the burst


def test_the_sequencer_sheds_load_counted_in_commands(monkeypatch):
    """A unit of n commands takes n places in the queue: a batch cannot slip past the bound."""
    monkeypatch.setattr(sequencer, "QUEUE_LIMIT", 5)

    async def main() -> None:
        seq = sequencer.Sequencer(VenueState(make_exchange()), sequencer.Clock())  # not started: nothing drains
        held = [asyncio.ensure_future(seq.submit_many([lambda ts: None] * 4))]
        await asyncio.sleep(0)
        with pytest.raises(VenueError) as refused:
            await seq.submit_many([lambda ts: None] * 2)
        assert refused.value.reason == RejectReason.RATE_LIMITED
        held.append(asyncio.ensure_future(seq.submit(lambda ts: None)))  # the fifth fits
        await asyncio.sleep(0)
        assert not held[-1].done()
        with pytest.raises(VenueError):
            await seq.submit(lambda ts: None)
        for f in held:
            f.cancel()

    asyncio.run(main())


@pytest.mark.parametrize("reason", list(RejectReason))
def test_every_reason_maps_to_a_status_with_error_info(reason):
    status = to_status(VenueError(reason, field="f", x=1))
    assert status.code == status_code(reason) == getattr(grpc.StatusCode, REASONS[reason].status)
    details = _details(status)
    infos = [d for d in details.details if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR)]
    info = error_details_pb2.ErrorInfo()
    infos[0].Unpack(info)
    assert (info.reason, info.domain, info.metadata["reason_code"], info.metadata["x"]) == (
        reason.name.lower(), DOMAIN, str(int(reason)), "1")
    if REASONS[reason].binance_code is not None:
        assert info.metadata["binance_code"] == str(REASONS[reason].binance_code)
    bad = [d for d in details.details if d.Is(error_details_pb2.BadRequest.DESCRIPTOR)]
    assert bool(bad) == (REASONS[reason].status == "INVALID_ARGUMENT")


def test_rate_limited_carries_retry_info():
    details = _details(to_status(VenueError(RejectReason.RATE_LIMITED, retry_after_ms=250))).details
    retry = [d for d in details if d.Is(error_details_pb2.RetryInfo.DESCRIPTOR)]
    info = error_details_pb2.RetryInfo()
    retry[0].Unpack(info)
    assert info.retry_delay.ToMilliseconds() == 250


def test_the_algo_order_limit_is_its_own_error():
    """Binance MAX_NUM_ALGO_ORDERS (-4045) apart from MAX_NUM_ORDERS (-2025), both RESOURCE_EXHAUSTED."""
    algo, total = REASONS[RejectReason.MAX_ALGO_ORDERS], REASONS[RejectReason.MAX_OPEN_ORDERS]
    assert (algo.status, algo.binance_code) == ("RESOURCE_EXHAUSTED", -4045)
    assert (total.status, total.binance_code) == ("RESOURCE_EXHAUSTED", -2025)
    assert int(RejectReason.MAX_ALGO_ORDERS) // 1000 == 5  # a limit (5xxx)
