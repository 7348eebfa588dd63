"""One Apply's commands (the BatchService, venue.services.batch) as one sequencer unit.

Orders (the bulk of a batch) are converted and answered in place, as PlaceOrder converts and
answers them (venue.services.batch_orders). Every other command runs through the servicer
method its own RPC would run: a `Unit` is a stand-in for the Venue whose sequencer collects the
commands instead of queuing them. Once every command is converted (or refused before the
sequencer), they go to the real sequencer as one `submit_many` unit, at one time (the unit's
first command's), and each method finishes as its own call would, with its command's events.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from google.rpc import status_pb2

from perpsim.model.reasons import RejectReason as R
from perpsim.venue.errors import VenueError, internal_rpc_status, to_rpc_status
from perpsim.venue.price_paths import IndexMoves
from perpsim.venue.services.accounts import Accounts
from perpsim.venue.services.batch_groups import Gates, skip_after_refusals
from perpsim.venue.services.batch_orders import OrderRun, Refused
from perpsim.venue.services.batch_timing import UnitMakes
from perpsim.venue.services.common import Venue
from perpsim.venue.services.sandbox import Sandbox
from perpsim.venue.services.trading import Trading

#: orders of one run of an account's orders (as of one PlaceOrders call)
MAX_ORDERS = 1_000
#: the servicer (by its Unit attribute) and method that handle each kind of command
_METHODS = {"cancel_order": ("trading", "CancelOrder"), "cancel_all_orders": ("trading", "CancelAllOrders"),
            "place_conditional_order": ("trading", "PlaceConditionalOrder"),
            "deposit": ("accounts", "Deposit"), "set_leverage": ("accounts", "SetLeverage"),
            "set_margin_mode": ("accounts", "SetMarginMode"), "set_index_price": ("sandbox", "SetIndexPrice"),
            "advance_clock": ("sandbox", "AdvanceClock"), "fund_insurance": ("sandbox", "FundInsurance")}


class _Context:
    """The call context a servicer method sees for one command of a batch: the command's
    account, and aborts that end the method with the status its own call would carry."""

    def __init__(self, account: int) -> None:
        self.account = account
        self.error: VenueError | None = None  # the rejection being reported (Unit.refused)

    def invocation_metadata(self) -> tuple:
        return ()

    async def abort_with_status(self, status) -> None:
        raise Refused(to_rpc_status(self.error) if self.error is not None else internal_rpc_status())

    async def abort(self, code, details: str = "") -> None:
        raise Refused(status_pb2.Status(code=code.value[0], message=details))


class _Collector:
    """The Unit's sequencer: `submit` and `submit_many` keep their commands at their place in the
    batch and wait for the unit to be applied; the rest is the real sequencer's."""

    def __init__(self, unit: Unit) -> None:
        self._unit = unit

    def __getattr__(self, name: str) -> Any:
        return getattr(self._unit.real.seq, name)

    durable = True  # the batch waited for durability once, before its commands

    async def submit(self, make: Callable[[int], object]) -> list:
        (result,) = await self._unit.collect([make])
        if isinstance(result, BaseException):
            raise result
        return result

    async def submit_many(self, makes: list[Callable[[int], object]]) -> list:
        return await self._unit.collect(makes) if makes else []


@dataclass
class _Call:
    """One call of a batch: its commands' places (a run of one account's orders is one call,
    `orders`, made in place; any other command one servicer call), its commands' makes once
    collected, their results once applied."""

    places: list[int]
    kind: str | None  # its commands' kind (the BatchCommand oneof's member set; None: none)
    makes: list[Callable[[int], object]] | None = None
    answer: asyncio.Future | None = None
    results: list = field(default_factory=list)
    context: _Context | None = None
    orders: OrderRun | Refused | None = None


def _calls(commands) -> tuple[list[_Call], dict[int, int]]:
    """The batch's commands as servicer calls (consecutive orders of one account together), and
    the groups of the grouped commands (place in the batch -> group, in place order)."""
    calls: list[_Call] = []
    groups: dict[int, int] = {}
    last_orders = None  # the account of the run of orders the last call is
    for i, c in enumerate(commands):
        kind, group = c.WhichOneof("command"), c.group
        if group:
            groups[i] = group
        orders = c.account_id if kind == "place_order" else None
        if orders is not None and orders == last_orders and len(calls[-1].places) < MAX_ORDERS:
            calls[-1].places.append(i)
        else:
            calls.append(_Call([i], kind))
        last_orders = orders
    return calls, groups


