"""What a hostile or unlucky client meets, through the real server: health watchers cannot
starve the venue, a fast reader of a big burst is not dropped as slow, RESOURCE_EXHAUSTED says
when to retry, out-of-range values are INVALID_ARGUMENT naming their field, conditional orders
are idempotent on their client order id, and messages speak in the asset's units."""

from __future__ import annotations

import asyncio
import queue
import re
import time
from decimal import Decimal
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from perpsim.clients import errors as E
from perpsim.clients.client import AsyncClient, Client
from perpsim.v1 import account_pb2, account_pb2_grpc, common_pb2, trading_pb2
from perpsim.venue import mailbox, sequencer
from perpsim.venue.app import RunningVenue

from .conftest import account_updates, own_venue

WATCHERS = 8


def test_health_watchers_do_not_stall_the_venue(tmp_path: Path) -> None:
    """Eight open Health/Watch streams (more than the default thread pool's workers) leave
    journaled writes, Health/Check and reads answered promptly."""
    with own_venue(tmp_path) as (running, _, trader):
        channel = grpc.insecure_channel(running.address)
        stub = health_pb2_grpc.HealthStub(channel)
        # a deadline on each: a watcher the venue never serves fails the test instead of hanging it
        watches = [stub.Watch(health_pb2.HealthCheckRequest(service=""), timeout=20) for _ in range(WATCHERS)]
        try:
            for w in watches:  # every watcher is open and was told the current status
                assert next(w).status == health_pb2.HealthCheckResponse.SERVING
            # each call within its own deadline (the client's timeout); none is retried
            with Client(running.address, api_key=trader.api_key, timeout=5, retries=0) as c:
                assert c.deposit("USDT", "5") == 1005
                assert stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5).status == \
                    health_pb2.HealthCheckResponse.SERVING
                assert {b.asset: b.wallet for b in c.account().balances}["USDT"] == 1005
        finally:
            for w in watches:
                w.cancel()
            channel.close()


MAKERS = 25  # 200 resting orders each (the per-account limit): 5,000 orders to sweep


def test_a_fast_reader_of_a_5000_fill_batch_gets_every_message(tmp_path: Path) -> None:
    """One PlaceOrders batch filling 5,000 resting orders sends the taker's account stream more
    than 5,000 updates at once; a reader that keeps up receives all of them, in sequence."""
    with own_venue(tmp_path) as (running, _, _):
        with Client(running.address, admin_key=(tmp_path / "admin.key").read_text().strip()) as admin:
            for _ in range(MAKERS):
                maker = admin.with_key(admin.create_account().api_key)
                maker.deposit("USDT", "100000")
                placed = maker.place_orders([{"symbol": "BTCUSDT", "side": "sell", "quantity": "0.001",
                                              "price": "65000"}] * 200)
                assert all(type(p).__name__ == "Order" for p in placed)
            taker = admin.with_key(admin.create_account().api_key)
            taker.deposit("USDT", "100000")
            updates: queue.Queue = queue.Queue()
            channel = account_updates(running, taker, updates, with_end=True)
            try:
                time.sleep(0.5)  # the subscription is in place
                (bought,) = taker.place_orders([{"symbol": "BTCUSDT", "side": "buy", "quantity": "5"}])
                assert bought.filled_quantity == 5
                fills, seqs, deadline = 0, [], time.monotonic() + 30
                while fills < MAKERS * 200 and time.monotonic() < deadline:
                    msg = updates.get(timeout=max(0.01, deadline - time.monotonic()))
                    if isinstance(msg, grpc.RpcError):
                        raise AssertionError(f"the stream ended: {msg.code()} {msg.details()}")
                    seqs.append(msg.sequence)
                    fills += msg.WhichOneof("update") == "order" and msg.order.event == "FILL"
                assert fills == MAKERS * 200
                assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # no gap
            finally:
                channel.close()


def test_every_rate_limited_answer_says_when_to_retry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """RESOURCE_EXHAUSTED carries google.rpc.RetryInfo: a unit shed for overload and a call
    over the key's rate limit alike; a batch that can never fit the burst is INVALID_ARGUMENT."""
    with own_venue(tmp_path, rate_limit_per_s=1, rate_limit_burst=3) as (_, _, trader):
        monkeypatch.setattr(sequencer, "QUEUE_LIMIT", 0)  # every unit is shed as overload
        with pytest.raises(E.RateLimited) as shed:
            trader.place_order("BTCUSDT", "buy", "0.001", "60000")
        assert shed.value.retry_after == sequencer.OVERLOAD_RETRY_MS / 1000
        monkeypatch.undo()
        with pytest.raises(E.RateLimited) as limited:  # the burst of 3 is spent
            for _ in range(4):
                trader.open_orders("BTCUSDT")
        assert 0 < limited.value.retry_after <= 1
        with pytest.raises(E.InvalidArgumentError) as too_big:
            trader.place_orders([{"symbol": "BTCUSDT", "side": "buy", "quantity": "0.001", "price": "60000"}] * 4)
        assert too_big.value.field == "orders"


