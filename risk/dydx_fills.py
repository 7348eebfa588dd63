"""dYdX v4's liquidation order, fill by fill: each fill's insurance fund delta against the
bankruptcy quote of that fill, on the account as the order's earlier fills left it, and where
matching stops (venue-mechanics §4.6).

Source: dydxprotocol/v4-chain @ 84d4664bae71e3a077adaac67fb77ad19cd28d30, protocol/x/clob:

- keeper/process_single_match.go `ProcessSingleMatch`: per match of a liquidation order,
  `takerInsuranceFundDelta, err = k.validateMatchedLiquidation(ctx, takerMatchableOrder,
  perpetualId, fillAmount, makerMatchableOrder.GetOrderSubticks())`, then `persistMatchedOrders`:
  "Subtract quote balance delta with insurance fund payments."
  (`bigTakerQuoteBalanceDelta.Sub(bigTakerQuoteBalanceDelta, insuranceFundDelta)`), the fill's
  quote at the maker's subticks (`FillAmountToQuoteQuantums`), no taker fee ("Liquidation orders
  do not pay trading fees because they already pay a liquidation fee."); each match is persisted
  before the next is matched, so the next fill's TNC, TMMR and position are the ones it left;
- keeper/liquidations.go `GetLiquidationInsuranceFundDelta` (risk.dydx_fee.leftover and
  insurance_delta) on `GetBankruptcyPriceInQuoteQuantums` of the fill's own delta;
  `validateMatchedLiquidation`: the fund must be able to pay (deleveraging.go
  `IsValidInsuranceFundDelta`: "The insurance fund balance + `insuranceFundDelta` is
  greater-than-or-equal-to 0") and `validateLiquidationAgainstSubaccountBlockLimits` ("The total
  insurance lost does not exceed the maximum insurance lost per block");
- memclob/memclob.go: on either error the order stops matching ("Subaccount has reached max
  insurance lost block limit. Stop matching.", "Deleveraging is required. Stop matching."): the
  fill that would pass is not made, nor any after it; a match is never resized to fit.

Units: prices in ticks, sizes in lots (≥ 0 here: the position's magnitude), money in integer units
of the settlement asset (dYdX's quote quantum); MMR in money units, each position's rounded up, as
dYdX rounds it (perpetuals/lib `GetMarginRequirementsInQuoteQuantums`: `lib.BigMulPpm(…, true)`);
K: money units per lot·tick (linear). The one division of a delta is risk.dydx_fee's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from perpsim.risk.dydx_fee import insurance_delta, leftover


@dataclass(frozen=True, slots=True)
class FillRun:
    """The liquidated account as the next fill of its liquidation order finds it: a `sell`
    closes a long; `oracle` (ticks) and `K` fixed through the order; `lots` the position's
    magnitude, `pmm` its MMR, `tnc` and `tmmr` the account's (an isolated position: its own) net
    collateral and MMR at the oracle; `rate` the max liquidation fee × RATE_SCALE."""

    sell: bool
    oracle: int
    K: int
    lots: int
    pmm: int
    tnc: int
    tmmr: int
    rate: int


def fill_delta(run: FillRun, qty: int, price: int, mm: Callable[[int], int]) -> tuple[int, FillRun]:
    """(the insurance fund delta of a fill of `qty` lots at `price`, the run after it). The delta
    is positive for what the account pays the fund (the fee), negative for what the fund pays
    the account. `mm(lots)`: the position's MMR at the oracle for `lots` left (money units,
    rounded up; 0 for none). After the fill the account's TNC moved by the fill's gain against
    the oracle value, less the delta; its TMMR by the position's DMMR."""
    if not 0 < qty <= run.lots:
        raise ValueError(f"a fill of {qty} lots cannot close part of a {run.lots}-lot position")
    pmm_after = mm(run.lots - qty)
    dmmr = run.pmm - pmm_after
    quote, value = qty * price * run.K, qty * run.oracle * run.K
    delta = insurance_delta(quote=quote, rate=run.rate, leftover=leftover(
        oracle_value=value, quote=quote, sell=run.sell, tnc=run.tnc, dmmr=dmmr, tmmr=run.tmmr))
    gain = quote - value if run.sell else value - quote
    return delta, replace(run, lots=run.lots - qty, pmm=pmm_after, tnc=run.tnc + gain - delta,
                          tmmr=run.tmmr - dmmr)


def matched(run: FillRun, fills: list[tuple[int, int]], mm: Callable[[int], int], *, fund: int,
            left: int | None) -> list[int]:
    """The deltas of the leading `fills` ((lots, price) in matching order) that go ahead: matching
    stops before the first fill whose fund payment the fund's balance `fund` (money units, as
    the order's earlier fills left it) cannot make, or that passes what the account's block limit
    has `left` (None: no limit; the fund's payments count against it, its receipts do not)."""
    out = []
    for qty, price in fills:
        delta, after = fill_delta(run, qty, price, mm)
        if delta < 0 and (fund + delta < 0 or (left is not None and -delta > left)):
            break
        out.append(delta)
        fund += delta
        if delta < 0 and left is not None:
            left += delta
        run = after
    return out
