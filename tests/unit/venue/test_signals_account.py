"""Account risk signals: σ-distance, the size-down nudge and the correlation warning against
hand-worked examples (spec/risk-signals.md), and the nudge against the real exchange."""

from __future__ import annotations

import math

import pytest

from perpsim.engine import commands as C
from perpsim.engine.exchange import Exchange
from perpsim.engine.views import ExchangeView
from perpsim.model.enums import OrderKind, Side, TimeInForce
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import default_brackets
from perpsim.venue.signals.account import (
    CORRELATED_EXPOSURE,
    HOUR_NS,
    WITHIN_K_SIGMA,
    Thresholds,
    clusters,
    correlation_warning,
    distance,
    exposure,
    largest_within,
    sigma_over,
    size_down,
)
from perpsim.venue.signals.account_risk import AccountRisk

H8 = 8 * HOUR_NS


def rho_btc_eth(i: int, j: int) -> float:
    return 0.8  # the configured BTC/ETH prior


# ---------------------------------------------------------------- σ-distance: the spec's example


def test_distance_matches_the_specs_hand_example():
    # M = 65,000, L = 61,750 (5 % away), σ_1h = 0.8 % -> σ_8h = 2.263 %, d = 0.05129, z = 2.27, P ≈ 2.3 %
    d = distance(True, 65_000, 61_750, 0.008)
    h8 = next(h for h in d.horizons if h.horizon_ns == H8)
    assert round(h8.sigma * 100, 3) == 2.263
    assert round(d.log, 5) == 0.05129
    assert round(h8.z, 2) == 2.27
    assert round(h8.touch_probability * 100, 1) == 2.3
    assert d.percent == pytest.approx(5.0)


def test_distance_horizons_scale_with_the_square_root_of_time():
    d = distance(True, 65_000, 61_750, 0.008)
    z1, z8, z24 = (d.z(h) for h in (HOUR_NS, H8, 24 * HOUR_NS))
    # z_1h = 0.05129 / 0.008 = 6.41; z_24h = 0.05129 / (0.008 × √24) = 1.309
    assert round(z1, 2) == 6.41
    assert round(z24, 3) == 1.309
    assert z1 == pytest.approx(z8 * math.sqrt(8))


def test_short_distance_is_measured_upward():
    # a short at 65,000 liquidated at 68,250: d = ln(1.05) = 0.04879, z_8h = 0.04879 / 0.022627 = 2.156
    d = distance(False, 65_000, 68_250, 0.008)
    assert round(d.log, 5) == 0.04879
    assert round(d.z(H8), 3) == 2.156


def test_past_the_liquidation_price_the_touch_is_certain():
    d = distance(True, 60_000, 61_750, 0.008)
    assert d.log < 0
    assert all(h.touch_probability == 1.0 for h in d.horizons)


def test_no_volatility_gives_no_sigma_figures():
    assert distance(True, 65_000, 61_750, None).horizons == ()


# ---------------------------------------------------------------- the nudge: a hand example


def test_nudge_matches_a_hand_worked_isolated_long():
    # An isolated long of q BTC entered at the mark 65,000 with 6,500 USDT of margin and no
    # maintenance margin is liquidated at L(q) = 65,000 − 6,500 / q. At σ_1h = 0.8 %, k = 3 over
    # 8h: L ≤ 65,000 · e^(−3 · 0.022627) = 60,734.08, so 6,500 / q ≥ 4,265.92, q ≤ 1.52370 BTC:
    # 1,523 lots of 0.001 BTC. Holding 2 BTC (2,000 lots), the reduce-only nudge is 477 lots.
    def liq(q_lots: int) -> float:
        return 65_000 - 6_500 / (q_lots / 1_000)

    n = size_down(2_000, 65_000, sigma_over(0.008, H8), 3.0, liq)
    assert (n.max_lots, n.reduce_lots) == (1_523, 477)
    short = size_down(-2_000, 65_000, sigma_over(0.008, H8), 3.0, lambda q: 65_000 + 6_500 / (q / 1_000))
    # mirrored: L ≥ 65,000 · e^(3 · 0.022627) = 69,565.7, 6,500 / q ≥ 4,565.7, q ≤ 1.42366 BTC
    assert (short.max_lots, short.reduce_lots) == (1_423, 577)


def test_no_nudge_when_already_within_k_sigma():
    n = size_down(1_000, 65_000, sigma_over(0.008, H8), 3.0, lambda q: 65_000 - 6_500 / (q / 1_000))
    assert (n.max_lots, n.reduce_lots) == (1_000, 0)


