"""MarkPrice: median of price1/price2/last, basis moving average on a grid, fallbacks, rounding."""

from __future__ import annotations

from fractions import Fraction

import pytest

from perpsim.risk.mark import MarkPrice, funding_basis_price

S = 10**9
H8 = 8 * 3600 * S
T0 = 1_704_067_200 * S  # 2024-01-01T00:00:00Z, a funding time
MID = T0 + H8 // 2  # half an interval before the 08:00 funding
NEXT = T0 + H8
R = 10_000  # 0.01 % funding rate


def mark_with_basis(index: int, bid: int, ask: int) -> MarkPrice:
    """A MarkPrice whose 5-minute window at MID is full of one basis."""
    mark = MarkPrice(start_ts=MID - 10 * 60 * S)
    mark.sample(MID, index, bid, ask)
    return mark


def test_price1_is_index_times_prorated_funding():
    # 100,000 × (1 + 0.0001 × 1/2) = 100,005
    assert funding_basis_price(100_000, R, MID, NEXT, H8) == 100_005
    # full interval ahead, −0.05 %: 100,000 × 0.9995
    assert funding_basis_price(100_000, -50_000, T0, NEXT, H8) == 99_950
    # at the funding time itself the term vanishes
    assert funding_basis_price(100_000, R, NEXT, NEXT, H8) == 100_000
    assert funding_basis_price(100_001, R, MID, NEXT, H8) == Fraction(10_000_600_005, 100_000)
    with pytest.raises(ValueError):
        funding_basis_price(100_000, R, MID, MID + H8 + 1, H8)


def test_median_is_price2():
    mark = mark_with_basis(100_000, 100_010, 100_030)  # basis 20 -> price2 100,020
    assert mark.components(MID, 100_000, 100_050, R, NEXT, H8) == (100_005, 100_020, 100_050)
    assert mark.value(MID, 100_000, 100_050, R, NEXT, H8) == 100_020  # p1 < p2 < last


def test_median_is_price1():
    mark = mark_with_basis(100_000, 100_010, 100_030)
    assert mark.value(MID, 100_000, 99_990, R, NEXT, H8) == 100_005  # last < p1 < p2


def test_median_is_last():
    mark = mark_with_basis(100_000, 100_010, 100_030)
    assert mark.value(MID, 100_000, 100_010, R, NEXT, H8) == 100_010  # p1 < last < p2


def test_median_below_index_with_negative_funding():
    # p1 = 100,000 × (1 − 0.0004 × 1/2) = 99,980; basis −40 -> p2 = 99,960; last 99,970 is the median
    mark = mark_with_basis(100_000, 99_950, 99_970)
    assert mark.value(MID, 100_000, 99_970, -40_000, NEXT, H8) == 99_970
    assert mark.value(MID, 100_000, 100_500, -40_000, NEXT, H8) == 99_980
    assert mark.value(MID, 100_000, 99_000, -40_000, NEXT, H8) == 99_960


def test_rounding_to_tick_half_to_even():
    mark = MarkPrice(start_ts=MID)  # no basis samples -> price1 alone
    assert mark.value(MID, 10_000, None, R, NEXT, H8) == 10_000  # 10,000.5 -> 10,000
    assert mark.value(MID, 30_000, None, R, NEXT, H8) == 30_002  # 30,001.5 -> 30,002
    assert mark.value(MID, 100_001, None, R, NEXT, H8) == 100_006  # 100,006.00005
    # basis 1.5 from an odd bid + ask: price2 = 1,001.5 is the median -> 1,002
    odd = mark_with_basis(1_000, 1_001, 1_002)
    assert odd.value(MID, 1_000, 1_003, 0, NEXT, H8) == 1_002
    odd = mark_with_basis(1_000, 1_000, 1_001)  # price2 1,000.5 -> 1,000
    assert odd.value(MID, 1_000, 1_003, 0, NEXT, H8) == 1_000


def test_missing_components_fall_back_to_price1():
    mark = mark_with_basis(100_000, 100_010, 100_030)
    assert mark.value(MID, 100_000, None, R, NEXT, H8) == 100_005  # no last trade
    empty = MarkPrice(start_ts=MID)
    assert empty.value(MID, 100_000, 100_050, R, NEXT, H8) == 100_005  # no basis samples
    assert mark.value(MID, None, 100_050, R, NEXT, H8) is None  # no index -> no mark


def test_basis_moving_average_scripted_path():
    # 5 s grid, 20 s window -> at most 4 samples in the window.
    mark = MarkPrice(start_ts=0, basis_sample_ns=5 * S, basis_window_ns=20 * S)
    assert mark.sample(5 * S, 1_000, 1_000, 1_002) == 1  # grid 5 s: basis 1
    assert mark.sample(12 * S, 1_000, 1_004, 1_006) == 1  # grid 10 s: basis 5
    assert mark.sample(13 * S, 1_000, 1_100, 1_100) == 0  # no grid point crossed: nothing recorded
    assert mark.ma_basis(13 * S) == 3  # (1 + 5) / 2
    # a gap over 15, 20, 25, 30 s holds the state in force during it: basis 0.5 at each
    assert mark.sample(31 * S, 1_000, 1_000, 1_001) == 4
    assert mark.ma_basis(31 * S) == Fraction(1, 2)
    # one more at 35 s with basis 4.5: window (16, 36] = 20, 25, 30, 35 s
    mark.sample(36 * S, 1_000, 1_004, 1_005)
    assert mark.ma_basis(36 * S) == Fraction(1 + 1 + 1 + 9, 8)
    # an empty book skips the grid points: window (20, 40] = 25, 30, 35 s only
    assert mark.sample(40 * S, 1_000, None, 1_005) == 1
    assert mark.ma_basis(40 * S) == Fraction(1 + 1 + 9, 6)
    # samples age out of the window: (35, 55] holds nothing
    mark.sample(55 * S, None, None, None)
    assert mark.ma_basis(55 * S) is None
    assert mark.state() == (5 * S, 20 * S, 55 * S, ((20 * S, 1), (25 * S, 1), (30 * S, 1), (35 * S, 9)))


def test_basis_binance_coin_m_style_mean_of_samples():
    # 30 samples, 5 s apart, of a rising basis 1..30: MA = Σ / 30 = 15.5
    mark = MarkPrice(start_ts=0, basis_sample_ns=5 * S, basis_window_ns=150 * S)
    for i in range(1, 31):
        mark.sample(i * 5 * S, 10_000, 10_000 + i, 10_000 + i)
    assert mark.ma_basis(150 * S) == Fraction(31, 2)
    # p1 = 10,000 (rate 0), p2 = 10,015.5, last 10,020 -> 10,015.5 -> 10,016
    assert mark.value(150 * S, 10_000, 10_020, 0, H8, H8) == 10_016


def test_long_gap_keeps_only_one_window():
    mark = MarkPrice(start_ts=0)
    assert mark.sample(3600 * S, 100, 102, 104) == 720  # an hour of 5 s grid points
    assert mark.ma_basis(3600 * S) == 3
    assert len(mark.state()[3]) == 60  # the 5-minute window, not the whole hour


def test_sample_rejects_going_back():
    mark = MarkPrice(start_ts=10 * S)
    with pytest.raises(ValueError):
        mark.sample(9 * S, 100, 100, 100)
    with pytest.raises(ValueError):
        MarkPrice(start_ts=0, basis_sample_ns=7 * S, basis_window_ns=20 * S)
