"""Multi-Assets mode collateral (Binance USDⓈ-M): margin assets valued in USD, integers only.

Binance values each margin asset of a Multi-Assets account in USD at a floating rate made of the
asset's index and two buffers (venue-mechanics: "How to Calculate Margin Ratio in the
Multi-Assets Mode", binance.com/en/support/faq/c983a9268cfa4e70a4916c276bb3b7bc)::

    bid rate = index × (1 − bid buffer)      ask rate = index × (1 + ask buffer)
    account equity        = Σ min(asset equity × bid rate, asset equity × ask rate)
    uniAvailableForOrder  = account equity − Σ asset cross initial margin × ask rate
    asset available       = uniAvailableForOrder / ask rate
    margin ratio          = Σ asset maintenance margin × ask rate / account equity

so a positive balance counts at the bid rate (the "collateral value ratio", or haircut, is the
bid buffer) and a negative one at the ask rate. Auto-exchange sells a collateral asset to repay
a negative balance: deficit / (1 − haircut) of the collateral's USD value is sold
(binance.com/en/futures/trading-rules/perpetual/multi-asset-info).

Units: an asset amount is integer units of 10**-decimals of that asset; a USD value is integer
units of 10**-USD_DECIMALS USD; an index is an integer USD price scaled by RATE_SCALE (1e-8 USD);
buffers are rates scaled by RATE_SCALE. Every conversion rounds against the account: what the
account holds is valued rounded down (toward −∞, so a debt grows), what it owes rounded up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from perpsim.risk.units import RATE_SCALE, div_down, div_up, rate

__all__ = [
    "DEFAULT_MARGIN_ASSETS",
    "USD_DECIMALS",
    "AssetState",
    "MarginAsset",
    "account_equity",
    "auto_exchange_sale",
    "available_for_order",
    "collateral_amount",
    "collateral_value",
    "margin_ratio",
    "owed_amount",
    "owed_value",
    "uni_available",
    "values_by_asset",
]

#: USD values are integer units of 1e-8 USD (the precision of the USDT/USDC wallets).
USD_DECIMALS = 8
_USD_UNIT = 10**USD_DECIMALS
_RS2 = RATE_SCALE * RATE_SCALE


@dataclass(frozen=True)
class MarginAsset:
    """One asset usable as margin: `decimals` of its money units, its bid buffer (the haircut:
    1 − collateral value ratio) and ask buffer as RATE_SCALE rates, and the source of its
    tags ([C] the venue's page, [C-copy] a copy of it, [U] unconfirmed)."""

    asset: str
    decimals: int
    bid_buffer: int
    ask_buffer: int
    source: str

    def __post_init__(self) -> None:
        if not 0 <= self.bid_buffer < RATE_SCALE or not 0 <= self.ask_buffer < RATE_SCALE:
            raise ValueError(f"{self.asset}: buffers must lie in [0, 1)")
        if not 0 <= self.decimals <= 18:
            raise ValueError(f"{self.asset}: decimals must lie in 0..18")


#: The margin assets this venue accepts in Multi-Assets mode. Stablecoins at their USD index
#: (engine.multi_assets: SetIndexPrice on USDTUSD / USDCUSD, 1 until set) with no buffers; BTC
#: at its USD index (the BTC-USDⓈ market's index times its stablecoin's).
DEFAULT_MARGIN_ASSETS: dict[str, MarginAsset] = {
    "USDT": MarginAsset("USDT", 8, 0, 0,
                        "buffers 0 [U]: the current buffers are on Binance's live Multi-Assets page; the 2021 FAQ "
                        "'What Is Multi-Assets Mode' listed a 99.99 % collateral value ratio [C-copy] "
                        "(binance.com/en/support/faq/29b45c485d664028b9ca1cdf90b24f6f); with equal bid and ask "
                        "rates a leg's liquidation price stays the kernel's linear solve"),
    "USDC": MarginAsset("USDC", 8, 0, 0, "buffers 0 [U], as USDT (the same FAQ listed 99.99 %)"),
    "BTC": MarginAsset("BTC", 8, rate("0.025"), 0,
                       "2.5 % haircut [C-copy] (Multi-Assets Info page, auto-exchange example: "
                       "'5,000 USDC / 97.5 %'); the 2021 FAQ table listed 95 % [C-copy]; ask buffer 0 [U]"),
}


@dataclass(frozen=True)
class AssetState:
    """One asset of an account: its USD index (RATE_SCALE-scaled), its equity (wallet + uPnL of
    the positions settled in it), and the initial and maintenance margin of those positions, all
    in the asset's own units."""

    asset: MarginAsset
    index: int
    equity: int
    initial_margin: int = 0
    maintenance_margin: int = 0


def _to_usd(amount: int, index: int, factor: int, decimals: int, up: bool) -> int:
    """amount × index/RATE_SCALE × factor/RATE_SCALE, from asset units to USD units."""
    num = amount * index * factor * _USD_UNIT
    den = _RS2 * 10**decimals
    return div_up(num, den) if up else div_down(num, den)


def collateral_value(a: MarginAsset, amount: int, index: int) -> int:
    """USD value (USD units) an equity of `amount` asset units counts for: at the bid rate
    index × (1 − bid buffer) when positive, at the ask rate index × (1 + ask buffer) when negative
    (Binance's min(equity × bid, equity × ask)); rounded down, so a debt rounds to more debt."""
    if index <= 0:
        raise ValueError(f"{a.asset}: index must be positive")
    factor = RATE_SCALE - a.bid_buffer if amount >= 0 else RATE_SCALE + a.ask_buffer
    return _to_usd(amount, index, factor, a.decimals, up=False)


def owed_value(a: MarginAsset, amount: int, index: int) -> int:
    """USD value (USD units) of a margin requirement of `amount` ≥ 0 asset units, at the ask
    rate, rounded up (what the account owes)."""
    if amount < 0:
        raise ValueError("a margin requirement is never negative")
    return _to_usd(amount, index, RATE_SCALE + a.ask_buffer, a.decimals, up=True)


def account_equity(states: Iterable[AssetState]) -> int:
    """Σ collateral values of every asset's equity (USD units, each rounded down)."""
    return sum(collateral_value(s.asset, s.equity, s.index) for s in states)


def uni_available(states: Iterable[AssetState]) -> int:
    """uniAvailableForOrder: account equity − Σ initial margin at the ask rate (USD units; each
    requirement rounded up, the equity down; may be negative)."""
    states = list(states)
    return account_equity(states) - sum(owed_value(s.asset, s.initial_margin, s.index) for s in states)


def available_for_order(a: MarginAsset, index: int, uni: int) -> int:
    """What `uni` USD units buy in asset `a` at its ask rate (asset units, rounded down)."""
    den = index * (RATE_SCALE + a.ask_buffer) * _USD_UNIT
    return div_down(uni * _RS2 * 10**a.decimals, den)


def margin_ratio(states: Iterable[AssetState]) -> int:
    """Account margin ratio = Σ maintenance margin at the ask rate / account equity, as a
    RATE_SCALE rate rounded up (against the account); RATE_SCALE (100 %) or more means
    liquidation, and an equity ≤ 0 with any margin in use is reported as exactly that."""
    states = list(states)
    mm = sum(owed_value(s.asset, s.maintenance_margin, s.index) for s in states)
    if mm == 0:
        return 0
    equity = account_equity(states)
    if equity <= 0:
        return RATE_SCALE
    return div_up(mm * RATE_SCALE, equity)


def collateral_amount(a: MarginAsset, usd: int, index: int) -> int:
    """The most asset units whose collateral value (at the bid rate) is at most `usd` ≥ 0 USD
    units, rounded down (what may leave without the account's equity falling below `usd`)."""
    if usd <= 0:
        return 0
    return div_down(usd * _RS2 * 10**a.decimals, index * (RATE_SCALE - a.bid_buffer) * _USD_UNIT)


def owed_amount(a: MarginAsset, usd: int, index: int, *, bid: bool = False) -> int:
    """The fewest asset units worth at least `usd` ≥ 0 USD units at the ask rate (or the bid
    rate), rounded up: a USD requirement restated in the asset (what the account owes in it)."""
    if usd < 0:
        raise ValueError("a requirement is never negative")
    factor = RATE_SCALE - a.bid_buffer if bid else RATE_SCALE + a.ask_buffer
    return div_up(usd * _RS2 * 10**a.decimals, index * factor * _USD_UNIT)


def auto_exchange_sale(deficit: int, debt: MarginAsset, debt_index: int,
                       collateral: MarginAsset, collateral_index: int) -> int:
    """Units of `collateral` sold to repay a negative balance of `deficit` > 0 units of `debt`:
    the deficit's USD value over (1 − the collateral's haircut), at the collateral's index,
    rounded up (the account gives it)."""
    if deficit <= 0:
        raise ValueError("the deficit must be positive")
    # deficit × debt_index × (RS − hc) ... solve: sold × c_index × (1 − hc) = deficit × d_index
    num = deficit * debt_index * RATE_SCALE * 10**collateral.decimals
    den = collateral_index * (RATE_SCALE - collateral.bid_buffer) * 10**debt.decimals
    return div_up(num, den)


def values_by_asset(wallets: Mapping[str, int], indexes: Mapping[str, int],
                    assets: Mapping[str, MarginAsset] = DEFAULT_MARGIN_ASSETS) -> dict[str, int]:
    """Per margin asset held, its collateral value (USD units) at its index; assets without an
    index or not accepted as margin are left out."""
    out = {}
    for name in sorted(wallets):
        a = assets.get(name)
        index = indexes.get(name)
        if a is not None and index:
            out[name] = collateral_value(a, wallets[name], index)
    return out
