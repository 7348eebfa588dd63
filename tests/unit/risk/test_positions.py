"""Exact cost basis: realized PnL rounds down per fill and sums exactly over a position's life."""

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from perpsim.risk.positions import Position

fills = st.lists(st.tuples(st.integers(-50, 50).filter(bool), st.integers(1, 10_000)), min_size=1, max_size=40)


@given(fills)
def test_realized_sums_to_cash_flows_once_flat(seq):
    """Per-fill rounding only shifts PnL between fills: once flat, the realized total is
    exactly the net cash flow of all fills (a buy pays qty × price, a sell receives it)."""
    p, realized = Position(), 0
    seq = [*seq, (0, seq[-1][1])]
    for i, (qty, price) in enumerate(seq):
        if i == len(seq) - 1:
            qty = -p.lots  # close what is left at the last price
            seq[i] = (qty, price)
        if qty:
            realized += p.apply_fill(qty, price)
    assert p == Position(0, 0)
    assert realized == -sum(q * pr for q, pr in seq)


@given(fills)
def test_each_fill_rounds_against_the_account(seq):
    p = Position()
    for qty, price in seq:
        exact_entry = Fraction(p.cost, p.lots) if p.lots else None
        closing = p.closing_qty(qty)
        realized = p.apply_fill(qty, price)
        if closing:
            exact = -closing * (price - exact_entry)  # closing is signed like the fill
            assert exact - 1 < realized <= exact
        else:
            assert realized == 0
        assert (p.lots == 0) == (p.cost == 0)


def test_flip_opens_at_the_fill_price():
    p = Position()
    p.apply_fill(3, 100)
    assert p.apply_fill(-5, 110) == 30
    assert p == Position(-2, -220)
