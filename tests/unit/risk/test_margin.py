"""Margin arithmetic: worked examples A4 (cost to open) and A5 (position risk), inverse PnL,
the ADL score, and rounding against the account."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perpsim.model.enums import Side
from perpsim.risk.brackets import Brackets, btcusdt_brackets
from perpsim.risk.margin import (
    CostModel,
    adl_quantiles,
    cost_to_open,
    entry_price,
    initial_margin,
    inverse_k,
    inverse_notional,
    inverse_notional_exact,
    inverse_upnl,
    inverse_upnl_exact,
    is_liquidatable,
    leverage_pnl,
    maintenance_margin,
    maintenance_margin_exact,
    margin_balance,
    margin_ratio,
    notional,
    upnl,
)
from perpsim.risk.units import rate

USDT = 10**8  # money units per USDT (8 decimals)
# BTCUSDT grid for the examples: tick 0.01 USDT, lot 0.001 BTC → K = 0.01 × 0.001 × 1e8.
BTC_TICK = Decimal("0.01")
BTC_K = 1000
BTC_LOT = 1000  # lots per BTC


def as_decimal(units: int | Fraction, scale: int) -> Decimal:
    """Money units → exact Decimal of the asset (for comparing with published figures)."""
    f = Fraction(units) / scale
    return Decimal(f.numerator) / Decimal(f.denominator)


def display(units: int | Fraction, scale: int, places: int) -> Decimal:
    """Binance's display rounding of A4: toward zero at `places` decimals (462.665 → 462.66)."""
    return as_decimal(units, scale).quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)


def ticks(price: str, tick: Decimal = BTC_TICK) -> int:
    n = Decimal(price) / tick
    assert n == n.to_integral_value()
    return int(n)


# --- A4: cost to open ------------------------------------------------------------------------


def test_a4_cost_to_open_classic():
    price, mark = ticks("9253.30"), ticks("9259.84")
    buy = cost_to_open(Side.BUY, BTC_LOT, price, mark, 20, BTC_K)
    sell = cost_to_open(Side.SELL, BTC_LOT, price, mark, 20, BTC_K)
    # IM = 9,253.30 / 20 = 462.665 exactly (8-decimal money); shown 462.66.
    assert as_decimal(buy.initial_margin, USDT) == Decimal("462.665")
    assert display(buy.initial_margin, USDT, 2) == Decimal("462.66")
    assert buy.open_loss == 0
    assert display(buy.total, USDT, 2) == Decimal("462.66")
    assert as_decimal(sell.open_loss, USDT) == Decimal("6.54")
    assert display(sell.total, USDT, 2) == Decimal("469.20")


def test_a4_cost_to_open_revised_2024():
    price, mark, last = ticks("9253.30"), ticks("9259.84"), ticks("9258.99")
    sell = cost_to_open(Side.SELL, BTC_LOT, price, mark, 20, BTC_K, model=CostModel.REVISED_2024, last=last)
    # Assumed = max(9,258.99 × 1.0015, 9,259.84, 9,253.30) = 9,272.878485 → IM 463.64392425.
    assert sell.assumed_price * Fraction(BTC_TICK) == Fraction("9272.878485")
    assert as_decimal(sell.initial_margin, USDT) == Decimal("463.64392425")
    assert round(Fraction(sell.initial_margin, USDT), 4) == Fraction("463.6439")
    assert as_decimal(sell.open_loss, USDT) == Decimal("6.54")
    # A buy still assumes its order price.
    buy = cost_to_open(Side.BUY, BTC_LOT, price, mark, 20, BTC_K, model=CostModel.REVISED_2024, last=last)
    assert buy == cost_to_open(Side.BUY, BTC_LOT, price, mark, 20, BTC_K)
    with pytest.raises(ValueError):
        cost_to_open(Side.SELL, BTC_LOT, price, mark, 20, BTC_K, model=CostModel.REVISED_2024)


def test_cost_to_open_rounds_im_up_on_a_coarse_money_unit():
    # With cents as the money unit, 462.665 cannot be held: the venue requires 462.67.
    K_cents = 1  # tick 0.01 × lot 1 BTC × 100 cents
    c = cost_to_open(Side.BUY, 1, 925330, 925984, 20, K_cents)
    assert c.initial_margin == 46267


# --- A5: ADAUSDT position risk ---------------------------------------------------------------

ADA_TICK = Decimal("0.00000001")  # represents 0.385 and 0.41047590 exactly
ADA_ROWS = [(10_000, 75, "0.0065"), (50_000, 50, "0.01")]


def ada_brackets(scale: int) -> Brackets:
    return Brackets.from_rows((cap * scale, lev, rate(mmr)) for cap, lev, mmr in ADA_ROWS)


