"""BatchService against a real venue: many accounts' commands in one Apply, each answered as its
own call is (the same refusals), one sequencer unit and one journal commit; account creation."""

from __future__ import annotations

import grpc
import pytest

from perpsim.clients.errors import PerpsimError, from_rpc_error, from_status_pb
from perpsim.v1 import account_pb2, batch_pb2, common_pb2, sandbox_pb2, trading_pb2, trading_pb2_grpc

B = batch_pb2.BatchCommand


def _order(side, lots: int, ticks: int = 0) -> trading_pb2.PlaceOrderRequest:
    if not ticks:
        return trading_pb2.PlaceOrderRequest(symbol="BTCUSDT", side=side, type=common_pb2.ORDER_TYPE_MARKET,
                                             quantity_lots=lots)
    return trading_pb2.PlaceOrderRequest(symbol="BTCUSDT", side=side, type=common_pb2.ORDER_TYPE_LIMIT,
                                         quantity_lots=lots, price_ticks=ticks,
                                         time_in_force=common_pb2.TIME_IN_FORCE_GTC)


def _same_error(got: PerpsimError, want: PerpsimError) -> None:
    assert (got.status, got.reason, str(got), got.metadata) == (want.status, want.reason, str(want), want.metadata)


def test_commands_of_many_accounts_are_answered_as_their_own_calls(venue, admin, batch):
    made = batch("CreateAccounts", batch_pb2.CreateAccountsRequest(count=2)).accounts
    (a, key_a), (b, key_b) = [(m.account_id, m.api_key) for m in made]
    assert a < b
    spec = venue.venue.markets["BTCUSDT"]
    price = spec.price_to_ticks("65000")
    lot = spec.qty_to_lots("0.01")
    before = admin.venue_state().journal_sequence
    commands = [
        B(account_id=a, deposit=account_pb2.DepositRequest(asset="USDT", amount="10000")),
        B(account_id=b, deposit=account_pb2.DepositRequest(asset="USDT", amount="10000")),
        B(account_id=a, set_leverage=account_pb2.SetLeverageRequest(symbol="BTCUSDT", leverage=1000)),  # refused
        B(account_id=a, place_order=_order(common_pb2.SIDE_SELL, lot, price)),  # rests
        B(account_id=b, place_order=_order(common_pb2.SIDE_BUY, lot)),  # takes it
        B(account_id=b, cancel_all_orders=trading_pb2.CancelAllOrdersRequest(symbol="NOPE")),  # refused
        B(account_id=999_999, cancel_all_orders=trading_pb2.CancelAllOrdersRequest(symbol="BTCUSDT")),  # refused
        B(advance_clock=sandbox_pb2.AdvanceClockRequest(advance_ns=0)),  # refused
        B(set_index_price=sandbox_pb2.SetIndexPriceRequest(symbol="BTCUSDT", price_ticks=price)),
        B(account_id=a, place_order=_order(common_pb2.SIDE_SELL, lot, price + 100)),  # rests
    ]
    r = batch("Apply", batch_pb2.ApplyRequest(commands=commands, reads=batch_pb2.BatchReads(marks=["BTCUSDT"])))
    assert len(r.results) == len(commands)
    refused = [i for i, x in enumerate(r.results) if x.error.code]
    assert refused == [2, 5, 6, 7]
    # the commands that reached the state went in as one unit, journaled once each
    assert r.applied == 7 and admin.venue_state().journal_sequence - before == 7
    # each refusal is the one its own call gets
    client_a, client_b = admin.with_key(key_a), admin.with_key(key_b)
    with pytest.raises(PerpsimError) as own:
        client_a.set_leverage("BTCUSDT", 1000)
    _same_error(from_status_pb(r.results[2].error), own.value)
    with pytest.raises(PerpsimError) as own:
        client_b.cancel_all("NOPE")
    _same_error(from_status_pb(r.results[5].error), own.value)
    with pytest.raises(PerpsimError) as own:
        admin.advance_clock(0)
    _same_error(from_status_pb(r.results[7].error), own.value)
    assert from_status_pb(r.results[6].error).reason.name == "UNKNOWN_ACCOUNT"
    # the orders' results, and the positions the fill changed, as the venue holds them
    taken, resting = r.results[3], r.results[9]
    assert taken.order_id < resting.order_id and not taken.resting and resting.resting  # as the unit left them
    moved = {(p.account_id, p.lots) for p in r.results[4].positions}
    assert moved == {(a, -lot), (b, lot)}
    assert [p.quantity_lots for p in client_a.positions("BTCUSDT")] == [-lot]
    assert r.results[8].mark_price == r.marks[0].mark_price
    assert {t.symbol for t in r.tops} == set(venue.venue.markets)


