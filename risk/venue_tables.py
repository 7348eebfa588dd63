"""Each venue's published margin tiers, per contract kind and base asset, as integer rows.

Rows are (cap in whole settlement units, max leverage, MMR scaled by 1e-8); the maintenance
amount (cum / deduction) comes from the recursion every one of these venues publishes. Each
table names its source and how sure it is, in the tags of /work/shared/spec/venue-mechanics.md:
[C] read in the venue's own page, [C-copy] in a copy of it, [U] unconfirmed (an illustrative
value kept so that the profile can run; do not treat it as the venue's current figure).

Binance has no table here: its profile uses each market's own brackets (the markets file).
"""

from __future__ import annotations

from perpsim.risk.venue_rules import TierTable

#: A last tier without a published upper bound: 10 billion, far beyond any simulated notional and
#: inside the engine's int64 money range (USDT at 8 decimals holds up to ~92 billion).
UNBOUNDED = 10**10

BYBIT = {
    ("linear", "BTC"): TierTable(
        ((2_000_000, 100, 500_000), (4_000_000, 57, 1_000_000)),
        "Bybit risk limit: MM base rate 0.5 % for BTC [C] (help-center Risk-Limit-Inverse-Contract); tier 1 up "
        "to 2,000,000 USDT and MMR 1 % / IMR 1.75 % (57.14x, listed as 57x) at 4,000,000 USDT [C-copy] "
        "(https://mobie.io/details-of-risk-limit-adjustment-by-bybit)"),
    ("linear", "ETH"): TierTable(
        ((1_000_000, 50, 1_000_000),),
        "MM base rate 1 % for ETH [C] (help-center Risk-Limit-Inverse-Contract); cap and 50x [U] (the v3 API docs' "
        "example is ETHPERP, the USDC perpetual: 500,000 at 1 % MM / 1.5 % IM, 66.67x)"),
    ("inverse", "BTC"): TierTable(
        ((150, 100, 500_000),),
        "MM base rate 0.5 % for BTC [C] (help-center Risk-Limit-Inverse-Contract); cap 150 BTC, 100x, IM 1 % "
        "[C-copy]: Bybit v5 API docs, GET /v5/market/risk-limit response example (category inverse, BTCUSD id 1: "
        "riskLimitValue 150, maintenanceMargin 0.5, initialMargin 1, maxLeverage 100.00, time 1672054488010 = "
        "2022-12-26) as quoted in the bybit-rust-api 0.3.0 crate (src/rest/market/dto/risk_limit.rs)"),
}

#: OKX publishes position tiers by size in contracts ("Max. amount (Cont)", e.g. "OKX to adjust
#: position tiers of perpetual swaps", 2023-05-15, okx.com/help), not by notional: a row here is
#: at best such a tier converted at one reference price. No BTCUSDT or ETHUSDT swap tiers were
#: found in a citable copy, so these rows stay illustrative.
OKX = {
    ("linear", "BTC"): TierTable(
        ((1_000_000, 100, 400_000), (5_000_000, 50, 1_000_000), (20_000_000, 20, 2_000_000)),
        "OKX position tiers (GET /api/v5/public/position-tiers) [U]: illustrative rows, notional caps where OKX "
        "tiers by contracts; the published rule used here is MM = notional × (tier MMR + taker fee) "
        "(https://open-lib.com/11556.html, copy of OKX help); tier 3's MMR 2 % is the one OKX's partial "
        "liquidation example names for tier 3 (help 360020411711), so that tier 3 steps down to tier 1"),
    ("linear", "ETH"): TierTable(
        ((500_000, 100, 400_000), (2_500_000, 50, 1_000_000), (10_000_000, 20, 2_000_000)),
        "OKX position tiers [U]: illustrative rows (see BTC)"),
}


def _hl(*tiers: tuple[int, int]) -> tuple[tuple[int, int, int], ...]:
    """Hyperliquid rows from (upper bound, max leverage): MMR = 1 / (2 × max leverage), rounded
    up to 1e-8 where it is not exact (15x: 3.33333334 %), against the account."""
    return tuple((cap, lev, -(-100_000_000 // (2 * lev))) for cap, lev in tiers)


HYPERLIQUID = {
    ("linear", "BTC"): TierTable(_hl((150_000_000, 40), (UNBOUNDED, 20)),
                                 "https://hyperliquid.gitbook.io/hyperliquid-docs/trading/margin-tiers [C]: BTC "
                                 "0-150M 40x, >150M 20x; MMR = IMR at max leverage / 2"),
    ("linear", "ETH"): TierTable(_hl((100_000_000, 25), (UNBOUNDED, 15)),
                                 "margin-tiers page [C]: ETH 0-100M 25x, >100M 15x"),
    ("linear", "SOL"): TierTable(_hl((70_000_000, 20), (UNBOUNDED, 10)),
                                 "margin-tiers page [C]: SOL 0-70M 20x, >70M 10x"),
}

#: dYdX v4 liquidity tier "Large-Cap": initial_margin_ppm 50,000 (IMF 5 %), maintenance_fraction_ppm
#: 600,000 (MMF = 60 % of IMF = 3 %), no open-interest scaling (genesis values; governance sets live ones).
DYDX_LARGE_CAP_IMF = 5_000_000
DYDX_LARGE_CAP_MMF = 3_000_000
_DYDX_SOURCE = ("dydxprotocol/v4-chain protocol/testing/genesis.sh and mainnet genesis.json [C]: liquidity tier "
                "Large-Cap initial_margin_ppm 50000, maintenance_fraction_ppm 600000")
DYDX = {
    ("linear", "BTC"): TierTable(((UNBOUNDED, 20, DYDX_LARGE_CAP_MMF),), _DYDX_SOURCE),
    ("linear", "ETH"): TierTable(((UNBOUNDED, 20, DYDX_LARGE_CAP_MMF),), _DYDX_SOURCE),
}
