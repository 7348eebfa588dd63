"""BatchService's compact answers against a real venue: sparse results (only the commands with
more to say than an order's id, each with its index) and books read as packed columns."""

from __future__ import annotations

import pytest

from perpsim.clients.errors import PerpsimError, from_status_pb
from perpsim.v1 import account_pb2, batch_pb2, common_pb2, sandbox_pb2, trading_pb2

B = batch_pb2.BatchCommand


def _limit(side, lots: int, ticks: int) -> trading_pb2.PlaceOrderRequest:
    return trading_pb2.PlaceOrderRequest(symbol="BTCUSDT", side=side, type=common_pb2.ORDER_TYPE_LIMIT,
                                         quantity_lots=lots, price_ticks=ticks,
                                         time_in_force=common_pb2.TIME_IN_FORCE_GTC)


def _market(side, lots: int) -> trading_pb2.PlaceOrderRequest:
    return trading_pb2.PlaceOrderRequest(symbol="BTCUSDT", side=side, type=common_pb2.ORDER_TYPE_MARKET,
                                         quantity_lots=lots)


def test_sparse_results_leave_out_only_what_has_nothing_to_say(venue, admin, batch):
    (a, key_a), (b, _) = [(m.account_id, m.api_key) for m in batch("CreateAccounts",
                                                                    batch_pb2.CreateAccountsRequest(count=2)).accounts]
    spec = venue.venue.markets["BTCUSDT"]
    price, lot = spec.price_to_ticks("65000"), spec.qty_to_lots("0.01")
    commands = [
        B(account_id=a, deposit=account_pb2.DepositRequest(asset="USDT", amount="10000")),  # 0: left out
        B(account_id=b, deposit=account_pb2.DepositRequest(asset="USDT", amount="10000")),  # 1: left out
        B(account_id=a, set_leverage=account_pb2.SetLeverageRequest(symbol="BTCUSDT", leverage=1000)),  # 2: refused
        B(account_id=a, place_order=_limit(common_pb2.SIDE_SELL, lot, price)),  # 3: rests, left out
        B(account_id=b, place_order=_market(common_pb2.SIDE_BUY, lot)),  # 4: takes it, positions
        B(set_index_price=sandbox_pb2.SetIndexPriceRequest(symbol="BTCUSDT", price_ticks=price)),  # 5: a mark
        B(account_id=b, group=7, place_order=_limit(common_pb2.SIDE_BUY, lot * 100_000, price - 500)),  # 6: too big
        B(account_id=b, group=7, place_order=_limit(common_pb2.SIDE_BUY, lot, price - 600)),  # 7: skipped
        B(advance_clock=sandbox_pb2.AdvanceClockRequest(advance_ns=1_000)),  # 8: left out
    ]
    r = batch("Apply", batch_pb2.ApplyRequest(commands=commands, sparse_results=True,
                                              reads=batch_pb2.BatchReads(marks=["BTCUSDT"])))
    assert [x.index for x in r.results] == [2, 4, 5, 6, 7]
    refused, taken, marked, margin, skipped = r.results
    with pytest.raises(PerpsimError) as own:
        admin.with_key(key_a).set_leverage("BTCUSDT", 1000)
    got = from_status_pb(refused.error)
    assert (got.status, got.reason, str(got)) == (own.value.status, own.value.reason, str(own.value))
    assert {(p.account_id, p.lots) for p in taken.positions} == {(a, -lot), (b, lot)} and not taken.error.code
    assert marked.mark_price and marked.mark_price == r.marks[0].mark_price
    assert margin.error.code and from_status_pb(margin.error).reason is not None  # beyond what b can open
    assert skipped.skipped and not skipped.error.code
    assert r.applied == 8  # every command but the skipped order reached the state (refusals by the engine too)
    # the commands left out did what their dense results would say: applied, the order resting
    assert admin.with_key(key_a).account().balance("USDT").wallet > 0
    assert [p.quantity_lots for p in admin.with_key(key_a).positions("BTCUSDT")] == [-lot]


def test_sparse_results_of_plain_commands_are_empty_and_dense_ones_unchanged(venue, batch):
    (m,) = batch("CreateAccounts", batch_pb2.CreateAccountsRequest(count=1)).accounts
    spec = venue.venue.markets["BTCUSDT"]
    deposit = B(account_id=m.account_id, deposit=account_pb2.DepositRequest(asset="USDT", amount="100000"))
    bid = B(account_id=m.account_id, place_order=_limit(common_pb2.SIDE_BUY, spec.qty_to_lots("0.01"),
                                                        spec.price_to_ticks("50000")))
    sparse = batch("Apply", batch_pb2.ApplyRequest(commands=[deposit, bid, bid], sparse_results=True))
    assert not sparse.results and sparse.applied == 3
    dense = batch("Apply", batch_pb2.ApplyRequest(commands=[deposit, bid]))
    assert len(dense.results) == 2 and dense.results[1].order_id and dense.results[1].resting


def test_a_packed_book_holds_the_levels_of_the_book_read(venue, batch):
    (m,) = batch("CreateAccounts", batch_pb2.CreateAccountsRequest(count=1)).accounts
    spec = venue.venue.markets["BTCUSDT"]
    lot, low = spec.qty_to_lots("0.01"), spec.price_to_ticks("40000")
    orders = [B(account_id=m.account_id, place_order=_limit(common_pb2.SIDE_BUY, lot * (i + 1), low - 10 * (i // 2)))
              for i in range(6)]  # two orders a level: three levels
    reads = batch_pb2.BatchReads(books=[batch_pb2.BookRead(symbol="BTCUSDT", depth=500, ticks_only=True),
                                        batch_pb2.BookRead(symbol="BTCUSDT", depth=500, packed=True),
                                        batch_pb2.BookRead(symbol="BTCUSDT", depth=2, packed=True)])
    r = batch("Apply", batch_pb2.ApplyRequest(commands=[
        B(account_id=m.account_id, deposit=account_pb2.DepositRequest(asset="USDT", amount="100000")), *orders],
        reads=reads))
    (levels,) = r.books
    deep, top = r.packed_books
    assert deep.symbol == "BTCUSDT" and deep.sequence == levels.sequence
    for side, ticks, lots, count in (("bids", deep.bid_ticks, deep.bid_lots, deep.bid_orders),
                                     ("asks", deep.ask_ticks, deep.ask_lots, deep.ask_orders)):
        want = [(lv.price_ticks, lv.quantity_lots, lv.order_count) for lv in getattr(levels, side)]
        assert list(zip(ticks, lots, count, strict=True)) == want
    mine = {p: (q, n) for p, q, n in zip(deep.bid_ticks, deep.bid_lots, deep.bid_orders, strict=True)}
    assert [mine[low - 10 * k] for k in range(3)] == [(lot * 3, 2), (lot * 7, 2), (lot * 11, 2)]
    assert list(top.bid_ticks) == list(deep.bid_ticks[:2]) and list(top.ask_lots) == list(deep.ask_lots[:2])
