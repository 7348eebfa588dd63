"""Funding: impact prices, premium index, averaging, rate clamp (A7, A12), payments, timestamps."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perpsim.risk.funding import funding_rate, interest_for_interval
from perpsim.risk.funding_intervals import FundingAccumulator, next_funding_ts
from perpsim.risk.funding_payments import funding_payments
from perpsim.risk.funding_premium import impact_notional, impact_price, premium_index
from perpsim.risk.units import RATE_SCALE, rate

S = 10**9
H = 3600 * S
USDT = 10**6  # money units per USDT in these tests (6 settlement decimals)
T0 = 1_704_067_200 * S  # 2024-01-01T00:00:00Z


# --- spec §10 examples ------------------------------------------------------------------------


def test_a7_bitmex_pi8h():
    # PI8H −0.00184, I 0.0001 -> F = −0.00184 + clamp(0.00194, ±0.0005) = −0.00134 (shorts pay)
    assert funding_rate(rate("-0.00184"), interest=rate("0.0001")) == rate("-0.00134")


def test_a12_clamp_arithmetic():
    interest = rate("0.0001")  # 0.01 %
    assert funding_rate(rate("0.0002"), interest) == rate("0.0001")  # P̄ 0.02 % -> 0.01 %
    assert funding_rate(rate("0.0010"), interest) == rate("0.0005")  # P̄ 0.10 % -> 0.05 %
    assert funding_rate(rate("-0.00184"), interest) == rate("-0.00134")  # P̄ −0.184 % -> −0.134 %
    # Hyperliquid restated: P 1 % -> F_8h 0.95 %, paid hourly as 0.11875 %
    assert funding_rate(rate("0.01"), interest) == rate("0.0095")
    assert Fraction(funding_rate(rate("0.01"), interest), 8) == rate("0.0011875")


def test_a12_impact_notional():
    # BNBUSDT max 20x, IMR 5 % -> IMN = 200 / 0.05 = 4,000 USDT
    assert impact_notional(rate("0.05"), USDT) == 4_000 * USDT
    assert impact_notional(rate("0.008"), USDT) == 25_000 * USDT  # 125x
    assert impact_notional(rate("0.013"), 1) == 15_384  # 15,384.6… rounded down


# --- rate clamp, cap, interest ----------------------------------------------------------------


def test_funding_rate_inside_band_equals_interest():
    for p in (0, 10_000, 59_999, -39_999):
        assert funding_rate(p) == 10_000
    assert funding_rate(60_001) == 10_001
    assert funding_rate(-40_001) == 9_999


def test_funding_rate_cap_and_floor():
    cap, floor = rate("0.025"), rate("-0.025")
    assert funding_rate(rate("0.03"), cap=cap, floor=floor) == cap  # 2.95 % capped at 2.5 %
    assert funding_rate(rate("-0.03"), cap=cap, floor=floor) == floor  # −2.95 %
    assert funding_rate(rate("0.02"), cap=cap, floor=floor) == rate("0.0195")
    with pytest.raises(ValueError):
        funding_rate(0, cap=-1, floor=1)


def test_interest_scaled_to_interval():
    assert interest_for_interval(8 * H) == rate("0.0001")
    assert interest_for_interval(4 * H) == rate("0.00005")
    assert interest_for_interval(2 * H) == rate("0.000025")
    assert interest_for_interval(1 * H) == rate("0.0000125")
    assert interest_for_interval(8 * H, per_day=0) == 0  # BNB-style zero interest
    with pytest.raises(ValueError):
        interest_for_interval(8 * H, per_day=1)  # 1e-8 / 3 is not representable
    with pytest.raises(ValueError):
        interest_for_interval(7 * H)  # does not divide a day


def test_next_funding_ts_aligned_to_utc():
    assert next_funding_ts(0) == 8 * H
    assert next_funding_ts(T0) == T0 + 8 * H  # exactly at 00:00 -> 08:00
    assert next_funding_ts(T0 - 1) == T0
    assert next_funding_ts(T0 + 5 * H) == T0 + 8 * H  # 05:00 -> 08:00
    assert next_funding_ts(T0 + 8 * H + 1) == T0 + 16 * H
    assert next_funding_ts(T0 + 17 * H) == T0 + 24 * H  # 17:00 -> 00:00 next day
    assert next_funding_ts(T0 + 5 * H, 4 * H) == T0 + 8 * H
    assert next_funding_ts(T0 + 5 * H, 1 * H) == T0 + 6 * H


# --- impact price -----------------------------------------------------------------------------


def test_impact_price_across_levels_by_hand():
    asks = [(100, 10), (101, 10), (105, 100)]
    # notional 3,000: 1,000 + 1,010, then 990 at 105 = 66/7 lots; 3,000 / (20 + 66/7) = 10,500/103
    assert impact_price(asks, 3_000, 1) == Fraction(10_500, 103)
    # exactly the first two levels: 2,010 / 20
    assert impact_price(asks, 2_010, 1) == Fraction(201, 2)
    # inside the first level: the level price
    assert impact_price(asks, 500, 1) == 100
    # the whole book: 12,510 / 120
    assert impact_price(asks, 12_510, 1) == Fraction(417, 4)
    assert impact_price(asks, 12_511, 1) is None
    assert impact_price([], 1, 1) is None
    bids = [(99, 5), (98, 10)]
    # 495 at 99, then 505 at 98 = 505/98 lots; 1,000 / (995/98) = 19,600/199
    assert impact_price(bids, 1_000, 1) == Fraction(19_600, 199)


def test_impact_price_with_contract_units():
    # BTCUSDT-like: tick 0.1, lot 0.001 BTC, money 1e-6 USDT -> K = 100 money units per lot·tick.
    asks = [(600_000, 10), (600_010, 20), (600_050, 100)]  # 600, 1,200.02, 6,000.5 USDT
    # 4,000 USDT: 3,400 left after level 1, 2,199.98 after level 2 -> 439,996/12,001 lots at 60,005.0
    lots = 30 + Fraction(439_996, 12_001)
    assert impact_price(asks, 4_000 * USDT, 100) == Fraction(4_000 * USDT, 100) / lots
    assert impact_price(asks, 4_000 * USDT, 100) == Fraction(240_020_000_000, 400_013)


# --- premium index ----------------------------------------------------------------------------


def test_premium_index_cases():
    assert premium_index(10_010, 10_020, 10_000) == rate("0.001")  # bid above index
    assert premium_index(9_980, 9_990, 10_000) == rate("-0.001")  # ask below index
    assert premium_index(9_990, 10_010, 10_000) == 0  # index inside the impact spread
    assert premium_index(Fraction(10_500, 103), 103, 100) == 1_941_748  # 2/103 = 0.0194174757…
    # a side the book cannot fill contributes 0
    assert premium_index(None, 9_990, 10_000) == rate("-0.001")
    assert premium_index(10_010, None, 10_000) == rate("0.001")
    assert premium_index(None, None, 10_000) == 0


def test_premium_index_rounds_half_to_even():
    index = 2 * RATE_SCALE
    assert premium_index(index + 1, None, index) == 0  # 0.5e-8 -> 0
    assert premium_index(index + 3, None, index) == 2  # 1.5e-8 -> 2
    assert premium_index(None, index - 3, index) == -2  # −1.5e-8 -> −2


# --- averaging --------------------------------------------------------------------------------


def test_accumulator_mean_and_linear():
    # 1 h interval sampled every 15 min: 4 grid points per interval.
    kw = dict(start_ts=0, interval_ns=H, sample_ns=15 * 60 * S)
    mean, linear = FundingAccumulator(**kw), FundingAccumulator(**kw, weighting="linear")
    for acc in (mean, linear):
        assert acc.sample(15 * 60 * S, 100) == []
        assert acc.sample(30 * 60 * S, 200) == []
        assert acc.sample(40 * 60 * S, 999) == []  # no grid point crossed
    assert mean.average() == 150
    assert linear.average() == 167  # (100 + 400) / 3 = 166.67
    # 45 and 60 min hold 300 -> the interval ending at 1 h closes
    (closed,) = mean.sample(H, 300)
    assert closed == (H, 225, 4)  # (100 + 200 + 300 + 300) / 4
    (closed,) = linear.sample(H, 300)
    assert closed == (H, 260, 4)  # (100·1 + 200·2 + 300·3 + 300·4) / 10
    assert mean.open_interval_end == 2 * H
    assert mean.average() is None and mean.samples == 0


def test_accumulator_binance_full_interval_has_5760_samples():
    acc = FundingAccumulator(start_ts=T0)
    acc.sample(T0 + 4 * H, rate("0.0003"))
    (closed,) = acc.sample(T0 + 8 * H + 2 * S, rate("-0.0001"))
    # 2,880 samples at 0.03 % and 2,880 at −0.01 %: mean 0.01 %
    assert closed == (T0 + 8 * H, rate("0.0001"), 5_760)
    assert funding_rate(closed.avg_premium) == rate("0.0001")
    linear = FundingAccumulator(start_ts=T0, weighting="linear")
    linear.sample(T0 + 4 * H, 0)
    (closed,) = linear.sample(T0 + 8 * H, 5_760)
    # weights 2,881..5,760 over 1..5,760: 5,760 × (Σ 2,881..5,760) / (Σ 1..5,760)
    expected = Fraction(5_760 * (2_881 + 5_760) * 2_880, 5_760 * 5_761)
    assert closed.avg_premium == round(expected) == 4_320


def test_accumulator_gap_closes_several_intervals():
    acc = FundingAccumulator(start_ts=0, interval_ns=H, sample_ns=15 * 60 * S)
    closed = acc.sample(3 * H + 1, 7)
    assert closed == [(H, 7, 4), (2 * H, 7, 4), (3 * H, 7, 4)]
    assert acc.open_interval_end == 4 * H and acc.samples == 0


def test_accumulator_missing_premium_and_mid_interval_start():
    # starts at 0:20 -> first grid point 0:30; the 1 h interval gets only 0:30, 0:45, 1:00
    acc = FundingAccumulator(start_ts=20 * 60 * S, interval_ns=H, sample_ns=15 * 60 * S, weighting="linear")
    assert acc.sample(30 * 60 * S, None) == []  # no index: 0:30 consumed, nothing recorded
    (closed,) = acc.sample(H, 40)  # 0:45 (weight 3) and 1:00 (weight 4)
    assert closed == (H, 40, 2)
    (closed,) = acc.sample(2 * H, None)
    assert closed == (2 * H, None, 0)


def test_accumulator_average_rounds_half_to_even():
    acc = FundingAccumulator(start_ts=0, interval_ns=H, sample_ns=30 * 60 * S)
    acc.sample(30 * 60 * S, 1)
    assert acc.sample(H, 2)[0].avg_premium == 2  # 1.5 -> 2
    acc.sample(H + 30 * 60 * S, 2)
    assert acc.sample(2 * H, 3)[0].avg_premium == 2  # 2.5 -> 2


def test_accumulator_rejections():
    with pytest.raises(ValueError):
        FundingAccumulator(start_ts=0, interval_ns=H, sample_ns=7 * 60 * S)
    with pytest.raises(ValueError):
        FundingAccumulator(start_ts=0, weighting="ema")
    acc = FundingAccumulator(start_ts=10)
    with pytest.raises(ValueError):
        acc.sample(9, 0)


# --- payments ---------------------------------------------------------------------------------


def test_payments_exact_case():
    # 0.01 % on 600,000 ticks × K 100: long 10 lots pays 60,000; shorts receive 24,000 and 36,000.
    result = funding_payments({"a": 10, "b": -4, "c": -6}, 600_000, rate("0.0001"), 100)
    assert result.deltas == {"a": -60_000, "b": 24_000, "c": 36_000}
    assert result.dust == 0


def test_payments_negative_rate_shorts_pay():
    result = funding_payments({1: 10, 2: -10}, 600_000, rate("-0.00134"), 100)
    assert result.deltas == {1: 804_000, 2: -804_000}


def test_payments_rounding_against_accounts():
    # rate 1e-8, notional 21 / 7 / 14 units: payer owes 0.00000021 -> 1; receivers get 0.
    result = funding_payments({"a": 3, "b": -1, "c": -2, "z": 0}, 7, 1, 1)
    assert result.deltas == {"a": -1, "b": 0, "c": 0}
    assert result.dust == 1
    assert funding_payments({1: 5, 2: -5}, 100, 0, 1) == ({1: 0, 2: 0}, 0)
    with pytest.raises(ValueError):
        funding_payments({1: 5, 2: -4}, 100, 1, 1)  # open interest must net to zero


@given(
    longs=st.lists(st.integers(1, 10**6), min_size=1, max_size=8),
    shorts=st.lists(st.integers(1, 10**6), min_size=1, max_size=8),
    mark=st.integers(1, 10**9),
    r=st.integers(-3_000_000, 3_000_000),
    k=st.integers(1, 10**4),
)
def test_payments_conserve_and_round_against_accounts(longs, shorts, mark, r, k):
    # make the two sides net to zero by topping up the smaller one
    gap = sum(longs) - sum(shorts)
    if gap > 0:
        shorts = [*shorts, gap]
    elif gap < 0:
        longs = [*longs, -gap]
    positions = {("L", i): q for i, q in enumerate(longs)} | {("S", i): -q for i, q in enumerate(shorts)}
    deltas, dust = funding_payments(positions, mark, r, k)
    assert sum(deltas.values()) + dust == 0
    assert 0 <= dust < len(positions)
    for key, lots in positions.items():
        exact = Fraction(-lots * mark * k * r, RATE_SCALE)  # exact balance change
        assert exact - 1 < deltas[key] <= exact  # payers pay ≥ exact, receivers get ≤ exact


def test_inverse_impact_price_is_the_contract_weighted_harmonic_mean():
    from fractions import Fraction

    from perpsim.risk.funding_premium import impact_price_contracts

    # 10 contracts at 100 ticks and 5 of the next 10 at 200: 15 / (10/100 + 5/200) = 120
    assert impact_price_contracts([(100, 10), (200, 10)], 15) == Fraction(120)
    assert impact_price_contracts([(100, 10)], 11) is None
