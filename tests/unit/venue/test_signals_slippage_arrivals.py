"""Arrival prices of the slippage tracker against the book read directly, over a run of mixed
commands through the real exchange: orders of both sides at scattered prices, market sweeps,
stops fired by an index move, commands without a market, orders from one batch that change the
book for the next. Every fill's slippage must be the one its order's arrival prices give, as an
ExchangeView showed them just before the command that brought the order in."""

from __future__ import annotations

import random

import pytest

from perpsim.engine import commands as C
from perpsim.engine.events import OrderEvent
from perpsim.engine.exchange import Exchange
from perpsim.engine.views import ExchangeView
from perpsim.model.enums import ConditionalKind, EventKind, OrderKind, Side, TimeInForce, TriggerSource
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import default_brackets
from perpsim.venue.signals.slippage import SlippageTracker, slippage_bps
from perpsim.venue.state import VenueState

MARKETS = default_markets()
SYMBOLS = ("BTCUSDT", "ETHUSDT")


def _state() -> VenueState:
    specs = {s: MARKETS[s] for s in SYMBOLS}
    u = 10 ** MARKETS["BTCUSDT"].settle_decimals
    state = VenueState(Exchange(specs, {s: default_brackets(False, u) for s in SYMBOLS}, book_impl="ref",
                                start_ts=1))
    for s, price in (("BTCUSDT", "65000"), ("ETHUSDT", "3500")):
        state.apply(C.SetIndexPrice(2, s, specs[s].price_to_ticks(price)))
    for a in (1, 2, 3):
        state.apply(C.Deposit(3, a, "USDT", 50_000_000 * u))
    return state


def _commands(rng: random.Random, state: VenueState, n: int) -> list:
    """Commands whose times are filled in as they are applied (ts 0 here)."""
    out = []
    for _ in range(n):
        symbol = rng.choice(SYMBOLS)
        spec = MARKETS[symbol]
        mid = spec.price_to_ticks("65000" if symbol == "BTCUSDT" else "3500")
        step = mid // 2000  # 5 bps a step
        side = rng.choice((Side.BUY, Side.SELL))
        lots = spec.qty_to_lots("0.01" if symbol == "BTCUSDT" else "0.1") * rng.randint(1, 3)
        roll = rng.random()
        if roll < 0.55:
            out.append(C.PlaceOrder(0, rng.randint(1, 3), symbol, side, lots, mid + rng.randint(-4, 4) * step,
                                    OrderKind.LIMIT, TimeInForce.GTC))
        elif roll < 0.7:
            out.append(C.PlaceOrder(0, rng.randint(1, 3), symbol, side, lots, 0, OrderKind.MARKET, TimeInForce.IOC))
        elif roll < 0.8:  # a stop beyond the index: fired later by an index move
            trigger = mid + (3 if side == Side.BUY else -3) * step
            out.append(C.PlaceConditional(0, rng.randint(1, 3), symbol, side, lots, ConditionalKind.STOP_MARKET,
                                          trigger, 0, TriggerSource.MARK))
        elif roll < 0.92:
            out.append(C.SetIndexPrice(0, symbol, mid + rng.randint(-5, 5) * step))
        else:  # no market: every market's prices are read
            out.append(C.AdvanceClock(0))
    return out


def _tracked(rng: random.Random, state: VenueState, tracker, n: int):
    """`n` random commands applied to `state` 1 ms apart, each read by `tracker` before it and
    recorded after it, as the sequencer feeds the tracker: (command, its events) in turn."""
    for i, template in enumerate(_commands(rng, state, n)):
        cmd = type(template)(**{**{f: getattr(template, f) for f in template.__dataclass_fields__},
                                "ts": state.exchange.ts + 1_000_000 * (i + 1)})
        tracker.before(state, cmd)
        events = state.apply(cmd)
        tracker.record(cmd, events, cmd.ts)
        yield cmd, events


def _prices(view: ExchangeView, symbol: str) -> tuple[float | None, int | None]:
    bid, ask = view.top(symbol)
    return ((bid + ask) / 2 if bid is not None and ask is not None else None), view.mark(symbol)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_each_fill_is_measured_against_its_orders_arrival_as_the_book_showed_it(seed: int) -> None:
    rng = random.Random(seed)
    state = _state()
    tracker = SlippageTracker()
    expected_arrival: dict[int, tuple] = {}  # order id -> (mid, mark) read by the test itself
    fills_seen = 0
    for i, template in enumerate(_commands(rng, state, 600)):
        cmd = type(template)(**{**{f: getattr(template, f) for f in template.__dataclass_fields__},
                                "ts": state.exchange.ts + 1_000_000 * (i + 1)})
        view = ExchangeView(state.exchange)
        symbol = getattr(cmd, "symbol", None)
        read = {s: _prices(view, s) for s in ((symbol,) if symbol in view else view.symbols())}
        tracker.before(state, cmd)
        events = state.apply(cmd)
        for e in events:
            if isinstance(e, OrderEvent) and e.event.kind == EventKind.ACCEPTED and e.symbol in read:
                expected_arrival[e.event.order_id] = read[e.symbol]
        fills = tracker.observe(cmd, events, cmd.ts)
        for f in fills:
            fills_seen += 1
            want = expected_arrival.get(f.order_id)
            assert want is not None and (f.arrival.mid, f.arrival.mark) == want
            assert f.mid_bps == slippage_bps(f.side, f.price, want[0])
            assert f.mark_bps == slippage_bps(f.side, f.price, want[1])
            assert tracker.bps(f.order_id, f.side, f.price) == (f.mid_bps, f.mark_bps)
    assert fills_seen > 50  # the run traded: the comparison above was exercised


def test_record_keeps_what_observe_returns_and_recent_reads_it_back() -> None:
    rng = random.Random(7)
    state = _state()
    a, b = SlippageTracker(), SlippageTracker()
    every: list = []
    for i, template in enumerate(_commands(rng, state, 300)):
        cmd = type(template)(**{**{f: getattr(template, f) for f in template.__dataclass_fields__},
                                "ts": state.exchange.ts + 1_000_000 * (i + 1)})
        a.before(state, cmd)
        b.before(state, cmd)
        events = state.apply(cmd)
        every += a.observe(cmd, events, cmd.ts)
        b.record(cmd, events, cmd.ts)
    assert every
    for account in (1, 2, 3):
        for symbol in ("", *SYMBOLS):
            mine = [f for f in every if f.account == account and (not symbol or f.symbol == symbol)]
            assert a.recent(account, symbol, 1000) == b.recent(account, symbol, 1000) == mine[::-1][:500]
