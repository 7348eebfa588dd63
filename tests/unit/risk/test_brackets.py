"""Bracket tables: the cum recursion (A11), bracket selection, validation."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perpsim.risk.brackets import Bracket, Brackets, btcusdt_brackets
from perpsim.risk.margin import maintenance_margin_exact
from perpsim.risk.units import RATE_SCALE, rate

USDT = 10**8  # money units per USDT
BTC = 10**8  # money units per BTC (COIN-M)


def test_btcusdt_cum_column_comes_out_of_the_recursion():
    # A11 / §3.1: the illustrative table must reproduce its own cum column.
    table = btcusdt_brackets(USDT)
    assert [b.cum for b in table] == [
        c * USDT
        for c in (0, 50, 1_300, 16_300, 266_300, 1_266_300, 2_516_300, 5_016_300, 25_016_300, 100_016_300)
    ]
    assert [b.max_leverage for b in table] == [125, 100, 50, 20, 10, 5, 4, 3, 2, 1]
    assert [b.floor for b in table][:3] == [0, 50_000 * USDT, 250_000 * USDT]
    assert table.max_notional == 500_000_000 * USDT


def test_btcusd_coin_m_level_5_is_1_81_btc():
    # A11: "BTCUSD level 5 = 50 BTC × (5 % − 2.5 %) + 0.56 BTC = 1.81 BTC" (COIN-M table before
    # the 2021 adjustment: caps 10/20/30/50/100 BTC, MMR 0.4/0.5/1/2.5/5 %).
    rows = [
        (10 * BTC, 125, rate("0.004")),
        (20 * BTC, 100, rate("0.005")),
        (30 * BTC, 50, rate("0.01")),
        (50 * BTC, 20, rate("0.025")),
        (100 * BTC, 10, rate("0.05")),
    ]
    table = Brackets.from_rows(rows)
    assert table[3].cum == 56 * BTC // 100  # 0.56 BTC
    assert table[4].cum == 181 * BTC // 100  # 1.81 BTC
    assert table[4].floor == 50 * BTC


def test_for_notional_boundaries():
    table = btcusdt_brackets(USDT)
    assert table.for_notional(0).number == 1
    assert table.for_notional(-5).number == 1
    assert table.for_notional(50_000 * USDT).number == 1  # floor < notional <= cap
    assert table.for_notional(50_000 * USDT + 1).number == 2
    assert table.for_notional(Fraction(50_000 * USDT) + Fraction(1, 3)).number == 2
    assert table.for_notional(500_000_000 * USDT).number == 10
    assert table.for_notional(10**30).number == 10  # above the last cap: clamped
    assert table.max_leverage_for(20_000 * USDT) == 125
    assert table.max_leverage_for(2_000_000 * USDT) == 20


def test_mm_is_continuous_at_every_floor():
    table = btcusdt_brackets(USDT)
    for lower, upper in itertools.pairwise(table):
        at_floor = maintenance_margin_exact(upper.floor, table)  # belongs to `lower`
        upper_line = Fraction(upper.floor * upper.mmr, RATE_SCALE) - upper.cum
        assert at_floor == upper_line
        assert table.for_notional(upper.floor) == lower


def test_inexact_cum_rounds_down():
    # cum_2 = 3 units × (2 − 1) / 1e8 = 3e-8 units: not an integer, so it rounds down to 0.
    table = Brackets.from_rows([(3, 10, 1), (100, 5, 2)])
    assert table[1].cum == 0
    # MM just above the floor is 4 × 2e-8 − 0, more than the exact 4 × 2e-8 − 3e-8.
    assert maintenance_margin_exact(4, table) == Fraction(8, RATE_SCALE) > Fraction(5, RATE_SCALE)


@pytest.mark.parametrize(
    "brackets",
    [
        [Bracket(1, 1, 10, 10, 0, 0)],  # first floor not 0
        [Bracket(1, 0, 10, 10, 0, 0), Bracket(2, 11, 20, 5, 0, 0)],  # gap
        [Bracket(1, 0, 10, 10, 5, 0), Bracket(2, 10, 20, 5, 4, 0)],  # mmr decreases
        [Bracket(1, 0, 0, 10, 0, 0)],  # empty range
        [Bracket(1, 0, 10, 0, 0, 0)],  # leverage 0
        [Bracket(1, 0, 10, 10, RATE_SCALE, 0)],  # mmr 100 %
        [Bracket(2, 0, 10, 10, 0, 0)],  # numbering
        [],
    ],
)
def test_invalid_tables_are_refused(brackets):
    with pytest.raises(ValueError):
        Brackets(brackets)


@st.composite
def tables(draw):
    n = draw(st.integers(1, 6))
    caps, mmrs = [], []
    cap, mmr = 0, draw(st.integers(0, RATE_SCALE // 50))
    for _ in range(n):
        cap += draw(st.integers(1, 10**12))
        mmr += draw(st.integers(0, RATE_SCALE // 20))
        caps.append(cap)
        mmrs.append(mmr)
    return Brackets.from_rows((c, 10, m) for c, m in zip(caps, mmrs, strict=True))


def _mm_with_exact_cum(notional: int, table: Brackets) -> Fraction:
    """MM from the same table with the cum recursion carried out in exact Fractions."""
    cum, prev = Fraction(0), None
    for br in table:
        if prev is not None:
            cum += Fraction(br.floor * (br.mmr - prev.mmr), RATE_SCALE)
        if br is table.for_notional(notional):
            return Fraction(notional * br.mmr, RATE_SCALE) - cum
        prev = br
    raise AssertionError("unreachable")


@given(tables(), st.integers(0, 10**13), st.integers(0, 10**13))
def test_mm_is_monotone_and_never_below_the_exact_recursion(table, a, b):
    # MM never decreases with notional, and rounding cum down only ever raises MM (by less
    # than one money unit per bracket): rounding never favours the account.
    lo, hi = min(a, b), max(a, b)
    assert maintenance_margin_exact(lo, table) <= maintenance_margin_exact(hi, table)
    excess = maintenance_margin_exact(hi, table) - _mm_with_exact_cum(hi, table)
    assert 0 <= excess < len(table)


def test_sequence_protocol():
    table = btcusdt_brackets(1)
    assert len(table) == 10
    assert table[-1].number == 10
    assert next(iter(table)) is table[0]
    assert table == btcusdt_brackets(1)
    assert hash(table) == hash(btcusdt_brackets(1))
