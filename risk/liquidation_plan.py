"""The liquidation of an account, decided as plain data (venue-mechanics §4.2, §4.6-4.7).

The engine finds an account under water and executes; this module decides, from integers it is
handed, what the execution is:

1. `liquidated_legs`: which positions go (the isolated one, or every cross leg of the account in
   the market, in side order); `forced_price`: the price of the forced orders, the bankruptcy
   tick clamped to the market's price limits (the mark when there is no bankruptcy price).
2. `partial_cut`, per leg when its turn comes: the lots of the partial order taken first, down
   to the largest size of the next-lower bracket at the mark (Binance's one IOC), from tier 3 up
   down to the first tier (OKX: `first_tier_cut`), or the profile's fraction of the position
   (Hyperliquid: a `PartialSteps` of kind FRACTION); 0 when the leg goes in one order.
   `paced_cut` is that unless the account is inside its pacing window, which a partial step
   opens until `partial_not_before` (Hyperliquid: 30 s during which its liquidations go in full;
   OKX: 60 s during which the account waits, `MarketTerms.waits`). dYdX liquidates one order
   per position and block (`block_cut`, `block_of`): a tenth, at least 1,000 USDC, within the
   account's 100,000 USDC per block.
3. After the forced order filled what it could: `takeover` says who takes the rest (the insurance
   fund while its balance is above zero, else ADL, then the fund for what ADL could not place),
   `liquidation_fee` what the fund is paid, `shortfall` what it covers.
4. `offload`: where the fund unloads what it took over, and whether the rest is deleveraged.

The functions the engine calls per liquidated position are compiled (`liquidation_plan.pxd`),
take and return ints and allocate nothing but the exact inverse notional.

Units: prices in ticks, quantities in lots (signed: + long), money in integer units of the
settlement asset, rates scaled by RATE_SCALE. A notional is |lots| × price × K (linear, an int) or
|lots| × k_inv / price (inverse, an exact Fraction: it is only compared or rounded below). Every
division states its rounding; each goes against the liquidated account.
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

from perpsim.model.enums import Side
from perpsim.risk.brackets import Brackets
from perpsim.risk.units import RATE_SCALE, apply_rate_up
from perpsim.risk.venue_rules import PartialSteps, StepKind

_BUY, _SELL = Side.BUY, Side.SELL
#: MarketTerms.mode: how a leg's partial step is sized
DOWN_A_TIER, FRACTION, TO_FIRST_TIER, PER_BLOCK = 0, 1, 2, 3
_MODES = {StepKind.FRACTION: FRACTION, StepKind.TO_FIRST_TIER: TO_FIRST_TIER, StepKind.PER_BLOCK: PER_BLOCK}


class MarketTerms:
    """What a market's liquidations are decided on; built once per market (`market_terms`).

    K: money units per lot·tick (linear); k_inv: coin money units × ticks per lot (inverse, else
    0); first_cap: the first bracket's cap (money units): no down-a-tier cut at or below it;
    money_scale: money units per whole settlement unit (10**settle_decimals); lowest, highest:
    the market's price limits (ticks); fee_rate: the liquidation (clearance) fee, scaled; steps:
    the profile's partial-step rule, or None for the down-a-tier cut; mode: which (DOWN_A_TIER,
    FRACTION, TO_FIRST_TIER, PER_BLOCK); pace_ns: how long after a partial step the account's
    liquidations go in full (FRACTION) or wait (TO_FIRST_TIER, then `waits`) (ns; 0: no pacing);
    block_ns: a block's length (PER_BLOCK, ns; else 0); block_cap: what one account may have
    liquidated per block (money units, PER_BLOCK)."""

    def __init__(self, K, k_inv, inverse, brackets, first_cap, money_scale, lowest, highest, fee_rate, steps):
        self.K, self.k_inv, self.inverse, self.brackets = K, k_inv, inverse, brackets
        self.first_cap, self.money_scale, self.lowest, self.highest = first_cap, money_scale, lowest, highest
        self.fee_rate, self.steps = fee_rate, steps
        self.mode = DOWN_A_TIER if steps is None else _MODES[steps.kind]
        interval_ns = 0 if steps is None else steps.interval_s * 1_000_000_000
        self.waits = self.mode == TO_FIRST_TIER and interval_ns > 0
        self.pace_ns = interval_ns if self.mode in (FRACTION, TO_FIRST_TIER) else 0
        self.block_ns = interval_ns if self.mode == PER_BLOCK else 0
        self.block_cap = steps.block_notional * money_scale if self.mode == PER_BLOCK else 0


def market_terms(*, K: int, k_inv: Fraction | int, inverse: bool, brackets: Brackets, money_scale: int,
                 price_limits: tuple[int, int], fee_rate: int, steps: PartialSteps | None) -> MarketTerms:
    """The terms of one market; `steps` of kind DOWN_A_TIER (or None) mean the brackets'
    down-a-tier cut. A PER_BLOCK profile needs a block (interval_s > 0)."""
    if steps is not None and steps.kind not in _MODES:
        steps = None
    if steps is not None and steps.kind is StepKind.PER_BLOCK and steps.interval_s <= 0:
        raise ValueError("per-block liquidation steps need a block length (interval_s > 0)")
    lowest, highest = price_limits
    return MarketTerms(K, k_inv, inverse, brackets, brackets.for_notional(0).cap, money_scale, lowest, highest,
                       fee_rate, steps)


#: Who takes what the forced order left: nobody (it all filled), the insurance fund, or ADL.
NONE, FUND, ADL = 0, 1, 2


def notional(t: MarketTerms, lots: int, price: int) -> int | Fraction:
    """|lots| at `price` in money units: exact int (linear) or exact Fraction (inverse)."""
    if t.inverse:
        return Fraction(abs(lots)) * t.k_inv / price
    return abs(lots) * price * t.K


def forced_price(t: MarketTerms, bankruptcy: int | None, mark: int) -> int:
    """The forced orders' limit price: the bankruptcy tick (already rounded against the account),
    or the mark when none solves, clamped to the market's price limits."""
    price = mark if bankruptcy is None else bankruptcy
    return t.lowest if price < t.lowest else t.highest if price > t.highest else price