def test_a_conditional_order_is_idempotent_on_its_client_order_id(tmp_path: Path) -> None:
    """Eight concurrent identical PlaceConditionalOrder calls place one stop and all answer its id;
    the same id with other terms is ALREADY_EXISTS; a retry after the stop ended, and after a
    restart, still finds the original and places nothing."""
    stop = {"type": "stop_market", "trigger_price": "60000", "client_order_id": "stop-1"}
    with own_venue(tmp_path) as (running, cfg, trader):
        async def place_eight() -> list[int]:
            async with AsyncClient(running.address, api_key=trader.api_key) as c:
                return await asyncio.gather(*(c.place_conditional("BTCUSDT", "sell", "0.001", **stop)
                                              for _ in range(8)))

        ids = asyncio.run(place_eight())
        assert len(set(ids)) == 1
        assert [c.conditional_id for c in trader.conditional_orders("BTCUSDT")] == ids[:1]
        with pytest.raises(E.AlreadyExistsError) as other:
            trader.place_conditional("BTCUSDT", "sell", "0.002", **stop)
        assert type(other.value).__name__ == "DuplicateOrderId"
        trader.cancel_conditional("BTCUSDT", ids[0])
        assert trader.place_conditional("BTCUSDT", "sell", "0.001", **stop) == ids[0]
        assert trader.conditional_orders("BTCUSDT") == []
    restarted = RunningVenue(cfg).start_in_thread()
    try:
        with Client(restarted.address, api_key=trader.api_key) as c:
            c.wait_ready()
            assert c.place_conditional("BTCUSDT", "sell", "0.001", **stop) == ids[0]
            assert c.conditional_orders("BTCUSDT") == []
    finally:
        restarted.stop()


