"""The venue's Prometheus metrics fed as the sequencer feeds them, durable batches of commands
through the real exchange: what the registry shows (counters added when it is read, gauges)
must be what a plain count over the same events gives, whatever the batches' sizes, and reads
from another thread while the batches are counted must never lose or repeat a count."""

from __future__ import annotations

import random
import threading
from collections import Counter
from types import SimpleNamespace

import pytest

from perpsim.engine import commands as C
from perpsim.engine.events import AutoDeleveraged, CommandRejected, Liquidation, MarkPriceChanged, OrderEvent
from perpsim.engine.views import ExchangeView
from perpsim.model.enums import EventKind, OrderKind, Side, TimeInForce
from perpsim.model.reasons import RejectReason
from perpsim.venue.clock import Clock
from perpsim.venue.errors import VenueError
from perpsim.venue.metrics import Metrics

from .test_signals_slippage_arrivals import MARKETS, SYMBOLS, _commands, _state


def _venue(state) -> SimpleNamespace:
    """What Metrics reads of a venue, over a real state."""
    markets = {s: MARKETS[s] for s in SYMBOLS}
    return SimpleNamespace(markets=markets, state=state, view=ExchangeView(state.exchange),
                           seq=SimpleNamespace(queue=SimpleNamespace(qsize=lambda: 0), clock=Clock()),
                           asset_spec=lambda asset: next(s for s in markets.values() if s.settle == asset))


def _run(seed: int, n: int) -> tuple[object, list]:
    """(a state, the (command, events) of `n` random commands applied to it, with some refused
    ones among them: an order of an account without money, a cancel of an unknown order)."""
    rng = random.Random(seed)
    state = _state()
    done = []
    for i, template in enumerate(_commands(rng, state, n)):
        cmd = type(template)(**{**{f: getattr(template, f) for f in template.__dataclass_fields__},
                                "ts": state.exchange.ts + 1_000_000 * (i + 1)})
        if i % 37 == 5:
            spec = MARKETS["BTCUSDT"]
            cmd = C.PlaceOrder(cmd.ts, 99, "BTCUSDT", Side.BUY, spec.qty_to_lots("1"), spec.price_to_ticks("65000"),
                               OrderKind.LIMIT, TimeInForce.GTC)
        elif i % 53 == 7:
            cmd = C.CancelOrder(cmd.ts, 1, "BTCUSDT", 10**9)
        done.append((cmd, state.apply(cmd)))
    return state, done


def _plain(done: list) -> Counter:
    """Each series' count, counted one event at a time."""
    want: Counter = Counter()
    want[("perpsim_engine_events_processed_total", ())] = len(done)
    for _, events in done:
        for e in events:
            if isinstance(e, OrderEvent):
                b = e.event
                if b.kind == EventKind.ACCEPTED:
                    want[("perpsim_orders_total", (("symbol", e.symbol),))] += 1
                elif b.kind == EventKind.FILL:
                    want[("perpsim_fills_total", (("symbol", e.symbol),))] += 1
                    want[("perpsim_fill_lots_total", (("symbol", e.symbol),))] += b.qty
                elif b.kind == EventKind.REJECTED:
                    reason = RejectReason(b.reason).name.lower()
                    want[("perpsim_rejections_total", (("reason", reason), ("stage", "engine")))] += 1
            elif isinstance(e, CommandRejected):
                reason = RejectReason(e.reason).name.lower()
                want[("perpsim_rejections_total", (("reason", reason), ("stage", "engine")))] += 1
            elif isinstance(e, Liquidation):
                want[("perpsim_liquidations_total", (("symbol", e.symbol),))] += 1
            elif isinstance(e, AutoDeleveraged):
                want[("perpsim_adl_total", (("symbol", e.symbol),))] += 1
    return want