def liquidated_legs(isolated: bool, pside: int, held: tuple[int, ...]) -> tuple[int, ...]:
    """The position sides liquidated, in order: an isolated position alone (`pside`), or all
    the account's cross legs in the market (`held`, in side order)."""
    return (pside,) if isolated else held


def partial_cut(t: MarketTerms, lots: int, mark: int) -> int:
    """Lots closed by the partial step before the rest of a leg of `lots` (signed) goes; 0: none.

    Down a tier (Binance, Bybit, OKX): above the first bracket, the lots beyond the largest whole
    number whose notional at the mark fits the next-lower bracket (that number rounded down, so
    the cut rounds up). Fraction per step: see `fraction_cut`; down to the first tier:
    `first_tier_cut`; per block: `block_cut` (0 when the block's order is the whole leg)."""
    if t.steps is not None:
        if t.mode == FRACTION:
            return fraction_cut(t, lots, mark)
        if t.mode == TO_FIRST_TIER:
            return first_tier_cut(t, lots, mark)
        cut = block_cut(t, lots, mark, t.block_cap)
        return cut if cut < abs(lots) else 0
    value = notional(t, lots, mark)
    if value <= t.first_cap:  # most positions: no bracket lookup
        return 0
    floor = t.brackets.for_notional(value).floor
    keep = floor * mark // t.k_inv if t.inverse else floor // (mark * t.K)
    return abs(lots) - keep


