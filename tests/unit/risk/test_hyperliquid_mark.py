"""HyperliquidMark: fixed-point decay constants, the EMA steps and their rounding, missing inputs,
the median of two, long gaps, state and pickling; the three mark forms share one interface."""

from __future__ import annotations

import pickle
import time
from decimal import ROUND_FLOOR, Decimal, localcontext
from fractions import Fraction

import pytest

from perpsim.risk.hyperliquid_mark import (
    DECAY_30,
    DECAY_150,
    DECAY_SCALE,
    MARK_SAMPLE_NS,
    HyperliquidMark,
    book_median,
    ema_steps,
)
from perpsim.risk.mark import MarkForm, MarkPrice, OracleMark, mark_state_for

S = 10**9


@pytest.mark.parametrize(("constant", "tau"), [(DECAY_150, 150), (DECAY_30, 30)])
def test_the_decay_constants_are_exp_rounded_down(constant: int, tau: int) -> None:
    with localcontext() as ctx:
        ctx.prec = 60
        exact = (Decimal(-3) / tau).exp() * DECAY_SCALE
    assert constant == int(exact.to_integral_value(rounding=ROUND_FLOOR))
    assert constant < exact < constant + 1


def naive_steps(num: int, den: int, idle: int, sample: int | None, points: int, decay: int):
    """Every step run, no early stop."""
    for _ in range(points):
        if sample is None:
            idle += 1
            continue
        k = idle + 1
        for _ in range(k):
            num, den = num * decay // DECAY_SCALE, den * decay // DECAY_SCALE
        if den == 0:
            num = 0
        num, den, idle = num + sample * k * DECAY_SCALE, den + k * DECAY_SCALE, 0
    return num, den, idle


@pytest.mark.parametrize(("sample", "points"), [(400, 1), (-37, 5), (1_234_567, 3000), (-9, 4000), (None, 7)])
def test_ema_steps_stop_at_a_fixed_point_with_the_same_result(sample, points) -> None:
    start = (5 * DECAY_SCALE, 3 * DECAY_SCALE, 2)  # an EMA of 5/3 two steps idle
    for decay in (DECAY_150, DECAY_30):
        assert ema_steps(*start, sample, points, decay) == naive_steps(*start, sample, points, decay)


def test_the_first_sample_is_the_ema_and_decay_rounds_down() -> None:
    num, den, idle = ema_steps(0, 0, 0, -3, 1, DECAY_150)
    assert (num, den, idle) == (-3 * DECAY_SCALE, DECAY_SCALE, 0)
    num, den, _ = ema_steps(num, den, idle, 0, 1, DECAY_150)
    assert num == -3 * DECAY_150 and den == DECAY_150 + DECAY_SCALE  # exact products: no rounding yet
    assert ema_steps(-1, DECAY_SCALE, 0, 0, 1, DECAY_150) == (-1, DECAY_150 + DECAY_SCALE, 0)  # floor: −0.98 -> −1
    assert ema_steps(7, 1, 0, None, 1, DECAY_150) == (7, 1, 1)  # no sample: untouched, one step idle
    assert ema_steps(7, 1, 1, 5, 1, DECAY_150) == (5 * 2 * DECAY_SCALE, 2 * DECAY_SCALE, 0)  # decayed away


def test_sampling_on_the_3s_grid_and_missing_inputs() -> None:
    mark = HyperliquidMark(start_ts=1)
    assert mark.sample(2 * S, 1000, 1010, 1030, 1015) == 0  # no grid point in (1 ns, 2 s]
    assert mark.sample(9 * S, 1000, 1010, 1030, 1015) == 3  # 3, 6, 9 s
    # constant samples: the sample itself, up to the decays' rounding down (under 10**-15 tick here)
    assert abs(mark.ma_basis(9 * S) - 20) < Fraction(1, 10**15) and abs(mark.book_ema() - 1015) < Fraction(1, 10**15)
    assert mark.sample(12 * S, 1000, 1010, None, 1015) == 1  # no ask: neither EMA is updated
    assert mark.state()[4] == 1 and mark.state()[7] == 1  # one step idle each
    assert mark.sample(15 * S, None, 1010, 1030, None) == 1  # no index, no last: still none
    assert mark.state()[4] == 2
    with pytest.raises(ValueError, match="precedes"):
        mark.sample(14 * S, 1000, 1010, 1030, 1015)


