"""Hyperliquid's liquidation market order: its limit, and when an order that left a rest is sent again.

Sources (hyperliquid-docs):

- "Liquidations" (https://hyperliquid.gitbook.io/hyperliquid-docs/trading/liquidations): "When the
  account equity drops below maintenance margin, the positions are first attempted to be entirely
  closed by sending market orders the book. The orders are for the full size of the position, and
  may be fully or partially closed. If the positions are entirely or partially closed such that the
  maintenance margin requirements are met, any remaining collateral remains with the trader."
  "Liquidations use the mark price". "Partial liquidations": "only 20% of the position will be sent
  as a market liquidation order to the book. After a block where any position of a user is
  partially liquidated, there is a cooldown period of 30 seconds. During this cooldown period, all
  market liquidation orders for that user will be for the entire position."
- "Robust price indices": "Mark price is updated whenever validators publish new oracle prices";
  "Oracle" (hypercore/oracle): "The validators are responsible for publishing spot oracle prices
  for each perp asset every 3 seconds".
- Support FAQ "My TP/SL did not execute correctly"
  (https://hyperliquid.gitbook.io/hyperliquid-docs/support/faq/trade-outcome-looks-incorrect/my-tp-sl-did-not-execute-correctly):
  "TP/SL are triggered by mark price, and then executed"; "By default, market TP/SL orders have a
  10% slippage tolerance, which means the execution price can deviate".

The limit. The liquidation page says "market orders" and names no price. The one slippage bound
Hyperliquid documents for a market order the protocol itself sends on a mark trigger is the TP/SL's
10 %; the venue takes it for the liquidation's market order: a sell at most 10 % under the mark, a
buy at most 10 % over it (`market_limit`), rounded against the account (a sell's limit down, a buy's
up: the order may fill that little further), within the market's price limits. So the order sweeps
the book past the bankruptcy price when the book is thin, as a market order does; what its fills
take below zero the vault covers once the position is closed (it is the insurance fund), and while a
rest is held the account keeps its deficit until the vault's verdict at the next attempt
(risk.hyperliquid_backstop).

The pace. The docs give no retry interval. The liquidation check reads the mark, which moves only
at a publication; so the venue sends the order again at the next mark publication (`retry_at`: the
next 3-s grid point, risk.hyperliquid_mark), one attempt per account and market per publication,
whatever commands come between (one `Liquidation` notice per attempt). A partial step is that
publication's only order ("only 20% of the position will be sent"); the rest goes whole at the next
one, inside the 30-s cooldown (risk.liquidation_plan.paced_cut).

Units: prices in ticks; venue time in ns.
"""

from __future__ import annotations

from perpsim.risk.hyperliquid_mark import MARK_SAMPLE_NS

__all__ = ["SLIPPAGE", "market_limit", "retry_at"]

#: The market order's slippage bound from the mark: 10 % (n, d), the TP/SL market orders' default.
SLIPPAGE = (1, 10)


def market_limit(sell: bool, mark: int, lowest: int, highest: int) -> int:
    """The liquidation market order's limit (ticks): a sell at mark × (1 − 10 %) rounded down, a
    buy at mark × (1 + 10 %) rounded up (against the account), clamped to the market's price
    limits [`lowest`, `highest`]."""
    n, d = SLIPPAGE
    if sell:
        limit = mark * (d - n) // d
        return lowest if limit < lowest else limit
    limit = -(-mark * (d + n) // d)
    return highest if limit > highest else limit


def retry_at(ts: int) -> int:
    """When an order that left a rest at venue time `ts` (ns) is sent again: the next mark
    publication, the first 3-s grid point after `ts` (ns)."""
    return (ts // MARK_SAMPLE_NS + 1) * MARK_SAMPLE_NS
