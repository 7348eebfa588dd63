"""dYdX v4's deleveraging: a bankrupt position closed against opposite positions at its bankruptcy
price, the whole of it, and never handed to the insurance fund (venue-mechanics §4.6, §5, §6.5).

Source: dydxprotocol/v4-chain @ 84d4664bae71e3a077adaac67fb77ad19cd28d30, protocol/x/clob/keeper:

- liquidations.go `LiquidateSubaccountsAgainstOrderbook`: a liquidation order that fills nothing
  sends its subaccount and market to deleveraging (`if optimisticallyFilledQuantums == 0`);
- deleveraging.go `CanDeleverageSubaccount`: "Negative TNC, deleverage at bankruptcy price."
  (the final-settlement case, at the oracle, is not a market state here);
- `MaybeDeleverageSubaccount`: "Note that the full position size will get deleveraged."; "Deleverage
  the entire position for the given perpetual id.": deltaQuantums = −(the position's quantums);
- `OffsetSubaccountPerpetualPosition`: the subaccounts with a position on the opposite side, "Start
  from a random subaccount.", "Iterate at most `MaxDeleveragingSubaccountsToIterate` subaccounts"
  (flags.go: 500); each offsets min(what is left, its whole position); one whose update fails
  ("likely because the subaccounts' bankruptcy prices do not overlap") is skipped; what no one
  offsets stays with the subaccount (its TNC stays negative; the next block tries again);
- `ProcessDeleveraging`: "closing both the liquidated subaccount's position and the offsetting
  subaccount's position at the bankruptcy price of the _liquidated_ position"; the updates go
  through `UpdateSubaccounts` as a Match, whose check for an account left below its initial margin
  is protocol/x/subaccounts/lib/updates.go `IsValidStateTransitionForUndercollateralizedSubaccount`
  (below, `offset_allowed`);
- deleveraging.go `DeleverageSubaccounts`: "For each unfilled liquidation, attempt to deleverage the
  subaccount.", `for i := 0; i < int(k.Flags.MaxDeleveragingAttemptsPerBlock) && i <
  len(subaccountsToDeleverage); i++` (flags.go: DefaultMaxDeleveragingAttemptsPerBlock = 10); the
  list is filled in liquidation order (liquidations.go) and what is past the cap is dropped: those
  subaccounts are liquidated again, and deleveraged, in a later block (`attempt_allowed`);
- the insurance fund appears in none of it: it pays liquidation fills' shortfalls
  (`GetLiquidationInsuranceFundDelta`) and never takes a position.

Each offset's price (`bankruptcy_quote`): `OffsetSubaccountPerpetualPosition` asks
`getDeleveragingQuoteQuantumsDelta` per offsetting subaccount, "For standard deleveraging, use the
bankruptcy price.": liquidations.go `GetBankruptcyPriceInQuoteQuantums` of that offset's delta,
"-DNNV - (TNC * (abs(DMMR) / TMMR))", on the liquidated account as the offsets before it left it;
the quote is the liquidated account's quote balance delta, the offsetting one's its negation
(`ProcessDeleveraging`). In a multi-market account the share of its TNC is the position's share of
its maintenance margin, not the whole deficit.

The walk's start (risk.dydx_rotation): a stable digest of (block, market) instead of dYdX's draw.
Units: money in integer units of the settlement asset (dYdX's quote quantum); `mmr` maintenance
margins × RATE_SCALE (an int or an exact Fraction); `imr` in money units. Rounding: the quote's one
division floors as dYdX's ("rounded down to negative infinity to ensure the final result is rounded
towards positive-infinity": the liquidated account's favour, the offsetting account's loss, by
under a unit an offset); `quote_tick` floors the per-lot price to the tick and carries the
remainder as money, so nothing else rounds.
"""

from __future__ import annotations

from dataclasses import dataclass

#: flags.go DefaultMaxDeleveragingSubaccountsToIterate
MAX_ITERATED = 500
#: flags.go DefaultMaxDeleveragingAttemptsPerBlock
MAX_ATTEMPTS = 10


@dataclass(frozen=True, slots=True)
class DeleveragingRule:
    """A profile's deleveraging of a bankrupt position (dYdX v4): the whole position, against at
    most `max_iterated` opposite positions from a start drawn per block and market, at most
    `max_attempts` deleveragings a block (the rest wait for a later block); the insurance fund
    takes none of it."""

    max_iterated: int = MAX_ITERATED
    source: str = ""
    max_attempts: int = MAX_ATTEMPTS

    def __post_init__(self) -> None:
        if self.max_iterated < 1:
            raise ValueError("max_iterated must be at least 1 (dYdX walks at least one subaccount)")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1 (a block deleverages at least one subaccount)")


def attempt_allowed(attempted: int, rule: DeleveragingRule) -> bool:
    """Whether a block that has made `attempted` deleveraging attempts may make one more:
    DeleverageSubaccounts's loop stops at `MaxDeleveragingAttemptsPerBlock` (every attempt counts,
    whether or not anyone offsets the position)."""
    return attempted < rule.max_attempts


def offset_lots(left: int, position: int) -> int:
    """What one offsetting position takes (lots ≥ 0): all that is `left` to deleverage, or its
    whole position (`position`: signed lots) if smaller."""
    size = abs(position)
    return left if left < size else size


def offset_allowed(*, tnc: int, mmr, tnc_after: int, mmr_after, imr_after: int) -> bool:
    """Whether the offsetting account's side of a deleveraging fill is a valid update (dYdX's
    Match check): valid if it leaves the account at or above its initial margin (TNC ≥ IMR);
    otherwise only a "less-or-equally-risky" state: its maintenance margin not growing and
    TNC / MMR not falling, compared as TNC_after × MMR ≥ TNC × MMR_after; with a zero MMR before
    or after, only both zero and TNC rising."""
    if tnc_after >= imr_after:
        return True
    if mmr_after > mmr:
        return False
    if not mmr_after or not mmr:
        return not mmr_after and not mmr and tnc_after > tnc
    return tnc * mmr_after <= tnc_after * mmr


def bankruptcy_quote(*, lots: int, oracle: int, K: int, long: bool, tnc: int, dmmr: int, tmmr: int) -> int:
    """`GetBankruptcyPriceInQuoteQuantums` of closing `lots` (> 0) of a long (`long`) or a short at
    the `oracle` tick: the liquidated account's quote delta (money units, + received), −DNNV −
    TNC × DMMR / TMMR with DNNV = ∓ lots × oracle × K and the division floored. `tnc`: the
    account's net collateral; `dmmr` (≥ 0) the MMR the close frees, of `tmmr` (> 0) in all, both
    in one unit."""
    if tmmr <= 0:
        raise ValueError("the bankruptcy quote needs a positive maintenance margin requirement")
    value = lots * oracle * K
    return (value if long else -value) - tnc * dmmr // tmmr


def quote_tick(quote: int, lots: int, K: int) -> tuple[int, int]:
    """(price tick, remainder) that carry a quote of |`quote`| money units for `lots` (> 0) as a
    trade: the per-lot price floored to the tick (at least 1), and |quote| − lots × tick × K,
    the money (≥ 0 but for the 1-tick floor) that moves with the trade beside its price."""
    amount = -quote if quote < 0 else quote
    tick = amount // (lots * K)
    if tick < 1:
        tick = 1
    return tick, amount - lots * tick * K
