"""The history read model (venue/history.py) fed by a real VenueState: records checked by hand,
open interest against a full scan, replay and snapshot determinism, and retention."""

from __future__ import annotations

import dataclasses
import pickle
from collections import defaultdict

import pytest

from perpsim.engine import commands as C
from perpsim.engine.views import ExchangeView
from perpsim.model.enums import ConditionalKind, OrderKind, PositionSide, Side, TimeInForce, TriggerSource
from perpsim.venue.history_records import HistoryLimits, IncomeKind
from perpsim.venue.klines import Bars
from perpsim.venue.state import VenueState

from .conftest import SPEC, SYMBOL, U, make_exchange, px, qty, random_session

SEC, MIN = 10**9, 60 * 10**9
HOUR = 60 * MIN


def test_bars_by_hand() -> None:
    bars = Bars(MIN, cap=4)
    bars.add(5 * SEC, 100, 2, 200, True, 1)
    bars.add(30 * SEC, 105, 1, 105, False, 2)
    bars.add(130 * SEC, 99, 1, 99, True, 3)
    k = bars.query(None, None, 10, now=250 * SEC)
    assert [b.open_ns for b in k] == [0, MIN, 2 * MIN, 3 * MIN, 4 * MIN]
    first = k[0]
    assert (first.open, first.high, first.low, first.close, first.volume, first.quote_volume, first.trades) == (
        100, 105, 100, 105, 3, 305, 2)
    assert (first.taker_buy_volume, first.taker_buy_quote_volume, first.close_ns) == (2, 200, MIN - 1)
    assert k[1][2:8] == (105, 105, 105, 105, 0, 0)  # no trade: flat at the previous close
    assert k[2][2:8] == (99, 99, 99, 99, 1, 99) and k[3][2:6] == k[4][2:6] == (99,) * 4
    assert bars.query(MIN, None, 2, now=250 * SEC) == k[1:3]  # from a start: the first ones
    assert bars.query(None, 3 * MIN, 2, now=250 * SEC) == k[2:4]  # without: the latest up to the end
    for t in (4, 5, 6):
        bars.add(t * MIN, 110)
    assert [b.open_ns for b in bars.query(None, None, 10, now=6 * MIN)] == [2 * MIN, 3 * MIN, 4 * MIN, 5 * MIN,
                                                                           6 * MIN]
    assert bars.query(0, MIN, 10, now=6 * MIN) == []  # dropped by the cap


def _state(limits: HistoryLimits | None = None) -> VenueState:
    state = VenueState(make_exchange(), limits)
    state.apply(C.SetIndexPrice(1, SYMBOL, px(20_000)))
    for account in (1, 2, 3):
        state.apply(C.Deposit(1, account, "USDT", 10_000 * U))
    return state


def test_trades_income_and_orders_by_hand() -> None:
    state = _state()
    h = state.history
    maker_rate, taker_rate = SPEC.maker_fee, SPEC.taker_fee
    state.apply(C.PlaceOrder(2 * SEC, 1, SYMBOL, Side.SELL, qty("0.1"), px(20_000), client_order_id="s1"))
    state.apply(C.PlaceOrder(3 * SEC, 2, SYMBOL, Side.BUY, qty("0.1"), kind=OrderKind.MARKET, tif=TimeInForce.IOC))
    state.apply(C.PlaceOrder(4 * SEC, 3, SYMBOL, Side.BUY, qty("0.1"), px(20_100)))
    state.apply(C.PlaceOrder(5 * SEC, 2, SYMBOL, Side.SELL, qty("0.1"), kind=OrderKind.MARKET, tif=TimeInForce.IOC))

    opened, closed = h.trades(2)
    notional = 2_000 * U  # 0.1 at 20,000, in money units
    assert (opened.id, opened.side, opened.price, opened.qty, opened.quote) == (
        1, Side.BUY, px(20_000), qty("0.1"), px(20_000) * qty("0.1"))
    assert opened.commission == int(notional * taker_rate) == U and opened.realized_pnl == 0
    assert not opened.maker and opened.buyer and opened.commission_asset == "USDT" and opened.time_ns == 3 * SEC
    assert closed.id == 2 and closed.realized_pnl == 10 * U  # (20,100 - 20,000) × 0.1
    [maker_side] = h.trades(1)
    assert maker_side.id == 1 and maker_side.maker and maker_side.commission == int(notional * maker_rate) == 40_000_000

    income = h.income(2)
    assert [(r.kind, r.amount, r.trade_id) for r in income] == [
        (IncomeKind.TRANSFER, 10_000 * U, 0), (IncomeKind.COMMISSION, -opened.commission, 1),
        (IncomeKind.REALIZED_PNL, 10 * U, 2), (IncomeKind.COMMISSION, -closed.commission, 2)]
    assert sum(r.amount for r in income) == state.exchange.wallet(2, "USDT")
    assert h.income(2, kind="COMMISSION", start_ns=4 * SEC) == income[3:]

    order = h.order(1, client_order_id="s1")
    assert (order.status, order.executed_qty, order.cum_quote, order.avg_price) == (
        "FILLED", qty("0.1"), opened.quote, px(20_000))
    assert (order.time_ns, order.update_ns) == (2 * SEC, 3 * SEC)
    assert h.order(2, client_order_id="s1") is None and h.order(2, order.order_id) is None  # not account 2's
    assert h.order(1, order.order_id, client_order_id="other") is None
    [pub1, pub2] = h.public_trades(SYMBOL)
    assert (pub1.buyer_maker, pub2.buyer_maker) == (False, True)
    ticker = h.ticker_24h(SYMBOL)
    assert (ticker.open, ticker.high, ticker.low, ticker.last, ticker.volume, ticker.trades) == (
        px(20_000), px(20_100), px(20_000), px(20_100), qty("0.2"), 2)


