"""The gRPC SandboxService (admin key only): accounts, index prices, shocks, price paths, the
clock (advanced, held or released: venue.clock), the insurance fund, venue state, reset and
snapshots. A held clock's lease (a hold that lapses unless renewed) is venue.clock_lease.

Index moves (a set price, a shock, a path) are the venue's `IndexMoves` (venue.price_paths);
this servicer checks the admin key, converts the request and answers from the events.
"""

from __future__ import annotations

from perpsim.engine import commands as C
from perpsim.engine.events import Liquidation
from perpsim.engine.liquidations import forced_orders
from perpsim.engine.multi_assets import STABLE_INDEXES
from perpsim.model.reasons import RejectReason as R
from perpsim.v1 import sandbox_pb2, sandbox_pb2_grpc
from perpsim.venue import convert as cv
from perpsim.venue.auth import BadKey, KeyConflict
from perpsim.venue.clock_lease import MAX_LEASE_MS, ClockLease
from perpsim.venue.errors import VenueError
from perpsim.venue.humane import duration
from perpsim.venue.services.common import Venue, rpc
from perpsim.venue.services.wire import forced_order_out

MAX_ADVANCE_NS = 10 * 365 * 24 * 3_600 * 10**9
#: whether a SetClockMode request's mode holds the clock (UNSPECIFIED and unknown values: absent)
_HELD = {sandbox_pb2.CLOCK_MODE_HELD: True, sandbox_pb2.CLOCK_MODE_WALL: False}
_MODE = {True: sandbox_pb2.CLOCK_MODE_HELD, False: sandbox_pb2.CLOCK_MODE_WALL}


