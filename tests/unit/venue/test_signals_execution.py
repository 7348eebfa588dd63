"""Execution quality by hand: spread, depth within bps, the slippage of a notional walking the
book, and the "fills will be worse" alert held for a while."""

from __future__ import annotations

import pytest

from perpsim.venue.signals.execution import ExecutionQuality, WorseFillsAlert, measure, slippage

S = 10**9


def _quote(lots: int, price: float) -> float:
    return lots * price  # one lot = one unit at `price` quote per unit


def test_spread_depth_and_slippage_by_hand() -> None:
    """Bid 999 / ask 1,001: mid 1,000, spread 20 bps. Buying 3,000 of quote takes 1,001 × 2
    (2,002) then 998 of the 1,003 level: VWAP = 3,000 / (2 + 998/1,003)."""
    bids = [(999, 1), (995, 5)]
    asks = [(1_001, 2), (1_003, 4), (1_010, 100)]
    q = measure(bids, asks, 3_000.0, _quote)
    assert q.spread_bps == pytest.approx(20.0)
    assert q.depth_bid == {10: pytest.approx(999.0), 50: pytest.approx(999.0 + 4_975.0)}
    assert q.depth_ask == {10: pytest.approx(2_002.0), 50: pytest.approx(2_002.0 + 4_012.0)}
    vwap = 3_000.0 / (2 + 998 / 1_003)
    assert q.buy_slippage_bps == pytest.approx((vwap - 1_000) / 1_000 * 10_000)
    assert q.sell_slippage_bps == pytest.approx((1_000 - 3_000.0 / (1 + 2_001 / 995)) / 1_000 * 10_000)


def test_a_book_too_thin_gives_no_slippage() -> None:
    assert slippage([(1_001, 1)], 1_000.0, 5_000.0, 1, _quote) is None


def test_alert_needs_the_condition_held() -> None:
    alert = WorseFillsAlert(slippage_bps=10.0, spread_bps=20.0, hold_ns=10 * S)
    wide = ExecutionQuality(spread_bps=30.0, buy_slippage_bps=1.0, sell_slippage_bps=1.0)
    calm = ExecutionQuality(spread_bps=5.0, buy_slippage_bps=1.0, sell_slippage_bps=1.0)
    thin = ExecutionQuality(spread_bps=5.0, buy_slippage_bps=None, sell_slippage_bps=1.0)
    assert alert.update(0, wide) is False
    assert alert.update(9 * S, wide) is False
    assert alert.update(10 * S, wide) is True
    assert alert.update(11 * S, calm) is False  # cleared at once
    assert alert.update(12 * S, thin) is False and alert.update(22 * S, thin) is True


def test_the_book_is_read_as_deep_as_the_measures_walk() -> None:
    """32 levels first; all of them only when those do not reach 50 bps and the notional."""
    from perpsim.venue.signals.execution import FIRST_LEVELS, MAX_LEVELS, read_book

    def book(step: int, size: int):
        asks = [(10_000 + step * i, size) for i in range(1, 1_000)]
        bids = [(10_000 - step * i, size) for i in range(1, 1_000)]
        reads = []

        def read(n):
            reads.append(n)
            return bids[:n], asks[:n]

        return read, reads

    read, reads = book(step=10, size=100)  # 32 levels reach 320 bps and hold far more than 1e6
    bids, asks = read_book(read, 1_000_000.0, _quote)
    assert reads == [FIRST_LEVELS] and len(bids) == FIRST_LEVELS
    read, reads = book(step=1, size=100)  # 32 levels reach only 32 bps
    read_book(read, 1_000.0, _quote)
    assert reads == [FIRST_LEVELS, MAX_LEVELS]
    read, reads = book(step=10, size=1)  # past 50 bps but too thin for the notional
    bids, asks = read_book(read, 10_000_000.0, _quote)
    assert reads == [FIRST_LEVELS, MAX_LEVELS]
    q = measure(bids, asks, 10_000_000.0, _quote)
    assert q.buy_slippage_bps is None  # 512 levels of 1 unit (about 6.4 M) cannot fill it
