"""The slippage tracker fed as the venue feeds it: prices read before each command applies
(`follow`, through a sequencer's before-apply hooks), fills recorded a durable batch at a time
(`record_batch`). Over a run of mixed commands through the real exchange it must hold what a
tracker fed one command at a time holds (arrivals, recent fills, slippage), and its slippage
strings must be the floats of `bps` formatted, however often its caches are emptied."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest

from perpsim.engine.events import OrderEvent
from perpsim.model.enums import EventKind
from perpsim.venue.account_signals import bps_out
from perpsim.venue.signals import slippage as slippage_module
from perpsim.venue.signals.slippage import SlippageTracker

from .test_signals_slippage_arrivals import SYMBOLS, _commands, _state, _tracked


def _run(batch: int, seed: int = 11, n: int = 400) -> tuple[SlippageTracker, SlippageTracker, list]:
    """(a tracker fed per command, one fed as the venue feeds it in batches of `batch`, the fills)."""
    rng = random.Random(seed)
    state = _state()
    one, fed = SlippageTracker(), SlippageTracker()
    sequencer = SimpleNamespace(state=state, before_apply=[])
    fed.follow(sequencer)
    fills: list = []
    done: list = []
    for i, template in enumerate(_commands(rng, state, n)):
        cmd = type(template)(**{**{f: getattr(template, f) for f in template.__dataclass_fields__},
                                "ts": state.exchange.ts + 1_000_000 * (i + 1)})
        one.before(state, cmd)
        for hook in sequencer.before_apply:
            hook(cmd)
        events = state.apply(cmd)
        fills += one.observe(cmd, events, cmd.ts)
        done.append((cmd, events))
        if len(done) == batch:
            fed.record_batch(done)
            done = []
    fed.record_batch(done)
    return one, fed, fills


@pytest.mark.parametrize("batch", [1, 7, 1_000])
def test_batches_hold_what_one_command_at_a_time_holds(batch: int) -> None:
    one, fed, fills = _run(batch)
    assert len(fills) > 50  # the run traded
    for account in (1, 2, 3):
        for symbol in ("", *SYMBOLS):
            assert fed.recent(account, symbol, 1000) == one.recent(account, symbol, 1000)
    for f in fills:
        assert fed.arrival(f.order_id) == one.arrival(f.order_id)
        assert fed.bps(f.order_id, f.side, f.price) == one.bps(f.order_id, f.side, f.price)


def test_a_command_that_never_applied_is_skipped() -> None:
    """A command read before applying and then refused by the core (never recorded) leaves the
    next commands' prices their own."""
    one = _run(50, seed=5, n=120)[0]
    rng = random.Random(5)
    state = _state()
    skipping = SlippageTracker()
    sequencer = SimpleNamespace(state=state, before_apply=[])
    skipping.follow(sequencer)
    done: list = []
    for i, template in enumerate(_commands(rng, state, 120)):
        cmd = type(template)(**{**{f: getattr(template, f) for f in template.__dataclass_fields__},
                                "ts": state.exchange.ts + 1_000_000 * (i + 1)})
        sequencer.before_apply[0](object())  # a command taken and never applied
        sequencer.before_apply[0](cmd)
        done.append((cmd, state.apply(cmd)))
    skipping.record_batch(done)
    for account in (1, 2, 3):
        assert skipping.recent(account, "", 1000) == one.recent(account, "", 1000)


def test_slippage_strings_are_the_bps_formatted_even_past_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    one, fed, fills = _run(100, seed=3)
    monkeypatch.setattr(slippage_module, "TEXTS_KEPT", 3)  # emptied every few fills
    for f in fills * 2:
        mid, mark = one.bps(f.order_id, f.side, f.price)
        assert fed.bps_texts(f.order_id, f.side, f.price) == (bps_out(mid), bps_out(mark))
    assert len(fed._texts) <= 3
    assert fed.bps_texts(10**12, 0, 650_000) == ("", "")  # an order it never saw


def test_arrivals_are_shared_per_distinct_prices_and_stay_right_past_the_cache(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(slippage_module, "ARRIVALS_SHARED", 2)
    one, fed, fills = _run(30, seed=9)
    for f in fills:
        assert fed.arrival(f.order_id) == one.arrival(f.order_id)
    assert all(len(known) <= 2 for known in fed._known.values())


def test_only_the_latest_arrivals_are_kept() -> None:
    """With room for 7 orders' arrivals, those of the last 7 orders brought in are known, and
    no older one; a fill of an older order carries no slippage."""
    rng = random.Random(2)
    state = _state()
    tracker = SlippageTracker(kept=7)
    accepted: list[int] = []
    for _, events in _tracked(rng, state, tracker, 300):
        accepted += [e.event.order_id for e in events if type(e) is OrderEvent and e.event.kind == EventKind.ACCEPTED]
    assert len(accepted) > 7
    assert [oid for oid in accepted if tracker.arrival(oid) is not None] == accepted[-7:]
    assert tracker.bps(accepted[0], 0, 650_000) == (None, None)
    assert tracker.bps_texts(accepted[0], 0, 650_000) == ("", "")
