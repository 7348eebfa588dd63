"""The margin kernel's two twins agree with each other and with the exact rational formulas of
risk.liqprice rounded to the tick (the oracle), on venue-sized numbers (the compiled twin's
128-bit path) and on huge ones (its Python-int path)."""

from __future__ import annotations

import pickle
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perpsim.risk import margin_kernel, margin_kernel_ref
from perpsim.risk.brackets import Brackets, btcusdt_brackets
from perpsim.risk.liqprice import Leg, LiquidationModel, Trigger, bankruptcy_price, liquidation_price
from perpsim.risk.units import RATE_SCALE

TWINS = (margin_kernel.BracketTable, margin_kernel_ref.BracketTable)


@st.composite
def tables(draw) -> Brackets:
    """1..6 brackets with rising caps and non-decreasing mmr below 100 %."""
    n = draw(st.integers(1, 6))
    caps = sorted(draw(st.sets(st.integers(1, 10**15), min_size=n, max_size=n)))
    mmrs = sorted(draw(st.lists(st.integers(0, RATE_SCALE - 1), min_size=n, max_size=n)))
    return Brackets.from_rows((cap, 1, mmr) for cap, mmr in zip(caps, mmrs, strict=True))


@st.composite
def legs(draw, wide: bool) -> list[Leg]:
    """1..3 legs: signed lots and a same-signed cost basis of at least one tick a lot."""
    top = 10**30 if wide else 10**6
    out = []
    for _ in range(draw(st.integers(1, 3))):
        lots = draw(st.integers(1, top)) * draw(st.sampled_from((1, -1)))
        price = draw(st.integers(1, 10**7))
        out.append(Leg(lots, lots * price + draw(st.integers(0, abs(lots) - 1)) * (1 if lots > 0 else -1)))
    return out


def oracle(result) -> tuple[int, int] | None:
    if result is None:
        return None
    return (1 if result.trigger is Trigger.AT_OR_BELOW else -1, result.tick)


@pytest.mark.parametrize("wide", [False, True], ids=["int128", "python-int"])
@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_liq_tick_matches_the_exact_formula(wide: bool, data) -> None:
    brackets = data.draw(tables())
    ls = data.draw(legs(wide))
    K = data.draw(st.integers(1, 10**6))
    base = data.draw(st.integers(-(10**30 if wide else 10**15), 10**30 if wide else 10**15))
    for model in LiquidationModel:
        want = oracle(liquidation_price(ls, base, K=K, tick_size=Fraction(1, 10), brackets=brackets, model=model))
        entry_mm = model is LiquidationModel.BYBIT
        for twin in TWINS:
            got = twin(brackets).liq_tick([g.lots for g in ls], [g.cost for g in ls], base, K, entry_mm)
            assert got == want, (twin, model)


@settings(max_examples=400, deadline=None)
@given(st.integers(-(10**25), 10**25), st.integers(-(10**30), 10**30), st.integers(-(10**30), 10**30),
       st.integers(1, 10**6))
def test_bankruptcy_tick_matches_the_exact_formula(lots: int, cost: int, balance: int, K: int) -> None:
    if lots == 0 or cost * lots <= 0:
        cost = lots  # the oracle takes only well-formed legs; sum_lots == 0 is checked below
    want = oracle(bankruptcy_price([Leg(lots, cost)], balance, K=K, tick_size=1)) if lots else None
    assert margin_kernel.bankruptcy_tick(lots, cost, balance, K) == want
    assert margin_kernel_ref.bankruptcy_tick(lots, cost, balance, K) == want


@settings(max_examples=300, deadline=None)
@given(tables(), st.integers(0, 10**30), st.data())
def test_maintenance_and_liquidatable_agree(brackets: Brackets, notional: int, data) -> None:
    b = brackets.for_notional(notional)
    want = notional * b.mmr - b.cum * RATE_SCALE
    fast, ref = (twin(brackets) for twin in TWINS)
    assert fast.maint_scaled(notional) == ref.maint_scaled(notional) == want
    assert fast.index(notional) == ref.index(notional) == b.number - 1
    ls = data.draw(legs(wide=data.draw(st.booleans())))
    mark, K = data.draw(st.integers(1, 10**7)), data.draw(st.integers(1, 10**6))
    balance = data.draw(st.integers(-(10**25), 10**25))
    for entry_mm in (False, True):
        mm = sum(brackets.for_notional(n).mmr * n - brackets.for_notional(n).cum * RATE_SCALE
                 for n in ((abs(g.cost) * K if entry_mm else abs(g.lots) * mark * K) for g in ls))
        args = (balance, [g.lots for g in ls], [g.cost for g in ls], mark, K, entry_mm)
        assert fast.liquidatable(*args) == ref.liquidatable(*args) == (balance * RATE_SCALE <= mm)


def test_the_compiled_table_pickles_with_its_brackets() -> None:
    table = margin_kernel.BracketTable(btcusdt_brackets(10**8))
    copy = pickle.loads(pickle.dumps(table))
    assert copy.maint_scaled(10**14) == table.maint_scaled(10**14)
    assert copy.liq_tick([5], [5 * 200_000], 10**11, 10**4) == table.liq_tick([5], [5 * 200_000], 10**11, 10**4)