def test_a_unit_follows_the_last_directly_when_nothing_came_between(admin, batch, make_account):
    (m,) = batch("CreateAccounts", batch_pb2.CreateAccountsRequest(count=1)).accounts
    deposit = B(account_id=m.account_id, deposit=account_pb2.DepositRequest(asset="USDT", amount="5"))
    first = batch("Apply", batch_pb2.ApplyRequest(commands=[deposit, deposit]))
    second = batch("Apply", batch_pb2.ApplyRequest(commands=[deposit]))
    assert second.applied_before == first.applied_before + first.applied
    make_account()  # another caller's deposit comes between
    third = batch("Apply", batch_pb2.ApplyRequest(commands=[deposit]))
    assert third.applied_before > second.applied_before + second.applied


def test_a_bad_read_or_key_refuses_the_whole_call(admin, batch, make_account):
    (m,) = batch("CreateAccounts", batch_pb2.CreateAccountsRequest(count=1)).accounts
    deposit = B(account_id=m.account_id, deposit=account_pb2.DepositRequest(asset="USDT", amount="5"))
    before = admin.venue_state().journal_sequence
    with pytest.raises(grpc.RpcError) as e:
        batch("Apply", batch_pb2.ApplyRequest(commands=[deposit], reads=batch_pb2.BatchReads(books=[
            batch_pb2.BookRead(symbol="NOPE")])))
    assert e.value.code() is grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as e:
        batch("Apply", batch_pb2.ApplyRequest(commands=[deposit]), key=m.api_key)
    assert e.value.code() is grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as e:
        batch("Apply", batch_pb2.ApplyRequest(commands=[deposit] * 1001))
    assert e.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert admin.venue_state().journal_sequence == before  # nothing applied
    assert admin.with_key(m.api_key).account().balance("USDT").wallet == 0


def test_accounts_are_made_in_order_with_working_keys(admin, batch):
    made = batch("CreateAccounts", batch_pb2.CreateAccountsRequest(count=5)).accounts
    ids = [m.account_id for m in made]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert [admin.with_key(m.api_key).account().account_id for m in made] == ids
    with pytest.raises(grpc.RpcError) as e:
        batch("CreateAccounts", batch_pb2.CreateAccountsRequest(count=0))
    assert e.value.code() is grpc.StatusCode.INVALID_ARGUMENT


def test_one_accounts_orders_in_a_row_keep_their_own_results_and_events(venue, admin, batch):
    """Consecutive orders of one account go through one PlaceOrders call: an order refused
    before the sequencer does not shift the others' results or events."""
    (a, _), (b, _) = [(m.account_id, m.api_key) for m in batch("CreateAccounts",
                                                                batch_pb2.CreateAccountsRequest(count=2)).accounts]
    spec = venue.venue.markets["BTCUSDT"]
    price, lot = spec.price_to_ticks("65000"), spec.qty_to_lots("0.01")
    fund = [B(account_id=x, deposit=account_pb2.DepositRequest(asset="USDT", amount="10000")) for x in (a, b)]
    bad = _order(common_pb2.SIDE_SELL, lot, price)
    bad.symbol = "NOPE"
    commands = [*fund, B(account_id=a, place_order=bad),
                B(account_id=a, place_order=_order(common_pb2.SIDE_SELL, lot, price)),
                B(account_id=a, place_order=_order(common_pb2.SIDE_SELL, 0, price)),  # a quantity of 0: refused
                B(account_id=b, place_order=_order(common_pb2.SIDE_BUY, lot)),
                B(account_id=a)]  # no command: refused
    r = batch("Apply", batch_pb2.ApplyRequest(commands=commands))
    errors = [from_status_pb(x.error).reason.name if x.error.code else None for x in r.results]
    assert errors[:2] == [None, None] and errors[3] is None and errors[5] is None
    assert errors[2] == "UNKNOWN_SYMBOL" and errors[4] and errors[6] == "INVALID_VALUE"
    assert r.results[3].order_id and not r.results[3].positions
    assert {(p.account_id, p.lots) for p in r.results[5].positions} == {(a, -lot), (b, lot)}
    assert r.applied == 4


def test_orders_are_refused_as_their_own_placement_is(venue, admin, batch):
    """An Apply's order is converted and answered as PlaceOrder converts and answers it: the
    same refusal before the sequencer, the same rejection by the engine; each order of an
    unknown account is refused, and the rest of the unit goes on."""
    (m,) = batch("CreateAccounts", batch_pb2.CreateAccountsRequest(count=1)).accounts
    spec = venue.venue.markets["BTCUSDT"]
    price, lot = spec.price_to_ticks("65000"), spec.qty_to_lots("0.01")
    unknown = _order(common_pb2.SIDE_BUY, lot, price)
    unknown.symbol = "NOPE"
    no_price = _order(common_pb2.SIDE_BUY, lot, price)
    no_price.price_ticks = 0
    too_big = _order(common_pb2.SIDE_BUY, lot * 100_000, price - 1_000)  # far beyond the account's margin
    fine = _order(common_pb2.SIDE_BUY, lot, price - 1_000)
    fund = B(account_id=m.account_id, deposit=account_pb2.DepositRequest(asset="USDT", amount="1000"))
    own = [unknown, no_price, too_big]
    commands = [fund, *(B(account_id=m.account_id, place_order=o) for o in own),
                B(account_id=999_999, place_order=fine), B(account_id=999_999, place_order=fine),
                B(account_id=m.account_id, place_order=fine)]
    r = batch("Apply", batch_pb2.ApplyRequest(commands=commands))
    channel = grpc.insecure_channel(venue.address)
    try:
        trading = trading_pb2_grpc.TradingServiceStub(channel)
        for i, request in enumerate(own, start=1):
            with pytest.raises(grpc.RpcError) as e:
                trading.PlaceOrder(request, metadata=(("authorization", f"Bearer {m.api_key}"),), timeout=30)
            _same_error(from_status_pb(r.results[i].error), from_rpc_error(e.value))
    finally:
        channel.close()
    assert [from_status_pb(x.error).reason.name for x in r.results[4:6]] == ["UNKNOWN_ACCOUNT"] * 2
    placed = r.results[6]
    assert not placed.error.code and placed.order_id and placed.resting
    assert r.applied == 3  # the deposit, the order the engine refused, the one it placed


