"""Liquidation and bankruptcy prices: worked examples A2, A3, the COIN-M forum case, bracket
re-picking, hedge/cross, and the defining properties (at LP balance == MM, at BP balance == 0)."""

from __future__ import annotations

import itertools
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from perpsim.risk.brackets import Brackets, btcusdt_brackets
from perpsim.risk.liqprice import (
    InverseLeg,
    Leg,
    LiquidationModel,
    Trigger,
    bankruptcy_price,
    inverse_bankruptcy_price,
    inverse_liquidation_price,
    liquidation_price,
    round_to_tick,
)
from perpsim.risk.margin import (
    inverse_k,
    inverse_notional_exact,
    inverse_upnl_exact,
    maintenance_margin_exact,
    notional,
    upnl,
)
from perpsim.risk.units import RATE_SCALE, rate

USDT = 10**8
BTC = 10**8
TICK = Fraction(1, 100)  # BTCUSDT examples: tick 0.01 USDT, lot 0.001 BTC, 8-decimal USDT
K = 1000  # 0.01 × 0.001 × 1e8
LOTS_PER_BTC = 1000
BYBIT = LiquidationModel.BYBIT


def leg(btc: str, price: str) -> Leg:
    """A leg of `btc` (signed) opened at one price, in lots and tick·lots."""
    lots = Decimal(btc) * LOTS_PER_BTC
    ticks = Decimal(price) / Decimal("0.01")
    assert lots == int(lots) and ticks == int(ticks)
    return Leg(int(lots), int(lots) * int(ticks))


def single_bracket(mmr: str) -> Brackets:
    return Brackets.from_rows([(10**12 * USDT, 125, rate(mmr))])


def usdt(x: int | str) -> int:
    return int(Decimal(x) * USDT)


# --- A2: Bybit 19,700 vs Binance 19,698.49 ---------------------------------------------------


def test_a2_bybit_profile_vs_binance():
    legs, wallet, table = [leg("1", "20000")], usdt(400), single_bracket("0.005")
    bybit = liquidation_price(legs, wallet, K=K, tick_size=TICK, brackets=table, model=BYBIT)
    binance = liquidation_price(legs, wallet, K=K, tick_size=TICK, brackets=table)
    assert bybit.price == 19_700
    assert binance.price == Fraction(19_600) / Fraction("0.995")
    assert round(binance.price, 2) == Fraction("19698.49")
    assert binance.trigger is bybit.trigger is Trigger.AT_OR_BELOW


# --- A3: Binance isolated long/short ---------------------------------------------------------


def test_a3_isolated_long_and_short():
    table = btcusdt_brackets(USDT)  # 20,000 notional: bracket 1, MMR 0.4 %, cum 0
    wallet = usdt(1_000)
    long_ = liquidation_price([leg("1", "20000")], wallet, K=K, tick_size=TICK, brackets=table)
    short = liquidation_price([leg("-1", "20000")], wallet, K=K, tick_size=TICK, brackets=table)
    assert long_.price == Fraction(19_000) / Fraction("0.996")
    assert round(long_.price, 4) == Fraction("19076.3052")
    assert short.price == Fraction(21_000) / Fraction("1.004")
    assert round(short.price, 4) == Fraction("20916.3347")
    assert long_.brackets[0].number == short.brackets[0].number == 1
    # Conservative ticks: long up (19,076.31), short down (20,916.33).
    assert (long_.trigger, long_.tick) == (Trigger.AT_OR_BELOW, 1_907_631)
    assert (short.trigger, short.tick) == (Trigger.AT_OR_ABOVE, 2_091_633)

    bp_long = bankruptcy_price([leg("1", "20000")], wallet, K=K, tick_size=TICK)
    bp_short = bankruptcy_price([leg("-1", "20000")], wallet, K=K, tick_size=TICK)
    assert bp_long.price == 19_000 and bp_long.trigger is Trigger.AT_OR_BELOW
    assert bp_short.price == 21_000 and bp_short.trigger is Trigger.AT_OR_ABOVE
    assert bp_long.brackets == ()

    bybit = liquidation_price([leg("1", "20000")], wallet, K=K, tick_size=TICK, brackets=table, model=BYBIT)
    assert bybit.price == 19_080  # MM at entry = 80


# --- brackets re-picked at LP ----------------------------------------------------------------