def fraction_cut(t: MarketTerms, lots: int, mark: int) -> int:
    """A fraction-per-step profile's first step (Hyperliquid 20 % above 100k of notional):
    the fraction of |lots| rounded up (a step closes at
    least its share), raised to the lots worth min_notional at the mark (rounded up; linear
    markets); 0 when the notional is at or under above_notional or the step would close it all."""
    steps = t.steps
    if notional(t, lots, mark) <= steps.above_notional * t.money_scale:
        return 0
    size = abs(lots)
    cut = -(-size * steps.fraction // RATE_SCALE)
    if steps.min_notional and not t.inverse:
        cut = max(cut, -(-steps.min_notional * t.money_scale // (mark * t.K)))
    return cut if cut < size else 0


def first_tier_cut(t: MarketTerms, lots: int, mark: int) -> int:
    """OKX: a leg whose notional at the mark is in tier `from_tier` or above is cut to the
    largest whole number of lots whose notional fits the first tier (that number rounded down,
    so the cut rounds up: against the account); a leg below that tier goes in one order (0).
    "For position at Tier 3 or above ... The relevant position will be liquidated until it is at
    Tier 1 ... Number of Swaps to be closed = Number of Swaps held – max Number of Swaps
    acceptable for Tier 1 = 15,000-2,000=13,000 swaps" (OKX help 360020411711, venue-mechanics
    §4.5). OKX tiers by contracts; a table here caps notional, so the first tier's size is
    taken at the mark."""
    value = notional(t, lots, mark)
    if value <= t.first_cap or t.brackets.for_notional(value).number < t.steps.from_tier:
        return 0
    keep = t.first_cap * mark // t.k_inv if t.inverse else t.first_cap // (mark * t.K)
    return abs(lots) - keep


def block_cut(t: MarketTerms, lots: int, mark: int, left) -> int:
    """dYdX v4: the lots of a position's one liquidation order in a block, `left` the money units
    the account may still have liquidated in it. As `GetLiquidatablePositionSizeDelta`
    (protocol/x/clob/keeper/liquidations.go): the position's bound is its notional × fraction
    (rounded down, as `BigIntMulPpm`) but at least min(min_notional, its notional); the
    account's is `left`; a position within the smaller goes whole, else that bound in whole lots
    rounded down, at least one lot (dYdX rounds to the step size down and clamps to one step).
    Rounding down keeps the venue's limit a limit: the one rounding here not against the
    account (by less than a lot per block). 0 when even one lot would pass `left` (dYdX refuses
    such a fill: `validateLiquidationAgainstSubaccountBlockLimits`)."""
    steps = t.steps
    size = abs(lots)
    value = notional(t, lots, mark)
    least = steps.min_notional * t.money_scale
    if value < least:
        least = value
    most = value * steps.fraction // RATE_SCALE
    if most < least:
        most = least
    if left < most:
        most = left
    if value <= most:
        return size
    unit = notional(t, 1, mark)
    n = most // unit
    if n < 1:
        n = 1
    if n * unit > left:
        return 0
    return n if n < size else size


def block_of(t: MarketTerms, ts: int) -> int:
    """The block venue time `ts` (ns) falls in: blocks of `block_ns` counted from venue time 0."""
    return ts // t.block_ns


def block_notional(t: MarketTerms, lots: int, mark: int) -> int:
    """What `lots` count against an account's per-block limit: their notional at the mark (an
    inverse market's exact fraction rounded up: it counts at least what it is)."""
    value = notional(t, lots, mark)
    return value if not t.inverse else -(-value.numerator // value.denominator)


def paced_cut(t: MarketTerms, lots: int, mark: int, ts: int, not_before: int) -> int:
    """`partial_cut`, unless venue time `ts` (ns) is before `not_before`, the end of the account's
    pacing window: then 0, the leg goes in one order. Hyperliquid: "After a block where any
    position of a user is partially liquidated, there is a cooldown period of 30 seconds. During
    this cooldown period, all market liquidation orders for that user will be for the entire
    position" (hyperliquid-docs, trading/liquidations, "Partial liquidations")."""
    if ts < not_before:
        return 0
    return partial_cut(t, lots, mark)


def partial_not_before(t: MarketTerms, ts: int) -> int:
    """After a partial step at venue time `ts` (ns): when the account's next partial step may
    come (`ts` + the profile's interval), or 0 when the profile paces none (dYdX paces by block:
    `block_of`)."""
    return ts + t.pace_ns if t.pace_ns else 0


def takeover(rest: int, fund: int) -> int:
    """Who takes the `rest` lots the forced order left: NONE (nothing left), FUND (its balance
    `fund` is above zero: it takes all of them at the bankruptcy price) or ADL (the opposite side
    gives them up; what it cannot, the fund holds after all)."""
    if not rest:
        return NONE
    return FUND if fund > 0 else ADL


def liquidation_fee(t: MarketTerms, qty: int, price: int, remaining: int) -> int:
    """The clearance fee on `qty` liquidated lots at `price`: the fee rate on their notional,
    rounded up, paid to the fund out of the `remaining` collateral and never more than it
    (0 when nothing remains)."""
    if not qty or remaining <= 0:
        return 0
    fee = apply_rate_up(notional(t, qty, price), t.fee_rate)
    return fee if fee < remaining else remaining


def shortfall(remaining: int) -> int:
    """What the fund covers after the last leg: a negative remainder of the collateral (left
    only by rounding the bankruptcy price to the tick), else 0."""
    return -remaining if remaining < 0 else 0


class Offload(NamedTuple):
    """The fund's unloading of a position it holds: side and the limit of its IOC (ticks)."""

    side: int
    limit: int


def offload(lots: int, protection: int, bankruptcy: int | None) -> Offload:
    """The fund's offload order for its position of `lots`: inside the price band (`protection`,
    the band's edge on the order's side), never past its own bankruptcy tick (rounded in the
    fund's favour: the fund never pays for rounding)."""
    side = _SELL if lots > 0 else _BUY
    if bankruptcy is None:
        return Offload(side, protection)
    return Offload(side, max(protection, bankruptcy) if side == _SELL else min(protection, bankruptcy))


def fund_deleverages(lots: int, mark: int, bankruptcy: int | None) -> bool:
    """Whether what the fund still holds (`lots`) is deleveraged at its bankruptcy tick: once the
    mark has reached it."""
    if bankruptcy is None or not lots:
        return False
    return mark <= bankruptcy if lots > 0 else mark >= bankruptcy
