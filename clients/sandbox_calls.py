"""The client's sandbox controls (SandboxService), shared by `Client` and `AsyncClient`:
accounts and keys, the index price, the clock (advanced, held or released), the insurance fund,
a fresh venue. Authenticated with the admin key (else the API key); deadline 4 x the client's
timeout; not retried, except the read GetVenueState.
"""

from __future__ import annotations

from decimal import Decimal

from perpsim.clients import models as M
from perpsim.clients.arguments import Number, decimal_text
from perpsim.clients.calls import Call, CallSite
from perpsim.clients.clock_models import ClockModeChange, clock_mode_value
from perpsim.clients.forced_orders import ForcedOrder
from perpsim.clients.models import IndexUpdate, NewAccount, ShockResult, VenueState
from perpsim.v1 import sandbox_pb2


class SandboxCalls(CallSite):
    """Mixin of the SDK's API class (`CallSite`): the sandbox controls, with the admin key."""

    def create_account(self, label: str = "", api_key: str | None = None,
                       api_secret: str | None = None) -> NewAccount:
        """A new account with its API key and secret: `account_id, api_key, api_secret =
        c.create_account()`. Pass `api_key` and `api_secret` to choose them (a bot's saved
        configuration); the same pair again returns the same account."""
        request = sandbox_pb2.CreateAccountRequest(label=label, api_key=api_key or "", api_secret=api_secret or "")
        return self._invoke(Call("sandbox", "CreateAccount", request,
                                 lambda r: NewAccount(r.account_id, r.api_key, r.api_secret), kind="sandbox",
                                 admin=True))

    def set_index_price(self, symbol: str, price: Number) -> IndexUpdate:
        """Set the index (the mark follows; liquidations run); the mark and how many were liquidated."""
        request = sandbox_pb2.SetIndexPriceRequest(symbol=symbol, price=decimal_text(price, "price"))
        return self._invoke(Call("sandbox", "SetIndexPrice", request,
                                 lambda r: IndexUpdate(M.dec(r.mark_price), r.liquidations),
                                 kind="sandbox", admin=True))

    def set_price_path(self, symbol: str, points: list[tuple[int, Number]]) -> int:
        """Drive the index along [(offset_ms, price), ...] from now (wall clock); [] stops it."""
        request = sandbox_pb2.SetPricePathRequest(symbol=symbol, points=[
            sandbox_pb2.PricePoint(offset_ms=ms, price=decimal_text(p, "price")) for ms, p in points])
        return self._invoke(Call("sandbox", "SetPricePath", request, lambda r: r.points, kind="sandbox",
                                 admin=True))

    def reset_venue(self) -> str:
        """A fresh world (the old journal is archived, accounts and keys stay); where it went."""
        return self._invoke(Call("sandbox", "Reset", sandbox_pb2.ResetRequest(), lambda r: r.archived_to,
                                 kind="sandbox", admin=True))

    def shock_price(self, symbol: str, percent: Number) -> ShockResult:
        """Move the index by `percent` (e.g. "-8") in one step."""
        request = sandbox_pb2.ShockPriceRequest(symbol=symbol, percent=decimal_text(percent, "percent"))
        return self._invoke(Call("sandbox", "ShockPrice", request,
                                 lambda r: ShockResult(M.dec(r.index_price), M.dec(r.mark_price), r.liquidations,
                                                       tuple(ForcedOrder.from_pb(f) for f in r.forced_orders)),
                                 kind="sandbox", admin=True))

    def advance_clock(self, ns: int) -> int:
        """Move the venue clock forward (funding, GTD expiry happen); the venue time after (ns)."""
        if isinstance(ns, bool) or not isinstance(ns, int):
            raise TypeError("ns: expected an int")
        return self._invoke(Call("sandbox", "AdvanceClock", sandbox_pb2.AdvanceClockRequest(advance_ns=ns),
                                 lambda r: r.now_ns, kind="sandbox", admin=True))

    def set_clock_mode(self, held: bool, lease_ms: int = 0) -> ClockModeChange:
        """Hold the venue clock (True) or release it to wall-clock time (False). Held, every
        command is stamped with the venue's time (its last command's), moved only by
        `advance_clock`, so a run of calls reaches the same state whatever the wall-clock time
        between them; released, time is the wall clock plus every advance, never behind the
        venue's. Lasts until changed or the venue restarts (which takes `perpsim serve
        --held-clock`), or, held with `lease_ms` > 0 (milliseconds, at most a day), until that
        long passes with no `advance_clock` or hold renewing it: then released as by False, so a
        holder that died frees the venue. Holding again sets the lease anew (0: permanent);
        releasing ignores it. The mode now and before ("held" / "wall"), the venue time (ns) and
        the lease now (ms, 0: none)."""
        if not isinstance(held, bool):
            raise TypeError("held: expected a bool")
        if isinstance(lease_ms, bool) or not isinstance(lease_ms, int):
            raise TypeError("lease_ms: expected an int")
        if lease_ms < 0:
            raise ValueError("lease_ms: must be 0 (no lease) or more")
        request = sandbox_pb2.SetClockModeRequest(mode=clock_mode_value(held), lease_ms=lease_ms)
        return self._invoke(Call("sandbox", "SetClockMode", request, ClockModeChange.from_pb, kind="sandbox",
                                 admin=True))

    def fund_insurance(self, asset: str, amount: Number) -> Decimal:
        """Add money to the insurance fund; the fund after."""
        request = sandbox_pb2.FundInsuranceRequest(asset=asset, amount=decimal_text(amount, "amount"))
        return self._invoke(Call("sandbox", "FundInsurance", request,
                                 lambda r: M.dec0(r.insurance_fund.amount), kind="sandbox", admin=True))

    def venue_state(self) -> VenueState:
        """Venue time (ns), state hash, journal sequence, insurance funds, clock mode ("held" / "wall")
        and what is left of a held clock's lease (ms, 0: none)."""
        return self._invoke(Call("sandbox", "GetVenueState", sandbox_pb2.GetVenueStateRequest(),
                                 VenueState.from_pb, kind="sandbox", retry=True, admin=True))