def _shown(metrics: Metrics) -> dict:
    """{(sample name, sorted labels): value} of the counters, as a scrape reads them."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for family in metrics.registry.collect()
            for s in family.samples if s.name.endswith("_total")}


@pytest.mark.parametrize("batch", [1, 7, 1_000])
def test_the_registry_shows_what_a_plain_count_gives(batch: int) -> None:
    state, done = _run(seed=batch, n=600)
    metrics = Metrics(_venue(state))
    for i in range(0, len(done), batch):
        metrics.observe_batch(done[i:i + batch])
    want = _plain(done)
    assert want[("perpsim_fills_total", (("symbol", "BTCUSDT"),))] > 20  # the run traded
    assert any(k[0] == "perpsim_rejections_total" for k in want)  # and refused some
    shown = _shown(metrics)
    for key, n in want.items():
        assert shown[key] == n, key
    # every other series is at 0 (the markets' series exist from the start)
    assert all(v == 0 for k, v in shown.items() if k not in want)
    # the gauges: each market's last mark, the fund as the state holds it
    view = ExchangeView(state.exchange)
    for symbol in SYMBOLS:
        marks = [e.mark for _, events in done for e in events if type(e) is MarkPriceChanged and e.symbol == symbol]
        assert marks
        assert metrics.registry.get_sample_value("perpsim_mark_price", {"symbol": symbol}) == \
            float(MARKETS[symbol].format_price(marks[-1])) == float(MARKETS[symbol].format_price(view.mark(symbol)))
    assert metrics.registry.get_sample_value("perpsim_insurance_fund_balance", {"asset": "USDT"}) == \
        float(MARKETS["BTCUSDT"].format_money(view.insurance("USDT")))


def test_a_read_sees_each_count_once_and_later_reads_add_nothing_twice() -> None:
    state, done = _run(seed=4, n=300)
    metrics = Metrics(_venue(state))
    metrics.observe_batch(done[:100])
    first = _shown(metrics)
    assert _shown(metrics) == first  # a second read adds nothing
    metrics.observe_batch(done[100:])
    metrics.rejected(VenueError(RejectReason.UNKNOWN_SYMBOL, field="symbol"))
    want = _plain(done)
    want[("perpsim_rejections_total", (("reason", "unknown_symbol"), ("stage", "request")))] += 1
    shown = _shown(metrics)
    assert {k: shown[k] for k in want} == dict(want)
    assert metrics.registry.get_sample_value("perpsim_engine_events_processed_total") == len(done)


def test_reads_from_another_thread_while_batches_are_counted_lose_nothing() -> None:
    """A scrape runs on the HTTP server's thread while the sequencer counts: each read shows
    counts that only grow, and the last one, after the counting, shows every count once."""
    state, done = _run(seed=6, n=400)
    metrics = Metrics(_venue(state))
    key = "perpsim_engine_events_processed_total"
    seen: list[float] = []
    stop = threading.Event()

    def scrape() -> None:
        while not stop.is_set():
            seen.append(metrics.registry.get_sample_value(key) or 0.0)

    readers = [threading.Thread(target=scrape) for _ in range(2)]
    for t in readers:
        t.start()
    try:
        for _ in range(20):  # the same commands counted again and again: long enough to overlap
            for i in range(len(done)):
                metrics.observe_batch(done[i:i + 1])
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert len(seen) > 2
    want = _plain(done)
    shown = _shown(metrics)
    for k, n in want.items():
        assert shown[k] == 20 * n, k
    assert max(seen) <= 20 * len(done)


@pytest.mark.parametrize("batch", [1, 7])
def test_the_fund_gauges_show_the_live_funds_after_every_batch(batch: int) -> None:
    """The gauges are set from the live state when the registry is read: after every batch of a
    run that funds the insurance now and then, and after the state is replaced by another (a
    reset), each gauge shows its fund as the live state holds it."""
    state, done = _run(seed=8, n=300)
    venue = _venue(state)
    metrics = Metrics(venue)
    u = 10 ** MARKETS["BTCUSDT"].settle_decimals
    ts = state.exchange.ts

    def funded(i: int) -> list:
        return [(cmd, state.apply(cmd)) for cmd in [C.FundInsurance(ts + i, "USDT", (i % 5 + 1) * u)]]

    def shown() -> float | None:
        return metrics.registry.get_sample_value("perpsim_insurance_fund_balance", {"asset": "USDT"})

    def held(s) -> float:
        return float(MARKETS["BTCUSDT"].format_money(ExchangeView(s.exchange).insurance("USDT")))

    moves = 0
    for i in range(0, len(done), batch):
        part = done[i:i + batch] + (funded(i) if i % 3 == 0 else [])
        moves += len(part) - len(done[i:i + batch])
        metrics.observe_batch(part)
        assert shown() == held(state)
    assert moves > 10 and held(state) > 0  # the funds moved
    fresh, more = _run(seed=9, n=20)  # another state: its own fund (none), no fund moved in its commands
    venue.state = fresh
    metrics.observe_batch(more[-1:])
    assert shown() == held(fresh) != held(state)


def test_gauges_are_refreshed_on_the_state_loop_when_read_and_only_then() -> None:
    """Metrics made on the loop that runs the state refresh the gauges there, when a reader on
    another thread reads the registry, never while nobody reads: a scrape shows the state as
    the last batch left it, and batches alone walk no positions."""
    import asyncio

    state, done = _run(seed=11, n=200)
    venue = _venue(state)
    refreshed_on: list[int] = []

    async def main() -> tuple[float | None, float, int]:
        metrics = Metrics(venue)
        refresh = metrics.refresh

        def counted() -> None:
            refreshed_on.append(threading.get_ident())
            refresh()

        metrics.refresh = counted  # type: ignore[method-assign]
        for i in range(len(done)):
            metrics.observe_batch(done[i:i + 1])
            await asyncio.sleep(0)
        unread = len(refreshed_on)
        u = 10 ** MARKETS["BTCUSDT"].settle_decimals
        metrics.observe_batch([(cmd, state.apply(cmd)) for cmd in [C.FundInsurance(state.exchange.ts, "USDT", 7 * u)]])
        got = await asyncio.to_thread(metrics.registry.get_sample_value, "perpsim_insurance_fund_balance",
                                      {"asset": "USDT"})
        want = float(MARKETS["BTCUSDT"].format_money(ExchangeView(state.exchange).insurance("USDT")))
        return got, want, unread

    loop_thread = threading.get_ident()
    got, want, unread = asyncio.run(main())
    assert unread == 0
    assert got == want > 0
    assert refreshed_on == [loop_thread]
