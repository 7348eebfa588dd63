"""Rate limits and the reason -> gRPC status table."""

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from perpsim.model.reasons import REASONS, RejectReason
from perpsim.venue.errors import DOMAIN, VenueError, status_code, to_status
from perpsim.venue.limits import RateLimiter


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