def test_bisection_finds_the_boundary_on_the_grid():
    assert largest_within(0, 1_000_000, lambda q: q <= 123_457) == 123_457
    assert largest_within(0, 10, lambda q: True) == 10
    assert largest_within(1, 10, lambda q: False) is None


# ---------------------------------------------------------------- correlated exposure


def test_exposure_adds_correlated_longs_and_nets_a_hedge():
    # E = sqrt(e_b² + e_e² + 2 ρ e_b e_e): longs 100k and 100k at ρ 0.8 -> sqrt(3.6e10) = 189,737
    assert exposure([100_000, 100_000], rho_btc_eth) == pytest.approx(189_736.66, abs=0.01)
    # the hedge: sqrt(2e10 − 1.6e10) = 63,245.55
    assert exposure([100_000, -100_000], rho_btc_eth) == pytest.approx(63_245.55, abs=0.01)
    assert exposure([100_000, 100_000], lambda i, j: 1.0) == pytest.approx(200_000)


def test_correlation_warning_fires_for_stacked_btc_and_eth_longs():
    # 10,000 USDT equity holding a 100k BTC long; an ETH long of 100k: ρ(Δ, e) = 0.8 > 0.7 and
    # E / equity = 189,737 / 10,000 = 18.97x > 10x
    w = correlation_warning(["BTCUSDT", "ETHUSDT"], [100_000, 0], [0, 100_000], rho_btc_eth, 10_000, Thresholds())
    assert w is not None and w.code == CORRELATED_EXPOSURE
    assert float(w.fields["correlation"]) == pytest.approx(0.8)
    assert float(w.fields["effective_leverage"]) == pytest.approx(18.9737, abs=1e-4)
    assert w.fields["markets"] == "BTCUSDT,ETHUSDT"


def test_correlation_warning_is_silent_for_a_hedge():
    w = correlation_warning(["BTCUSDT", "ETHUSDT"], [100_000, 0], [0, -100_000], rho_btc_eth, 10_000, Thresholds())
    assert w is None


def test_correlation_warning_respects_the_leverage_threshold():
    # the same stacking at 50,000 equity: 189,737 / 50,000 = 3.79x, below 10x
    assert correlation_warning(["B", "E"], [100_000, 0], [0, 100_000], rho_btc_eth, 50_000, Thresholds()) is None
    # ... but above an account's own L of 3
    t = Thresholds(max_leverage=3)
    assert correlation_warning(["B", "E"], [100_000, 0], [0, 100_000], rho_btc_eth, 50_000, t) is not None
    # and below its ρ: an account that counts only ρ > 0.9 as stacked
    t = Thresholds(rho=0.9)
    assert correlation_warning(["B", "E"], [100_000, 0], [0, 100_000], rho_btc_eth, 10_000, t) is None


def test_clusters_link_markets_above_rho():
    names = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    table = {(0, 1): 0.8, (0, 2): 0.2, (1, 2): 0.75}
    got = clusters(names, lambda i, j: table[(min(i, j), max(i, j))], 0.7)
    assert got == [["BTCUSDT", "ETHUSDT", "SOLUSDT"]]
    assert clusters(names, lambda i, j: table[(min(i, j), max(i, j))], 0.78) == [["BTCUSDT", "ETHUSDT"]]


def test_thresholds_report_what_is_out_of_range():
    assert Thresholds().problems() == {}
    bad = Thresholds(k=0, horizon_ns=0, rho=1.0, max_leverage=-1).problems()
    assert set(bad) == {"k", "horizon_ns", "rho", "max_leverage"}


# ---------------------------------------------------------------- against the real exchange

MARKETS = default_markets()
SPEC = MARKETS["BTCUSDT"]
U = 10**SPEC.settle_decimals


def _exchange() -> Exchange:
    markets = {s: MARKETS[s] for s in ("BTCUSDT", "ETHUSDT")}
    brackets = {s: default_brackets(False, U) for s in markets}
    ex = Exchange(markets, brackets, book_impl="ref", start_ts=1)
    for s, p in (("BTCUSDT", "65000"), ("ETHUSDT", "3500")):
        ex.apply(C.SetIndexPrice(2, s, markets[s].price_to_ticks(p)))
    ex.apply(C.Deposit(3, 1, "USDT", 1_000 * U))  # the trader
    ex.apply(C.Deposit(3, 2, "USDT", 10_000_000 * U))  # the counterparty
    return ex


