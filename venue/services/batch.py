"""The gRPC BatchService (admin key only): many accounts' commands as one sequencer unit.

Each command of an Apply is handled by the very servicer method its own RPC would run (the
same validation, the same refusals, the same response), through a `Unit`: a stand-in for the
Venue whose sequencer collects the command instead of queuing it. Once every command of the
request has been converted (or refused before reaching the sequencer), the collected commands
go to the real sequencer together with `submit_many`: back to back in request order, one
journal group commit, each answered with its own events. Then each method finishes as its own
call would, and the batch's result of each command is read off its response and its events.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from google.rpc import status_pb2

from perpsim.engine.events import Liquidation, PositionChanged
from perpsim.model.reasons import RejectReason as R
from perpsim.risk.mark import MarkForm
from perpsim.v1 import batch_pb2, batch_pb2_grpc, common_pb2, market_pb2, sandbox_pb2, trading_pb2
from perpsim.venue import convert as cv
from perpsim.venue.errors import VenueError, internal_rpc_status, to_rpc_status
from perpsim.venue.services.accounts import Accounts
from perpsim.venue.services.common import Venue, rpc
from perpsim.venue.services.risk import market_risk_out
from perpsim.venue.services.sandbox import Sandbox
from perpsim.venue.services.trading import Trading

MAX_COMMANDS = 1_000  # commands of one Apply, as orders of one PlaceOrders
MAX_ACCOUNTS = 1_000  # accounts of one CreateAccounts
_RESTING = (common_pb2.ORDER_STATUS_NEW, common_pb2.ORDER_STATUS_PARTIALLY_FILLED)
#: the servicer (by its Unit attribute) and method that handle each kind of command
_METHODS = {"place_order": ("trading", "PlaceOrders"), "cancel_order": ("trading", "CancelOrder"),
            "cancel_all_orders": ("trading", "CancelAllOrders"),
            "place_conditional_order": ("trading", "PlaceConditionalOrder"),
            "deposit": ("accounts", "Deposit"), "set_leverage": ("accounts", "SetLeverage"),
            "set_margin_mode": ("accounts", "SetMarginMode"), "set_index_price": ("sandbox", "SetIndexPrice"),
            "advance_clock": ("sandbox", "AdvanceClock"), "fund_insurance": ("sandbox", "FundInsurance")}


class _Refused(Exception):
    """How a command's servicer method ended when its own call would have been refused."""

    def __init__(self, status) -> None:
        super().__init__(status.message)
        self.status = status


class _Context:
    """The call context a servicer method sees for one command of a batch: the command's
    account, and aborts that end the method with the status its own call would carry."""

    def __init__(self, account: int) -> None:
        self.account = account
        self.error: VenueError | None = None  # the rejection being reported (Unit.refused)

    def invocation_metadata(self) -> tuple:
        return ()

    async def abort_with_status(self, status) -> None:
        raise _Refused(to_rpc_status(self.error) if self.error is not None else internal_rpc_status())

    async def abort(self, code, details: str = "") -> None:
        raise _Refused(status_pb2.Status(code=code.value[0], message=details))


class _Collector:
    """The Unit's sequencer: `submit` and `submit_many` (of one command) keep the command at its
    place in the batch and wait for the unit to be applied; the rest is the real sequencer's."""

    def __init__(self, unit: Unit) -> None:
        self._unit = unit

    def __getattr__(self, name: str) -> Any:
        return getattr(self._unit.real.seq, name)

    durable = True  # the batch waited for durability once, before its commands

    async def submit(self, make: Callable[[int], object]) -> list:
        return await self._unit.collect(make)

    async def submit_many(self, makes: list[Callable[[int], object]]) -> list:
        if not makes:  # its order was refused before the sequencer
            return []
        (make,) = makes  # a batch command places one order
        try:
            return [await self._unit.collect(make)]
        except VenueError:
            raise
        except Exception as e:  # a fault in the core: that command's outcome, as submit_many reports it
            return [e]


