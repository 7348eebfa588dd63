"""Multi-Assets mode at the venue's edges: the money units of a margin asset no market settles
(USDC in the default world), which accounts may move it, and the balances an account shows.

A margin asset without a market of its own is counted in the units of a linear market whose
settlement asset has the same decimals (the spec is only a unit: its symbol names no market).
Only an account in Multi-Assets mode may deposit, withdraw or transfer it and sees it among its
balances; for any other account it stays unknown, as before the mode existed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from perpsim.engine.multi_assets import MARGIN_ASSETS
from perpsim.engine.views import BalanceView, ExchangeView
from perpsim.model.markets import MarketSpec
from perpsim.model.reasons import RejectReason as R
from perpsim.risk.collateral import DEFAULT_MARGIN_ASSETS, USD_DECIMALS
from perpsim.venue.errors import VenueError

__all__ = ["asset_spec", "balances", "collateral_text", "unit_spec"]


def unit_spec(markets: Mapping[str, MarketSpec], asset: str) -> MarketSpec | None:
    """A spec whose money is `asset`: a market settled in it, or for a margin asset no market
    settles, a linear market's spec at the asset's decimals with `asset` as its settlement."""
    for spec in markets.values():
        if spec.settle == asset:
            return spec
    margin = DEFAULT_MARGIN_ASSETS.get(asset)
    if margin is None:
        return None
    for symbol in sorted(markets):
        spec = markets[symbol]
        if spec.kind.value == "linear" and spec.settle_decimals == margin.decimals:
            return dataclasses.replace(spec, symbol=f"{spec.base}{asset}", quote=asset, settle=asset)
    return None


def asset_spec(markets: Mapping[str, MarketSpec], view: ExchangeView, account: int, asset: str) -> MarketSpec:
    """The money spec of `asset` for this account: any settlement asset, and the margin assets
    no market settles for an account in Multi-Assets mode; UNKNOWN_SYMBOL otherwise."""
    settled = any(s.settle == asset for s in markets.values())
    if settled or (asset in MARGIN_ASSETS and view.multi_assets(account)):
        spec = unit_spec(markets, asset)
        if spec is not None:
            return spec
    raise VenueError(R.UNKNOWN_SYMBOL, field="asset", asset=asset,
                     problem="" if settled else "a margin asset without a market needs Multi-Assets mode")


def balances(markets: Mapping[str, MarketSpec], view: ExchangeView, account: int
             ) -> list[tuple[MarketSpec, BalanceView, int | None]]:
    """(money spec, balance, collateral value in USD units or None) per asset the account
    shows: every settlement asset, plus the margin assets no market settles when the account is
    in Multi-Assets mode; the collateral value of every margin asset whose index is known."""
    values = view.collateral_values(account)
    assets = set(view.assets())
    if view.multi_assets(account):
        assets |= set(MARGIN_ASSETS)
    out = []
    for asset in sorted(assets):
        spec = unit_spec(markets, asset)
        if spec is not None:
            out.append((spec, view.balance(account, asset), values.get(asset)))
    return out


def collateral_text(value: int | None) -> str:
    """A collateral value as a USD decimal ('' when none)."""
    if value is None:
        return ""
    sign, value = ("-", -value) if value < 0 else ("", value)
    whole, frac = divmod(value, 10**USD_DECIMALS)
    return f"{sign}{whole}.{frac:0{USD_DECIMALS}d}"
