"""The daily loss limit in the exchange, worked by hand on BTCUSDT (tick 0.1, lot 0.001 BTC,
taker 0.05 %, maker 0.02 %; 1 USDT = 10**8 units). Every test runs on the compiled exchange and
on its plain-Python source (perpsim.engine.twin), which must give the same events and hash."""

from __future__ import annotations

import pytest

from perpsim.engine import commands as C
from perpsim.engine.events import (
    BalanceChanged,
    CommandRejected,
    ConditionalEvent,
    DailyLossLimitHit,
    DailyLossLimitSet,
    OrderPlaced,
)
from perpsim.engine.exchange import Exchange
from perpsim.engine.twin import pure_exchange
from perpsim.model.enums import (
    ConditionalKind,
    LegType,
    ListKind,
    OrderKind,
    PositionSide,
    Side,
    TimeInForce,
    TriggerSource,
)
from perpsim.model.market_files import default_markets
from perpsim.model.reasons import RejectReason as R
from perpsim.risk.brackets import btcusdt_brackets
from perpsim.risk.losslimit import DAY_NS, LossLimit, LossLimitState, next_day

U = 10**8
SYMBOL = "BTCUSDT"
SPEC = default_markets()[SYMBOL]
START = 1_796_637_600 * 10**9  # 2026-12-07 10:00:00 UTC
MIDNIGHT = 1_796_688_000 * 10**9  # 2026-12-08 00:00:00 UTC
PURE = pure_exchange()


def px(text: str) -> int:
    return SPEC.price_to_ticks(text)


def lots(text: str) -> int:
    return SPEC.qty_to_lots(text)


