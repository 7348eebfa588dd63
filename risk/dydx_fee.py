"""dYdX v4's liquidation fee: at most a fraction of the fill's quote, and only out of what the fill
left above the bankruptcy quote of its own size (venue-mechanics §4.6).

Source: dydxprotocol/v4-chain @ 84d4664bae71e3a077adaac67fb77ad19cd28d30,
protocol/x/clob/keeper/liquidations.go: `GetBankruptcyPriceInQuoteQuantums`, "-DNNV - (TNC *
(abs(DMMR) / TMMR))", its one division "rounded down to negative infinity to ensure the final
result is rounded towards positive-infinity"; `GetLiquidationInsuranceFundDelta`: the fill's quote
less that bankruptcy quote; at or below zero the insurance fund pays, above it "The liquidation fee
paid by the user is the minimum of the max liquidation fee and the leftover collateral from
liquidating the position", the max fee being max_liquidation_fee_ppm (15,000: 1.5 %, mainnet
genesis) of the quote.

Written with the fill's slippage against the oracle: the leftover is the account's share of its
net collateral for the lots closed, TNC × |DMMR| / TMMR, less what the fill lost against the oracle
value of those lots. Units: money in integer units of the settlement asset; `dmmr`, `tmmr`
maintenance margins × RATE_SCALE; `rate` scaled by RATE_SCALE.

Rounding: the share is floored as dYdX floors it (its bankruptcy quote rounds toward +∞, so the
leftover, and the fee it caps, never come out above the exact); the fraction of the quote is
rounded up, as every fee here (against the account).
"""

from __future__ import annotations

from perpsim.risk.units import RATE_SCALE


def leftover(*, oracle_value: int, quote: int, sell: bool, tnc: int, dmmr: int, tmmr: int) -> int:
    """What a liquidation fill left above the bankruptcy quote of its size (money units; ≤ 0:
    the insurance fund's side): the TNC share TNC × dmmr / tmmr, floored, less the slippage,
    `oracle_value − quote` for a sell (what the account received), `quote − oracle_value` for a
    buy (what it paid). `tmmr` > 0, 0 ≤ dmmr ≤ tmmr."""
    if tmmr <= 0:
        raise ValueError("the bankruptcy quote needs a positive maintenance margin requirement")
    share = tnc * dmmr // tmmr
    return share - (oracle_value - quote if sell else quote - oracle_value)


def liquidation_fee(*, quote: int, rate: int, leftover: int, remaining: int) -> int:
    """The fee on a liquidation fill of `quote` money units: 0 unless `leftover` > 0, else the
    smaller of the fee rate on the quote (rounded up) and the leftover, and never more than the
    collateral `remaining` (0 when none remains)."""
    if leftover <= 0 or remaining <= 0 or quote <= 0:
        return 0
    fee = -(-quote * rate // RATE_SCALE)
    if fee > leftover:
        fee = leftover
    return fee if fee < remaining else remaining