def test_a_fired_conditional_order_names_its_stop() -> None:
    state = _state()
    state.apply(C.PlaceOrder(2 * SEC, 1, SYMBOL, Side.SELL, qty("0.2"), px(20_050)))
    state.apply(C.PlaceConditional(2 * SEC, 2, SYMBOL, Side.BUY, qty("0.1"), ConditionalKind.STOP_MARKET,
                                   px(20_010), source=TriggerSource.LAST, price_protect=True))
    state.apply(C.PlaceOrder(3 * SEC, 3, SYMBOL, Side.BUY, qty("0.01"), px(20_050)))  # last 20,050: it fires
    [fired] = state.history.orders(2)
    assert (fired.orig_type, fired.stop_price, fired.status, fired.type) == (
        ConditionalKind.STOP_MARKET, px(20_010), "FILLED", OrderKind.MARKET)
    assert fired.conditional_id > 0 and (fired.working_type, fired.price_protect) == (TriggerSource.LAST, True)
    [direct] = state.history.orders(3)
    assert (direct.orig_type, direct.working_type, direct.price_protect) == (0, TriggerSource.LAST, False)


def test_funding_is_recorded_on_its_grid_and_paid_as_income() -> None:
    state = _state()
    state.apply(C.PlaceOrder(2 * SEC, 1, SYMBOL, Side.SELL, qty("0.1"), px(20_000)))
    state.apply(C.PlaceOrder(2 * SEC, 2, SYMBOL, Side.BUY, qty("0.1"), px(20_000)))
    state.apply(C.AdvanceClock(24 * HOUR + 1))  # three funding times: 8h, 16h, 24h
    rates = state.history.funding_rates(SYMBOL)
    assert [r.funding_ns for r in rates] == [8 * HOUR, 16 * HOUR, 24 * HOUR]
    assert all(r.time_ns == 24 * HOUR + 1 and r.mark > 0 for r in rates)
    paid = state.history.income(2, kind="FUNDING_FEE")
    got = state.history.income(1, kind="FUNDING_FEE")
    assert len(paid) == len(got) == 3 and all(r.symbol == SYMBOL for r in paid)
    assert rates[-1].rate == ExchangeView(state.exchange).funding_rate(SYMBOL)
    assert state.history.funding_rates(SYMBOL, start_ns=16 * HOUR) == rates[1:]


def test_open_interest_follows_every_position_change() -> None:
    state = VenueState(make_exchange())
    view = ExchangeView(state.exchange)
    for i, cmd in enumerate(random_session(21, 1_500)):
        state.apply(cmd)
        if i % 10 == 0:
            assert state.history.open_interest(SYMBOL).lots == view.market(SYMBOL).open_interest
    samples = state.history.open_interest_history(SYMBOL, "5m", limit=500)
    assert samples and all(s.time_ns % (5 * MIN) == 0 for s in samples)


def test_replay_and_a_snapshot_rebuild_the_same_history() -> None:
    commands = list(random_session(22, 2_000))
    full = VenueState(make_exchange())
    for cmd in commands:
        full.apply(dataclasses.replace(cmd))
    again = VenueState(make_exchange())
    for cmd in commands[:1_000]:
        again.apply(dataclasses.replace(cmd))
    again = pickle.loads(pickle.dumps(again, protocol=5))  # what a snapshot holds
    for cmd in commands[1_000:]:
        again.apply(dataclasses.replace(cmd))
    assert again.history.digest() == full.history.digest()
    assert again.history.trades(1, limit=1000) == full.history.trades(1, limit=1000)
    assert full.history.force_orders(limit=100)  # the session liquidates: that is rebuilt too


