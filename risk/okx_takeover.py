"""OKX's forced full liquidation: no order to the book; the liquidation engine takes the position
over at the bankruptcy price and unwinds it.

Sources:

- OKX help, "V. Forced Partial or Full Liquidation",
  https://supdljgzdhc.okx.com/hc/en-us/articles/360020411711-V-Forced-Partial-or-Full-Liquidation
  [C-copy]: "2. Forced Full Liquidation / Fixed Margin Mode:When a user's maintenance margin ratio
  tier is 2 or below and his maintenance margin rati[o ...]" (the stored copy ends there; a tier 3
  position is cut to tier 1 first, risk.liquidation_plan.first_tier_cut).
- OKX help, "System Liquidation Mechanism" (https://aws.okx.com/help/vi-system-liquidation-mechanism,
  an okx.com help host) [C-copy]: "Bankruptcy Price: The price at which a user loses all margin";
  "When a position is forced-liquidated and taken over by the forced-liquidation engine, it will not
  be put into the market at the bankruptcy price directly. Instead, the entrusted price will be
  calculated based on current market depth, basis, and mark price"; "The margin call losses caused
  by the difference between the bankruptcy price and transaction price [...] will be compensated by
  the insurance fund."
- OKX help on early liquidation and ADL (https://www.ouchyi.rocks/es-la/help/what-is-the-mechanism-for-the-
  strong-level-in-advance-what-is-the-use, an OKX help host) [C-copy]: "Once ADL is triggered, OKX will
  no longer place liquidation orders on the market".
- A third party's restatement of the full rule (woaiqun.com/2888.html) [U]: tier 2 or below under
  its MMR + fee rate, "the system automatically delegates all contracts (for cross-margin) or
  positions (for isolated margin) to the liquidation engine at the bankruptcy price (where the
  margin ratio hits zero)".

Here: a full liquidation of an okx account (tier 1–2, or what a tier step left once the re-check
finds it still under water) is a transfer of the position to the insurance fund at the bankruptcy
tick (rounded against the account), or to ADL when the fund is empty, as the rest of a forced order
is on the other profiles; the fund then puts it into the book at the entrusted price
(risk.okx_orders.entrusted_price: the depth price under min(mark, index), within the band and the
fund's own bankruptcy price), resting and relisted at each new mark (engine.okx_orders.offload), and
what it gains or loses against the bankruptcy price is its own. The liquidation fee is charged on
the liquidated notional out of what the transfer left (only the tick's rounding: at most that
much). Not modelled: the tier 3+ account whose margin ratio is already under tier 1's MMR + fee
(the third party's second case: here it is cut to tier 1 first), and its "all contracts (for
cross-margin)": here the account's legs in the liquidated market.
"""

from __future__ import annotations

__all__ = ["takes_over_in_full"]


def takes_over_in_full(rule) -> bool:
    """Whether a profile's liquidation rule (risk.venue_rules.LiquidationRule, or None) takes a
    fully liquidated position over at the bankruptcy price instead of sending it to the book."""
    return rule is not None and rule.full_taken_over
