"""Determinism: the same commands give the same figures and flags, whether the read model
follows a run from the start or is fed a replay; its clock is the commands' own."""

from __future__ import annotations

import random

from perpsim.engine import commands as C
from perpsim.engine.exchange import Exchange
from perpsim.model.enums import OrderKind, Side, TimeInForce
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import btcusdt_brackets
from perpsim.venue.signals import Signals

S = 10**9
U = 10**8
SYMBOL = "BTCUSDT"
SPEC = default_markets()[SYMBOL]


def _session(seed: int):
    r = random.Random(seed)
    ts, price = S, 65_000.0
    yield C.SetIndexPrice(ts, SYMBOL, SPEC.price_to_ticks("65000"))
    yield C.Deposit(ts, 1, "USDT", 10**9 * U)
    for a in range(10, 25):
        yield C.Deposit(ts, a, "USDT", 1_000 * U)
        yield C.SetLeverage(ts, a, SYMBOL, 50)
    for _ in range(600):
        ts += r.randint(0, 3 * S)
        if r.random() < 0.3:
            price *= 1 + r.gauss(0, 0.002)
            yield C.SetIndexPrice(ts, SYMBOL, SPEC.price_to_ticks(str(round(price, 1))))
            yield C.CancelAll(ts, 1, SYMBOL)
            for lvl in range(1, 6):
                yield C.PlaceOrder(ts, 1, SYMBOL, Side.SELL, 300, SPEC.price_to_ticks(str(round(price + 5 * lvl, 1))))
                yield C.PlaceOrder(ts, 1, SYMBOL, Side.BUY, 300, SPEC.price_to_ticks(str(round(price - 5 * lvl, 1))))
        else:
            a = r.randint(10, 24)
            lots = r.choice([5, 20, 80, 400]) if r.random() < 0.05 else r.randint(1, 20)
            yield C.PlaceOrder(ts, a, SYMBOL, r.choice(list(Side)), lots, 0, OrderKind.MARKET, TimeInForce.IOC)


def _run(seed: int, reads: bool) -> list:
    """The figures after every 50 commands; `reads`: also read them after every command (reads
    must not change what is computed)."""
    ex = Exchange({SYMBOL: SPEC}, {SYMBOL: btcusdt_brackets(U)}, book_impl="ref", start_ts=S)
    sig = Signals(lambda: ex)
    out = []
    for i, cmd in enumerate(_session(seed)):
        sig.observe(cmd, ex.apply(cmd))
        if reads:
            sig.market_risk(SYMBOL)
        if i % 50 == 0:
            out.append(repr(sig.market_risk(SYMBOL)))
    return out


def test_same_commands_same_figures_and_reads_change_nothing() -> None:
    first = _run(4, reads=False)
    assert first == _run(4, reads=False)
    assert first == _run(4, reads=True)
    assert first != _run(5, reads=False)  # the figures do depend on the commands


def test_burst_path_folds_events_as_the_one_by_one_path(monkeypatch) -> None:
    """A command with many events (a cascade) is folded through the burst path: forcing every
    command through it, and none, gives the same figures."""
    from perpsim.venue.signals import hub

    monkeypatch.setattr(hub, "BURST", 1)
    every = _run(6, reads=False)
    monkeypatch.setattr(hub, "BURST", 1 << 30)
    assert every == _run(6, reads=False)


def _handed_over(seed: int, budget: int | None, catch_every: int) -> list:
    """As `_run`, but the commands are handed over (`handoff`) as the venue's sequencer does and
    folded in by `catch_up` every `catch_every` commands, in slices of `budget` events."""
    ex = Exchange({SYMBOL: SPEC}, {SYMBOL: btcusdt_brackets(U)}, book_impl="ref", start_ts=S)
    sig = Signals(lambda: ex)
    out = []
    for i, cmd in enumerate(_session(seed)):
        sig.handoff(cmd, ex.apply(cmd))
        if i % catch_every == 0:
            while not sig.catch_up(budget):
                pass
        if i % 50 == 0:
            out.append(repr(sig.market_risk(SYMBOL)))
    return out


def test_handed_over_and_caught_up_later_gives_the_figures_of_feeding_each_command() -> None:
    """The buffer folded in late, whole or in slices (a command's events in parts too), reads
    the same as `observe` per command (a replay)."""
    want = _run(7, reads=False)
    assert _handed_over(7, None, 10**9) == want  # caught up only by the reads and step closes
    assert _handed_over(7, None, 7) == want
    assert _handed_over(7, 5, 3) == want


def test_a_command_of_a_new_step_closes_the_step_at_once() -> None:
    """The handoff is an append within a step; the first command of the next step folds the
    buffer in and closes the step there, reading the state right after that command."""
    ex = Exchange({SYMBOL: SPEC}, {SYMBOL: btcusdt_brackets(U)}, book_impl="ref", start_ts=S)
    sig = Signals(lambda: ex)
    cmds = list(_session(8))
    first = cmds[0]
    sig.handoff(first, ex.apply(first))
    later = [c for c in cmds[1:] if c.ts == first.ts]
    for cmd in later:
        sig.handoff(cmd, ex.apply(cmd))
    assert len(sig.buf) == len(later) + 1
    nxt = next(c for c in cmds if c.ts >= first.ts + S)
    for cmd in cmds[1 + len(later):cmds.index(nxt)]:
        sig.handoff(cmd, ex.apply(cmd))
    step = sig.grid.step
    sig.handoff(nxt, ex.apply(nxt))
    assert sig.grid.step == nxt.ts // S > step
    assert [c for c, _ in sig.buf] == [nxt]
