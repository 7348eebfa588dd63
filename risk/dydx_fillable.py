"""dYdX v4's fillable price: the limit of a liquidation order (venue-mechanics §4.6).

dYdX sends a liquidation order as an IOC against the book at the "fillable price", not at the
bankruptcy price. Sources:

- dydxprotocol/v4-chain @ 84d4664bae71e3a077adaac67fb77ad19cd28d30,
  protocol/x/clob/keeper/liquidations.go `GetFillablePrice`: "(PNNV - ABR * SMMR * PMMR) / PS,
  where ABR = BA * (1 - (TNC / TMMR))", ABR bounded to [0, 1]; PNNV and PMMR are the whole
  position's net notional and maintenance margin at the oracle, PS its signed size, TNC and TMMR
  the subaccount's net collateral and maintenance margin. `ConvertFillablePriceToSubticks`
  "will round up for sells that close longs, and round down for buys that close shorts", to the
  tick, and never below one tick.
- protocol/testing/mainnet/genesis.json `fillable_price_config`: bankruptcy_adjustment_ppm
  1,000,000 (BA = 1), spread_to_maintenance_margin_ratio_ppm 1,500,000 (SMMR = 1.5).
- dydxprotocol/v4-documentation @ 3e475b73, docs/pages/concepts/trading/liquidations.mdx:
  "Fillable Price (Short or Long) = P x (1 - ((SMMR x MMF) x (BA x (1 - Q)))", Q = V / TMMR
  (written for a long; the code's division by the signed size puts a short's above P).

For a long the price is P − ABR × SMMR × PMMR / |PS|, for a short P + the same: with one
position at a flat maintenance fraction, P × (1 ∓ SMMR × MMF × ABR). At the liquidation price
(TNC = TMMR) it is the oracle itself; as the account sinks it moves away from the oracle, up to
SMMR × MMF (4.5 % at MMF 3 %) at TNC ≤ 0. With one position it passes the bankruptcy price
P ∓ TNC / |PS| once TNC < TMMR × SMMR × BA / (1 + SMMR × BA) (0.6 TMMR on mainnet): a fill there
costs the insurance fund.

Units: prices in ticks, sizes in lots (signed, + long), money in integer units of the settlement
asset; `position_mm` and `tmmr` are maintenance margins × RATE_SCALE (exact, as the engine keeps
them); K: money units per lot·tick (linear contracts; dYdX lists no inverse ones).

Rounding: one floor division, of the price's distance from the oracle, which puts the limit on
the tick next to the exact price on the oracle's side: up for a sell, down for a buy — dYdX's
own direction. The limit is not an amount of money (a fill pays the maker's price), so it moves
no money by rounding; it decides which quotes may fill, and rounding it as dYdX does makes a
quote at the venue's exact bound fill here as it would there, and never one beyond it.
"""

from __future__ import annotations

from dataclasses import dataclass

from perpsim.risk.units import RATE_SCALE

PPM = 1_000_000


@dataclass(frozen=True, slots=True)
class FillablePriceConfig:
    """dYdX's `FillablePriceConfig`, in parts per million: ``bankruptcy_adjustment_ppm`` (BA, at
    least 1,000,000: "the rate at which the Adjusted Bankruptcy Rating increases") and
    ``spread_to_mm_ratio_ppm`` (SMMR: "the maximum value that the liquidation spread can take,
    as a ratio against the position's maintenance margin")."""

    bankruptcy_adjustment_ppm: int = 1_000_000
    spread_to_mm_ratio_ppm: int = 1_500_000
    source: str = ""

    def __post_init__(self) -> None:
        # dYdX refuses such a config (protocol/x/clob/types/liquidations_config.go Validate)
        if self.bankruptcy_adjustment_ppm < PPM:
            raise ValueError(f"bankruptcy_adjustment_ppm must be at least {PPM}, got {self.bankruptcy_adjustment_ppm}")
        if self.spread_to_mm_ratio_ppm <= 0:
            raise ValueError(f"spread_to_mm_ratio_ppm must be positive, got {self.spread_to_mm_ratio_ppm}")


def adjusted_bankruptcy_rating(cfg: FillablePriceConfig, tnc: int, tmmr: int) -> tuple[int, int]:
    """ABR = clamp(BA × (1 − TNC / TMMR), 0, 1) as an exact (numerator, denominator) pair of
    non-negative ints; `tnc` in money units, `tmmr` the total MM × RATE_SCALE (> 0)."""
    if tmmr <= 0:
        raise ValueError("the fillable price needs a positive maintenance margin requirement")
    num = cfg.bankruptcy_adjustment_ppm * (tmmr - tnc * RATE_SCALE)
    den = PPM * tmmr
    if num <= 0:
        return 0, 1
    if num >= den:
        return 1, 1
    return num, den


def fillable_tick(cfg: FillablePriceConfig, *, oracle: int, lots: int, position_mm: int, tnc: int, tmmr: int,
                  K: int) -> int:
    """The fillable price (ticks) of the liquidation order closing a position of `lots` (signed)
    at the `oracle` tick: oracle ∓ ABR × SMMR × PMMR / (|lots| × K), the distance rounded down
    (so a sell's limit rounds up and a buy's down, as dYdX rounds), at least one tick.
    `position_mm`: the whole position's MM × RATE_SCALE; `tnc`, `tmmr`: the account's (or the
    isolated position's) net collateral (money units) and total MM × RATE_SCALE."""
    if lots == 0:
        raise ValueError("the fillable price needs a position")
    num, den = adjusted_bankruptcy_rating(cfg, tnc, tmmr)
    # distance = ABR × SMMR/PPM × (position_mm / RATE_SCALE) / (|lots| × K), in ticks
    distance = num * cfg.spread_to_mm_ratio_ppm * position_mm // (den * PPM * RATE_SCALE * abs(lots) * K)
    if lots > 0:
        return max(1, oracle - distance)
    return oracle + distance