class World:
    """Account 1 trades; account 2 makes the market. The same commands go to the compiled
    exchange and its twin; events, hashes and integrity are compared after each."""

    def __init__(self) -> None:
        self.a, self.b = (impl({SYMBOL: SPEC}, {SYMBOL: btcusdt_brackets(U)}, start_ts=START)
                          for impl in (Exchange, PURE.Exchange))
        self.ts = START
        self.do(C.SetIndexPrice(self.ts, SYMBOL, px("20000")))
        for account in (1, 2):
            self.do(C.Deposit(self.ts, account, "USDT", 10_000 * U))

    def do(self, cmd) -> list:
        ea, eb = self.a.apply(cmd), self.b.apply(cmd)
        assert ea == eb
        for ex in (self.a, self.b):
            ex.check_integrity()
        assert self.a.state_hash() == self.b.state_hash()
        return ea

    def limit(self, usdt: str, **kw) -> list:
        return self.do(C.SetDailyLossLimit(self.ts, 1, "USDT", int(float(usdt) * 100) * U // 100, **kw))

    def order(self, account: int, side: Side, size: str, price: str | None = None, **kw) -> list:
        kind = OrderKind.LIMIT if price else OrderKind.MARKET
        tif = TimeInForce.GTC if price else TimeInForce.IOC
        return self.do(C.PlaceOrder(self.ts, account, SYMBOL, side, lots(size), px(price) if price else 0,
                                    kind=kind, tif=tif, **kw))

    def trade(self, side: Side, size: str, price: str, reduce_only: bool = False) -> list:
        """Account 2 rests the other side at `price`; account 1 takes it with a market order."""
        self.order(2, Side(1 - side), size, price)
        return self.order(1, side, size, reduce_only=reduce_only)

    def info(self) -> dict:
        return self.a.daily_loss_limit(1, "USDT")


def rejected(events: list) -> CommandRejected | None:
    return next((e for e in events if isinstance(e, CommandRejected)), None)


@pytest.fixture
def w() -> World:
    return World()


def hit_at_25(w: World) -> None:
    """Limit 20 USDT. Buy 1 BTC at 20,000: fee 10. Sell 0.5 at 19,980 reduce-only: realized
    0.5 × (19,980 − 20,000) = −10, fee 0.5 × 19,980 × 0.0005 = 4.995. Loss 24.995 ≥ 20."""
    w.limit("20")
    w.trade(Side.BUY, "1", "20000")
    assert w.info()["loss"] == 10 * U and not w.info()["hit"]
    events = w.trade(Side.SELL, "0.5", "19980", reduce_only=True)
    assert DailyLossLimitHit(1, "USDT", 20 * U, 2_499_500_000, MIDNIGHT, False) in events


def test_the_day_loss_is_realized_pnl_and_fees_and_the_hit_refuses_opening_orders(w: World) -> None:
    hit_at_25(w)
    events = w.order(1, Side.BUY, "0.1", "19000")
    r = rejected(events)
    assert r is not None and r.reason == R.DAILY_LOSS_LIMIT
    assert dict(r.fields) == {"asset": "USDT", "limit": 20 * U, "loss": 2_499_500_000, "resets_at": MIDNIGHT}
    # the other side, without reduce-only, could open a short: refused as well
    assert rejected(w.order(1, Side.SELL, "0.1", "21000")).reason == R.DAILY_LOSS_LIMIT
    assert w.a.position(1, SYMBOL).lots == lots("0.5")


def test_reduce_only_and_cancels_still_work_after_the_hit(w: World) -> None:
    w.order(1, Side.BUY, "0.1", "19000")  # an opening order resting before the hit
    hit_at_25(w)
    resting = next(oid for oid, o in w.a.markets[SYMBOL].orders.items() if o.account == 1)
    assert rejected(w.do(C.CancelOrder(w.ts, 1, SYMBOL, resting))) is None
    # reduce-only close of the rest: 0.5 at 19,990, realized −5, fee 4.9975: loss 34.9925
    events = w.trade(Side.SELL, "0.5", "19990", reduce_only=True)
    assert rejected(events) is None and w.a.position(1, SYMBOL).lots == 0
    assert w.info()["loss"] == 3_499_250_000 and w.info()["hit"]


def test_conditional_orders_and_lists_that_could_open_are_refused(w: World) -> None:
    hit_at_25(w)
    stop = C.PlaceConditional(w.ts, 1, SYMBOL, Side.BUY, lots("0.1"), ConditionalKind.STOP_MARKET,
                              trigger_price=px("21000"))
    assert rejected(w.do(stop)).reason == R.DAILY_LOSS_LIMIT
    closing = C.PlaceConditional(w.ts, 1, SYMBOL, Side.SELL, lots("0.5"), ConditionalKind.STOP_MARKET,
                                 trigger_price=px("19000"), reduce_only=True)
    assert any(isinstance(e, ConditionalEvent) and e.status == "NEW" for e in w.do(closing))
    oto = C.PlaceOrderList(w.ts, 1, SYMBOL, ListKind.OTO, Side.BUY, lots("0.1"), px("19000"),
                           tp_type=LegType.LIMIT, tp_price=px("21000"))
    assert rejected(w.do(oto)).reason == R.DAILY_LOSS_LIMIT
    oco = C.PlaceOrderList(w.ts, 1, SYMBOL, ListKind.OCO, Side.SELL, lots("0.5"), tp_type=LegType.LIMIT,
                           tp_price=px("21000"), sl_type=LegType.STOP_MARKET, sl_trigger=px("19500"),
                           reduce_only=True)
    assert rejected(w.do(oco)) is None


def test_a_conditional_placed_before_the_hit_is_refused_when_it_fires(w: World) -> None:
    w.do(C.PlaceConditional(w.ts, 1, SYMBOL, Side.BUY, lots("0.1"), ConditionalKind.STOP_MARKET,
                            trigger_price=px("20100"), source=TriggerSource.MARK))
    hit_at_25(w)
    w.order(2, Side.SELL, "1", "20200")
    events = w.do(C.SetIndexPrice(w.ts, SYMBOL, px("20150")))
    fired = [e for e in events if isinstance(e, ConditionalEvent)]
    assert [(e.status, e.reason) for e in fired] == [("REJECTED_AT_TRIGGER", R.DAILY_LOSS_LIMIT)]


def test_amending_an_opening_order_may_only_shrink_it(w: World) -> None:
    w.order(1, Side.BUY, "0.2", "19000")
    hit_at_25(w)
    oid = next(oid for oid, o in w.a.markets[SYMBOL].orders.items() if o.account == 1)
    assert rejected(w.do(C.AmendOrder(w.ts, 1, SYMBOL, oid, px("19000"), lots("0.3")))).reason == R.DAILY_LOSS_LIMIT
    assert rejected(w.do(C.AmendOrder(w.ts, 1, SYMBOL, oid, px("19100"), lots("0.1")))).reason == R.DAILY_LOSS_LIMIT
    assert rejected(w.do(C.AmendOrder(w.ts, 1, SYMBOL, oid, px("19000"), lots("0.1")))) is None


def test_a_raise_waits_for_midnight_and_the_day_resets(w: World) -> None:
    hit_at_25(w)
    events = w.limit("50")
    assert events == [DailyLossLimitSet(1, "USDT", 20 * U, False, False, 50 * U, MIDNIGHT, "set")]
    assert rejected(w.order(1, Side.BUY, "0.1", "19000")).reason == R.DAILY_LOSS_LIMIT
    # one ns before midnight nothing changes
    w.ts = MIDNIGHT - 1
    assert rejected(w.do(C.AdvanceClock(w.ts))) is None
    assert w.info()["hit"] and w.info()["limit"] == 20 * U
    w.ts = MIDNIGHT
    events = w.do(C.AdvanceClock(w.ts))
    assert DailyLossLimitSet(1, "USDT", 50 * U, False, False, 0, 0, "day_start") in events
    info = w.info()
    # the new day's first loss: the 00:00 funding on the 0.5 BTC long left open, at the default
    # rate of 0.01 % of 10,000 USDT at mark 20,000 = 1 USDT
    assert (info["limit"], info["loss"], info["hit"], info["resets_at"]) == (50 * U, 1 * U, False, MIDNIGHT + DAY_NS)
    assert rejected(w.order(1, Side.BUY, "0.1", "19000")) is None


def test_a_lower_limit_takes_effect_at_once_and_drops_a_waiting_raise(w: World) -> None:
    w.limit("100")
    w.limit("200")
    assert (w.info()["limit"], w.info()["pending"], w.info()["pending_from"]) == (100 * U, 200 * U, MIDNIGHT)
    w.trade(Side.BUY, "1", "20000")  # fee 10
    events = w.limit("10")
    assert events[0] == DailyLossLimitSet(1, "USDT", 10 * U, False, False, 0, 0, "set")
    assert DailyLossLimitHit(1, "USDT", 10 * U, 10 * U, MIDNIGHT, False) in events


def test_removing_the_limit_or_dropping_unrealized_pnl_is_a_raise(w: World) -> None:
    w.limit("100", include_unrealized=True)
    w.limit("100")  # counts less loss: waits
    assert w.info()["include_unrealized"] and w.info()["pending_from"] == MIDNIGHT
    w.limit("0")
    assert (w.info()["limit"], w.info()["pending"], w.info()["pending_from"]) == (100 * U, 0, MIDNIGHT)
    w.ts = MIDNIGHT
    w.do(C.AdvanceClock(w.ts))
    assert w.info()["limit"] == 0 and (1, "USDT") not in w.a._loss_limits


def test_a_first_limit_counts_from_when_it_is_set(w: World) -> None:
    """Buy 1 BTC at 20,000 (fee 10) before any limit: not counted. Set 100 with unrealized PnL
    at mark 20,000 (uPnL 0 then). A sell of 0.1 at 19,990: realized −1, fee 0.9995 (the 0.9
    left is still at mark 20,000): loss 1.9995. Index 19,900: uPnL −90, loss 91.9995 < 100.
    Index 19,891: uPnL −98.1, loss 100.0995: hit at the price move."""
    w.trade(Side.BUY, "1", "20000")
    w.limit("100", include_unrealized=True)
    assert w.info()["loss"] == 0
    w.trade(Side.SELL, "0.1", "19990", reduce_only=True)
    assert w.info()["loss"] == 199_950_000
    events = w.do(C.SetIndexPrice(w.ts, SYMBOL, px("19900")))
    assert not any(isinstance(e, DailyLossLimitHit) for e in events) and w.info()["loss"] == 9_199_950_000
    events = w.do(C.SetIndexPrice(w.ts, SYMBOL, px("19891")))
    assert DailyLossLimitHit(1, "USDT", 100 * U, 10_009_950_000, MIDNIGHT, False) in events
    # the hit holds for the day even when the price comes back
    w.do(C.SetIndexPrice(w.ts, SYMBOL, px("20000")))
    assert w.info()["hit"] and rejected(w.order(1, Side.BUY, "0.1", "19000")).reason == R.DAILY_LOSS_LIMIT


def test_flatten_cancels_orders_and_closes_with_reduce_only_market_orders(w: World) -> None:
    """Long 1 BTC at 20,000, then limit 50 with unrealized PnL and flatten. Index 19,950: uPnL
    −50, loss 50: hit. The resting buy is canceled, and a reduce-only market sell of 1 BTC fills
    at account 2's bid 19,940: realized −60, fee 9.97, nothing left unrealized: loss 69.97."""
    w.trade(Side.BUY, "1", "20000")
    w.limit("50", include_unrealized=True, flatten=True)
    w.order(1, Side.BUY, "0.1", "19000")
    w.order(2, Side.BUY, "1", "19940")
    events = w.do(C.SetIndexPrice(w.ts, SYMBOL, px("19950")))
    hit = events.index(DailyLossLimitHit(1, "USDT", 50 * U, 50 * U, MIDNIGHT, True))
    placed = [e for e in events[hit:] if isinstance(e, OrderPlaced)]
    assert len(placed) == 1 and placed[0].cause == "daily_loss_limit" and placed[0].by == 0
    order = placed[0].order
    assert (order.side, order.qty, order.kind, order.reduce_only) == (Side.SELL, lots("1"), OrderKind.MARKET, True)
    assert w.a.position(1, SYMBOL).lots == 0 and not any(o.account == 1 for o in w.a.markets[SYMBOL].orders.values())
    assert w.info()["loss"] == 6_997_000_000


def test_flatten_in_hedge_mode_closes_each_side(w: World) -> None:
    """Limit 4 with flatten. A long of 0.3 and a short of 0.1 opened at 20,000 pay fees of 3
    and 1: the second fill reaches 4, and the same command closes both legs into account 2's
    bid at 19,900 and ask at 20,100."""
    w.do(C.SetPositionMode(w.ts, 1, hedge=True))
    w.limit("4", flatten=True)
    w.order(2, Side.SELL, "0.3", "20000")
    w.order(2, Side.SELL, "0.1", "20100")
    w.order(1, Side.BUY, "0.3", position_side=PositionSide.LONG)
    assert not w.info()["hit"]
    w.order(2, Side.BUY, "0.1", "20000")
    w.order(2, Side.BUY, "0.3", "19900")
    events = w.order(1, Side.SELL, "0.1", position_side=PositionSide.SHORT)
    assert DailyLossLimitHit(1, "USDT", 4 * U, 4 * U, MIDNIGHT, True) in events
    placed = [(e.order.side, e.order.position_side, e.order.qty) for e in events if isinstance(e, OrderPlaced)]
    assert placed == [(Side.SELL, PositionSide.LONG, lots("0.3")), (Side.BUY, PositionSide.SHORT, lots("0.1"))]
    assert w.a.position(1, SYMBOL, PositionSide.LONG).lots == 0 == w.a.position(1, SYMBOL, PositionSide.SHORT).lots


def test_the_day_pnl_equals_the_wallet_moves_that_are_pnl(w: World) -> None:
    """Across trades and a funding settlement (cross account): the day's PnL is the sum of the
    account's realized_pnl, fee and funding balance changes, and deposits do not count."""
    w.limit("1000")
    moves = 0
    for i, (side, price) in enumerate([(Side.BUY, "20000"), (Side.SELL, "20050"), (Side.SELL, "20100"),
                                      (Side.BUY, "19980")]):
        w.ts += 3 * 3_600 * 10**9 if i == 2 else 10**9  # crosses 16:00: funding on the open position
        w.do(C.SetIndexPrice(w.ts, SYMBOL, px(price)))
        events = w.trade(side, "0.5", price)
        moves += sum(e.delta for e in events if isinstance(e, BalanceChanged) and e.account == 1
                     and e.cause in ("realized_pnl", "fee", "funding"))
    w.do(C.Deposit(w.ts, 1, "USDT", 5 * U))
    assert moves and w.info()["loss"] == -moves


def test_bad_input_changes_nothing(w: World) -> None:
    before = w.a.state_hash()
    for cmd, reason in [(C.SetDailyLossLimit(w.ts, 1, "USDT", -1), R.INVALID_VALUE),
                        (C.SetDailyLossLimit(w.ts, 1, "EUR", 5), R.INVALID_VALUE),
                        (C.SetDailyLossLimit(w.ts, 0, "USDT", 5), R.UNKNOWN_ACCOUNT)]:
        assert rejected(w.do(cmd)).reason == reason
    assert w.a.state_hash() == before


def test_state_rules_by_hand() -> None:
    s = LossLimitState()
    assert s.change(LossLimit(100)) and s.limit == LossLimit(100)
    assert not s.change(LossLimit(150)) and s.has_pending and s.limit.amount == 100
    assert s.change(LossLimit(100, flatten=True)) and not s.has_pending  # flatten alone: at once
    assert s.change(LossLimit(50))  # lower: at once
    assert s.limit == LossLimit(50)
    s.hit = 60
    s.roll()
    assert s.hit is None and s.limit == LossLimit(50)
    assert next_day(MIDNIGHT - 1) == MIDNIGHT and next_day(MIDNIGHT) == MIDNIGHT + DAY_NS