def test_a_units_commands_share_one_time(venue, admin, batch):
    """The commands of one Apply are stamped with one time (the engine's time-driven work runs
    once for the unit); the next unit's come later."""
    (m,) = batch("CreateAccounts", batch_pb2.CreateAccountsRequest(count=1)).accounts
    spec = venue.venue.markets["BTCUSDT"]
    price, lot = spec.price_to_ticks("60000"), spec.qty_to_lots("0.01")
    fund = B(account_id=m.account_id, deposit=account_pb2.DepositRequest(asset="USDT", amount="100000"))
    bids = [B(account_id=m.account_id, place_order=_order(common_pb2.SIDE_BUY, lot, price - 10 * i)) for i in range(3)]
    first = batch("Apply", batch_pb2.ApplyRequest(commands=[fund, *bids]))
    second = batch("Apply", batch_pb2.ApplyRequest(commands=bids[:1]))
    times = {o.order.order_id: o.time_ns for o in admin.with_key(m.api_key).orders("BTCUSDT")}
    unit = {times[x.order_id] for x in first.results[1:]}
    assert len(unit) == 1 and times[second.results[0].order_id] > unit.pop()


def test_a_group_of_orders_ends_at_its_first_refusal(venue, admin, batch):
    """Orders of one group after the group's first refused order are skipped (not applied); a
    post-only the book rejects (it would take) is answered with its rejection but, not being
    refused by the engine, does not end its group (in process neither); other groups and
    ungrouped orders go on; only orders take a group."""
    m, maker = batch("CreateAccounts", batch_pb2.CreateAccountsRequest(count=2)).accounts
    spec = venue.venue.markets["BTCUSDT"]
    price, ask, lot = spec.price_to_ticks("64000"), spec.price_to_ticks("66000"), spec.qty_to_lots("0.01")
    batch("Apply", batch_pb2.ApplyRequest(commands=[
        B(set_index_price=sandbox_pb2.SetIndexPriceRequest(symbol="BTCUSDT", price_ticks=spec.price_to_ticks("65000"))),
        *(B(account_id=a.account_id, deposit=account_pb2.DepositRequest(asset="USDT", amount="2000"))
          for a in (m, maker)),
        B(account_id=maker.account_id, place_order=_order(common_pb2.SIDE_SELL, lot, ask))]))  # above every bid

    def order(group, lots, ticks, symbol="BTCUSDT", tif=common_pb2.TIME_IN_FORCE_GTC):
        o = _order(common_pb2.SIDE_BUY, lots, ticks)
        o.symbol, o.time_in_force = symbol, tif
        return B(account_id=m.account_id, place_order=o, group=group)

    commands = [order(1, lot, price), order(1, lot, ask, tif=common_pb2.TIME_IN_FORCE_GTX),  # would take
                order(1, lot * 1_000, price - 10), order(1, lot, price - 20),  # beyond the margin, then skipped
                order(2, lot, price, symbol="NOPE"), order(2, lot, price - 30),  # refused before the sequencer
                order(0, lot, price - 40),
                B(account_id=m.account_id, group=3,
                  deposit=account_pb2.DepositRequest(asset="USDT", amount="1"))]  # not an order
    journaled = admin.venue_state().journal_sequence
    r = batch("Apply", batch_pb2.ApplyRequest(commands=commands))
    got = ["skipped" if x.skipped else from_status_pb(x.error).reason.name if x.error.code else "placed"
           for x in r.results]
    assert got == ["placed", "POST_ONLY_WOULD_TAKE", "MARGIN_INSUFFICIENT", "skipped",
                   "UNKNOWN_SYMBOL", "skipped", "placed", "INVALID_VALUE"]
    assert not any(x.order_id for x in r.results if x.skipped)
    assert r.applied == 4  # the placed, the post-only, the order the engine refused, the ungrouped one
    assert admin.venue_state().journal_sequence - journaled == 4  # a skipped order is not journaled
    bids = {o.price_ticks for o in admin.with_key(m.api_key).open_orders("BTCUSDT") if o.side == "buy"}
    assert bids == {price, price - 40}