class Unit:
    """One Apply's commands: the Venue as their servicer methods see it (their account from the
    batch, no rate limit, the admin check done once for the call), their sequencer a collector."""

    def __init__(self, real: Venue, known: Callable[[int], bool], applied: Callable[[], int]) -> None:
        """`known(account)`: whether the account exists; `applied()`: commands the venue applied so far."""
        self.real, self._known, self._applied = real, known, applied
        self._trading = Trading(real)  # the orders' conversions and answers (venue.services.batch_orders)
        self._calls: dict[int, _Call] = {}  # id(asyncio task) -> the call it makes
        self._waiting = 0  # calls neither collected nor finished

    def _serve(self) -> None:
        """The stand-in's sequencer and servicers, made only for a unit with commands that run
        through their servicer methods (a unit of orders alone needs neither)."""
        self.seq = _Collector(self)
        self.index_moves = IndexMoves(self)  # index moves submitted through this unit
        self.observe_latency = None  # the batch is timed as one call, not as its commands
        venue = cast(Venue, self)  # a stand-in with the Venue's interface
        self.trading, self.accounts, self.sandbox = Trading(venue), Accounts(venue, None), Sandbox(venue)
        self._ready = asyncio.get_running_loop().create_future()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    run = Venue.run  # Venue.run's rejection handling, submitting through the collector

    def account(self, context: _Context, weight: int = 1) -> int:
        """Venue.account for a batch command: the command's account, with no key and no rate limit; UNKNOWN_ACCOUNT when
        it does not exist."""
        if not self._known(context.account):
            raise VenueError(R.UNKNOWN_ACCOUNT, field="account_id", account_id=context.account)
        return context.account

    def admin(self, context) -> None:
        """Checked once for the whole call."""

    def _call(self) -> _Call:
        task = asyncio.current_task()
        assert task is not None
        return self._calls[id(task)]

    def refused(self, err: VenueError) -> VenueError:
        """Venue.refused, keeping the rejection on the current call's context too (what its abort reports)."""
        context = self._call().context
        if context is not None:
            context.error = err
        return self.real.refused(err)

    def _done_one(self) -> None:
        self._waiting -= 1
        if self._waiting == 0 and not self._ready.done():
            self._ready.set_result(None)

    async def collect(self, makes: list[Callable[[int], object]]) -> list:
        """The call's commands, kept for the unit: per command, its events or its exception."""
        call = self._call()
        call.makes = makes
        call.answer = asyncio.get_running_loop().create_future()
        self._done_one()
        return await call.answer

    async def _run_call(self, call: _Call, commands) -> Any:
        """Run the call's servicer method: its response, or the Refused it ended with."""
        task = asyncio.current_task()
        assert task is not None
        self._calls[id(task)] = call
        first = commands[call.places[0]]
        call.context = context = _Context(first.account_id)
        kind = call.kind
        try:
            if kind is None:
                raise Refused(to_rpc_status(VenueError(R.INVALID_VALUE, field=f"commands[{call.places[0]}]",
                                                        problem="no command given")))
            servicer, method = _METHODS[kind]
            return await getattr(getattr(self, servicer), method)(getattr(first, kind), context)
        except Refused as e:
            return e
        finally:
            if call.makes is None:  # finished without reaching the sequencer
                self._done_one()

    def _orders(self, call: _Call, commands) -> None:
        """A run of one account's orders, converted in place: its makes, or its Refused (an
        unknown account refuses each of them, as it refuses a PlaceOrders call)."""
        account = commands[call.places[0]].account_id
        if not self._known(account):
            err = VenueError(R.UNKNOWN_ACCOUNT, field="account_id", account_id=account)
            call.orders = Refused(to_rpc_status(self.real.refused(err)))
            return
        run = call.orders = OrderRun(self._trading, self.real.refused, account,
                                     [commands[i].place_order for i in call.places], call.places)
        call.makes = run.makes

    async def apply(self, commands) -> tuple[list, int]:
        """Every command's outcome (its response, Placed for an order, or Refused) with its
        events (None when it did not reach the state), and how many commands the venue had
        applied before the first."""
        calls, groups = _calls(commands)
        served = []  # the calls made through their servicer methods
        for c in calls:
            if c.kind == "place_order":
                self._orders(c, commands)
            elif group := groups.get(c.places[0]):
                err = VenueError(R.INVALID_VALUE, field="group", group=group, problem="only orders take a group")
                c.orders = Refused(to_rpc_status(self.real.refused(err)))
            else:
                served.append(c)
        self._waiting = len(served)
        if served:
            self._serve()
        tasks = [asyncio.ensure_future(self._run_call(c, commands)) for c in served]
        if tasks:
            await self._ready
        collected = [c for c in calls if c.makes]
        timed = None
        if collected:
            makes = [m for c in collected for m in c.makes or ()]
            places = [p for c in collected for p in (c.orders.made if isinstance(c.orders, OrderRun) else c.places)]
            gates = self._gates(groups, collected)
            timed = UnitMakes(self.real, self._applied, gates)
            makes = timed.wrap(makes, places)
            if gates is not None:
                self.real.seq.after_apply.append(gates.applied)
            try:
                results = await self.real.seq.submit_many(makes)
            except Exception as e:  # shed or halted: every collected command is answered so
                results = [e] * len(makes)
            finally:
                if gates is not None:
                    self.real.seq.after_apply.remove(gates.applied)
            assert len(results) == len(makes)
            at = 0
            for c in collected:
                assert c.makes is not None
                c.results = results[at:at + len(c.makes)]
                at += len(c.makes)
                if c.answer is not None:
                    c.answer.set_result(c.results)
        responses = iter(await asyncio.gather(*tasks))
        out: list = []
        for c in calls:
            if c.orders is None:
                events = next((r for r in c.results if isinstance(r, list)), None)
                out.append((next(responses), events))
            elif isinstance(c.orders, Refused):
                out += [(c.orders, None)] * len(c.places)
            else:
                out += c.orders.answers(c.results, timed.before[1])  # type: ignore[union-attr]
        if groups:
            out = skip_after_refusals(groups, out)
        return out, 0 if timed is None else timed.before[0]

    @staticmethod
    def _gates(groups: dict[int, int], collected: list[_Call]) -> Gates | None:
        """The gates of the unit's grouped orders (None: it has none)."""
        if not groups:
            return None
        made = {p for c in collected if isinstance(c.orders, OrderRun) for p in c.orders.made}
        return Gates(groups, {p for p in groups if p not in made})