def test_long_falls_into_a_lower_bracket_at_lp():
    # 3 BTC @ 20,000 = 60,000 (bracket 2) but at LP the notional is ~45,180 (bracket 1).
    table = btcusdt_brackets(USDT)
    lp = liquidation_price([leg("3", "20000")], usdt(15_000), K=K, tick_size=TICK, brackets=table)
    assert lp.brackets[0].number == 1
    assert lp.price == Fraction(45_000) / Fraction("2.988")
    # Bybit keeps the entry bracket (MM = 60,000 × 0.5 % − 50 = 250).
    bybit = liquidation_price(
        [leg("3", "20000")], usdt(15_000), K=K, tick_size=TICK, brackets=table, model=BYBIT
    )
    assert bybit.brackets[0].number == 2
    assert bybit.price == 20_000 - Fraction(15_000 - 250, 3)


def test_short_rises_into_a_higher_bracket_at_lp():
    # 2 BTC @ 24,000 = 48,000 (bracket 1); at LP ~57,760 → bracket 2 (0.5 %, cum 50).
    table = btcusdt_brackets(USDT)
    lp = liquidation_price([leg("-2", "24000")], usdt(10_000), K=K, tick_size=TICK, brackets=table)
    assert lp.brackets[0].number == 2
    assert lp.price == Fraction(58_050) / Fraction("2.01")
    assert lp.trigger is Trigger.AT_OR_ABOVE


# --- cross and hedge -------------------------------------------------------------------------


def spec_formula(wb, tmm1, upnl1, legs) -> Fraction:
    """§4.1 literally, in quote units. legs: (kind, pos, ep, mmr, cum), kind in BOTH±1/LONG/SHORT."""
    num = Fraction(wb - tmm1 + upnl1)
    den = Fraction(0)
    for kind, pos, ep, mmr, cum in legs:
        num += cum
        den += pos * mmr
        if kind == "LONG":
            num -= pos * ep
            den -= pos
        elif kind == "SHORT":
            num += pos * ep
            den += pos
        else:  # BOTH, kind = side ±1
            num -= kind * pos * ep
            den -= kind * pos
    return num / den


def test_cross_hedge_shares_one_lp():
    table = btcusdt_brackets(USDT)
    legs = [leg("2", "20000"), leg("-1", "21000")]
    lp = liquidation_price(
        legs, usdt(2_000), K=K, tick_size=TICK, brackets=table, other_mm=usdt(100), other_upnl=usdt(-50)
    )
    mmr = Fraction("0.004")
    expected = spec_formula(2_000, 100, -50, [("LONG", 2, 20_000, mmr, 0), ("SHORT", 1, 21_000, mmr, 0)])
    assert expected == Fraction(17_150) / Fraction("0.988")
    assert lp.price == expected
    assert lp.trigger is Trigger.AT_OR_BELOW  # net long
    assert [b.number for b in lp.brackets] == [1, 1]


def test_fully_hedged_pair_has_no_bankruptcy_price():
    assert bankruptcy_price([leg("1", "20000"), leg("-1", "20000")], usdt(10), K=K, tick_size=TICK) is None
    # …but its MM still makes it liquidatable once the wallet cannot carry both legs' MM:
    # balance − MM = 10 − 0.008 × P falls with the price.
    lp = liquidation_price(
        [leg("1", "20000"), leg("-1", "20000")],
        usdt(10),
        K=K,
        tick_size=TICK,
        brackets=btcusdt_brackets(USDT),
    )
    assert lp.price == 1_250 and lp.trigger is Trigger.AT_OR_ABOVE


def test_negative_lp_is_none():
    table = btcusdt_brackets(USDT)
    # A 1x long with extra margin is never liquidated: LP < 0.
    assert liquidation_price([leg("1", "20000")], usdt(25_000), K=K, tick_size=TICK, brackets=table) is None
    assert bankruptcy_price([leg("1", "20000")], usdt(25_000), K=K, tick_size=TICK) is None
    # A 1x long without extra margin goes bankrupt exactly at 0.
    assert bankruptcy_price([leg("1", "20000")], usdt(20_000), K=K, tick_size=TICK).price == 0


def test_bad_legs_are_refused():
    table = btcusdt_brackets(USDT)
    for legs in ([], [Leg(0, 0)], [Leg(5, -10)]):
        with pytest.raises(ValueError):
            liquidation_price(legs, 0, K=K, tick_size=TICK, brackets=table)
    with pytest.raises(TypeError):
        liquidation_price([leg("1", "1")], 0, K=K, tick_size=0.01, brackets=table)


