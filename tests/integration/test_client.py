"""The SDK against a real venue (RunningVenue on 127.0.0.1 port 0, feed and liquidity off).

Each test trades with its own fresh accounts and leaves the books as it found them (its
resting orders are canceled), so tests do not depend on each other's order. Prices stay
inside the ±5 % mark band around the default index prices (BTCUSDT 65000, ETHUSDT 3500).
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from decimal import Decimal

import grpc
import pytest

from perpsim.clients import errors as E
from perpsim.clients.client import AsyncClient, Client
from perpsim.clients.order_models import Order
from perpsim.model.reasons import REASONS, RejectReason
from perpsim.venue.app import RunningVenue

BTC = "BTCUSDT"
ETH = "ETHUSDT"
MAKER_FEE = Decimal("0.0002")
TAKER_FEE = Decimal("0.0005")


def usdt(c: Client) -> Decimal:
    return c.account().balance("USDT").wallet


def collect(stream, into: queue.Queue) -> threading.Thread:
    """Read a blocking stream on a thread into a queue (until it is canceled)."""

    def run() -> None:
        try:
            for msg in stream:
                into.put(msg)
        except E.PerpsimError as e:  # pragma: no cover - surfaced by the test reading the queue
            into.put(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


# ---------------------------------------------------------------- errors module


def test_every_reject_reason_has_a_typed_error() -> None:
    for reason in RejectReason:
        cls = E.ERRORS[reason]
        assert issubclass(cls, E.PerpsimError)
        assert cls.reason_enum is reason
        assert getattr(E, cls.__name__) is cls
        assert cls().binance_code == REASONS[reason].binance_code
        assert cls().status.name == REASONS[reason].status
    assert E.MarginInsufficient is E.ERRORS[RejectReason.MARGIN_INSUFFICIENT]
    assert issubclass(E.MarginInsufficient, E.FailedPreconditionError)
    assert issubclass(E.PostOnlyWouldTake, E.FailedPreconditionError)
    assert issubclass(E.UnknownSymbol, E.NotFoundError)
    assert issubclass(E.Unavailable, E.TransportError) and issubclass(E.Internal, E.TransportError)


def test_floats_are_refused(make_account: Callable[..., Client]) -> None:
    a = make_account(deposit=None)
    with pytest.raises(TypeError):
        a.deposit("USDT", 1.5)
    with pytest.raises(TypeError):
        a.place_order(BTC, "buy", 0.001, "65000")
    with pytest.raises(TypeError):
        a.place_order(BTC, "buy", "0.001", 65000.0)
    with pytest.raises(ValueError):
        a.place_order(BTC, "buy", "0.001", "sixty")
    with pytest.raises(ValueError):
        a.place_order(BTC, "sideways", "0.001", "65000")


def test_unreachable_venue_is_unavailable_after_retries() -> None:
    with Client("127.0.0.1:1", timeout=2, retries=1) as c, pytest.raises(E.Unavailable) as info:
        c.markets()
    assert info.value.status is grpc.StatusCode.UNAVAILABLE
    assert info.value.reason is None


# ---------------------------------------------------------------- market data


def test_markets_book_and_mark(admin: Client) -> None:
    markets = {m.symbol: m for m in admin.markets()}
    assert {BTC, ETH, "BTCUSD"} <= set(markets)
    btc = markets[BTC]
    assert btc.tick_size == Decimal("0.1") and btc.lot_size == Decimal("0.001")
    assert btc.kind == "linear" and btc.settle_asset == "USDT"
    assert markets["BTCUSD"].kind == "inverse" and markets["BTCUSD"].contract_size == Decimal(100)
    mark = admin.mark(BTC)
    assert mark.mark_price == Decimal("65000") and mark.index_price == Decimal("65000")
    book = admin.book(BTC, depth=5)
    assert book.symbol == BTC and book.sequence > 0


# ---------------------------------------------------------------- the rails


def test_rails_deposit_trade_withdraw_three_times(admin: Client, make_account: Callable[..., Client]) -> None:
    """Create two accounts, deposit a little, trade the minimum against each other, withdraw a
    little; three times over; every wallet exact to the unit."""
    price, qty = Decimal("65000"), Decimal("0.001")
    notional = price * qty  # 65
    for _ in range(3):
        a, b = make_account(deposit=None), make_account(deposit=None)
        assert a.deposit("USDT", "10") == Decimal("10")
        assert b.deposit("USDT", Decimal("10.5")) == Decimal("10.5")
        maker = a.place_order(BTC, "buy", qty, price)
        assert maker.status == "new" and maker.price == price
        taker = b.place_order(BTC, "sell", qty)  # market
        assert taker.status == "filled" and taker.type == "market"
        assert [(f.price, f.quantity, f.liquidity) for f in taker.fills] == [(price, qty, "taker")]
        a_wallet = Decimal("10") - notional * MAKER_FEE  # 9.987
        b_wallet = Decimal("10.5") - notional * TAKER_FEE  # 10.4675
        assert usdt(a) == a_wallet and usdt(b) == b_wallet
        assert a.withdraw("USDT", "1") == a_wallet - 1
        assert b.withdraw("USDT", "0.00000001") == b_wallet - Decimal("0.00000001")
        assert usdt(a) == Decimal("8.987") and usdt(b) == Decimal("10.46749999")
        [pa], [pb] = a.positions(BTC), b.positions(BTC)
        assert (pa.quantity, pb.quantity) == (qty, -qty)
        assert pa.entry_price == price and pa.unrealized_pnl == 0
        assert a.open_orders() == [] and b.open_orders() == []
    assert admin.venue_state().insurance_funds["USDT"] >= 0


def test_transfer_between_accounts(make_account: Callable[..., Client]) -> None:
    a, b = make_account("5"), make_account("5")
    assert a.transfer(b.account().account_id, "USDT", "1.25") == Decimal("3.75")
    assert usdt(b) == Decimal("6.25")
    with pytest.raises(E.UnknownAccount) as info:
        a.transfer(a.account().account_id, "USDT", "1")
    assert info.value.status is grpc.StatusCode.NOT_FOUND


# ---------------------------------------------------------------- order types


def test_limit_gtc_rests_and_cancels(make_account: Callable[..., Client]) -> None:
    a = make_account()
    o = a.place_order(BTC, "buy", "0.002", "64000.5")
    assert (o.type, o.time_in_force, o.status) == ("limit", "gtc", "new")
    assert o.price == Decimal("64000.5") and o.quantity == Decimal("0.002") and o.filled_quantity == 0
    assert [x.order_id for x in a.open_orders(BTC)] == [o.order_id]
    book = a.book(BTC)
    assert any(lv.price == Decimal("64000.5") and lv.quantity == Decimal("0.002") for lv in book.bids)
    canceled = a.cancel_order(BTC, o.order_id)
    assert canceled.status == "canceled" and canceled.order_id == o.order_id
    assert a.open_orders() == []


def test_amend_reprices_resizes_and_may_trade(make_account: Callable[..., Client]) -> None:
    a, b = make_account(), make_account()
    o = a.place_order(BTC, "buy", "0.003", "64000", client_order_id="amend-me")
    moved = a.amend_order(BTC, o.order_id, price="64100.5", quantity="0.002")
    assert (moved.order_id, moved.price, moved.quantity, moved.status) == (o.order_id, Decimal("64100.5"),
                                                                           Decimal("0.002"), "new")
    assert any(lv.price == Decimal("64100.5") and lv.quantity == Decimal("0.002") for lv in a.book(BTC).bids)
    with pytest.raises(E.SameOrder) as info:  # -5027, nothing changed
        a.amend_order(BTC, client_order_id="amend-me", price="64100.5", quantity="0.002")
    assert info.value.binance_code == -5027
    with pytest.raises(E.UnknownOrder):  # never another account's order
        b.amend_order(BTC, o.order_id, price="64000", quantity="0.001")
    b.place_order(BTC, "sell", "0.001", "64200")
    traded = a.amend_order(BTC, o.order_id, price="64200", quantity="0.002")  # re-priced across: it trades
    assert traded.filled_quantity == Decimal("0.001") and traded.status == "partially_filled"
    assert [p.quantity for p in a.positions(BTC)] == [Decimal("0.001")]
    a.cancel_all(BTC)


def test_ioc_fills_what_it_can_and_expires_the_rest(make_account: Callable[..., Client]) -> None:
    a, b = make_account(), make_account()
    b.place_order(BTC, "sell", "0.001", "65000")
    o = a.place_order(BTC, "buy", "0.003", "65000", time_in_force="IOC")
    assert o.status == "expired" and o.filled_quantity == Decimal("0.001") and o.time_in_force == "ioc"
    assert sum(f.quantity for f in o.fills) == Decimal("0.001")
    assert a.open_orders() == [] and b.open_orders() == []


def test_fok_all_or_nothing(make_account: Callable[..., Client]) -> None:
    a, b = make_account(), make_account()
    b.place_order(BTC, "sell", "0.002", "65000")
    with pytest.raises(E.FokNotFillable) as info:
        a.place_order(BTC, "buy", "0.003", "65000", time_in_force="fok")
    assert info.value.binance_code == -5021
    assert b.open_orders()[0].filled_quantity == 0  # the book was not touched
    o = a.place_order(BTC, "buy", "0.002", "65000", time_in_force="fok")
    assert o.status == "filled" and o.filled_quantity == Decimal("0.002")


def test_gtx_post_only(make_account: Callable[..., Client]) -> None:
    a, b = make_account(), make_account()
    ask = b.place_order(BTC, "sell", "0.001", "65000")
    with pytest.raises(E.PostOnlyWouldTake) as info:
        a.place_order(BTC, "buy", "0.001", "65000", time_in_force="GTX")
    err = info.value
    assert err.status is grpc.StatusCode.FAILED_PRECONDITION and err.binance_code == -5022
    assert err.reason is RejectReason.POST_ONLY_WOULD_TAKE
    assert err.metadata["reason_code"] == "3003"
    resting = a.place_order(BTC, "buy", "0.001", "64999.9", time_in_force="post_only")
    assert resting.status == "new" and resting.time_in_force == "gtx"
    a.cancel_all(BTC)
    b.cancel_order(BTC, ask.order_id)


def test_gtd_expires_when_the_clock_passes(admin: Client, make_account: Callable[..., Client]) -> None:
    a = make_account()
    now = admin.venue_state().now_ns
    o = a.place_order(BTC, "buy", "0.001", "64000", good_till_ns=now + 1_000_000_000)
    assert o.time_in_force == "gtd" and o.status == "new"
    with pytest.raises(E.InvalidGtdTime) as info:
        a.place_order(BTC, "buy", "0.001", "64000", time_in_force="gtd", good_till_ns=now - 1)
    assert info.value.status is grpc.StatusCode.INVALID_ARGUMENT
    assert admin.advance_clock(2_000_000_000) >= now + 2_000_000_000
    assert a.open_orders() == []


def test_market_order(make_account: Callable[..., Client]) -> None:
    a, b = make_account(), make_account()
    b.place_order(BTC, "sell", "0.001", "65000.1")
    b.place_order(BTC, "sell", "0.001", "65000.2")
    o = a.place_order(BTC, "buy", "0.002")
    assert (o.type, o.time_in_force, o.status) == ("market", "ioc", "filled")
    assert [f.price for f in o.fills] == [Decimal("65000.1"), Decimal("65000.2")]
    [p] = a.positions(BTC)
    assert p.quantity == Decimal("0.002") and p.entry_price == Decimal("65000.15")


def test_reduce_only(make_account: Callable[..., Client]) -> None:
    a, b = make_account(), make_account()
    with pytest.raises(E.ReduceOnlyRejected) as info:
        a.place_order(BTC, "sell", "0.001", reduce_only=True)  # no position to reduce
    assert info.value.binance_code == -2022
    b.place_order(BTC, "sell", "0.001", "65000")
    a.place_order(BTC, "buy", "0.001")  # long 0.001
    b.place_order(BTC, "buy", "0.005", "64990")
    o = a.place_order(BTC, "sell", "0.005", reduce_only=True)  # clamped to the position
    assert o.reduce_only and o.filled_quantity == Decimal("0.001")
    assert a.positions(BTC) == []
    b.cancel_all(BTC)


def test_hedge_mode_and_isolated_margin(make_account: Callable[..., Client]) -> None:
    a, b = make_account("100"), make_account()
    a.set_position_mode(True)
    assert a.account().hedge_mode is True
    a.set_margin_mode(BTC, "isolated")
    b.place_order(BTC, "sell", "0.001", "65000")
    with pytest.raises(E.InvalidPositionSide):
        a.place_order(BTC, "buy", "0.001", "65000")  # hedge mode needs long or short
    a.place_order(BTC, "buy", "0.001", "65000", position_side="long")
    [p] = a.positions(BTC)
    assert (p.position_side, p.margin_mode, p.quantity) == ("long", "isolated", Decimal("0.001"))
    assert p.isolated_margin == Decimal("3.25")  # 65 / 20
    assert a.adjust_isolated_margin(BTC, "5", position_side="long") == Decimal("8.25")
    assert a.adjust_isolated_margin(BTC, Decimal("-1.5"), position_side="long") == Decimal("6.75")
    with pytest.raises(E.IsolatedMarginInsufficient):
        a.adjust_isolated_margin(BTC, "-100", position_side="long")
    with pytest.raises(E.PositionExists):
        a.set_position_mode(False)


# ---------------------------------------------------------------- typed rejections


def test_margin_insufficient(make_account: Callable[..., Client]) -> None:
    a = make_account("10")
    with pytest.raises(E.MarginInsufficient) as info:
        a.place_order(BTC, "buy", "1", "65000")
    err = info.value
    assert isinstance(err, E.FailedPreconditionError)
    assert err.binance_code == -2019 and err.status is grpc.StatusCode.FAILED_PRECONDITION
    assert int(err.metadata["required"]) > int(err.metadata["available"])
    assert str(err).startswith("margin_insufficient (-2019): ")


def test_unknown_symbol_is_not_found(make_account: Callable[..., Client]) -> None:
    a = make_account(deposit=None)
    with pytest.raises(E.UnknownSymbol) as info:
        a.place_order("DOGEUSDT", "buy", "1", "1")
    assert info.value.status is grpc.StatusCode.NOT_FOUND and info.value.binance_code == -1121
    with pytest.raises(E.NotFoundError):
        a.book("DOGEUSDT")


def test_unspecified_side_is_invalid_argument_naming_the_field(make_account: Callable[..., Client]) -> None:
    a = make_account()
    with pytest.raises(E.InvalidSide) as info:
        a.place_order(BTC, 0, "0.001", "65000")  # SIDE_UNSPECIFIED
    err = info.value
    assert err.status is grpc.StatusCode.INVALID_ARGUMENT and isinstance(err, E.InvalidArgumentError)
    assert err.field == "side" and err.violations[0][0] == "side"


def test_a_too_long_client_order_id_is_invalid_argument_and_places_nothing(
        make_account: Callable[..., Client]) -> None:
    a = make_account()
    with pytest.raises(E.InvalidArgumentError) as info:
        a.place_order(BTC, "buy", "0.001", "64000", client_order_id="x" * 37)
    err = info.value
    assert err.status is grpc.StatusCode.INVALID_ARGUMENT and err.field == "client_order_id"
    assert (err.metadata["length"], err.metadata["max_length"]) == ("37", "36")
    assert a.open_orders() == []
    assert a.place_order(BTC, "buy", "0.001", "64000", client_order_id="x" * 36).client_order_id == "x" * 36


def test_off_tick_price(make_account: Callable[..., Client]) -> None:
    a = make_account()
    with pytest.raises(E.PriceOffTick) as info:
        a.place_order(BTC, "buy", "0.001", "65000.05")
    assert info.value.field == "price" and info.value.binance_code == -4014
    assert info.value.metadata["tick_size"] == "0.1"


def test_unauthenticated(venue: RunningVenue) -> None:
    for key in (None, "not-a-key"):
        with Client(venue.address, api_key=key) as c, pytest.raises(E.Unauthenticated) as info:
            c.account()
        assert info.value.status is grpc.StatusCode.UNAUTHENTICATED and info.value.binance_code == -2015


def test_user_key_on_the_sandbox_is_permission_denied(make_account: Callable[..., Client]) -> None:
    a = make_account(deposit=None)
    with pytest.raises(E.PermissionDenied) as info:
        a.create_account()
    assert info.value.status is grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(E.PermissionDeniedError):
        a.set_index_price(BTC, "1")


# ---------------------------------------------------------------- isolation and idempotency


def test_accounts_are_isolated(make_account: Callable[..., Client]) -> None:
    a, b = make_account(), make_account()
    o = a.place_order(BTC, "buy", "0.001", "64000", client_order_id="mine-1")
    with pytest.raises(E.UnknownOrder) as info:
        b.cancel_order(BTC, o.order_id)
    assert info.value.status is grpc.StatusCode.NOT_FOUND
    with pytest.raises(E.UnknownOrder):
        b.cancel_order(BTC, client_order_id="mine-1")
    assert b.open_orders() == [] and b.open_orders(BTC) == []
    assert b.cancel_all(BTC) == 0
    assert [x.order_id for x in a.open_orders()] == [o.order_id]
    a.cancel_order(BTC, client_order_id="mine-1")


def test_place_order_is_idempotent_on_client_order_id(make_account: Callable[..., Client]) -> None:
    a = make_account()
    first = a.place_order(BTC, "buy", "0.001", "64000", client_order_id="idem-1")
    again = a.place_order(BTC, "buy", "0.001", "64000", client_order_id="idem-1")
    assert again == first and len(a.open_orders()) == 1
    with pytest.raises(E.DuplicateOrderId) as info:
        a.place_order(BTC, "buy", "0.001", "64000.1", client_order_id="idem-1")
    assert isinstance(info.value, E.AlreadyExistsError) and info.value.status is grpc.StatusCode.ALREADY_EXISTS
    generated = a.place_order(BTC, "buy", "0.001", "64000", idempotent=True)
    assert generated.client_order_id and generated.order_id != first.order_id
    assert a.cancel_all(BTC) == 2


# ---------------------------------------------------------------- liquidation


def test_liquidation_through_the_index(admin: Client, make_account: Callable[..., Client]) -> None:
    trader, other = make_account("10"), make_account("1000")
    assert trader.set_leverage(ETH, 100) == 100
    other.place_order(ETH, "sell", "0.1", "3500")
    trader.place_order(ETH, "buy", "0.1", "3500")
    [p] = trader.positions(ETH)
    assert p.quantity == Decimal("0.1") and p.leverage == 100 and p.margin_mode == "cross"
    assert p.liquidation_price is not None and Decimal("3400") < p.liquidation_price < Decimal("3500")
    preview = trader.preview_order(ETH, "buy", "0.1", "3500")
    assert preview.resulting_quantity == Decimal("0.2") and preview.liquidation_price > p.liquidation_price
    other.place_order(ETH, "buy", "0.1", "3300")  # where the insurance fund can unload
    admin.fund_insurance("USDT", "100")
    got: queue.Queue = queue.Queue()
    with admin.stream_liquidations(ETH) as liquidations:
        collect(liquidations, got)
        try:
            update = admin.set_index_price(ETH, "3400")
            assert update.mark_price == Decimal("3400") and update.liquidations == 1
            assert trader.positions(ETH) == []
            assert usdt(trader) == 0
            event = got.get(timeout=5)
        finally:
            admin.set_index_price(ETH, "3500")
            other.cancel_all(ETH)
    assert event.symbol == ETH and event.side == "sell" and event.quantity == Decimal("0.1")
    assert event.sequence >= 1


# ---------------------------------------------------------------- asyncio client


def test_async_client(venue: RunningVenue, admin_key: str) -> None:
    async def main() -> None:
        async with AsyncClient(venue.address, admin_key=admin_key) as adm:
            await adm.wait_ready()
            key_a = (await adm.create_account("async-a")).api_key
            key_b = (await adm.create_account("async-b")).api_key
            a, b = adm.with_key(key_a), adm.with_key(key_b)
            assert await a.deposit("USDT", "100") == Decimal(100)
            await b.deposit("USDT", "100")
            rest = await a.place_order(BTC, "sell", "0.001", "65000")
            book = await a.book(BTC)
            assert book.best_ask == Decimal("65000")
            got = await b.place_order(BTC, "buy", "0.001", "65000", time_in_force="ioc")
            assert got.status == "filled" and got.fills[0].price == Decimal("65000")
            assert (await a.positions(BTC))[0].quantity == Decimal("-0.001")
            with pytest.raises(E.UnknownOrder):
                await b.cancel_order(BTC, rest.order_id)
            with pytest.raises(E.MarginInsufficient):
                await b.place_order(BTC, "buy", "10", "65000")
            async with b.stream_book(BTC, depth=5) as updates:
                first = await anext(updates)
            assert first.snapshot and first.sequence == 1
            assert isinstance((await adm.venue_state()).state_hash, str)

    asyncio.run(main())


# ---------------------------------------------------------------- streams


def test_trade_and_book_streams_have_no_gaps(make_account: Callable[..., Client], admin: Client) -> None:
    maker, taker = make_account(), make_account()
    trades: queue.Queue = queue.Queue()
    books: queue.Queue = queue.Queue()
    with admin.stream_trades(BTC) as trade_stream, admin.stream_book(BTC, depth=10) as book_stream:
        collect(trade_stream, trades)
        collect(book_stream, books)
        snapshot = books.get(timeout=5)
        assert snapshot.snapshot and snapshot.sequence == 1

        def trade(i: int) -> Order:
            price = Decimal("65000") + Decimal(i) / 10
            maker.place_order(BTC, "sell", "0.001", price)
            return taker.place_order(BTC, "buy", "0.001", price, time_in_force="ioc")

        # the trade stream has no first message: trade until the subscription is live
        first = None
        for i in range(50):
            trade(i)
            try:
                first = trades.get(timeout=0.2)
                break
            except queue.Empty:
                continue
        assert first is not None, "the trade stream never delivered"
        for i in range(20):
            assert trade(i).status == "filled"
        seen = [first] + [trades.get(timeout=5) for _ in range(20)]
        assert [t.sequence for t in seen] == list(range(first.sequence, first.sequence + 21))
        assert all(t.symbol == BTC and t.quantity == Decimal("0.001") and t.taker_side == "buy" for t in seen)
        assert trades.empty()
        deltas = []
        while True:
            try:
                deltas.append(books.get(timeout=0.5))
            except queue.Empty:
                break
    assert deltas, "no book deltas"
    assert not any(d.snapshot for d in deltas)
    assert [d.sequence for d in deltas] == list(range(2, 2 + len(deltas)))


# ---------------------------------------------------------------- known server bugs (reported)


def test_transfer_to_an_unknown_account_is_refused(make_account: Callable[..., Client]) -> None:
    a = make_account("5")
    with pytest.raises(E.UnknownAccount):
        a.transfer(999_999, "USDT", "1")


def test_a_caller_without_a_key_learns_nothing_of_the_accounts(make_account: Callable[..., Client]) -> None:
    """Transfer answers whether its destination exists only to an authenticated caller: a bad key
    is refused alike for an account id in use and for one that is not."""
    a, b = make_account("5"), make_account("5")
    stranger = a.with_key("not-a-key")
    for to in (b.account().account_id, 999_999):
        with pytest.raises(E.UnauthenticatedError):
            stranger.transfer(to, "USDT", "1")


def test_shock_with_nan_percent_is_invalid_argument(venue: RunningVenue, admin_key: str) -> None:
    from perpsim.v1 import sandbox_pb2, sandbox_pb2_grpc

    with grpc.insecure_channel(venue.address) as channel:
        stub = sandbox_pb2_grpc.SandboxServiceStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            stub.ShockPrice(sandbox_pb2.ShockPriceRequest(symbol=ETH, percent="NaN"), timeout=5,
                            metadata=(("authorization", f"Bearer {admin_key}"),))
    assert isinstance(E.from_rpc_error(info.value), E.InvalidArgumentError)


def test_place_orders_in_one_batch(make_account: Callable[..., Client]) -> None:
    """A batch: each order gets its own result in request order; a bad one does not sink the rest."""
    a = make_account("2000")
    results = a.place_orders([
        {"symbol": "BTCUSDT", "side": "buy", "quantity": "0.001", "price": "60000"},
        {"symbol": "BTCUSDT", "side": "buy", "quantity": "0.001", "price": "60000.05"},  # off the tick
        {"symbol": "BTCUSDT", "side": "sell", "quantity": "0.001", "price": "70000"},
    ])
    assert [type(r).__name__ for r in results] == ["Order", "PriceOffTick", "Order"]
    assert results[0].order_id < results[2].order_id  # sequenced in request order
    assert {o.order_id for o in a.open_orders("BTCUSDT")} >= {results[0].order_id, results[2].order_id}


def test_stream_orders_answers_each_order_in_order(make_account: Callable[..., Client]) -> None:
    """The order-entry stream: one answer per request, in order, errors in place; a crossing pair
    trades; an account's margin check applies to each order as it is sequenced."""
    maker, taker = make_account("5000"), make_account("5000")
    orders = [{"symbol": "BTCUSDT", "side": "sell", "quantity": "0.001", "price": str(66_000 + i)} for i in range(50)]
    orders.insert(10, {"symbol": "BTCUSDT", "side": "sell", "quantity": "0.001", "price": "66000.05"})  # off the tick
    orders.insert(20, {"symbol": "NOPE", "side": "sell", "quantity": "0.001", "price": "61000"})
    orders.insert(30, {"symbol": "BTCUSDT", "side": "sell", "quantity": "100", "price": "66000"})  # unaffordable
    results = list(maker.stream_orders(iter(orders)))
    assert len(results) == len(orders)
    assert [type(r).__name__ for r in results][8:12] == ["Order", "Order", "PriceOffTick", "Order"]
    assert type(results[20]).__name__ == "UnknownSymbol"
    assert type(results[30]).__name__ == "MarginInsufficient"
    placed = [r for r in results if type(r).__name__ == "Order"]
    assert len(placed) == 50
    assert [r.order_id for r in placed] == sorted(r.order_id for r in placed)  # sequenced in request order
    assert [r.price for r in placed] == [Decimal(66_000 + i) for i in range(50)]
    (buy,) = taker.stream_orders([{"symbol": "BTCUSDT", "side": "buy", "quantity": "0.002", "price": "66001"}])
    assert buy.filled_quantity == Decimal("0.002") and [f.price for f in buy.fills] == [Decimal(66000), Decimal(66001)]
    assert len(maker.open_orders("BTCUSDT")) == 48