def test_out_of_range_values_are_invalid_argument_naming_their_field(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with own_venue(tmp_path) as (running, _, trader):
        with pytest.raises(E.InvalidArgumentError) as rate:
            trader.place_conditional("BTCUSDT", "sell", "0.001", type="trailing_stop_market", callback_rate="1e20")
        assert rate.value.field == "callback_rate"
        for call, field in ((lambda: trader.cancel_conditional("BTCUSDT", 2**63), "conditional_id"),
                            (lambda: trader.cancel_order_list("BTCUSDT", 2**64 - 1), "list_id"),
                            (lambda: trader.cancel_order("BTCUSDT", 2**63), "order_id"),
                            (lambda: trader.transfer(2**63, "USDT", "1"), "to_account_id")):
            with pytest.raises(E.InvalidArgumentError) as big:
                call()
            assert big.value.field == field
            assert f"field={field}" in str(big.value.message)
        with pytest.raises(E.NotFoundError) as long:  # a 10,000-character value is echoed cut
            trader.place_order("X" * 10_000, "buy", "0.001", "60000")
        assert "X" * 64 + "…" in long.value.message and len(long.value.message) < 300
        assert trader.account().balances  # the venue is unharmed

        with grpc.insecure_channel(running.address) as channel, caplog.at_level("WARNING", "perpsim.venue"):
            caplog.clear()
            md = (("authorization", f"Bearer {trader.api_key}"),)
            with pytest.raises(grpc.RpcError) as garbage:
                channel.unary_unary("/perpsim.v1.TradingService/PlaceOrder")(b"\xff\xff\xff\xff", metadata=md,
                                                                              timeout=5)
            assert garbage.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            # on an order-entry stream: the orders before the bad bytes are answered, then the call ends
            good = trading_pb2.StreamOrdersRequest(order=trading_pb2.PlaceOrderRequest(
                symbol="BTCUSDT", side=common_pb2.SIDE_BUY, type=common_pb2.ORDER_TYPE_LIMIT, quantity="0.001",
                price="60000", time_in_force=common_pb2.TIME_IN_FORCE_GTC)).SerializeToString()
            stream = channel.stream_stream("/perpsim.v1.TradingService/StreamOrders")(
                iter([good, b"\xff\xff\xff\xff", good]), metadata=md, timeout=5)
            answers = []
            with pytest.raises(grpc.RpcError) as ended:
                for raw in stream:
                    answers.append(trading_pb2.StreamOrdersResponse.FromString(raw))
            assert ended.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert [a.result.WhichOneof("result") for a in answers] == ["placed"]
        logged = [r for r in caplog.records if "undecodable" in r.getMessage()]
        assert len(logged) == 2 and not any(r.exc_info for r in caplog.records)
        assert len(trader.open_orders("BTCUSDT")) == 1


def test_the_insurance_fund_is_public(tmp_path: Path) -> None:
    """Any account, sync or async, reads the fund of each settlement asset; funding it through
    the sandbox shows up; an unknown asset is NOT_FOUND naming the field."""
    with own_venue(tmp_path) as (running, _, trader):
        before = trader.insurance_fund()
        assert set(before) == {"USDT", "BTC"}
        with Client(running.address, admin_key=(tmp_path / "admin.key").read_text().strip()) as admin:
            admin.fund_insurance("USDT", "1234.5")
        assert trader.insurance_fund("USDT") == {"USDT": before["USDT"] + Decimal("1234.5")}

        async def read() -> dict:
            async with AsyncClient(running.address, api_key=trader.api_key) as c:
                return await c.insurance_fund()

        assert asyncio.run(read()) == {**before, "USDT": before["USDT"] + Decimal("1234.5")}
        with pytest.raises(E.NotFoundError) as unknown:
            trader.insurance_fund("DOGE")
        assert unknown.value.metadata["field"] == "asset"


def test_messages_speak_in_the_assets_units(tmp_path: Path) -> None:
    """Money in the settlement asset, prices in the market's decimals, durations like 3650d: in
    the message; the ErrorInfo metadata keeps the exact integers for programs."""
    with own_venue(tmp_path) as (running, _, trader):
        with pytest.raises(E.MarginInsufficient) as margin:
            trader.place_order("BTCUSDT", "buy", "1", "65000")
        message = margin.value.message
        assert re.search(r"required=\d+(\.\d+)? USDT", message) and "available=1000 USDT" in message, message
        assert margin.value.metadata["available"] == str(1000 * 10**8)
        with pytest.raises(E.PerpsimError) as trigger:  # a sell stop above the mark fires at once
            trader.place_conditional("BTCUSDT", "sell", "0.001", trigger_price="66000", source="mark")
        assert "trigger_price=66000.0" in trigger.value.message, trigger.value.message
        assert trigger.value.metadata["trigger_price"] == "660000"
        with Client(running.address, admin_key=(tmp_path / "admin.key").read_text().strip()) as admin:
            with pytest.raises(E.InvalidArgumentError) as clock:
                admin.advance_clock(11 * 365 * 86_400 * 10**9)
        assert "advance=4015d" in clock.value.message and "at most 3650d" in clock.value.message
        assert clock.value.metadata["advance_ns"] == str(11 * 365 * 86_400 * 10**9)


def test_a_reader_stalled_for_longer_than_the_patience_is_dropped_with_retry_info(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A subscriber that stops reading is dropped once its oldest unread update is older than
    the patience (here 0.3 s): RESOURCE_EXHAUSTED with RetryInfo; the venue goes on."""
    monkeypatch.setattr(mailbox, "SLOW_CONSUMER_S", 0.3)
    with own_venue(tmp_path, rate_limit_per_s=0) as (running, _, trader):
        # no BDP probing: the transport's window stays small, so unread updates stay in the venue
        channel = grpc.insecure_channel(running.address, options=(("grpc.http2.bdp_probe", 0),))
        stalled = account_pb2_grpc.AccountServiceStub(channel).StreamAccount(
            account_pb2.StreamAccountRequest(), metadata=(("authorization", f"Bearer {trader.api_key}"),))
        try:
            time.sleep(0.3)  # subscribed
            started = time.monotonic()
            while time.monotonic() - started < 1.5:  # far more than the window holds, for longer than 0.3 s
                trader.place_orders([{"symbol": "BTCUSDT", "side": "buy", "quantity": "0.001",
                                      "price": str(50_000 + i)} for i in range(100)])
                trader.cancel_all("BTCUSDT")
            with pytest.raises(grpc.RpcError) as dropped:
                for _ in stalled:
                    pass
            error = E.from_rpc_error(dropped.value)
            assert error.status == grpc.StatusCode.RESOURCE_EXHAUSTED and "slow consumer" in error.message
            assert error.retry_after == 1.0
        finally:
            channel.close()
        assert trader.deposit("USDT", "1") == 1001