def test_round_to_tick():
    assert round_to_tick(Fraction(7, 2), Trigger.AT_OR_BELOW) == 4
    assert round_to_tick(Fraction(7, 2), Trigger.AT_OR_ABOVE) == 3
    assert round_to_tick(5, Trigger.AT_OR_BELOW) == round_to_tick(5, Trigger.AT_OR_ABOVE) == 5


# --- COIN-M ----------------------------------------------------------------------------------

# BTCUSD (COIN-M) before the 2021 adjustment, caps in BTC: its cum column is 0, 0.01, 0.11,
# 0.56, 1.81, 6.81, 11.81, …  (A11).
BTCUSD_ROWS = [
    (10, 125, "0.004"),
    (20, 100, "0.005"),
    (30, 50, "0.01"),
    (50, 20, "0.025"),
    (100, 10, "0.05"),
    (200, 5, "0.10"),
    (400, 4, "0.125"),
    (1_000, 3, "0.15"),
    (1_500, 2, "0.25"),
]
BTCUSD = Brackets.from_rows((cap * BTC, lev, rate(mmr)) for cap, lev, mmr in BTCUSD_ROWS)
BTCUSD_K = inverse_k(100, "0.1", BTC)  # 100 USD contracts, tick 0.1


def test_coin_m_forum_case():
    # §4.1: WB 101 BTC, long $10 M @ 45,000 → 33,578.86 by the single-position formula; the
    # bracket at LP (~297.8 BTC) is 7 (12.5 %, cum 11.81 BTC), as at entry (~222.2 BTC).
    legs = [InverseLeg(100_000, 450_000)]
    lp = inverse_liquidation_price(legs, 101 * BTC, K_inv=BTCUSD_K, tick_size="0.1", brackets=BTCUSD)
    assert lp.brackets[0].number == 7 and lp.brackets[0].cum == 1181 * BTC // 100
    n = Fraction(10_000_000)
    assert lp.price == (n * Fraction("0.125") + n) / (101 + Fraction("11.81") + n / 45_000)
    assert round(lp.price, 2) == Fraction("33578.86")
    assert lp.trigger is Trigger.AT_OR_BELOW


def test_coin_m_short_and_bankruptcy():
    # Short 10 contracts (1,000 USD) @ 40,000 with 0.0025 BTC (10x): BP where 0.0025 is lost.
    legs = [InverseLeg(-10, 400_000)]
    bp = inverse_bankruptcy_price(legs, 250_000, K_inv=BTCUSD_K, tick_size="0.1")
    # uPnL = −1,000 × (1/40,000 − 1/P) = −0.0025 → 1,000/P = 0.0225 → P = 44,444.44….
    assert bp.price == Fraction(1_000) / Fraction("0.0225")
    assert bp.trigger is Trigger.AT_OR_ABOVE
    lp = inverse_liquidation_price(legs, 250_000, K_inv=BTCUSD_K, tick_size="0.1", brackets=BTCUSD)
    # MM at LP = 1,000/LP × 0.4 % (bracket 1) → 1,000/LP × 0.996 = 0.0225.
    assert lp.price == Fraction(1_000) * Fraction("0.996") / Fraction("0.0225")
    assert lp.brackets[0].number == 1
    assert lp.price < bp.price and lp.tick == 442_666


# --- properties ------------------------------------------------------------------------------


def lin_gap(legs, wallet, ticks, *, K, brackets, other_mm=0, other_upnl=0, at_entry=False) -> Fraction:
    """Margin balance − maintenance margin at a mark of `ticks`, exact."""
    balance = wallet + other_upnl + sum(upnl(lg.lots, lg.cost, ticks, K) for lg in legs)
    if at_entry:
        mm = sum(maintenance_margin_exact(abs(lg.cost) * K, brackets) for lg in legs)
    else:
        mm = sum(maintenance_margin_exact(notional(lg.lots, ticks, K), brackets) for lg in legs)
    return balance - other_mm - mm


