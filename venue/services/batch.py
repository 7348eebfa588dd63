"""The gRPC BatchService (admin key only): many accounts' commands as one sequencer unit.

Each command of an Apply is handled as its own RPC would handle it (the same validation, the
same refusals): an order converted and answered as PlaceOrder does (venue.services.batch_orders),
any other command by the very servicer method its own RPC runs, through a `Unit`
(venue.services.batch_unit): the commands go to the sequencer together, back to back in request
order, one journal group commit, each answered with its own events. The batch's result of each
command is read off its answer and its events; the reads asked for are answered once the unit
is durable.
"""

from __future__ import annotations

from typing import Any

from perpsim.engine.events import Liquidation, PositionChanged
from perpsim.model.reasons import RejectReason as R
from perpsim.risk.mark import MarkForm
from perpsim.v1 import batch_pb2, batch_pb2_grpc, common_pb2, market_pb2, sandbox_pb2
from perpsim.venue import convert as cv
from perpsim.venue.errors import VenueError, to_rpc_status
from perpsim.venue.services.batch_groups import SKIPPED, Skipped
from perpsim.venue.services.batch_orders import Placed, Refused
from perpsim.venue.services.batch_unit import Unit
from perpsim.venue.services.common import Venue, rpc
from perpsim.venue.services.risk import market_risk_out

MAX_COMMANDS = 1_000  # commands of one Apply, as orders of one PlaceOrders
MAX_ACCOUNTS = 1_000  # accounts of one CreateAccounts
CommandResult, PositionLots, BatchLiquidation = (batch_pb2.CommandResult, batch_pb2.PositionLots,
                                                 batch_pb2.BatchLiquidation)
#: events a sparse result reports (ApplyRequest.sparse_results)
_NOTABLE = frozenset({PositionChanged, Liquidation})
#: outcomes a sparse result reports whatever their events
_SAYS = (Refused, Skipped, sandbox_pb2.SetIndexPriceResponse)


def _result(outcome: Any, events: list | None) -> batch_pb2.CommandResult:
    """The batch's result of one command from its method's response and its events."""
    if isinstance(outcome, Refused):
        return CommandResult(error=outcome.status)
    if outcome is SKIPPED:
        return CommandResult(skipped=True)
    out: dict[str, Any] = {}
    if type(outcome) is Placed:
        out["order_id"], out["resting"] = outcome.order_id, outcome.resting
    elif isinstance(outcome, sandbox_pb2.SetIndexPriceResponse):
        out["mark_price"] = outcome.mark_price
    if events:
        positions, liquidations = _changes(events)
        if positions:
            out["positions"] = positions
        if liquidations:
            out["liquidations"] = liquidations
    return CommandResult(**out)


def _changes(events: list) -> tuple[list, list]:
    """The positions a command changed and the liquidations it set off, as result fields."""
    positions, liquidations = [], []
    for e in events:
        t = type(e)
        if t is PositionChanged:
            positions.append(PositionLots(account_id=e.account, symbol=e.symbol, lots=e.lots,
                                          position_side=cv.PSIDE_OUT[e.position_side]))
        elif t is Liquidation:
            liquidations.append(BatchLiquidation(
                symbol=e.symbol, side=cv.SIDE_OUT[e.side], quantity_lots=e.qty,
                bankruptcy_price_ticks=e.bankruptcy_price, filled_lots=e.filled, account_id=e.account,
                taken_by_insurance_lots=e.taken_by_insurance, auto_deleveraged_lots=e.deleveraged))
    return positions, liquidations


def _sparse(outcomes: list) -> list[batch_pb2.CommandResult]:
    """ApplyRequest.sparse_results: the results of the commands with more to say than an order's
    id and whether it rests, each with its command's index; a placed order or any other applied
    command with no position changed, no liquidation and no mark is left out."""
    out = []
    notable = _NOTABLE.isdisjoint
    for i, (outcome, events) in enumerate(outcomes):
        if (events and not notable(map(type, events))) or isinstance(outcome, _SAYS):
            r = _result(outcome, events)
            if r.HasField("error") or r.skipped or r.positions or r.liquidations or r.mark_price:
                r.index = i
                out.append(r)
    return out


