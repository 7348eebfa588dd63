"""dYdX v4's per-block insurance-loss limit on one account's liquidation (venue-mechanics §4.6).

Source: dydxprotocol/v4-chain @ 84d4664bae71e3a077adaac67fb77ad19cd28d30:
protocol/x/clob/keeper/liquidations.go `validateLiquidationAgainstSubaccountBlockLimits` ("The
total insurance lost does not exceed the maximum insurance lost per block") and
`GetSubaccountMaxInsuranceLost`; protocol/x/clob/memclob/memclob.go stops matching the
liquidation order at the first fill that would pass it ("Subaccount has reached max insurance
lost block limit. Stop matching."); the limit is per subaccount and block
(SubaccountBlockLimits.max_quantums_insurance_lost, 1,000,000 USDC in
protocol/testing/mainnet/genesis.json), kept for the block in a transient store.

Here the forced order is one IOC matched in one call, so the limit bounds its size before it is
sent: no more lots than could fill at the order's limit price without the insurance fund paying
more than what is left of the account's limit. What the fund pays is what the account's
collateral falls below zero: the fill's loss against the oracle, size × |oracle − limit| × K at
worst, beyond the account's net collateral TNC.
"""

from __future__ import annotations


def insurance_bound(size: int, *, oracle: int, limit: int, sell: bool, K: int, tnc: int, left: int) -> int:
    """The most of `size` lots (≤ size, ≥ 0) a forced order at `limit` may carry so that the
    insurance fund's cover, max(0, lots × slip − tnc) with slip = the limit's distance past the
    oracle × K per lot, stays within `left` money units. The division rounds down: the limit
    stays a limit. A limit at or better than the oracle costs the fund nothing: all of `size`."""
    slip = (oracle - limit if sell else limit - oracle) * K
    if slip <= 0:
        return size
    room = tnc + left
    if room <= 0:
        return 0
    most = room // slip
    return most if most < size else size
