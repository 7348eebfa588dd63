"""Insurance-fund stress by hand: which entries a shock reaches, how they walk the book, the
loss beyond bankruptcy prices, coverage and the ADL share."""

from __future__ import annotations

import pytest

from perpsim.venue.signals.liqmap import Entry, LiquidationMap
from perpsim.venue.signals.stress import stress


def _value(lots: int, ticks: float) -> float:
    return lots * ticks


def _loss(side: int, lots: int, bankruptcy: float, fill: float) -> float:
    return max(0.0, side * (bankruptcy - fill) * lots)  # linear, one unit per tick-lot


BANKRUPTCY = {1: 955.0, 2: 930.0, 3: 1_040.0}  # per entry key


def _map() -> LiquidationMap:
    lm = LiquidationMap()
    lm.set(1, Entry(960, 1, 4))  # reached by −5 % (mark 1,000 -> 950), bankrupt at 955
    lm.set(2, Entry(940, 1, 6))  # only by −10 %
    lm.set(3, Entry(1_030, -1, 5))  # a short, reached by +5 %
    return lm


def _stress(lm, shock, levels, fund):
    asked = []

    def solve(key):
        asked.append(key)
        return BANKRUPTCY[key]

    r = stress(lm, 1_000, shock, levels, fund, _value, _loss, solve)
    r.asked = asked
    return r


def test_minus_five_percent_by_hand() -> None:
    """Bids 951 (2 lots, above the shocked 950: not used), 949 (3 lots), 945 (10 lots): the long at
    960 sells 3 at 949 and 1 at 945: loss (955 − 949)·3 + (955 − 945)·1 = 28."""
    bids = [(951, 2), (949, 3), (945, 10)]
    r = _stress(_map(), -5.0, bids, 20.0)
    assert (r.liquidated_lots, r.unabsorbed_lots) == (4, 0)
    assert r.liquidated_notional == 4 * 960
    assert r.draw == pytest.approx(28.0)
    assert r.coverage == pytest.approx(20 / 28)
    assert r.adl_share == pytest.approx(8 / 28)


def test_minus_ten_percent_walks_in_liquidation_order_and_prices_what_the_book_cannot_take() -> None:
    """Bids at 900 hold 5 lots: the long at 960 (4 lots) fills there, the one at 940 gets 1 lot
    there and 5 lots beyond the book, priced at the worst level reached (900)."""
    r = _stress(_map(), -10.0, [(900, 5)], 1_000.0)
    assert (r.liquidated_lots, r.unabsorbed_lots) == (10, 5)
    assert r.draw == pytest.approx((955 - 900) * 4 + (930 - 900) * 6)
    assert r.coverage == pytest.approx(1_000 / r.draw) and r.adl_share == 0.0


def test_up_shock_reaches_the_shorts_through_the_asks() -> None:
    """+5 %: 1,050. The ask at 1,049 is better than the shocked price (a real move took it):
    the short's 5 lots buy at 1,055, 15 beyond its bankruptcy price of 1,040."""
    r = _stress(_map(), 5.0, [(1_049, 2), (1_055, 9)], 0.0)
    assert r.liquidated_lots == 5
    assert r.draw == pytest.approx((1_055 - 1_040) * 5)
    assert r.adl_share == 1.0


def test_no_entry_reached_draws_nothing() -> None:
    r = _stress(_map(), -2.0, [(990, 100)], 50.0)
    assert (r.liquidated_lots, r.draw, r.coverage, r.adl_share) == (0, 0.0, None, 0.0)
    assert r.asked == []  # no bankruptcy price is solved for an entry the move does not reach


def test_bankruptcy_prices_are_solved_once_per_entry_until_it_changes() -> None:
    lm = _map()
    first = _stress(lm, -10.0, [(900, 50)], 0.0)
    assert sorted(first.asked) == [1, 2]
    assert _stress(lm, -10.0, [(900, 50)], 0.0).asked == []
    lm.set(2, Entry(945, 1, 6))  # the position changed: its bankruptcy price is asked again
    assert _stress(lm, -10.0, [(900, 50)], 0.0).asked == [2]
