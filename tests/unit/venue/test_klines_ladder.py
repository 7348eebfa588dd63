"""BarLadder (finest bars folded into the coarser ones as they close) holds at every interval
exactly what adding each price to every interval's Bars gives, whenever it is read (reads
between prices, pickling between prices, caps that evict)."""

from __future__ import annotations

import pickle
import random

import pytest

from perpsim.venue.history_records import INTERVALS
from perpsim.venue.klines import BarLadder, Bars

STEPS_NS = (0, 1, 10**9, 30 * 10**9, 60 * 10**9, 3_600 * 10**9, 7 * 3_600 * 10**9)


def contents(series) -> list[list]:
    return [list(b.bars) for b in series]


@pytest.mark.parametrize("seed", range(40))
def test_the_ladder_matches_every_interval_added_price_by_price(seed: int) -> None:
    rng = random.Random(seed)
    cap = rng.choice((3, 50, 1_500))
    each = [Bars(n, cap) for n in INTERVALS.values()]
    ladder = BarLadder(INTERVALS.values(), cap)
    trades = seed % 2 == 0  # a trade series (volumes, trade ids) or a mark series (prices only)
    ts, trade_id = rng.randrange(10**12), 0
    for _ in range(rng.randrange(1, 300)):
        ts += rng.choice(STEPS_NS)
        price = rng.randrange(1, 100)
        if trades:
            trade_id += 1
            qty = rng.randrange(1, 5)
            args = (ts, price, qty, price * qty, rng.random() < 0.5, trade_id)
        else:
            args = (ts, price)
        for bars in each:
            bars.add(*args)
        ladder.add(*args)
        if rng.random() < 0.05:  # a read in the middle of a bar
            assert contents(ladder) == contents(each)
        if rng.random() < 0.02:  # a snapshot in the middle of a bar
            ladder = pickle.loads(pickle.dumps(ladder, protocol=5))
    assert contents(ladder) == contents(each)
    for i, bars in enumerate(each):
        assert ladder[i].query(None, None, 100, ts) == bars.query(None, None, 100, ts)