def test_retention_keeps_the_latest_of_each_kind() -> None:
    commands = list(random_session(23, 2_000))
    small = HistoryLimits(orders_per_account=20, trades_per_account=15, income_per_account=10,
                          trades_per_market=25, klines_per_interval=5, funding_per_market=2,
                          open_interest_per_market=3, force_orders_per_market=2)
    kept, every = VenueState(make_exchange(), small), VenueState(make_exchange())
    for cmd in commands:
        kept.apply(cmd)
        every.apply(dataclasses.replace(cmd))
    k, e = kept.history, every.history
    for account in range(1, 9):
        assert k.trades(account, limit=10**6) == e.trades(account, limit=10**6)[-15:]
        assert k.income(account, limit=10**6) == e.income(account, limit=10**6)[-10:]
        orders = k.orders(account, limit=10**6)
        open_ones = [o for o in e.orders(account, limit=10**6) if o.status in ("NEW", "PARTIALLY_FILLED")]
        assert len(orders) <= max(20, len(open_ones)) and set(open_ones) <= set(orders)
    assert k.public_trades(SYMBOL, limit=10**6) == e.public_trades(SYMBOL, limit=10**6)[-25:]
    for source in ("trade", "mark"):  # the oldest bars went; the latest are the same
        oldest_kept, oldest = (h.klines(SYMBOL, source, "1m", start_ns=0)[0].open_ns for h in (k, e))
        assert oldest_kept > oldest
        assert k.klines(SYMBOL, source, "1m", limit=3) == e.klines(SYMBOL, source, "1m", limit=3)
    assert k.force_orders(limit=100) == e.force_orders(limit=100)[-2:]
    kept.history.resize(HistoryLimits(trades_per_account=5))  # a smaller cap later: cut to it
    assert k.trades(1, limit=10**6) == e.trades(1, limit=10**6)[-5:]


def test_bad_queries_are_refused() -> None:
    h = _state().history
    for call in (lambda: h.klines(SYMBOL, "trade", "2m"), lambda: h.klines(SYMBOL, "last", "1m"),
                 lambda: h.trades(1, from_id=3), lambda: h.order(1), lambda: h.orders(1, limit=0),
                 lambda: h.open_interest_history(SYMBOL, "1m")):
        with pytest.raises(ValueError):
            call()
    with pytest.raises(ValueError):
        HistoryLimits.from_mapping({"orders": 5})
    with pytest.raises(ValueError):
        HistoryLimits(trades_per_account=0)


def test_per_account_records_stay_apart() -> None:
    state = VenueState(make_exchange())
    for cmd in random_session(24, 800):
        state.apply(cmd)
    h, owners = state.history, defaultdict(set)
    for account in range(1, 9):
        for o in h.orders(account, limit=10**6):
            owners[o.order_id].add(account)
            assert o.account == account
        assert all(t.account == account for t in h.trades(account, limit=10**6))
        assert all(r.account == account for r in h.income(account, limit=10**6))
    assert all(len(a) == 1 for a in owners.values())


@pytest.mark.parametrize("seed", [21, 23])
def test_trades_explain_every_position_and_all_realized_pnl(seed: int) -> None:
    """Every lot an account holds came through one of its trades (book fills, auto-deleveraging,
    the insurance fund's takeover), and the realized PnL of its trades is its REALIZED_PNL
    income, in sessions with liquidations and auto-deleveraging."""
    state = VenueState(make_exchange())
    for cmd in random_session(seed, 2_000):
        state.apply(cmd)
    h, view = state.history, ExchangeView(state.exchange)
    off_book = 0
    for account in range(1, 9):
        trades = h.trades(account, limit=10**6)
        for pside in PositionSide:
            lots = sum((1 if t.side == Side.BUY else -1) * t.qty for t in trades if t.position_side == pside)
            assert lots == view.position_lots(account, SYMBOL, pside)
        income = h.income(account, kind="REALIZED_PNL", limit=10**6)
        assert sum(t.realized_pnl for t in trades) == sum(r.amount for r in income)
        off_book += sum(t.order_id == 0 for t in trades)
    assert off_book > 0  # the session auto-deleverages or hands positions to the fund
