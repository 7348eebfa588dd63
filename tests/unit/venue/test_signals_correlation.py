"""Correlation: the prior holds until data comes in, then w = n / (n + n0) blends toward the
measured EWMA correlation; the feed's correlated normals have the configured correlation."""

from __future__ import annotations

import random

import pytest

from perpsim.venue.signals.config import SignalConfig
from perpsim.venue.signals.correlation import Correlations, cholesky, correlated_normals


def _corr(n0: int = 100) -> Correlations:
    cfg = SignalConfig()
    base = {"BTCUSDT": "BTC", "ETHUSDT": "ETH", "BTCUSD": "BTC"}
    return Correlations(list(base), 0.99, n0, lambda a, b: cfg.prior(base[a], base[b]))


def test_prior_until_data() -> None:
    c = _corr()
    assert c.rho("BTCUSDT", "ETHUSDT") == (0.8, 0.0, 0)
    assert c.rho("BTCUSDT", "BTCUSD")[0] == 1.0  # one base asset


def test_blend_by_hand_with_perfectly_anti_correlated_returns() -> None:
    c = _corr(n0=100)
    r = random.Random(1)
    for _ in range(100):
        x = r.gauss(0, 0.001)
        c.update([x, -x, None])
    rho, w, n = c.rho("BTCUSDT", "ETHUSDT")
    assert n == 100 and w == pytest.approx(0.5)
    assert rho == pytest.approx(0.5 * -1.0 + 0.5 * 0.8)
    c.zeros(100, [True, True, False])  # quiet steps: more samples, the same measured correlation
    rho, w, n = c.rho("BTCUSDT", "ETHUSDT")
    assert n == 200 and rho == pytest.approx(2 / 3 * -1.0 + 1 / 3 * 0.8)


def test_cholesky_and_correlated_normals() -> None:
    low = cholesky([[1.0, 0.8], [0.8, 1.0]])
    assert low[1][0] == pytest.approx(0.8) and low[1][1] == pytest.approx(0.6)
    rng = random.Random(5)
    names = ["BTCUSDT", "ETHUSDT", "BTCUSD"]
    rho = {frozenset(("BTCUSDT", "ETHUSDT")): 0.8, frozenset(("BTCUSD", "ETHUSDT")): 0.8,
           frozenset(("BTCUSDT", "BTCUSD")): 1.0}
    draws = [correlated_normals(rng, names, lambda a, b: rho[frozenset((a, b))]) for _ in range(20_000)]
    xs, ys = [d["BTCUSDT"] for d in draws], [d["ETHUSDT"] for d in draws]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / len(xs)
    sx = (sum((x - mx) ** 2 for x in xs) / len(xs)) ** 0.5
    sy = (sum((y - my) ** 2 for y in ys) / len(ys)) ** 0.5
    assert cov / (sx * sy) == pytest.approx(0.8, abs=0.01)
    assert all(d["BTCUSDT"] == pytest.approx(d["BTCUSD"]) for d in draws[:100])  # one base asset moves as one
    again = random.Random(5)
    assert correlated_normals(again, names, lambda a, b: rho[frozenset((a, b))]) == draws[0]
