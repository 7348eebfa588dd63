"""IndexPrice: weighted mean, clip and median-fallback outlier rules, staleness, rounding."""

from __future__ import annotations

import pytest

from perpsim.risk.index import CLIP_DEVIATION_MAJOR, STALE_AFTER_NS, IndexPrice
from perpsim.risk.units import rate

S = 10**9  # ns per second
T0 = 1_704_067_200 * S  # 2024-01-01T00:00:00Z


def make(prices: dict[str, int], weights: dict[str, int] | None = None, ts: int = T0, **kw) -> IndexPrice:
    index = IndexPrice(weights or dict.fromkeys(prices, 1), **kw)
    for name, price in prices.items():
        index.update(name, price, ts)
    return index


def test_plain_weighted_mean_rounds_half_to_even():
    # (100 + 102 + 2×104) / 4 = 102.5 -> 102 (tie to even); all within 3 % of the median 102.
    assert make({"a": 100, "b": 102, "c": 104}, {"a": 1, "b": 1, "c": 2}).value(T0) == 102
    # (102 + 104 + 2×104) / 4 = 103.5 -> 104
    assert make({"a": 102, "b": 104, "c": 104}, {"a": 1, "b": 1, "c": 2}).value(T0) == 104


def test_binance_constituent_weights():
    # BTCUSDT-style weights: binance 20, coinbase 6, four at 3, gateio 1 (sum 39).
    weights = {"binance": 20, "coinbase": 6, "kucoin": 3, "mxc": 3, "bitget": 3, "bybit": 3, "gateio": 1}
    prices = {name: 600_000 for name in weights} | {"coinbase": 600_390}
    # 600,000 + 6 × 390 / 39 = 600,060, exact
    assert make(prices, weights).value(T0) == 600_060


def test_clip_caps_high_outlier_at_median_plus_delta():
    # median 10,100, δ 3 % -> band [9,797, 10,403]; 10,500 is capped at 10,403.
    index = make({"a": 10_000, "b": 10_100, "c": 10_500})
    assert index.exact(T0) * 3 == 10_000 + 10_100 + 10_403
    assert index.value(T0) == 10_168  # 30,503 / 3 = 10,167.67
    weighted = make({"a": 10_000, "b": 10_100, "c": 10_500}, {"a": 2, "b": 1, "c": 1})
    assert weighted.value(T0) == 10_126  # (20,000 + 10,100 + 10,403) / 4 = 10,125.75


def test_clip_caps_low_outlier_at_median_minus_delta():
    # median 10,000 -> floor 9,700; (9,700 + 10,000 + 10,050) / 3 = 9,916.67
    assert make({"a": 9_000, "b": 10_000, "c": 10_050}).value(T0) == 9_917


def test_clip_btc_band_one_percent():
    # median 60,500, δ 1 % -> [59,895, 61,105]; 61,500 capped; (60,000 + 60,500 + 61,105) / 3 = 60,535
    index = make({"a": 60_000, "b": 60_500, "c": 61_500}, deviation=CLIP_DEVIATION_MAJOR)
    assert index.value(T0) == 60_535
    # the same prices at the default 3 %: nothing capped, 182,000 / 3 = 60,666.67
    assert make({"a": 60_000, "b": 60_500, "c": 61_500}).value(T0) == 60_667


def test_clip_even_count_median_is_mean_of_middle_pair():
    # median (100 + 104) / 2 = 102, δ 1 % -> [100.98, 103.02]: both sources are clipped.
    index = make({"a": 100, "b": 104}, {"a": 3, "b": 1}, deviation=rate("0.01"))
    # (3 × 100.98 + 103.02) / 4 = 101.49
    assert index.exact(T0) * 100 == 10_149
    assert index.value(T0) == 101


def test_clip_restores_source_when_back_inside_band():
    index = make({"a": 10_000, "b": 10_100, "c": 10_500})
    assert index.value(T0) == 10_168
    index.update("c", 10_200, T0 + S)
    assert index.value(T0 + S) == 10_100  # 30,300 / 3, nothing capped