def _trade(ex: Exchange, symbol: str, side: Side, qty: str, price: str, reduce_only: bool = False) -> None:
    spec = ExchangeView(ex).spec(symbol)
    lots, ticks = spec.qty_to_lots(qty), spec.price_to_ticks(price)
    ex.apply(C.PlaceOrder(ex.ts, 2, symbol, 1 - side, lots, ticks, OrderKind.LIMIT, TimeInForce.GTC))
    ex.apply(C.PlaceOrder(ex.ts, 1, symbol, side, lots, ticks, OrderKind.LIMIT, TimeInForce.IOC,
                          reduce_only=reduce_only))


def _z(ex: Exchange, risk: AccountRisk) -> float:
    (p,) = risk.positions(ExchangeView(ex), 1)
    return p.distance.z(H8)


def test_nudge_agrees_with_the_engine_after_the_reduce_only_order():
    ex = _exchange()
    risk = AccountRisk(lambda s: 0.008, lambda a, b: 0.8)
    _trade(ex, "BTCUSDT", Side.BUY, "0.25", "65000")  # 16,250 notional on 1,000 USDT: 16x, cross
    (p,) = risk.positions(ExchangeView(ex), 1)
    assert p.distance.z(H8) < 3
    nudge = p.nudge
    assert nudge.reduce_lots > 0 and nudge.max_lots + nudge.reduce_lots == p.lots
    # the boundary on the lot grid: holding max lots is within 3σ over 8h, one lot more is not
    floor = 65_000 * math.exp(-3 * sigma_over(0.008, H8))
    predicted = risk._resized(ExchangeView(ex), 1, "BTCUSDT", 0, p.lots, nudge.max_lots)
    assert predicted <= floor < risk._resized(ExchangeView(ex), 1, "BTCUSDT", 0, p.lots, nudge.max_lots + 1)
    # reduce by the nudge at the mark through the book: the engine's own position is within 3σ,
    # liquidated where the preview said but for the taker fee the reduction paid
    _trade(ex, "BTCUSDT", Side.SELL, SPEC.format_qty(nudge.reduce_lots), "65000", reduce_only=True)
    assert ex.position(1, "BTCUSDT").lots == nudge.max_lots
    assert _z(ex, risk) >= 3
    assert float(ex.liquidation_price(1, "BTCUSDT").price) == pytest.approx(predicted, rel=1e-4)


def test_preview_warns_for_stacked_longs_and_not_for_the_hedge():
    ex = _exchange()
    risk = AccountRisk(lambda s: 0.008, lambda a, b: 0.8)
    _trade(ex, "BTCUSDT", Side.BUY, "0.2", "65000")  # 13,000 USDT on ~1,000: 13x
    eth = ExchangeView(ex).spec("ETHUSDT")

    def order(side: Side) -> C.PlaceOrder:
        return C.PlaceOrder(ex.ts, 1, "ETHUSDT", side, eth.qty_to_lots("2"), eth.price_to_ticks("3500"))

    long_codes = [w.code for w in risk.order(ExchangeView(ex), order(Side.BUY)).warnings]
    short_codes = [w.code for w in risk.order(ExchangeView(ex), order(Side.SELL)).warnings]
    assert CORRELATED_EXPOSURE in long_codes
    assert CORRELATED_EXPOSURE not in short_codes
    # the order path's cheap check gives the preview's warning, figure for figure
    (w,) = [w for w in risk.order(ExchangeView(ex), order(Side.BUY)).warnings if w.code == CORRELATED_EXPOSURE]
    assert risk.order_correlation(ExchangeView(ex), order(Side.BUY)) == w
    assert risk.order_correlation(ExchangeView(ex), order(Side.SELL)) is None
    # 200 lots of BTC keep 3σ (the boundary is 219 lots, see above): the report warns of nothing
    report = risk.report(ExchangeView(ex), 1)
    assert report.warnings == []
    assert report.positions[0].nudge.reduce_lots == 0
    (usdt,) = report.assets
    assert usdt.effective_leverage == pytest.approx(13_000 / usdt.equity)
    # 250 lots do not: the report warns
    _trade(ex, "BTCUSDT", Side.BUY, "0.05", "65000")
    assert [w.code for w in risk.report(ExchangeView(ex), 1).warnings] == [WITHIN_K_SIGMA]
