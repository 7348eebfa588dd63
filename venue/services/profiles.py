"""ProfileService: the venue profiles and one position compared across them (perpsim.risk.compare).

Read-only and public (no account): the comparison is a calculation over the market's spec; the
venue supplies the mark and index now where the request leaves them empty. A bad field is
refused as INVALID_VALUE naming it, and changes nothing.
"""

from __future__ import annotations

from decimal import Decimal

from perpsim.model.reasons import RejectReason as R
from perpsim.risk import compare as cmp
from perpsim.risk.profiles import PROFILES, VenueProfile
from perpsim.risk.units import RATE_SCALE
from perpsim.v1 import profiles_pb2, profiles_pb2_grpc
from perpsim.venue.errors import VenueError
from perpsim.venue.services.common import rpc

#: Request fields, by the names the calculator's messages start with.
_FIELDS = {"size": "quantity", "entry": "price", "mark": "mark_price", "index": "index_price",
           "premium": "premium", "leverage": "leverage", "side": "side", "wallet": "wallet",
           "unknown venue profile": "profiles"}


def _text(value: object) -> str:
    if value is None:
        return ""
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def _rate(scaled: int | None) -> str:
    return "" if scaled is None else format(Decimal(scaled) / RATE_SCALE, "f")


def profile_out(p: VenueProfile, active: str) -> profiles_pb2.VenueProfileInfo:
    """A venue profile as VenueProfileInfo (`active`: the venue's profile name); rates as exact decimal
    fractions, each margin table as "kind base: cap:leverage:rate,…  (source)"."""
    f, liq = p.funding, p.liquidation
    tables = [f"{kind} {base}: " + ",".join(f"{cap}:{lev}:{_rate(mmr)}" for cap, lev, mmr in t.rows) + f"  ({t.source})"
              for (kind, base), t in sorted(p.tables.items())]
    return profiles_pb2.VenueProfileInfo(
        name=p.name, title=p.title, active=p.name == active, mark=p.mark,
        liquidation_trigger=liq.trigger if liq else p.liquidation_trigger,
        margin=p.margin.source if p.margin else "",
        funding_form=f.form.value if f else "", funding_interval_hours=f.interval_hours if f else 0,
        funding_payment_hours=f.payment_hours if f else 0, funding_interest=_rate(f.interest) if f else "",
        funding_clamp=_rate(f.clamp) if f else "", funding_cap=_rate(f.cap) if f else "",
        partial_liquidation=liq.partial if liq else "", liquidation_fills=liq.fills if liq else "",
        liquidation_fee=(liq.fee_note + ("" if liq.fee_rate is None else f" (rate {_rate(liq.fee_rate)})"))
        if liq else "",
        backstop=f"{p.backstop.kind}: {p.backstop.scope}" if p.backstop else "",
        adl_ranking=p.adl.ranking.value if p.adl else "", adl_price=p.adl.price if p.adl else "",
        tables=tables or ["each market's own brackets (the markets file)"])


def figures_out(v: cmp.VenueFigures) -> profiles_pb2.VenueFigures:
    """One profile's figures of a comparison as VenueFigures: decimals as exact strings ("" when none)."""
    return profiles_pb2.VenueFigures(
        profile=v.profile, title=v.title, listed=v.listed, note=v.note, leverage=v.leverage or 0,
        max_leverage=v.max_leverage or 0, initial_margin=_text(v.initial_margin),
        cost_to_open=_text(v.cost_to_open),
        maintenance_margin=_text(v.maintenance_margin), maintenance_rate=_text(v.maintenance_rate),
        liquidation_price=_text(v.liquidation_price), bankruptcy_price=_text(v.bankruptcy_price),
        liquidation_distance_pct=_text(v.liquidation_distance_pct), fee_rate=_text(v.fee_rate),
        fee_open=_text(v.fee_open), fee_close=_text(v.fee_close), funding_rate=_text(v.funding_rate),
        funding_every_hours=v.funding_every_hours or 0, funding_payment=_text(v.funding_payment),
        liquidation_trigger=_text(v.liquidation_trigger), warnings=list(v.warnings))


def _field_of(message: str) -> str:
    for prefix, name in _FIELDS.items():
        if message.startswith(prefix):
            return name
    return ""


class ProfileService(profiles_pb2_grpc.ProfileServiceServicer):
    """perpsim.v1.ProfileService: public and read only; `CompareProfiles` takes the mark and index
    from the venue where the request leaves them empty."""

    def __init__(self, venue) -> None:
        self.venue = venue

    @rpc
    async def ListProfiles(self, request, context):
        """ProfileService.ListProfiles: every venue profile and its rules, the venue's own marked active."""
        active = self.venue.view.profile.name
        return profiles_pb2.ListProfilesResponse(profiles=[profile_out(p, active) for p in PROFILES.values()])

    @rpc
    async def CompareProfiles(self, request, context):
        """ProfileService.CompareProfiles: one position under every profile (or those named); an empty price or mark is
        the market's mark now, an empty index its index (else the mark); INVALID_VALUE naming a bad field."""
        spec = self.venue.spec(request.symbol)
        prices = self.venue.view.prices(spec.symbol)

        def now(text: str, ticks: int | None, name: str) -> str:
            if text:
                return text
            if ticks is None:
                raise VenueError(R.INVALID_VALUE, field=name, problem=f"{spec.symbol} has no {name} yet: give one")
            return format(spec.ticks_to_price(ticks), "f")

        if request.leverage == 0:
            raise VenueError(R.INVALID_VALUE, field="leverage", problem="leverage is required (1 or more)")
        try:
            mark = now(request.mark_price, prices.mark, "mark_price")
            c = cmp.compare(side=request.side, size=request.quantity, entry=now(request.price, prices.mark, "price"),
                            leverage=request.leverage, mark=mark, index=request.index_price or (
                                now("", prices.index, "index_price") if prices.index is not None else mark),
                            premium=request.premium or "0", market=spec, profiles=list(request.profiles) or None,
                            maker=request.maker, wallet=request.wallet or None)
        except (ValueError, TypeError) as e:
            raise VenueError(R.INVALID_VALUE, field=_field_of(str(e)), problem=str(e)) from None
        return profiles_pb2.CompareProfilesResponse(
            symbol=c.symbol, side=c.side, quantity=_text(c.size), entry_price=_text(c.entry_price),
            mark_price=_text(c.mark_price), premium=_text(c.premium), asset=c.asset,
            venues=[figures_out(v) for v in c.venues])


def add_to_server(venue, server) -> None:
    """Register a ProfileService over `venue` on the gRPC `server`."""
    profiles_pb2_grpc.add_ProfileServiceServicer_to_server(ProfileService(venue), server)