@st.composite
def random_tables(draw):
    n = draw(st.integers(1, 6))
    rows, cap, mmr = [], 0, draw(st.integers(0, RATE_SCALE // 50))
    for _ in range(n):
        cap += draw(st.integers(1, 10**14))
        mmr += draw(st.integers(0, RATE_SCALE // 10))
        rows.append((cap, 10, min(mmr, RATE_SCALE * 3 // 4)))
    return Brackets.from_rows(rows)


tables = st.one_of(st.just(btcusdt_brackets(USDT)), random_tables())
lots_st = st.integers(1, 10**6)
price_st = st.integers(1, 10**7)
money_st = st.integers(-(10**14), 10**15)


@st.composite
def linear_legs(draw):
    if draw(st.booleans()):  # one-way: a single signed leg
        lots = draw(lots_st) * draw(st.sampled_from([1, -1]))
        return [Leg(lots, lots * draw(price_st))]
    # hedge: a LONG and a SHORT leg, each with a cost basis from up to three fills
    out = []
    for sign in (1, -1):
        fills = draw(st.lists(st.tuples(lots_st, price_st), min_size=1, max_size=3))
        out.append(Leg(sign * sum(q for q, _ in fills), sign * sum(q * p for q, p in fills)))
    return out


def consistent_roots(legs, wallet, *, K, brackets, other_mm, other_upnl):
    """Every non-negative price that solves the equation with self-consistent brackets."""
    roots = set()
    for picks in itertools.product(brackets, repeat=len(legs)):
        den = K * sum(
            lg.lots - Fraction(abs(lg.lots) * b.mmr, RATE_SCALE) for lg, b in zip(legs, picks, strict=True)
        )
        if den == 0:
            continue
        num = K * sum(lg.cost for lg in legs) - wallet - other_upnl + other_mm - sum(b.cum for b in picks)
        p = num / den
        if p >= 0 and all(
            brackets.for_notional(notional(lg.lots, p, K)) == b for lg, b in zip(legs, picks, strict=True)
        ):
            roots.add(p)
    return roots


@given(linear_legs(), money_st, st.integers(0, 10**13), money_st, tables, st.sampled_from([1, 10, 1000]))
def test_balance_equals_mm_at_the_liquidation_price(legs, wallet, other_mm, other_upnl, table, k):
    kw = dict(K=k, brackets=table, other_mm=other_mm, other_upnl=other_upnl)
    lp = liquidation_price(legs, wallet, tick_size=TICK, **kw)
    roots = consistent_roots(legs, wallet, **kw)
    if lp is None:
        # Either no root at all, or (a net-long hedge) only a far root beyond a safe region
        # that starts at price 0.
        assert not roots or (len(legs) == 2 and lin_gap(legs, wallet, 0, **kw) > 0)
        return
    assert lp.ticks >= 0 and lp.price == lp.ticks * TICK
    assert lin_gap(legs, wallet, lp.ticks, **kw) == 0
    assert lp.brackets == tuple(table.for_notional(notional(lg.lots, lp.ticks, k)) for lg in legs)
    assert lp.ticks == min(roots)  # the root nearest notional 0
    if len(legs) == 1:
        # One leg: balance − MM is monotone in the price, so the root is unique and the
        # trigger side is where the gap is negative.
        exact_cum = table == btcusdt_brackets(USDT)
        if exact_cum:
            assert roots == {lp.ticks}
            step = Fraction(1, 7)
            below, above = lp.ticks - step, lp.ticks + step
            unsafe = below if lp.trigger is Trigger.AT_OR_BELOW else above
            safe = above if lp.trigger is Trigger.AT_OR_BELOW else below
            if unsafe >= 0:
                assert lin_gap(legs, wallet, unsafe, **kw) < 0
            if safe >= 0:
                assert lin_gap(legs, wallet, safe, **kw) > 0
        assert lp.trigger is (Trigger.AT_OR_BELOW if legs[0].lots > 0 else Trigger.AT_OR_ABOVE)
    # The rounded tick is reached no later than the exact price.
    if lp.trigger is Trigger.AT_OR_BELOW:
        assert lp.ticks <= lp.tick < lp.ticks + 1
    else:
        assert lp.ticks - 1 < lp.tick <= lp.ticks


@given(linear_legs(), money_st, st.integers(0, 10**13), money_st, tables, st.sampled_from([1, 10, 1000]))
def test_bybit_profile_balance_equals_mm_at_entry(legs, wallet, other_mm, other_upnl, table, k):
    kw = dict(K=k, brackets=table, other_mm=other_mm, other_upnl=other_upnl)
    lp = liquidation_price(legs, wallet, tick_size=TICK, model=BYBIT, **kw)
    assume(lp is not None)
    assert lin_gap(legs, wallet, lp.ticks, at_entry=True, **kw) == 0


@given(linear_legs(), money_st, money_st, st.sampled_from([1, 10, 1000]))
def test_balance_is_zero_at_the_bankruptcy_price(legs, wallet, other_upnl, k):
    bp = bankruptcy_price(legs, wallet, K=k, tick_size=TICK, other_upnl=other_upnl)
    if bp is None:
        return
    assert wallet + other_upnl + sum(upnl(lg.lots, lg.cost, bp.ticks, k) for lg in legs) == 0
    net = sum(lg.lots for lg in legs)
    assert bp.trigger is (Trigger.AT_OR_BELOW if net > 0 else Trigger.AT_OR_ABOVE)


@given(linear_legs(), st.integers(0, 10**15), tables, st.sampled_from([1, 10, 1000]))
def test_liquidation_comes_before_bankruptcy(legs, wallet, table, k):
    # One leg, positive MM: the position is liquidated while its balance is still >= 0.
    assume(len(legs) == 1)
    lp = liquidation_price(legs, wallet, K=k, tick_size=TICK, brackets=table)
    bp = bankruptcy_price(legs, wallet, K=k, tick_size=TICK)
    assume(lp is not None and bp is not None)
    if legs[0].lots > 0:
        assert lp.ticks >= bp.ticks
    else:
        assert lp.ticks <= bp.ticks


@st.composite
def inverse_legs(draw):
    if draw(st.booleans()):
        return [InverseLeg(draw(lots_st) * draw(st.sampled_from([1, -1])), draw(price_st))]
    entries = [Fraction(draw(price_st), draw(st.integers(1, 5))) for _ in range(2)]
    return [InverseLeg(draw(lots_st), entries[0]), InverseLeg(-draw(lots_st), entries[1])]


def inverse_roots(legs, wallet, *, K_inv, brackets, other_mm, other_upnl):
    """Every positive price that solves the coin balance equation with consistent brackets."""
    roots = set()
    for picks in itertools.product(brackets, repeat=len(legs)):
        num = K_inv * sum(
            lg.contracts + Fraction(abs(lg.contracts) * b.mmr, RATE_SCALE)
            for lg, b in zip(legs, picks, strict=True)
        )
        den = wallet + other_upnl - other_mm + sum(b.cum for b in picks)
        den += K_inv * sum(Fraction(lg.contracts) / lg.entry for lg in legs)
        if num == 0 or den == 0 or num / den <= 0:
            continue
        p = num / den
        if all(
            brackets.for_notional(inverse_notional_exact(lg.contracts, p, K_inv)) == b
            for lg, b in zip(legs, picks, strict=True)
        ):
            roots.add(p)
    return roots


@given(
    inverse_legs(), money_st, st.integers(0, 10**12), money_st, st.one_of(st.just(BTCUSD), random_tables())
)
def test_coin_m_balance_equals_mm_at_lp_and_zero_at_bp(legs, wallet, other_mm, other_upnl, table):
    K_inv = BTCUSD_K
    kw = dict(K_inv=K_inv, brackets=table, other_mm=other_mm, other_upnl=other_upnl)
    lp = inverse_liquidation_price(legs, wallet, tick_size="0.1", **kw)
    roots = inverse_roots(legs, wallet, **kw)
    if lp is None:
        assert not roots or len(legs) == 2
    else:
        p = lp.ticks
        balance = (
            wallet + other_upnl + sum(inverse_upnl_exact(lg.contracts, lg.entry, p, K_inv) for lg in legs)
        )
        mm = other_mm + sum(
            maintenance_margin_exact(inverse_notional_exact(lg.contracts, p, K_inv), table) for lg in legs
        )
        assert balance == mm
        assert p == max(roots)  # the root nearest notional 0 (highest price)
        assert lp.price == p * Fraction("0.1")
        if len(legs) == 1:
            assert lp.trigger is (Trigger.AT_OR_BELOW if legs[0].contracts > 0 else Trigger.AT_OR_ABOVE)
    bp = inverse_bankruptcy_price(legs, wallet, K_inv=K_inv, tick_size="0.1", other_upnl=other_upnl)
    if bp is not None:
        balance = (
            wallet
            + other_upnl
            + sum(inverse_upnl_exact(lg.contracts, lg.entry, bp.ticks, K_inv) for lg in legs)
        )
        assert balance == 0
