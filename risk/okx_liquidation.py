"""OKX's liquidation details beyond the tier step (risk.liquidation_plan.first_tier_cut): a cross
account's hedged pair closed against itself first, and the re-check wait kept per position.

Source: OKX help, "V. Forced Partial or Full Liquidation",
https://supdljgzdhc.okx.com/hc/en-us/articles/360020411711-V-Forced-Partial-or-Full-Liquidation

- Hedged pairs: "In Cross Margin Mode, if there are both long and short positions, the pairs of
  long/short positions will be closed immediately. If Margin Ratio reaches the required Maintenance
  Margin Ratio, liquidation will stop; if it is not reached, the liquidation will continue." The
  overlap min(long, |short|) of an account's two legs in the market is closed against itself (no
  order in the book), then the margin check decides whether the rest goes on.
- The wait: "For Fixed Margin Mode, liquidation orders will be sent [...] During the time, the
  position will be frozen and not be controlled by the user. About a minute later, [...] the
  user's control over the position is restored"; "In Cross Margin Mode, if there is only long
  position or short position, the Forced Partial Liquidation process will be the same as above."
  The freeze is the position's: keyed by (account, market, position side), an isolated position's
  own side or, for cross, the account's legs in the market (at most one leg once the pair is
  netted). The account's other positions are liquidated meanwhile as usual.

The source names no price for the pair's closing. It is taken at the mark: a linear pair's
realized PnL sums to the same amount at any price (the closed lots × price cancel between the legs;
what is left is minus each leg's closed share of its cost, taken out rounded toward +∞ as for any
partial close, risk.positions: against the account, by under a tick-lot per leg, whatever the
price), so the price only splits it between the legs. On an inverse market
each leg's PnL would round down (risk.positions), up to one money unit per leg to dust at any
price; the okx profile lists no inverse contract (its MarginRule has no inverse_mm_at), so only the
linear case arises. It is no liquidation order, so no liquidation fee is charged on it (the source
names the fee only with the liquidation orders' margin check).

Units: lots (signed: + long), ticks.
"""

from __future__ import annotations

from perpsim.model.enums import PositionSide

_BOTH = PositionSide.BOTH


def nets_hedged_pairs(rule) -> bool:
    """Whether a profile's liquidation rule (risk.venue_rules.LiquidationRule, or None) closes a
    cross account's hedged pair against itself first."""
    return rule is not None and rule.nets_hedged_pairs


def netted_lots(long_lots: int, short_lots: int) -> int:
    """Lots of each leg closed against the other: min(long, |short|) of a long of `long_lots`
    (≥ 0) and a short of `short_lots` (≤ 0); 0 unless both are held. Exact."""
    if long_lots <= 0 or short_lots >= 0:
        return 0
    return long_lots if long_lots < -short_lots else -short_lots


def netting_price(mark: int) -> int:
    """The price (ticks) the pair is closed at: the mark (see the module docstring)."""
    return mark


def frozen_key(account: int, symbol: str, pside: int, isolated: bool) -> tuple[int, str, int]:
    """The key of the position an OKX partial step freezes: (account, symbol, the isolated
    position's side, or BOTH for the account's cross legs in the market)."""
    return account, symbol, pside if isolated else _BOTH
