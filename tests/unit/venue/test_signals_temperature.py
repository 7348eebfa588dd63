"""Leverage temperature: the z-score against a history, the score formula, and the figures and
flags a real exchange gives (open interest, sides, average leverage, funding z)."""

from __future__ import annotations

import math

import pytest

from perpsim.engine import commands as C
from perpsim.engine.exchange import Exchange
from perpsim.engine.views import ExchangeView
from perpsim.model.enums import OrderKind, Side, TimeInForce
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import btcusdt_brackets
from perpsim.venue.signals import SignalConfig, Signals
from perpsim.venue.signals.history import History
from perpsim.venue.signals.reads import phi

S = 10**9
U = 10**8
SYMBOL = "BTCUSDT"
SPEC = default_markets()[SYMBOL]


def test_history_z_by_hand() -> None:
    h = History(4)
    assert h.z(10.0) == 0.0  # no history
    h.push(1.0)
    h.push(3.0)  # mean 2, population sd 1
    assert h.z(4.0) == pytest.approx(2.0)
    h.push(2.0, times=2)  # a gap repeats the value
    assert list(h.samples) == [1.0, 3.0, 2.0, 2.0]
    assert h.ago(2) == 3.0 and h.ago(99) == 1.0  # beyond the history: the oldest kept
    h.push(7.0, times=10)  # at most the window
    assert list(h.samples) == [7.0] * 4
    flat = History(3)
    flat.push(5.0, times=3)
    assert flat.z(9.0) == 0.0  # no spread: nothing is unusual


def test_score_formula() -> None:
    assert 100 * phi(0.0) == pytest.approx(50.0)
    assert 100 * phi(3.0) == pytest.approx(99.865, abs=1e-3)
    assert phi(-1.0) == pytest.approx(0.5 * math.erfc(1 / math.sqrt(2)))


def _apply(ex, sig, cmd):
    events = ex.apply(cmd)
    sig.observe(cmd, events)
    return events


def test_figures_of_a_real_exchange() -> None:
    """Three longs and one short against a maker: OI, the account sides and the OI-weighted
    average leverage (each account notional / its margin balance) computed by hand."""
    ex = Exchange({SYMBOL: SPEC}, {SYMBOL: btcusdt_brackets(U)}, book_impl="ref", start_ts=S)
    sig = Signals(lambda: ex, SignalConfig())
    p0 = SPEC.price_to_ticks("65000")
    _apply(ex, sig, C.SetIndexPrice(S, SYMBOL, p0))
    _apply(ex, sig, C.Deposit(S, 1, "USDT", 10**8 * U))
    _apply(ex, sig, C.PlaceOrder(S, 1, SYMBOL, Side.SELL, 10_000, p0))
    _apply(ex, sig, C.PlaceOrder(S, 1, SYMBOL, Side.BUY, 10_000, p0 - 10))
    trades = {10: (Side.BUY, 100), 11: (Side.BUY, 200), 12: (Side.BUY, 50), 13: (Side.SELL, 80)}
    for a, (side, lots) in trades.items():
        _apply(ex, sig, C.Deposit(S, a, "USDT", 2_000 * U))
        _apply(ex, sig, C.PlaceOrder(S, a, SYMBOL, side, lots, 0, OrderKind.MARKET, TimeInForce.IOC))
    _apply(ex, sig, C.SetIndexPrice(3 * S, SYMBOL, p0))  # a later step: leverage is measured
    r = sig.market_risk(SYMBOL)
    assert r.open_interest_lots == 350  # the longs' lots; the maker is net short 270, account 13 short 80
    assert (r.long_accounts, r.short_accounts) == (3, 2)
    assert r.long_short_ratio == 1.5
    mark = ExchangeView(ex).mark(SYMBOL)
    notional = {a: abs(ex.position(a, SYMBOL).lots) * mark * SPEC.notional_per_tick_lot / U for a in (1, *trades)}
    lev = {a: notional[a] / (ex.margin_balance(a, "USDT") / U) for a in notional}
    expected = sum(notional[a] * lev[a] for a in notional) / sum(notional.values())
    assert r.average_leverage == pytest.approx(expected)
    assert r.temperature.score == pytest.approx(100 * phi(sum(max(-3, min(3, z)) for z in (
        r.temperature.funding_z, r.temperature.open_interest_z, r.temperature.leverage_z,
        r.temperature.proximity_z)) / 4))
