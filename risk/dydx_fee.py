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
maintenance margins in one unit (only their ratio counts; engine.dydx_fills passes money units,
each position's rounded up as dYdX's MMR is); `rate` scaled by RATE_SCALE.

Rounding, as dYdX's code rounds (the engine's money unit stands for its quote quantum, 10^-6 USDC):
the share is floored (its bankruptcy quote rounds toward +∞, so the leftover, and the fee it caps,
never come out above the exact); the max fee is floored too, `lib.BigIntMulPpm` (big_math.go:
"result.Div(result, big.NewInt(int64(OneMillion)))" on a non-negative product), the one rounding in
the account's favour, by under a unit a fill, because dYdX rounds it so.
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


def insurance_delta(*, quote: int, rate: int, leftover: int) -> int:
    """`GetLiquidationInsuranceFundDelta` of one fill (money units): the fund pays −`leftover` when
    the fill left nothing above its bankruptcy quote (`leftover` ≤ 0, returned as is, negative or
    zero); else the account pays the fund the smaller of the max fee, `rate` (× RATE_SCALE) of the
    fill's `quote` floored as `BigIntMulPpm` floors, and the leftover."""
    if leftover <= 0:
        return leftover
    fee = quote * rate // RATE_SCALE
    return fee if fee < leftover else leftover