def test_value_medians_and_fallbacks() -> None:
    mark = HyperliquidMark(start_ts=0)
    # nothing sampled: (1) = the index; (2) without a trade is absent
    assert mark.value(1, 1000, None, 0, 0, 1, 1010, 1030) == 1000
    # (1) = 1000 and (2) = 1001, no (4) yet: the mean 1000.5, half to even -> 1000
    assert mark.components(1, 1000, 1001, 0, 0, 1, 990, 1030) == (1000, 1001, None)
    assert mark.value(1, 1000, 1001, 0, 0, 1, 990, 1030) == 1000
    assert mark.value(1, 1000, 1003, 0, 0, 1, 990, 1030) == 1002  # 1001.5 -> 1002
    assert mark.value(1, None, 1003, 0, 0, 1, 990, 1030) is None
    mark.sample(3 * S, 1000, 990, 1030, 1001)  # diff +10 -> (1) 1010; (4) = 1001
    assert mark.value(3 * S, 1000, 1020, 0, 0, 1, 990, 1030) == 1010  # median(1010, 1020, 1001)
    assert mark.value(3 * S, 1000, 1005, 0, 0, 1, 990, 1030) == 1005  # median(1010, 1005, 1001)
    assert mark.value(3 * S, 1000, 1005, 0, 0, 1, None, 1030) == 1010  # one-sided book: (1) alone
    assert book_median(1, 3, 2) == 2 and book_median(1, None, 2) is None


def test_a_year_long_gap_is_cheap_and_converges() -> None:
    mark = HyperliquidMark(start_ts=0)
    mark.sample(3 * S, 1000, 900, 1300, 1000)  # diff 100
    t = time.perf_counter()
    assert mark.sample(365 * 86_400 * S, 1000, 1000, 1020, 1000) == 365 * 86_400 // 3 - 1
    assert time.perf_counter() - t < 0.5
    assert abs(mark.ma_basis(0) - 10) < Fraction(1, 10**12)  # the diff of 10 only
    assert round(mark.ma_basis(0)) == 10 and round(mark.book_ema()) == 1000


def test_state_and_pickle() -> None:
    mark = mark_state_for(MarkForm.HYPERLIQUID, start_ts=0)
    mark.sample(7 * S, 1000, 990, 1030, 1001)
    again = pickle.loads(pickle.dumps(mark))
    assert again.state() == mark.state() and mark.state()[:2] == ("hyperliquid", 7 * S)
    assert again.value(7 * S, 1000, 1001, 0, 0, 1, 990, 1030) == mark.value(7 * S, 1000, 1001, 0, 0, 1, 990, 1030)
    assert MARK_SAMPLE_NS == 3 * S


def test_every_form_takes_the_same_arguments() -> None:
    """sample(ts, index, bid, ask, last) and value(…, best_bid, best_ask): the median and oracle
    forms ignore the extra inputs."""
    for state in (MarkPrice(start_ts=0), OracleMark(start_ts=0), HyperliquidMark(start_ts=0)):
        state.sample(10 * S, 1000, 990, 1010, 1000)
        assert state.value(10 * S, 1000, 1000, 0, 8 * 3600 * S, 8 * 3600 * S, 990, 1010) == 1000
    median = MarkPrice(start_ts=0)
    median.sample(10 * S, 1000, 990, 1030, 5000)
    assert median.state() == (5 * S, 300 * S, 10 * S, ((5 * S, 20), (10 * S, 20)))
