"""The margins a step's close needs are read ahead by the catch-up (off the sequencer's path) and
carried to the close: the figures are those of reading them at the close itself, for every kind
of account (one-way and hedge, cross and isolated, one market or several, linear and inverse,
Multi-Assets), however often the buffer is caught up in between. A hedge-mode account's legs
come from its position events (each names its side), so a step's closing command that moves
one is folded alike whenever it is folded."""

from __future__ import annotations

import random

import pytest

from perpsim.engine import commands as C
from perpsim.engine.exchange import Exchange
from perpsim.model.enums import OrderKind, PositionSide, Side, TimeInForce
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import market_brackets
from perpsim.venue.signals import Signals
from perpsim.venue.signals import market as market_signals

S = 10**9
U = 10**8
MARKETS = {s: default_markets()[s] for s in ("BTCUSDT", "ETHUSDT", "BTCUSD")}
START = {"BTCUSDT": 20_000.0, "ETHUSDT": 1_000.0, "BTCUSD": 20_000.0}
MAKER = 1
ONE_WAY, ISOLATED, HEDGE, TWO_MARKETS, INVERSE, MULTI_ASSETS = (
    range(10, 14), range(14, 16), range(16, 18), range(18, 20), range(20, 22), range(22, 23))


def _px(symbol: str, price: float) -> int:
    return MARKETS[symbol].price_to_ticks(f"{price:.1f}")


def _session(seed: int):
    """Quotes around a moving index in three markets, market orders of every kind of account a
    few per step (the index moving between them), wallet and isolated-margin moves."""
    r = random.Random(seed)
    ts, price = S, dict(START)
    for s in MARKETS:
        yield C.SetIndexPrice(ts, s, _px(s, price[s]))
    yield C.Deposit(ts, MAKER, "USDT", 10**9 * U)
    yield C.Deposit(ts, MAKER, "BTC", 10**4 * U)
    for a in range(10, 23):
        asset = "BTC" if a in INVERSE else "USDT"
        yield C.Deposit(ts, a, asset, (U // 10 if asset == "BTC" else 2_000 * U))
    yield C.Deposit(ts, MULTI_ASSETS[0], "BTC", U // 20)
    yield C.SetMultiAssetsMode(ts, MULTI_ASSETS[0], True)
    for a in HEDGE:
        yield C.SetPositionMode(ts, a, True)
    for a in ISOLATED:
        yield C.SetMarginMode(ts, a, "BTCUSDT", True)
    yield C.SetMarginMode(ts, HEDGE[1], "BTCUSDT", True)

    def quotes(s: str):
        yield C.CancelAll(ts, MAKER, s)
        lots = MARKETS[s].qty_to_lots("5" if s == "BTCUSD" else "2")
        for lvl in range(1, 6):
            step = price[s] * 0.0005 * lvl
            yield C.PlaceOrder(ts, MAKER, s, Side.SELL, lots, _px(s, price[s] + step))
            yield C.PlaceOrder(ts, MAKER, s, Side.BUY, lots, _px(s, price[s] - step))

    for s in MARKETS:
        yield from quotes(s)
    for _ in range(500):
        u, a = r.random(), r.randint(10, 22)
        ts += r.randint(S // 10, S // 2)
        if u < 0.3:
            s = r.choice(list(MARKETS))
            price[s] *= 1 + r.gauss(0, 0.003)
            yield C.SetIndexPrice(ts, s, _px(s, price[s]))
            yield from quotes(s)
            continue
        if u < 0.38:
            if a in ISOLATED:
                yield C.AdjustIsolatedMargin(ts, a, "BTCUSDT", r.choice([1, -1]) * 50 * U)
            elif a not in INVERSE:
                yield C.Deposit(ts, a, "USDT", 100 * U) if r.random() < 0.6 else C.Withdraw(ts, a, "USDT", 50 * U)
            continue
        s = "BTCUSD" if a in INVERSE else r.choice(["BTCUSDT", "ETHUSDT"]) if a in TWO_MARKETS else "BTCUSDT"
        spec = MARKETS[s]
        lots = spec.qty_to_lots(r.choice(["1", "2", "3"]) if s == "BTCUSD" else r.choice(["0.01", "0.05", "0.2"]))
        side = r.choice(list(Side))
        pside = PositionSide.BOTH
        if a in HEDGE:
            pside = r.choice([PositionSide.LONG, PositionSide.SHORT])
        yield C.PlaceOrder(ts, a, s, side, lots, 0, OrderKind.MARKET, TimeInForce.IOC, position_side=pside)


def _exchange() -> Exchange:
    return Exchange(MARKETS, {s: market_brackets(MARKETS[s]) for s in MARKETS}, book_impl="ref", start_ts=S)


def _figures(sig: Signals) -> list:
    out = []
    for s in MARKETS:
        m = sig.markets[s]
        out.append((repr(sig.market_risk(s)), list(m.spikes.changes), sorted(m.lev.items()), list(m.lev_sums)))
    return out


def _fed(seed: int, mode: str) -> list:
    """The figures after the session, fed as `mode`: `observe` (per command, as a replay),
    `late` (handed over and never caught up but by the steps' closes: every margin is read at
    its close), `each` (caught up after every command: every margin read ahead), `sliced`
    (caught up every third command in slices of two events)."""
    ex = _exchange()
    sig = Signals(lambda: ex)
    for i, cmd in enumerate(_session(seed)):
        events = ex.apply(cmd)
        if mode == "observe":
            sig.observe(cmd, events)
            continue
        sig.handoff(cmd, events)
        if mode == "each":
            sig.catch_up()
        elif mode == "sliced" and i % 3 == 0:
            while not sig.catch_up(2):
                pass
    return _figures(sig)


@pytest.mark.parametrize("seed", [1, 2])
def test_margins_read_ahead_give_the_figures_of_reading_them_at_the_close(seed: int) -> None:
    at_close = _fed(seed, "late")
    assert _fed(seed, "each") == at_close
    assert _fed(seed, "sliced") == at_close
    assert _fed(seed, "observe") == at_close


def test_the_session_carries_cross_reads_across_mark_moves_and_closing_commands(monkeypatch) -> None:
    """What the read ahead relies on is exercised: one-market cross reads taken at another mark
    than their close's (moved there by Δmark · lots · K), and closing commands that move an
    account read ahead in their step (without `stale`, read ahead of them, the figures differ)."""
    moved = []
    score = market_signals.MarketSignals.score_lev

    def counting(self, ts, read):
        mark, dirty, ahead, fresh = read
        moved.extend(a for a, r in ahead.items() if r[2] is None and r[0] is not None and r[3] != mark
                     and a in dirty and not (fresh and a in fresh))
        return score(self, ts, read)

    monkeypatch.setattr(market_signals.MarketSignals, "score_lev", counting)
    want = _fed(1, "late")
    moved.clear()
    assert _fed(1, "each") == want
    assert len(moved) > 20
    monkeypatch.setattr(Signals, "stale", lambda self, cmd, events: None)
    assert _fed(1, "each") != want
