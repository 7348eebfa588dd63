"""Insurance-fund stress: what a sudden move of the mark would cost the fund.

For a shock s (e.g. −10 %): the entries of the liquidation map whose liquidation price lies
between the mark M and M(1 + s) are liquidated in the order the mark reaches them; each forced
order (a long's sell, a short's buy) fills through the book as it stands now, at the shocked
price or worse: bids at or below M(1 + s) for longs (asks at or above it for shorts), the
entries taking the levels one after another. Lots the book cannot absorb are priced at the last
(worst) price reached, or M(1 + s) when none is. Each entry's loss beyond its bankruptcy price B
is `max(0, (B − P_fill) · q)` for a long and the mirror for a short (money of the settlement
asset); their sum is the fund's draw. coverage = fund / draw; ADL share =
`max(0, draw − fund) / draw`. The book is taken as it stands: a real cascade thins it further,
so the draw is a lower bound. A stress test, not a forecast.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class StressResult:
    """One shock's outcome: the shock (percent of the mark) and shocked price (ticks, not rounded
    to the tick grid), lots liquidated and beyond the book, their notional, the fund's draw and
    balance (settlement asset), coverage (fund / draw) and the ADL share (a fraction)."""

    shock_pct: float
    shocked_price: float  # ticks
    liquidated_lots: int = 0
    liquidated_notional: float = 0.0  # at the liquidation prices
    unabsorbed_lots: int = 0  # beyond the book's depth
    draw: float = 0.0  # loss beyond bankruptcy prices, settlement asset
    fund: float = 0.0
    coverage: float | None = None  # fund / draw; None when nothing is drawn
    adl_share: float = 0.0


def stress(liqmap, mark: int, shock_pct: float, levels, fund: float, notional, loss, solve) -> StressResult:
    """`levels`: the book side the forced orders hit, best first, as (price ticks, lots);
    `notional(lots, ticks)`: value at a price; `loss(side, lots, bankruptcy, fill)`: money lost
    beyond the bankruptcy price by `lots` of an entry on `side` filled at `fill` (>= 0);
    `solve(key)`: an entry's bankruptcy price in ticks (0.0: none), asked once per entry."""
    shocked = mark * (1.0 + shock_pct / 100.0)
    r = StressResult(shock_pct, shocked, fund=fund)
    side = 1 if shock_pct < 0 else -1
    if shock_pct < 0:
        hit = [(k, e) for k, e in liqmap.between(shocked, mark) if e.side > 0][::-1]  # highest first
    else:
        hit = [(k, e) for k, e in liqmap.between(mark, shocked) if e.side < 0]  # lowest first
    # only the levels at the shocked price or worse take forced orders
    book = [(p, q) for p, q in levels if (p <= shocked if side > 0 else p >= shocked)]
    li, left_at_level = 0, book[0][1] if book else 0
    worst = shocked
    for key, e in hit:
        bankruptcy = liqmap.bankruptcy(key, solve)
        r.liquidated_lots += e.lots
        r.liquidated_notional += notional(e.lots, e.tick)
        need = e.lots
        while need > 0 and li < len(book):
            take = min(need, left_at_level)
            price = book[li][0]
            worst = price
            if bankruptcy:
                r.draw += loss(side, take, bankruptcy, price)
            need -= take
            left_at_level -= take
            if left_at_level == 0:
                li += 1
                left_at_level = book[li][1] if li < len(book) else 0
        if need > 0:
            r.unabsorbed_lots += need
            if bankruptcy:
                r.draw += loss(side, need, bankruptcy, worst)
    if r.draw > 0:
        r.coverage = fund / r.draw
        r.adl_share = max(0.0, r.draw - fund) / r.draw
    return r
