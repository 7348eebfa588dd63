"""The client's venue-profile calls (ProfileService), shared by `Client` and `AsyncClient`: the
profiles with their rules, the profile the venue runs, and one position compared across them.
Figures come back as exact Decimals (None where the venue shows "--")."""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from perpsim.v1 import market_pb2, profiles_pb2

Number = Decimal | str | int

_DECIMALS = ("initial_margin", "cost_to_open", "maintenance_margin", "maintenance_rate", "liquidation_price",
             "bankruptcy_price", "liquidation_distance_pct", "fee_rate", "fee_open", "fee_close", "funding_rate",
             "funding_payment")


@dataclass(frozen=True)
class VenueFigures:
    """One profile's figures (perpsim.risk.compare.VenueFigures): money in `Comparison.asset`,
    prices in quote, rates as fractions; `listed` False: the venue has no such contract."""

    profile: str
    title: str
    listed: bool
    note: str
    leverage: int
    max_leverage: int
    initial_margin: Decimal | None
    maintenance_margin: Decimal | None
    maintenance_rate: Decimal | None
    liquidation_price: Decimal | None
    bankruptcy_price: Decimal | None
    liquidation_distance_pct: Decimal | None
    fee_rate: Decimal | None
    fee_open: Decimal | None
    fee_close: Decimal | None
    funding_rate: Decimal | None
    funding_every_hours: int
    funding_payment: Decimal | None
    liquidation_trigger: str
    warnings: tuple[str, ...]
    cost_to_open: Decimal | None

    @classmethod
    def from_pb(cls, r: profiles_pb2.VenueFigures) -> VenueFigures:
        """From a `VenueFigures` message: an empty decimal figure (the venue's "--") as None."""
        kw = {f.name: getattr(r, f.name) for f in fields(cls)}
        kw.update({k: Decimal(kw[k]) if kw[k] else None for k in _DECIMALS})
        kw["warnings"] = tuple(r.warnings)
        return cls(**kw)


@dataclass(frozen=True)
class Comparison:
    """One position compared across venue profiles: the side, quantity (base units or contracts), entry
    and mark price (quote) and premium it was computed with, as exact Decimals; `asset` the money of
    every profile's figures; `venues` one VenueFigures per profile (`venue(name)` picks one)."""

    symbol: str
    side: str
    quantity: Decimal
    entry_price: Decimal
    mark_price: Decimal
    premium: Decimal
    asset: str
    venues: tuple[VenueFigures, ...]

    @classmethod
    def from_pb(cls, r: profiles_pb2.CompareProfilesResponse) -> Comparison:
        """From a `CompareProfilesResponse`: one VenueFigures per profile, in the venue's order."""
        return cls(r.symbol, r.side, Decimal(r.quantity), Decimal(r.entry_price), Decimal(r.mark_price),
                   Decimal(r.premium), r.asset, tuple(VenueFigures.from_pb(v) for v in r.venues))

    def venue(self, name: str) -> VenueFigures:
        """The figures of the profile called `name` (KeyError if it was not compared)."""
        for v in self.venues:
            if v.profile == name:
                return v
        raise KeyError(name)


def _exact(value: Number | None, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, Decimal | str | int):
        raise TypeError(f"{name}: a Decimal, str or int (exact), not {type(value).__name__}")
    return str(value)


class ProfileCalls:
    """Mixin of the SDK's API class: `_read(service, method, request, convert)` makes a unary read."""

    def _read(self, service: str, method: str, request: Any, convert) -> Any:
        raise NotImplementedError

    def venue_profile(self) -> str:
        """The name of the venue profile the venue runs (`perpsim serve --profile`)."""
        return self._read("market", "ListMarkets", market_pb2.ListMarketsRequest(), lambda r: r.profile)

    def profiles(self) -> list[profiles_pb2.VenueProfileInfo]:
        """Every venue profile with its rules (`active` marks the venue's own)."""
        return self._read("profiles", "ListProfiles", profiles_pb2.ListProfilesRequest(), lambda r: list(r.profiles))

    def compare_profiles(self, symbol: str, side: str, quantity: Number, leverage: int, *,
                         price: Number | None = None, mark_price: Number | None = None,
                         index_price: Number | None = None, premium: Number | None = None,
                         profiles: list[str] | None = None, maker: bool = False,
                         wallet: Number | None = None) -> Comparison:
        """One position (or order) under every profile, side by side: side "long"/"short" (or
        "buy"/"sell"), quantity in base units or contracts; price/mark/index default to the
        market's now; premium the average premium index of the funding interval (default 0);
        wallet: the same isolated margin at every venue (default: each venue's initial margin)."""
        request = profiles_pb2.CompareProfilesRequest(
            symbol=symbol, side=side, quantity=_exact(quantity, "quantity"), leverage=leverage,
            price=_exact(price, "price"), mark_price=_exact(mark_price, "mark_price"),
            index_price=_exact(index_price, "index_price"), premium=_exact(premium, "premium"),
            profiles=profiles or [], maker=maker, wallet=_exact(wallet, "wallet"))
        return self._read("profiles", "CompareProfiles", request, Comparison.from_pb)