def test_median_fallback_single_outlier_gets_zero_weight():
    # median (10,100 + 10,200)/2 = 10,150, 5 % band = 507.5; 11,000 deviates 850 -> dropped.
    index = make({"a": 10_000, "b": 10_100, "c": 10_200, "d": 11_000}, mode="median_fallback")
    assert index.value(T0) == 10_100
    # in clip mode at 5 % the same source is capped instead: 10,150 × 1.05 = 10,657.5
    clip = make({"a": 10_000, "b": 10_100, "c": 10_200, "d": 11_000}, deviation=rate("0.05"))
    assert clip.exact(T0) * 8 == 2 * (10_000 + 10_100 + 10_200) + 21_315


def test_median_fallback_two_outliers_use_median():
    # median 10,050, band 502.5: 9,000 (−1,050) and 11,000 (+950) are both outliers.
    index = make({"a": 9_000, "b": 10_000, "c": 10_100, "d": 11_000}, mode="median_fallback")
    assert index.value(T0) == 10_050
    # median of an even count rounded half to even: (10,000 + 10,001) / 2 = 10,000.5 -> 10,000
    index = make({"a": 9_000, "b": 10_000, "c": 10_001, "d": 11_000}, mode="median_fallback")
    assert index.value(T0) == 10_000


def test_median_fallback_deviation_exactly_at_band_is_kept():
    # median 100, band 5: 105 deviates exactly 5 % (not more) -> kept; 305 / 3 = 101.67
    assert make({"a": 100, "b": 100, "c": 105}, mode="median_fallback").value(T0) == 102
    # 106 is beyond the band -> dropped
    assert make({"a": 100, "b": 100, "c": 106}, mode="median_fallback").value(T0) == 100


def test_staleness_boundary_and_no_live_source():
    index = IndexPrice({"a": 1, "b": 1})
    assert index.value(T0) is None  # nothing reported yet
    index.update("a", 1_000, T0)
    index.update("b", 1_100, T0 + 60 * S)
    # exactly stale_after_ns old is still live: (1,000 + 1,100) / 2 (δ 3 % of 1,050 = 31.5 clips
    # both to the band: 1,018.5 and 1,081.5 -> mean 1,050)
    assert index.value(T0 + STALE_AFTER_NS) == 1_050
    assert index.live_sources(T0 + STALE_AFTER_NS + 1) == [("b", 1_100)]
    assert index.value(T0 + STALE_AFTER_NS + 1) == 1_100
    assert index.value(T0 + 60 * S + STALE_AFTER_NS + 1) is None
    index.update("a", 1_010, T0 + 10 * 60 * S)  # a fresh update revives the source
    assert index.value(T0 + 10 * 60 * S) == 1_010


def test_stale_source_is_excluded_from_the_median():
    index = IndexPrice({"a": 1, "b": 1, "c": 1}, stale_after_ns=10 * S)
    index.update("a", 5_000, T0)  # would drag the median down if it counted
    index.update("b", 10_000, T0 + 20 * S)
    index.update("c", 10_100, T0 + 20 * S)
    assert index.live_sources(T0 + 20 * S) == [("b", 10_000), ("c", 10_100)]
    assert index.value(T0 + 20 * S) == 10_050


def test_order_of_constituents_does_not_matter():
    one = make({"a": 100, "b": 103, "c": 140}, {"a": 1, "b": 2, "c": 3})
    two = make({"c": 140, "a": 100, "b": 103}, {"c": 3, "b": 2, "a": 1})
    assert one.state() == two.state()
    assert one.value(T0) == two.value(T0)


def test_rejections():
    with pytest.raises(ValueError):
        IndexPrice({})
    with pytest.raises(ValueError):
        IndexPrice({"a": 0})
    with pytest.raises(ValueError):
        IndexPrice({"a": 1}, mode="mean")
    index = IndexPrice({"a": 1})
    with pytest.raises(KeyError):
        index.update("z", 100, T0)
    with pytest.raises(ValueError):
        index.update("a", 0, T0)
    index.update("a", 100, T0)
    with pytest.raises(ValueError):
        index.update("a", 100, T0 - 1)  # a source cannot step back in time
    with pytest.raises(ValueError):
        index.value(T0 - 1)  # reading before the latest update
