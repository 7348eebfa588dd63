"""OKX's liquidation orders as prices: the partial step's order "slightly better than market price",
resting for its minute, and the liquidation engine's "entrusted price" for a position it took over.

Sources:

- OKX help, "V. Forced Partial or Full Liquidation",
  https://supdljgzdhc.okx.com/hc/en-us/articles/360020411711-V-Forced-Partial-or-Full-Liquidation
  [C-copy]: "For Fixed Margin Mode, liquidation orders will be sent in a price slightly better than
  market price, force-closing the required Number of Swaps. During the time, the position will be
  frozen and not be controlled by the user. About a minute later, if the orders are filled and the
  Margin Ratio of the remaining position reach the Maintenance Margin Ratio+ Forced-Liquidation Fee
  Rate required by the relevant tier, then the remaining liquidation orders will be canceled [...]
  If the liquidation orders are unfilled or the Margin Ratio of the remaining position does not
  reach the required Maintenance Margin Ratio+ Forced-Liquidation Fee Rate, then the unfilled
  liquidation orders will be canceled. The liquidation procedure will start over again."
- OKX help, "System Liquidation Mechanism" (https://aws.okx.com/help/vi-system-liquidation-mechanism)
  [C-copy]: "Entrusted Price of Liquidated Position: The price at which a liquidated position is put
  into the market by our forced-liquidation engine after forced-liquidation"; "When a position is
  forced-liquidated and taken over by the forced-liquidation engine, it will not be put into the
  market at the bankruptcy price directly. Instead, the entrusted price will be calculated based on
  current market depth, basis, and mark price to increase transaction efficiency and return to cover
  the loss"; "some positions may be transacted at lower prices than their bankruptcy prices (for
  closed long positions) or higher (for closed short positions)" and the loss "will be compensated by
  the insurance fund".
- A third party's restatement of OKX's 2019 notice (amorrr.com/6466.html) [U]: "If unfilled after a set
  duration, pending orders are canceled and relisted using updated: Market depth, Basis, Bankruptcy
  price, Index price. This loop continues until full execution."

The venue's rules where the sources are vague:

- `step_limit`: "market price" is the mark (OKX's index plus basis: where the market is; the last
  trade can be long stale when the index moves); "slightly better" is 0.1 % (`SLIGHTLY`) through it:
  a sell at mark × 0.999 rounded down, a buy at mark × 1.001 rounded up (against the account: the
  order may fill that little further), within the market's band and price limits. The order rests
  (GTC) for the minute; what it fills on arrival and meanwhile is liquidated.
- `entrusted_price`: for the fund selling `lots` (a long it took over): the depth price, the bid at
  which the book's bids from the best one add up to `lots` (the lowest bid when they hold less),
  capped at the fair price, the mark less any premium over the index (min(mark, index): the basis
  a perpetual trades at is not waited for), and never under the fund's floor (the band's edge and
  its own bankruptcy price, risk.liquidation_plan.offload); no bid: the fair price. A buy mirrors it
  (the ask side, max(mark, index), the ceiling). Ticks in, a tick out: no rounding. The order rests
  and is relisted at each new mark (the "loop").

Units: prices in ticks, quantities in lots.
"""

from __future__ import annotations

__all__ = ["SLIGHTLY", "depth_price", "entrusted_price", "step_limit"]

#: "slightly better than market price": 0.1 % through the last trade price, (n, d)
SLIGHTLY = (1, 1_000)


def step_limit(sell: bool, market: int, lowest: int, highest: int) -> int:
    """The partial step's limit (ticks) from the `market` price (ticks): a sell at market × (1 −
    0.1 %) rounded down, a buy at market × (1 + 0.1 %) rounded up (against the account), clamped to
    [`lowest`, `highest`] (the band's edges within the price limits)."""
    n, d = SLIGHTLY
    if sell:
        limit = market * (d - n) // d
        return lowest if limit < lowest else highest if limit > highest else limit
    limit = -(-market * (d + n) // d)
    return highest if limit > highest else lowest if limit < lowest else limit


def depth_price(levels: list[tuple[int, int]], lots: int) -> int | None:
    """The price (ticks) of the level at which the book's side `levels` ((price, lots), best first)
    adds up to `lots`; the last level's when they hold less; None when the side is empty."""
    total = 0
    for price, qty in levels:
        total += qty
        if total >= lots:
            return price
    return levels[-1][0] if levels else None


def entrusted_price(sell: bool, lots: int, levels: list[tuple[int, int]], mark: int, index: int | None,
                    bound: int) -> int:
    """The fund's resting order's limit (ticks) for `lots` (> 0) taken over, against the opposite
    side's `levels` ((price, lots), best first): the depth price capped at the fair price (a sell:
    min(mark, index), a buy: max(mark, index); the mark without an index), the fair price with no
    depth, and never through `bound` (a sell's floor, a buy's ceiling). Exact."""
    fair = mark if index is None else (min(mark, index) if sell else max(mark, index))
    depth = depth_price(levels, lots)
    price = fair if depth is None else (min(fair, depth) if sell else max(fair, depth))
    return max(price, bound) if sell else min(price, bound)