class Batch(batch_pb2_grpc.BatchServiceServicer):
    """BatchService: Apply and CreateAccounts, admin key only."""

    def __init__(self, venue: Venue) -> None:
        self.venue = venue
        self._accounts: set[int] = set()  # accounts known to exist (accounts are never removed)

    def _known(self, account: int) -> bool:
        if account in self._accounts:
            return True
        if account and self.venue.keys.has_account(account):
            self._accounts.add(account)
            return True
        return False

    @rpc
    async def Apply(self, request, context):
        """BatchService.Apply (admin key): up to MAX_COMMANDS commands of any accounts as one sequencer unit, each with
        its own result (sparse_results: the notable ones only), then the reads asked for once the unit is durable and
        every market's top of book. Too many commands or a bad read refuse the whole call."""
        venue = self.venue
        venue.admin(context)
        n = len(request.commands)
        if n > MAX_COMMANDS:
            raise VenueError(R.INVALID_VALUE, field="commands", count=n, problem=f"at most {MAX_COMMANDS} commands")
        reads = request.reads
        for symbol in [*reads.marks, *(b.symbol for b in reads.books), *reads.risks]:
            venue.spec(symbol)  # an unknown market refuses the call before any command
        for b in reads.books:
            if not 0 <= b.depth <= 1_000:
                raise VenueError(R.INVALID_QUANTITY, field="reads.books.depth", depth=b.depth)
        outcomes, before = await Unit(venue, self._known, lambda: venue.seq.sequenced).apply(request.commands)
        results = _sparse(outcomes) if request.sparse_results else [_result(o, events) for o, events in outcomes]
        applied = sum(events is not None for _, events in outcomes)
        if not venue.seq.durable:
            await venue.seq.settled()  # the reads see nothing a crash could take back
        return batch_pb2.ApplyResponse(results=results, applied_before=before, applied=applied, tops=self._tops(),
                                       **self._reads(reads))

    def _tops(self) -> list[batch_pb2.BookTop]:
        view = self.venue.view
        reads_book = view.profile.mark_form is MarkForm.HYPERLIQUID
        out = []
        for symbol in sorted(self.venue.markets):
            bid, ask = view.top(symbol)
            out.append(batch_pb2.BookTop(symbol=symbol, bid_ticks=bid or 0, ask_ticks=ask or 0,
                                         mark_reads_book=reads_book))
        return out

    def _reads(self, reads) -> dict:
        venue = self.venue
        view = venue.view
        out: dict[str, Any] = {}
        if reads.marks:
            out["marks"] = [cv.mark_out(venue.spec(s), view.prices(s), view.funding(s), view.ts) for s in reads.marks]
        if reads.books:
            books, packed = [], []
            for b in reads.books:
                spec = venue.spec(b.symbol)
                book = view.book(spec.symbol, b.depth or 20)
                if b.packed:  # columns: one repeated field each, no message per level
                    bid_ticks, bid_lots, bid_orders = zip(*book.bids, strict=True) if book.bids else ((), (), ())
                    ask_ticks, ask_lots, ask_orders = zip(*book.asks, strict=True) if book.asks else ((), (), ())
                    packed.append(batch_pb2.PackedBook(
                        symbol=spec.symbol, sequence=venue.seq.applied, bid_ticks=bid_ticks, bid_lots=bid_lots,
                        bid_orders=bid_orders, ask_ticks=ask_ticks, ask_lots=ask_lots, ask_orders=ask_orders))
                    continue
                if b.ticks_only:
                    level = common_pb2.PriceLevel
                    bids = [level(price_ticks=p, quantity_lots=q, order_count=n) for p, q, n in book.bids]
                    asks = [level(price_ticks=p, quantity_lots=q, order_count=n) for p, q, n in book.asks]
                else:
                    bids = [cv.level_out(spec, *lv) for lv in book.bids]
                    asks = [cv.level_out(spec, *lv) for lv in book.asks]
                books.append(market_pb2.GetOrderBookResponse(symbol=spec.symbol, sequence=venue.seq.applied,
                                                             bids=bids, asks=asks))
            if books:
                out["books"] = books
            if packed:
                out["packed_books"] = packed
        if reads.risks:
            signals = venue.signals
            if signals is None:
                off = to_rpc_status(VenueError(R.INVALID_VALUE, problem="risk signals are off on this venue"))
                out["risks"] = [{"error": off} for _ in reads.risks]
            else:
                full = not reads.risks_summary
                out["risks"] = [{"risk": market_risk_out(venue.spec(s), signals.market_risk(s, None, full=full))}
                                for s in reads.risks]
        if reads.insurance:
            out["insurance"] = market_pb2.GetInsuranceFundResponse(
                funds=[cv.money_out(venue.asset_spec(a), view.insurance(a)) for a in view.assets()], time_ns=view.ts)
        return out

    @rpc
    async def CreateAccounts(self, request, context):
        """BatchService.CreateAccounts (admin key): 1 to MAX_ACCOUNTS new accounts with their API keys, numbered in
        order and saved together."""
        self.venue.admin(context)
        if not 0 < request.count <= MAX_ACCOUNTS:
            raise VenueError(R.INVALID_VALUE, field="count", count=request.count,
                             problem=f"1 to {MAX_ACCOUNTS} accounts")
        made = await self.venue.keys.create_accounts_async(request.count)  # one durable save for all
        self._accounts.update(m.account for m in made)  # known from now on (accounts are never removed)
        return batch_pb2.CreateAccountsResponse(accounts=[
            sandbox_pb2.CreateAccountResponse(account_id=m.account, api_key=m.api_key, api_secret=m.api_secret)
            for m in made])


def add_to_server(venue: Venue, server) -> None:
    """Register the BatchService on a grpc.aio server (build_server calls this)."""
    batch_pb2_grpc.add_BatchServiceServicer_to_server(Batch(venue), server)