class Sandbox(sandbox_pb2_grpc.SandboxServiceServicer):
    """SandboxService: every call needs the admin key."""

    def __init__(self, venue: Venue) -> None:
        self.venue = venue

    @rpc
    async def CreateAccount(self, request, context):
        """SandboxService.CreateAccount (admin key): a new account with its API key and secret (the caller's pair, or
        generated); INVALID_VALUE for a malformed key, ALREADY_EXISTS for a key in use with another secret."""
        self.venue.admin(context)
        try:
            made = await self.venue.keys.create_account_async(request.api_key or None, request.api_secret or None)
        except BadKey as e:
            raise VenueError(R.INVALID_VALUE, "api_key", detail=str(e)) from None
        except KeyConflict:
            raise VenueError(R.API_KEY_IN_USE, "api_key") from None
        return sandbox_pb2.CreateAccountResponse(account_id=made.account, api_key=made.api_key,
                                                 api_secret=made.api_secret)

    @rpc
    async def SetIndexPrice(self, request, context):
        """SandboxService.SetIndexPrice (admin key): set a market's index (requoting the built-in liquidity provider
        when it runs) or a stablecoin's USD index; answers the mark (a stablecoin's: the price set) and the number of
        liquidations it set off."""
        self.venue.admin(context)
        if request.symbol in STABLE_INDEXES:  # a stablecoin's USD index: a decimal USD price, no ticks
            if request.price_ticks:
                raise VenueError(R.INVALID_PRICE, field="price_ticks", problem="a stablecoin index takes price")
            price = cv.rate_in(request.price, "price")
            events = await self.venue.run(lambda ts: C.SetIndexPrice(ts, request.symbol, price))
            return sandbox_pb2.SetIndexPriceResponse(
                mark_price=cv.rate_out(price), liquidations=sum(isinstance(e, Liquidation) for e in events))
        spec = self.venue.spec(request.symbol)
        events = await self.venue.index_moves.set(spec.symbol, cv.price_in(spec, request.price, request.price_ticks))
        mark = self.venue.view.mark(spec.symbol)
        return sandbox_pb2.SetIndexPriceResponse(
            mark_price=spec.format_price(mark) if mark else "",
            liquidations=sum(isinstance(e, Liquidation) for e in events))

    @rpc
    async def ShockPrice(self, request, context):
        """SandboxService.ShockPrice (admin key): move a market's index by request.percent in one step; answers the new
        index and mark, the liquidations set off and their forced orders."""
        self.venue.admin(context)
        spec = self.venue.spec(request.symbol)
        target, events = await self.venue.index_moves.shock(spec.symbol, request.percent)
        mark = self.venue.view.mark(spec.symbol)
        return sandbox_pb2.ShockPriceResponse(
            index_price=spec.format_price(target), mark_price=spec.format_price(mark) if mark else "",
            liquidations=sum(isinstance(e, Liquidation) for e in events),
            forced_orders=[forced_order_out(self.venue.spec(f.symbol), f) for f in forced_orders(events)])

    @rpc
    async def SetPricePath(self, request, context):
        """SandboxService.SetPricePath (admin key): drive a market's index along (offset ms, price) points from now,
        replacing its current path (no points: stop it); INVALID_VALUE for decreasing or too distant offsets."""
        self.venue.admin(context)
        spec = self.venue.spec(request.symbol)
        points, last = [], 0
        for i, pt in enumerate(request.points):
            if pt.offset_ms < last or pt.offset_ms > MAX_ADVANCE_NS // 10**6:
                raise VenueError(R.INVALID_VALUE, field=f"points[{i}].offset_ms", offset_ms=pt.offset_ms,
                                 problem="offsets must be non-decreasing and within ten years")
            last = pt.offset_ms
            points.append((pt.offset_ms, cv.price_in(spec, pt.price, 0, field=f"points[{i}].price")))
        self.venue.index_moves.follow(spec.symbol, points)
        return sandbox_pb2.SetPricePathResponse(points=len(points))

    @rpc
    async def AdvanceClock(self, request, context):
        """SandboxService.AdvanceClock (admin key): move the venue clock on by advance_ns (more than 0, at most ten
        years), renewing a held clock's lease; answers the venue time now."""
        self.venue.admin(context)
        if not 0 < request.advance_ns <= MAX_ADVANCE_NS:
            raise VenueError(R.INVALID_VALUE, field="advance_ns", advance_ns=request.advance_ns).shown_as(
                {"advance": duration(request.advance_ns),
                 "problem": f"must be more than 0 and at most {duration(MAX_ADVANCE_NS)} (ten years)"})
        advance = request.advance_ns
        self.venue.seq.clock.renew_lease()  # the holder is alive: its hold lasts another lease from now
        # from the time the command is stamped with: a held clock's is the venue's own, so the
        # venue moves by exactly `advance`
        await self.venue.run(lambda ts: C.AdvanceClock(ts + advance))
        self.venue.seq.clock.advanced(advance)  # later commands keep the new time
        return sandbox_pb2.AdvanceClockResponse(now_ns=self.venue.state.exchange.ts)

    @rpc
    async def SetClockMode(self, request, context):
        """SandboxService.SetClockMode (admin key): hold the venue clock (lease_ms: its lease, at most a day; 0: none)
        or release it to the wall clock, between the sequencer's batches; answers the mode and lease before and now, and
        the venue time."""
        self.venue.admin(context)
        held = _HELD.get(request.mode)
        if held is None:
            raise VenueError(R.INVALID_VALUE, field="mode", mode=request.mode).shown_as(
                {"mode": request.mode, "problem": "must be CLOCK_MODE_HELD or CLOCK_MODE_WALL"})
        lease_ms = request.lease_ms if held else 0  # released: no lease to keep
        if lease_ms > MAX_LEASE_MS:
            raise VenueError(R.INVALID_VALUE, field="lease_ms", lease_ms=request.lease_ms).shown_as(
                {"lease": duration(lease_ms * 10**6),
                 "problem": f"must be at most {duration(MAX_LEASE_MS * 10**6)} (a day); 0: held until released"})
        seq = self.venue.seq
        clock = seq.clock
        lease = clock.lease
        if lease is None:
            lease = clock.lease = ClockLease(clock, seq.run_quiet)

        def change() -> tuple[bool, int, int]:
            was, before = clock.set_held(held), lease.ms
            lease.set(lease_ms)  # a hold's lease anew (renewed), or none
            return was, before, lease.ms

        # between batches: each command is stamped wholly before or wholly after the change
        was, lease_before, lease_now = await seq.run_quiet(change)
        return sandbox_pb2.SetClockModeResponse(mode=request.mode, previous_mode=_MODE[was],
                                                now_ns=self.venue.state.exchange.ts, lease_ms=lease_now,
                                                previous_lease_ms=lease_before)

    @rpc
    async def FundInsurance(self, request, context):
        """SandboxService.FundInsurance (admin key): add to an asset's insurance fund; answers the fund now."""
        self.venue.admin(context)
        spec = self.venue.asset_spec(request.asset)
        amount = cv.money_in(spec, request.amount)
        await self.venue.run(lambda ts: C.FundInsurance(ts, request.asset, amount))
        return sandbox_pb2.FundInsuranceResponse(
            insurance_fund=cv.money_out(spec, self.venue.view.insurance(request.asset)))

    @rpc
    async def GetVenueState(self, request, context):
        """SandboxService.GetVenueState (admin key): venue time, state hash, insurance funds, the journal's durable
        sequence (without a journal: the commands applied), the clock mode and its lease left."""
        self.venue.admin(context)
        view = self.venue.view
        funds = [cv.money_out(self.venue.asset_spec(a), view.insurance(a)) for a in view.assets()]
        journal = self.venue.seq.journal
        return sandbox_pb2.GetVenueStateResponse(
            now_ns=view.ts, state_hash=self.venue.state.state_hash(), insurance_funds=funds,
            journal_sequence=journal.durable_seq if journal is not None else self.venue.seq.applied,
            clock_mode=_MODE[self.venue.seq.clock.held], clock_lease_remaining_ms=self.venue.seq.clock.lease_left_ms())

    @rpc
    async def Reset(self, request, context):
        """SandboxService.Reset (admin key): a fresh world (journal and snapshots archived; accounts and keys kept),
        price paths stopped and the world seeded again; answers the archive. INVALID_VALUE when reset is unavailable."""
        self.venue.admin(context)
        if self.venue.reset is None:
            raise VenueError(R.INVALID_VALUE, problem="reset is not available")
        archived = await self.venue.seq.run_quiet(self.venue.reset)
        self.venue.index_moves.stop_all()
        if self.venue.after_reset is not None:
            await self.venue.after_reset()
        return sandbox_pb2.ResetResponse(archived_to=str(archived))

    @rpc
    async def Snapshot(self, request, context):
        """SandboxService.Snapshot (admin key): snapshot the state at the next quiet point; answers the journal sequence
        it covers (INVALID_VALUE when snapshots are off)."""
        self.venue.admin(context)
        return sandbox_pb2.SnapshotResponse(journal_sequence=await self.venue.seq.request_checkpoint())