class Unit:
    """One Apply's commands: the Venue as their servicer methods see it (their account from the
    batch, no rate limit, the admin check done once for the call), their sequencer a collector."""

    def __init__(self, real: Venue, count: int, known: Callable[[int], bool], applied: Callable[[], int]) -> None:
        """`known(account)`: whether the account exists; `applied()`: commands the venue applied so far."""
        from perpsim.venue.price_paths import IndexMoves

        self.real, self._known, self._applied = real, known, applied
        self.seq = _Collector(self)
        self.index_moves = IndexMoves(self)  # index moves submitted through this unit
        self.observe_latency = None  # the batch is timed as one call, not as its commands
        self.trading, self.accounts, self.sandbox = Trading(self), Accounts(self, None), Sandbox(self)
        self._makes: list[Callable[[int], object] | None] = [None] * count
        self._answers: list[asyncio.Future | None] = [None] * count
        self._events: list[list | None] = [None] * count
        self._waiting = count  # commands neither collected nor finished
        self._ready = asyncio.get_running_loop().create_future()
        self._slot: dict[int, int] = {}  # id(asyncio task) -> its command's place in the batch
        self._contexts: dict[int, _Context] = {}  # id(asyncio task) -> its command's context

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    run = Venue.run  # Venue.run's rejection handling, submitting through the collector

    def account(self, context: _Context, weight: int = 1) -> int:
        if not self._known(context.account):
            raise VenueError(R.UNKNOWN_ACCOUNT, field="account_id", account_id=context.account)
        return context.account

    def admin(self, context) -> None:
        """Checked once for the whole call."""

    def refused(self, err: VenueError) -> VenueError:
        task = asyncio.current_task()
        context = self._contexts.get(id(task)) if task is not None else None
        if context is not None:
            context.error = err
        return self.real.refused(err)

    def _done_one(self) -> None:
        self._waiting -= 1
        if self._waiting == 0 and not self._ready.done():
            self._ready.set_result(None)

    async def collect(self, make: Callable[[int], object]) -> list:
        task = asyncio.current_task()
        assert task is not None
        i = self._slot[id(task)]
        self._makes[i] = make
        answer = self._answers[i] = asyncio.get_running_loop().create_future()
        self._done_one()
        return await answer

    async def _command(self, i: int, command) -> tuple[Any, _Context]:
        """Run command i's servicer method: its response, or the _Refused it ended with."""
        task = asyncio.current_task()
        assert task is not None
        self._slot[id(task)] = i
        context = _Context(command.account_id)
        self._contexts[id(task)] = context
        kind = command.WhichOneof("command")
        try:
            if kind is None:
                raise _Refused(to_rpc_status(VenueError(R.INVALID_VALUE, field=f"commands[{i}]",
                                                        problem="no command given")))
            servicer, method = _METHODS[kind]
            request = getattr(command, kind)
            if kind == "place_order":  # as PlaceOrders places it (no pre-trade warnings): its one result
                response = await self.trading.PlaceOrders(trading_pb2.PlaceOrdersRequest(orders=[request]), context)
                (result,) = response.results
                if result.WhichOneof("result") == "error":
                    raise _Refused(result.error)
                return result.placed, context
            return await getattr(getattr(self, servicer), method)(request, context), context
        except _Refused as e:
            return e, context
        finally:
            if self._makes[i] is None:  # finished without reaching the sequencer
                self._done_one()

    async def apply(self, commands) -> tuple[list, int]:
        """Every command's outcome (its response or _Refused) with its events (None when it did
        not reach the state), and how many commands the venue had applied before the first."""
        tasks = [asyncio.ensure_future(self._command(i, c)) for i, c in enumerate(commands)]
        if tasks:
            await self._ready
        slots = [i for i, make in enumerate(self._makes) if make is not None]
        before = [0]
        if slots:
            counter = self._applied
            first = self._makes[slots[0]]

            def first_make(ts: int, first=first):
                before[0] = counter()
                return first(ts)

            makes = [self._makes[i] for i in slots]
            makes[0] = first_make
            try:
                results = await self.real.seq.submit_many(makes)
            except Exception as e:  # shed or halted: every collected command is answered so
                results = [e] * len(slots)
            for i, result in zip(slots, results, strict=True):
                answer = self._answers[i]
                assert answer is not None
                if isinstance(result, BaseException):
                    answer.set_exception(result)
                else:
                    self._events[i] = result
                    answer.set_result(result)
        outcomes = await asyncio.gather(*tasks)
        return [(o, self._events[i]) for i, (o, _) in enumerate(outcomes)], before[0]