def test_a5_ada_position_risk_on_8_decimal_money():
    K = 1  # tick 1e-8 × lot 1 ADA × 1e8 money units per USDT
    lots, entry, mark = 30, ticks("0.385", ADA_TICK), ticks("0.41047590", ADA_TICK)
    cost = entry * lots
    assert entry_price(lots, cost) == entry
    pnl = upnl(lots, cost, mark, K)
    value = notional(lots, mark, K)
    assert as_decimal(pnl, USDT) == Decimal("0.76427700")
    assert as_decimal(value, USDT) == Decimal("12.31427700")
    assert as_decimal(initial_margin(value, 20), USDT) == Decimal("0.61571385")
    # MM = 12.314277 × 0.65 % = 0.0800428005 exactly; at 8 decimals the venue rounds against
    # the account (0.08004281) where Binance prints 0.08004280 (round-down display).
    table = ada_brackets(USDT)
    assert maintenance_margin_exact(value, table) == Fraction("0.0800428005") * USDT
    assert as_decimal(maintenance_margin(value, table), USDT) == Decimal("0.08004281")


def test_a5_ada_position_risk_exact_on_10_decimal_money():
    scale = 10**10
    K = 100  # tick 1e-8 × lot 1 × 1e10
    lots, entry, mark = 30, ticks("0.385", ADA_TICK), ticks("0.41047590", ADA_TICK)
    value = notional(lots, mark, K)
    mm = maintenance_margin(value, ada_brackets(scale))
    assert as_decimal(upnl(lots, entry * lots, mark, K), scale) == Decimal("0.76427700")
    assert as_decimal(value, scale) == Decimal("12.31427700")
    assert as_decimal(initial_margin(value, 20), scale) == Decimal("0.61571385")
    assert as_decimal(mm, scale) == Decimal("0.0800428005")  # exact, no rounding needed
    assert display(mm, scale, 8) == Decimal("0.08004280")  # Binance's printed value


def test_short_upnl_and_notional_sign():
    # Short 2 BTC, cost basis at 20,000 and 21,000 (1 BTC each); mark 20,000.
    cost = -(ticks("20000") * BTC_LOT + ticks("21000") * BTC_LOT)
    assert entry_price(-2 * BTC_LOT, cost) * Fraction(BTC_TICK) == 20_500
    pnl = upnl(-2 * BTC_LOT, cost, ticks("20000"), BTC_K)
    assert pnl == 1_000 * USDT
    assert notional(-2 * BTC_LOT, ticks("20000"), BTC_K) == 40_000 * USDT


def test_maintenance_margin_uses_the_bracket_and_cum():
    table = btcusdt_brackets(USDT)
    # 2,000,000 USDT notional: bracket 4, 2.5 % − 16,300 = 33,700.
    assert maintenance_margin(2_000_000 * USDT, table) == 33_700 * USDT
    assert maintenance_margin(0, table) == 0


def test_balance_ratio_and_trigger():
    assert margin_balance(1_000, [50, -30]) == 1_020
    assert margin_ratio(50, 200) == Fraction(1, 4)
    assert margin_ratio(50, 0) is None
    assert margin_ratio(50, -1) is None
    assert is_liquidatable(100, 100)  # ratio exactly 100 %
    assert not is_liquidatable(100, 101)
    assert is_liquidatable(1, -5)
    assert not is_liquidatable(0, 0)  # no position, nothing to liquidate


def test_leverage_must_be_positive():
    with pytest.raises(ValueError, match="leverage"):
        initial_margin(100, 0)
    with pytest.raises(ValueError, match="leverage"):
        cost_to_open(Side.BUY, 1, 1, 1, 0, 1)


def test_cost_to_open_refuses_an_empty_order_and_an_unknown_side():
    with pytest.raises(ValueError, match="qty"):
        cost_to_open(Side.BUY, 0, 1, 1, 1, 1)
    with pytest.raises(ValueError, match="not a valid Side"):
        cost_to_open(2, 1, 1, 1, 1, 1)
    assert cost_to_open(1, 1, 10, 10, 1, 1) == cost_to_open(Side.SELL, 1, 10, 10, 1, 1)  # an int side is taken


# --- inverse ---------------------------------------------------------------------------------


def test_inverse_k_and_values():
    # BTCUSD: 100 USD contracts, tick 0.1 USD, 1e-8 BTC money → K_inv = 1e11.
    K_inv = inverse_k(100, Decimal("0.1"), 10**8)
    assert K_inv == 10**11
    # 10 contracts (1,000 USD) at 40,000 = 0.025 BTC.
    assert inverse_notional_exact(10, 400_000, K_inv) == Fraction(25, 1000) * 10**8
    assert inverse_notional(-10, 400_000, K_inv) == 2_500_000
    # 3 contracts (300 USD) at 70,000 = 0.0042857142857… BTC → rounds up.
    assert inverse_notional(3, 700_000, K_inv) == 428_572
    with pytest.raises(TypeError):
        inverse_k(100, 0.1, 10**8)  # floats are refused


