"""The history folds handed-over commands in later (venue/history_handoff.py): whenever that
happens, it holds what folding each command in at once gives, and the reads see every command."""

from __future__ import annotations

import dataclasses
import pickle
import random

from perpsim.engine import commands as C
from perpsim.engine.views import ExchangeView
from perpsim.model.enums import Side
from perpsim.venue.history_handoff import PENDING_EVENTS
from perpsim.venue.history_records import HistoryLimits
from perpsim.venue.state import VenueState

from .conftest import SYMBOL, U, make_exchange, px, qty, random_session

SEC = 10**9


def _digests(seed: int, fold, limits: HistoryLimits | None = None) -> tuple[str, str]:
    """(history digest, state hash) of a random session, `fold(state, i)` called after command i."""
    state = VenueState(make_exchange(), limits)
    for i, cmd in enumerate(random_session(seed, 1_500)):
        state.apply(dataclasses.replace(cmd))
        fold(state, i)
    return state.history.digest(), state.state_hash()


def test_folding_later_gives_the_history_of_folding_at_once() -> None:
    # the session has hedge-mode and isolated accounts, conditional orders, order lists,
    # liquidations: the commands folded in at their handoff and the ones that wait, mixed
    rng = random.Random(5)
    small = HistoryLimits(orders_per_account=15, trades_per_account=10, income_per_account=10)
    for seed in (3, 11):
        for limits in (None, small):
            at_once = _digests(seed, lambda s, i: s.history.catch_up(), limits)
            at_the_end = _digests(seed, lambda s, i: None, limits)
            in_slices = _digests(seed, lambda s, i: s.catch_up(rng.choice([1, 5, 50])) if i % 7 == 0 else None,
                                 limits)
            assert at_once == at_the_end == in_slices


def test_order_entry_waits_and_every_read_sees_it() -> None:
    state = VenueState(make_exchange())
    state.apply(C.SetIndexPrice(1, SYMBOL, px(20_000)))
    for account in (1, 2):
        state.apply(C.Deposit(1, account, "USDT", 100_000 * U))
    h = state.history
    h.catch_up()
    for i in range(1, 11):
        state.apply(C.PlaceOrder(i * SEC, 1, SYMBOL, Side.SELL, qty("0.1"), px(20_000), client_order_id=f"s{i}"))
        state.apply(C.PlaceOrder(i * SEC, 2, SYMBOL, Side.BUY, qty("0.1"), px(20_000)))
    assert h.behind == 20  # order entry and its fills: handed over, not folded in yet
    assert len(h.trades(2, limit=100)) == 10 and h.behind == 0  # a read folds them in first
    assert h.order(1, client_order_id="s10").status == "FILLED"
    view = ExchangeView(state.exchange)
    assert h.open_interest(SYMBOL).lots == view.market(SYMBOL).open_interest == qty("1")


def test_a_snapshot_holds_no_waiting_commands() -> None:
    state = VenueState(make_exchange())
    for cmd in random_session(7, 300):
        state.apply(cmd)
    restored = pickle.loads(pickle.dumps(state))
    assert restored.history.behind == 0
    assert restored.history.digest() == state.history.digest()


def test_the_wait_is_bounded() -> None:
    state = VenueState(make_exchange())
    state.apply(C.SetIndexPrice(1, SYMBOL, px(20_000)))
    state.apply(C.Deposit(1, 1, "USDT", 10**9 * U))
    state.history.catch_up()
    for i in range(PENDING_EVENTS + 10):  # resting orders: one event each
        state.apply(C.PlaceOrder(2 * SEC, 1, SYMBOL, Side.BUY, qty("0.01"), px(10_000 + i % 5_000)))
    assert 0 < state.history._pending_events <= PENDING_EVENTS