def _result(outcome: Any, events: list | None) -> batch_pb2.CommandResult:
    """The batch's result of one command from its method's response and its events."""
    if isinstance(outcome, _Refused):
        return batch_pb2.CommandResult(error=outcome.status)
    out: dict[str, Any] = {}
    if isinstance(outcome, trading_pb2.PlaceOrderResponse):
        out["order_id"], out["resting"] = outcome.order.order_id, outcome.order.status in _RESTING
    if isinstance(outcome, sandbox_pb2.SetIndexPriceResponse):
        out["mark_price"] = outcome.mark_price
    if events:
        positions, liquidations = [], []
        for e in events:
            t = type(e)
            if t is PositionChanged:
                positions.append({"account_id": e.account, "symbol": e.symbol, "lots": e.lots,
                                  "position_side": cv.PSIDE_OUT[e.position_side]})
            elif t is Liquidation:
                liquidations.append({"symbol": e.symbol, "side": cv.SIDE_OUT[e.side], "quantity_lots": e.qty,
                                     "bankruptcy_price_ticks": e.bankruptcy_price, "filled_lots": e.filled,
                                     "taken_by_insurance_lots": e.taken_by_insurance,
                                     "auto_deleveraged_lots": e.deleveraged})
        out["positions"], out["liquidations"] = positions, liquidations
    return batch_pb2.CommandResult(**out)


class Batch(batch_pb2_grpc.BatchServiceServicer):
    """BatchService: Apply and CreateAccounts, admin key only."""

    def __init__(self, venue: Venue) -> None:
        self.venue = venue
        self._applied = 0  # commands the venue applied since this servicer was made (any caller's)
        self._accounts: set[int] = set()  # accounts known to exist (accounts are never removed)
        venue.seq.after_apply.append(self._count)

    def _count(self, cmd, events) -> None:
        self._applied += 1

    def _known(self, account: int) -> bool:
        if account in self._accounts:
            return True
        if account and self.venue.keys.has_account(account):
            self._accounts.add(account)
            return True
        return False

    @rpc
    async def Apply(self, request, context):
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
        outcomes, before = await Unit(venue, n, self._known, lambda: self._applied).apply(request.commands)
        results = [_result(o, events) for o, events in outcomes]
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
            books = []
            for b in reads.books:
                spec = venue.spec(b.symbol)
                book = view.book(spec.symbol, b.depth or 20)
                books.append(market_pb2.GetOrderBookResponse(
                    symbol=spec.symbol, sequence=venue.seq.applied, bids=[cv.level_out(spec, *lv) for lv in book.bids],
                    asks=[cv.level_out(spec, *lv) for lv in book.asks]))
            out["books"] = books
        if reads.risks:
            signals = venue.signals
            off = to_rpc_status(VenueError(R.INVALID_VALUE, problem="risk signals are off on this venue"))
            out["risks"] = [{"error": off} if signals is None else
                            {"risk": market_risk_out(venue.spec(s), signals.market_risk(s, None))} for s in reads.risks]
        if reads.insurance:
            out["insurance"] = market_pb2.GetInsuranceFundResponse(
                funds=[cv.money_out(venue.asset_spec(a), view.insurance(a)) for a in view.assets()], time_ns=view.ts)
        return out

    @rpc
    async def CreateAccounts(self, request, context):
        self.venue.admin(context)
        if not 0 < request.count <= MAX_ACCOUNTS:
            raise VenueError(R.INVALID_VALUE, field="count", count=request.count,
                             problem=f"1 to {MAX_ACCOUNTS} accounts")
        keys = self.venue.keys
        made = await asyncio.gather(*(keys.create_account_async() for _ in range(request.count)))
        return batch_pb2.CreateAccountsResponse(accounts=[
            sandbox_pb2.CreateAccountResponse(account_id=m.account, api_key=m.api_key, api_secret=m.api_secret)
            for m in sorted(made, key=lambda m: m.account)])


def add_to_server(venue: Venue, server) -> None:
    """Register the BatchService on a grpc.aio server (build_server calls this)."""
    batch_pb2_grpc.add_BatchServiceServicer_to_server(Batch(venue), server)