def test_inverse_upnl_long_and_short_round_against_the_account():
    K_inv = inverse_k(100, "0.1", 10**8)
    # Long 1 contract 30,000 → 70,000: 100 × (1/30,000 − 1/70,000) = 0.0019047619… BTC.
    exact = inverse_upnl_exact(1, 300_000, 700_000, K_inv)
    assert exact == Fraction(100) * (Fraction(1, 30_000) - Fraction(1, 70_000)) * 10**8
    assert inverse_upnl(1, 300_000, 700_000, K_inv) == 190_476  # credit rounded down
    assert inverse_upnl(-1, 300_000, 700_000, K_inv) == -190_477  # debit rounded up in size
    # BitMEX guide sign convention: short profits when the price falls.
    assert inverse_upnl_exact(-1, 700_000, 300_000, K_inv) > 0


# --- ADL ranking (§6.1) ----------------------------------------------------------------------


def test_leverage_pnl():
    s = USDT
    # uPnL 100, wallet 1,000, MM 50 → (100/1,000) × (50/1,100).
    assert leverage_pnl(100 * s, 1_000 * s, 50 * s, money_scale=s) == Fraction(1, 10) * Fraction(50, 1_100)
    # Wallet below 1 USDT: divided by 1 USDT instead.
    assert leverage_pnl(2 * s, s // 2, s, money_scale=s) == Fraction(2) * Fraction(s, 2 * s + s // 2)
    assert leverage_pnl(-5 * s, 1_000 * s, 50 * s, money_scale=s) == 0  # no profit
    assert leverage_pnl(5 * s, -10 * s, 50 * s, money_scale=s) == 0  # balance <= 0


def test_adl_quantiles():
    assert adl_quantiles([]) == []
    assert adl_quantiles([Fraction(0), 1, 2, 3, 4, 5]) == [0, 1, 2, 3, 4, 4]
    assert adl_quantiles([7]) == [4]
    assert adl_quantiles([3, 3, 1]) == [4, 4, 1]  # ties share a bucket
    assert adl_quantiles(list(range(1, 11))) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]


@given(st.lists(st.fractions(min_value=-1, max_value=10), max_size=30))
def test_adl_quantiles_are_monotone(scores):
    q = adl_quantiles(scores)
    assert all(0 <= b <= 4 for b in q)
    for i, j in [(i, j) for i in range(len(scores)) for j in range(len(scores))]:
        if scores[i] <= scores[j]:
            assert q[i] <= q[j]


# --- rounding against the account -----------------------------------------------------------


@given(st.integers(0, 10**15), st.integers(1, 125))
def test_im_rounds_up(value, leverage):
    im = initial_margin(value, leverage)
    assert im >= Fraction(value, leverage) > im - 1


@given(st.integers(0, 10**16))
def test_mm_rounds_up(value):
    table = btcusdt_brackets(USDT)
    exact = maintenance_margin_exact(value, table)
    assert exact <= maintenance_margin(value, table) < exact + 1


@given(
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(1, 10**6),
    st.integers(1, 10**7),
    st.integers(1, 10**7),
    st.integers(1, 10**7),
    st.integers(1, 125),
    st.sampled_from([1, 7, 1000]),
)
def test_cost_to_open_never_below_exact(side, qty, price, mark, last, leverage, K):
    for model in CostModel:
        c = cost_to_open(side, qty, price, mark, leverage, K, model=model, last=last)
        exact_im = Fraction(qty) * c.assumed_price * K / leverage
        assert exact_im <= c.initial_margin < exact_im + 1
        assert c.open_loss == qty * K * abs(min(0, (1 if side is Side.BUY else -1) * (mark - price)))
        if model is CostModel.REVISED_2024 and side is Side.SELL:
            assert c.assumed_price >= max(price, mark, Fraction(last) * Fraction(10015, 10000))


@given(st.integers(-(10**6), 10**6), st.integers(1, 10**7), st.integers(1, 10**7))
def test_inverse_upnl_rounds_toward_minus_infinity(contracts, entry, mark):
    K_inv = inverse_k(10, "0.01", 10**8)
    exact = inverse_upnl_exact(contracts, entry, mark, K_inv)
    assert exact - 1 < inverse_upnl(contracts, entry, mark, K_inv) <= exact
    value = inverse_notional_exact(contracts, mark, K_inv)
    assert value <= inverse_notional(contracts, mark, K_inv) < value + 1
