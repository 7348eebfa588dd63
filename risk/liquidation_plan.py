"""The liquidation of an account, decided as plain data (venue-mechanics §4.2, §4.6-4.7).

The engine finds an account under water and executes; this module decides, from integers it is
handed, what the execution is:

1. `liquidated_legs`: which positions go (the isolated one, or every cross leg of the account in
   the market, in side order); `forced_price`: the price of the forced orders, the bankruptcy
   tick clamped to the market's price limits (the mark when there is no bankruptcy price).
2. `partial_cut`, per leg when its turn comes: the lots of the partial order taken first, down
   to the largest size of the next-lower bracket at the mark (Binance's one IOC) or the
   profile's fraction of the position (Hyperliquid, dYdX: a `PartialSteps` of kind FRACTION);
   0 when the leg goes in one order. `paced_cut` is that unless the account is inside its pacing
   window, which a partial step opens until `partial_not_before` (Hyperliquid: 30 s during
   which its liquidations go in full).
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
_FRACTION = StepKind.FRACTION


class MarketTerms:
    """What a market's liquidations are decided on; built once per market (`market_terms`).

    K: money units per lot·tick (linear); k_inv: coin money units × ticks per lot (inverse, else
    0); first_cap: the first bracket's cap (money units): no down-a-tier cut at or below it;
    money_scale: money units per whole settlement unit (10**settle_decimals); lowest, highest:
    the market's price limits (ticks); fee_rate: the liquidation (clearance) fee, scaled; steps:
    the profile's fraction-per-step rule, or None for the down-a-tier cut; pace_ns: how long
    after a partial step the account's liquidations go in full (ns; 0: no pacing)."""

    def __init__(self, K, k_inv, inverse, brackets, first_cap, money_scale, lowest, highest, fee_rate, steps):
        self.K, self.k_inv, self.inverse, self.brackets = K, k_inv, inverse, brackets
        self.first_cap, self.money_scale, self.lowest, self.highest = first_cap, money_scale, lowest, highest
        self.fee_rate, self.steps = fee_rate, steps
        self.pace_ns = 0 if steps is None else steps.interval_s * 1_000_000_000


def market_terms(*, K: int, k_inv: Fraction | int, inverse: bool, brackets: Brackets, money_scale: int,
                 price_limits: tuple[int, int], fee_rate: int, steps: PartialSteps | None) -> MarketTerms:
    """The terms of one market; `steps` other than FRACTION mean the brackets' down-a-tier cut."""
    if steps is not None and steps.kind is not _FRACTION:
        steps = None
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
    the cut rounds up). Fraction per step: see `fraction_cut`."""
    if t.steps is not None:
        return fraction_cut(t, lots, mark)
    value = notional(t, lots, mark)
    if value <= t.first_cap:  # most positions: no bracket lookup
        return 0
    floor = t.brackets.for_notional(value).floor
    keep = floor * mark // t.k_inv if t.inverse else floor // (mark * t.K)
    return abs(lots) - keep


def fraction_cut(t: MarketTerms, lots: int, mark: int) -> int:
    """A fraction-per-step profile's first step (Hyperliquid 20 % above 100k of notional, dYdX
    10 % with at least 1,000 of notional): the fraction of |lots| rounded up (a step closes at
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
    come (`ts` + the profile's interval), or 0 when the profile paces none (dYdX steps per block,
    which this venue does not model)."""
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
