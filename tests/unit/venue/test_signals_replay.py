"""Determinism: the same commands give the same figures and flags, whether the read model
follows a run from the start or is fed a replay; its clock is the commands' own."""

from __future__ import annotations

import random

from perpsim.engine import commands as C
from perpsim.engine.exchange import Exchange
from perpsim.model.enums import OrderKind, Side, TimeInForce
from perpsim.model.markets import default_markets
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
