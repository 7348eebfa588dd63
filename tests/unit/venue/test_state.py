"""The venue state's registry: idempotent order-list placement decided in sequence, and a
replay of the same commands rebuilding the same registry."""

from __future__ import annotations

import dataclasses
import pickle

from perpsim.engine import commands as C
from perpsim.engine.events import CommandRejected, ListEvent
from perpsim.engine.views import ExchangeView
from perpsim.model.enums import LegType, ListKind, Side
from perpsim.model.reasons import RejectReason as R
from perpsim.venue import state as state_module
from perpsim.venue.state import KnownList, KnownOrder, VenueState, fingerprint, rejection

from .conftest import SYMBOL, make_exchange, px, qty, random_session

U = 10**8


def bracket(ts: int, client_order_id: str, lots: str = "0.1") -> C.PlaceOrderList:
    return C.PlaceOrderList(ts, 1, SYMBOL, ListKind.BRACKET, Side.BUY, qty(lots), px(19_900),
                            tp_type=LegType.LIMIT, tp_price=px(21_000), sl_type=LegType.STOP_MARKET,
                            sl_trigger=px(19_000), client_order_id=client_order_id)


def test_a_retried_list_is_known_and_another_payload_is_refused() -> None:
    state = VenueState(make_exchange())
    state.apply(C.SetIndexPrice(1, SYMBOL, px(20_000)))
    state.apply(C.Deposit(1, 1, "USDT", 10_000 * U))
    (new, *_) = [e for e in state.apply(bracket(2, "b1")) if isinstance(e, ListEvent)]
    assert state.apply(bracket(3, "b1")) == [KnownList(new.list_id, "WORKING")]
    (rej,) = state.apply(bracket(4, "b1", lots="0.2"))
    assert isinstance(rej, CommandRejected) and rej.reason == R.DUPLICATE_ORDER_ID
    assert len(ExchangeView(state.exchange).order_lists(None, SYMBOL)) == 1
    state.apply(C.CancelOrderList(5, 1, SYMBOL, new.list_id))
    assert state.apply(bracket(6, "b1")) == [KnownList(new.list_id, "CANCELED")]


def test_replaying_the_commands_rebuilds_the_registry() -> None:
    commands = list(random_session(11, 1_500))
    hashes = []
    for _ in range(2):
        state = VenueState(make_exchange())
        for cmd in commands:
            state.apply(dataclasses.replace(cmd))
        hashes.append(state.state_hash())
    assert hashes[0] == hashes[1]
    assert state.lists_by_client  # the session placed lists with client order ids


def test_open_orders_per_account_follow_every_fill_cancel_and_expiry() -> None:
    """The per-account index of open orders answers what a scan of the registry would, after
    every command of a random session (fills, cancels, liquidations, lists)."""
    state = VenueState(make_exchange())
    for i, cmd in enumerate(random_session(12, 1_500)):
        state.apply(cmd)
        if i % 50 == 0:
            state.check_integrity()  # the index equals the open orders found by a full scan
            for account in {o.account for o in state.orders.values()}:
                scan = [o for o in state.orders.values() if o.account == account and o.open]
                assert state.open_orders(account) == scan
                assert state.open_orders(account, SYMBOL) == [o for o in scan if o.symbol == SYMBOL]
    assert any(state.open_of.values())


def _order(ts: int, client_order_id: str, price: int = 19_000, lots: str = "0.1") -> C.PlaceOrder:
    return C.PlaceOrder(ts, 1, SYMBOL, Side.BUY, qty(lots), px(price), client_order_id=client_order_id)


def test_a_retried_order_is_known_another_payload_refused_and_an_evicted_id_free_again(monkeypatch) -> None:
    monkeypatch.setattr(state_module, "COMPLETED_KEPT", 2)  # the registry keeps 2 completed orders
    state = VenueState(make_exchange())
    state.apply(C.SetIndexPrice(1, SYMBOL, px(20_000)))
    state.apply(C.Deposit(1, 1, "USDT", 10_000 * U))
    placed = rejection(state.apply(_order(2, "o1"))) is None and state.find_client_order(1, "o1")
    assert placed and placed[0] == fingerprint(_order(99, "o1"))  # what a retry must match: all but the time
    first = placed[1]
    assert state.apply(_order(3, "o1")) == [KnownOrder(first)]  # a retry: nothing placed
    (rej,) = state.apply(_order(4, "o1", price=19_001))
    assert isinstance(rej, CommandRejected) and rej.reason == R.DUPLICATE_ORDER_ID
    assert [o.order_id for o in state.open_orders(1)] == [first]
    # pickled as a snapshot holds it: the retry is still known after a restore
    restored = pickle.loads(pickle.dumps(state, protocol=5))
    assert restored.apply(_order(5, "o1")) == [KnownOrder(first)]
    assert restored.state_hash() == state.state_hash()
    # completed and evicted (two more completed after it): the id names nothing and places again
    state.apply(C.CancelOrder(6, 1, SYMBOL, first))
    for i, cid in enumerate(("o2", "o3")):
        state.apply(_order(7 + i, cid))
        state.apply(C.CancelAll(7 + i, 1, SYMBOL))
    assert first not in state.orders and state.find_client_order(1, "o1") is None
    events = state.apply(_order(10, "o1", price=19_001))
    assert rejection(events) is None and state.find_client_order(1, "o1")[1] > first
    state.check_integrity()