def test_price_path_moves_the_index(admin: Client) -> None:
    """The sandbox follows a price path on the wall clock; a bad point is refused whole."""
    with pytest.raises(E.InvalidValue):
        admin.set_price_path("ETHUSDT", [(50, "3600"), (10, "3700")])  # offsets must not decrease
    assert admin.set_price_path("ETHUSDT", [(0, "3601"), (100, "3602.5")]) == 2
    deadline = time.monotonic() + 5
    while admin.mark("ETHUSDT").index_price != Decimal("3602.5") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert admin.mark("ETHUSDT").index_price == Decimal("3602.5")


def test_reset_starts_a_fresh_world_and_survives_a_restart(tmp_path) -> None:
    """Reset archives the journal, empties balances and books, keeps keys; a restart replays
    only the new journal."""
    from perpsim.venue.app import RunningVenue
    from perpsim.venue.config import VenueConfig

    cfg = dict(listen="127.0.0.1:0", data_dir=tmp_path, feed=False, liquidity=False, admin_key="adm",
               metrics_listen="", rest_listen="off")
    venue = RunningVenue(VenueConfig(**cfg)).start_in_thread()
    try:
        admin = Client(venue.address, admin_key="adm")
        admin.set_index_price("BTCUSDT", "65000")
        me = Client(venue.address, api_key=admin.create_account().api_key)
        me.deposit("USDT", "100")
        me.place_order("BTCUSDT", "buy", "0.001", "60000")
        archived = admin.reset_venue()
        assert (tmp_path / "archive").exists() and archived.startswith(str(tmp_path / "archive"))
        assert me.account().balances[-1].wallet == 0  # the key still works; the money is gone
        assert me.open_orders("BTCUSDT") == []
        me.deposit("USDT", "7")
        state = admin.venue_state()
    finally:
        venue.stop()
    again = RunningVenue(VenueConfig(**cfg)).start_in_thread()
    try:
        admin = Client(again.address, admin_key="adm")
        assert admin.venue_state().state_hash == state.state_hash
        assert again.recovery.replayed == state.journal_sequence
    finally:
        again.stop()


def test_conditional_orders_through_the_server(admin: Client, make_account: Callable[..., Client]) -> None:
    """A stop-loss rests, shows in the list, fires on the mark and closes the position."""
    maker, me = make_account("100000"), make_account("2000")
    admin.set_index_price("ETHUSDT", "3500")
    maker.place_order("ETHUSDT", "sell", "1", "3500")
    me.place_order("ETHUSDT", "buy", "1", "3500")
    maker.place_order("ETHUSDT", "buy", "1", "3300")  # what the stop will sell into
    with pytest.raises(E.WouldImmediatelyTrigger):
        me.place_conditional("ETHUSDT", "sell", "1", trigger_price="3600", source="mark")
    cid = me.place_conditional("ETHUSDT", "sell", None, trigger_price="3400", source="mark", close_position=True)
    assert [o.conditional_id for o in me.conditional_orders("ETHUSDT")] == [cid]
    admin.set_index_price("ETHUSDT", "3390")
    assert me.conditional_orders("ETHUSDT") == []
    assert all(p.symbol != "ETHUSDT" for p in me.positions())
