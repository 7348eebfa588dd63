"""Commands of many accounts in one BatchService.Apply call, for GrpcVenue.

`Batch` holds the commands not sent yet; `send` makes them one Apply call (one sequencer unit,
one journal group commit), with the reads asked for answered in the same response. Each result
becomes the engine events GrpcVenue reports for its command: a refusal as `CommandRejected`,
each liquidation the command set off as a `Liquidation` of the scenario's account. Every
position a command changed updates `Positions`, the mirror position reads are answered from.
Commands go in the engine's units where the request has them (ticks, lots); money and stop
prices as exact decimal strings made from the engine integers by the market specs.
Imported only over gRPC.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import grpc

from perpsim.clients.errors import PerpsimError, from_rpc_error, from_status_pb
from perpsim.engine import commands as C
from perpsim.engine.events import Liquidation
from perpsim.model.enums import Side
from perpsim.model.markets import MarketSpec
from perpsim.sim.grpc_quiet import QuietScan
from perpsim.sim.grpc_reads import bearer
from perpsim.sim.grpc_requests import conditional_request, order_request
from perpsim.sim.grpc_wire import rejected
from perpsim.v1 import (
    batch_pb2,
    batch_pb2_grpc,
    common_pb2,
)

#: most commands of one Apply (the venue's limit)
MAX_COMMANDS = 1000
_SIDE_IN = {common_pb2.SIDE_BUY: Side.BUY, common_pb2.SIDE_SELL: Side.SELL}


def money(spec: MarketSpec, units: int) -> str:
    """Integer money units of the spec's settlement asset as an exact decimal string."""
    return format(spec.units_to_money(units), "f")


def command_pb(cmd: C.Command, account_id: int, markets: dict[str, MarketSpec]) -> dict:
    """The fields of the BatchCommand of an engine command (made into the message with its
    ApplyRequest); `account_id`: the venue account it acts for (0: the venue's)."""
    match cmd:
        case C.PlaceOrder():
            return {"account_id": account_id, "place_order": order_request(cmd)}
        case C.CancelAll():
            return {"account_id": account_id, "cancel_all_orders": {"symbol": cmd.symbol}}
        case C.Deposit():
            spec = next(s for s in markets.values() if s.settle == cmd.asset)
            return {"account_id": account_id, "deposit": {"asset": cmd.asset, "amount": money(spec, cmd.amount)}}
        case C.SetLeverage():
            return {"account_id": account_id, "set_leverage": {"symbol": cmd.symbol, "leverage": cmd.leverage}}
        case C.SetMarginMode():
            mode = common_pb2.MARGIN_MODE_ISOLATED if cmd.isolated else common_pb2.MARGIN_MODE_CROSS
            return {"account_id": account_id, "set_margin_mode": {"symbol": cmd.symbol, "margin_mode": mode}}
        case C.PlaceConditional():
            return {"account_id": account_id, "place_conditional_order": conditional_request(markets[cmd.symbol], cmd)}
        case C.SetIndexPrice():
            return {"set_index_price": {"symbol": cmd.symbol, "price_ticks": cmd.price}}
        case C.FundInsurance():
            spec = next(s for s in markets.values() if s.settle == cmd.asset)
            return {"fund_insurance": {"asset": cmd.asset, "amount": money(spec, cmd.amount)}}
        case C.CancelOrder():
            return {"account_id": account_id, "cancel_order": {"symbol": cmd.symbol, "order_id": cmd.order_id}}
    raise NotImplementedError(f"{type(cmd).__name__} is not sent over gRPC by the simulator")


def advance_pb(advance_ns: int) -> dict:
    """The venue clock moved on by `advance_ns` (AdvanceClock), as a BatchCommand's fields."""
    return {"advance_clock": {"advance_ns": advance_ns}}


@dataclass
class Positions:
    """Each venue account's signed lots per market, from the positions the batches' commands
    changed. Exact while the run's commands are the only ones the venue applies (`synced`):
    a unit that does not follow the last one's commands directly clears it."""

    lots: dict[tuple[int, str], dict[int, int]] = field(default_factory=dict)  # (account, symbol) -> side -> lots
    synced: bool = True
    _next: int | None = None  # applied_before the next unit has when nothing came between

    def of(self, account_id: int, symbol: str) -> int:
        """The account's signed lots in `symbol` (its legs summed in hedge mode)."""
        legs = self.lots.get((account_id, symbol))
        return sum(legs.values()) if legs else 0

    def follow(self, response: batch_pb2.ApplyResponse, commands: int) -> None:
        """Take a unit's response in: whether another writer's commands came before it."""
        if not commands:
            return
        if self._next is not None and response.applied_before != self._next:
            self.synced = False
            self.lots.clear()
        self._next = response.applied_before + response.applied

    def update(self, result: batch_pb2.CommandResult) -> None:
        """Record the positions `result` reports: each (account, symbol, position side)'s lots after its
        command."""
        for p in result.positions:
            self.lots.setdefault((p.account_id, p.symbol), {})[p.position_side] = p.lots


@dataclass(eq=False, slots=True)
class Pending:
    """A command waiting for the next Apply: `cmd` and its BatchCommand's fields; `block` /
    `group`: the submit_groups call it came with and its group's number (BatchCommand.group;
    None / 0: none); `keep`: its events are its caller's (`events` once answered), not late
    events."""

    cmd: C.Command
    pb: dict
    block: int | None = None
    group: int = 0
    keep: bool = False
    events: list | None = None


class Batch:
    """The commands not sent yet and the Apply calls that send them, on `channel` with the
    admin's key (deadlines of `timeout` seconds)."""

    def __init__(self, channel: grpc.Channel, admin_key: str, timeout: float, tally: Callable[[str], None]) -> None:
        self._stub = batch_pb2_grpc.BatchServiceStub(channel)
        self._admin = bearer(admin_key)
        self.timeout = timeout
        self._tally = tally
        self.pending: list[Pending] = []
        self.positions = Positions()
        self.quiet = QuietScan()  # whether the commands waiting are quiet (perpsim.sim.grpc_quiet)
        self.tops: dict[str, batch_pb2.BookTop] = {}  # each market's, after the last Apply
        self.sent = 0  # commands sent so far

    def add(self, pending: Pending) -> Pending:
        """Queue `pending` for the next Apply; returns it."""
        self.pending.append(pending)
        return pending

    def send(self, n: int, reads: batch_pb2.BatchReads | None = None) -> tuple[list[Pending], list[tuple[Pending, Any]],
                                                                              Any]:
        """Send the first `n` pending commands (at most MAX_COMMANDS) as one Apply with `reads`:
        the commands sent, those answered with a result, each with it, in order (the rest were
        applied with nothing to report, left out of the sparse results), and the response."""
        chunk, self.pending = self.pending[:n], self.pending[n:]
        self.sent += len(chunk)
        request = batch_pb2.ApplyRequest(commands=[p.pb for p in chunk], reads=reads, sparse_results=True)
        self._tally("Apply")
        try:
            response = self._stub.Apply(request, timeout=self.timeout * 4, metadata=self._admin)
        except grpc.RpcError as e:
            self.pending = []
            raise from_rpc_error(e) from None
        self.positions.follow(response, len(chunk))
        self.tops = {t.symbol: t for t in response.tops}
        results = response.results
        if not results:
            return chunk, [], response
        if len(results) == len(chunk):  # every command's (a venue that answers densely, too)
            answered = list(zip(chunk, results, strict=True))
        else:
            answered = sorted(((chunk[r.index], r) for r in results), key=lambda a: a[1].index)
        update = self.positions.update
        for r in results:
            if r.positions:
                update(r)
        return chunk, answered, response

    def create_accounts(self, count: int) -> list[tuple[int, str]]:
        """`count` new accounts (CreateAccounts, up to MAX_COMMANDS a call): (account id, API key) each, in order."""
        made: list[tuple[int, str]] = []
        while len(made) < count:
            n = min(MAX_COMMANDS, count - len(made))
            self._tally("CreateAccounts")
            try:
                r = self._stub.CreateAccounts(batch_pb2.CreateAccountsRequest(count=n), timeout=self.timeout,
                                              metadata=self._admin)
            except grpc.RpcError as e:
                raise from_rpc_error(e) from None
            made += [(a.account_id, a.api_key) for a in r.accounts]
        return made


def events_of(cmd: C.Command, result: batch_pb2.CommandResult | None, accounts: dict[int, int]) -> list:
    """A command's events as GrpcVenue reports them: its refusal, else the liquidations it set off,
    each of the scenario account `accounts` maps its venue account to (0 for another's); none
    for a command its group's refusal skipped (never sent, in process), nor for one applied with
    nothing to report (`result` None)."""
    if result is None:
        return []
    if result.HasField("error") and result.error.code:
        return [rejected(cmd, error_of(result))]
    return [Liquidation(q.symbol, accounts.get(q.account_id, 0), _SIDE_IN[q.side], q.quantity_lots,
                        q.bankruptcy_price_ticks, q.filled_lots, q.taken_by_insurance_lots, q.auto_deleveraged_lots)
            for q in result.liquidations]


def error_of(result: batch_pb2.CommandResult) -> PerpsimError:
    """The client's typed error of a refused command."""
    return from_status_pb(result.error)


def mark_of(result: batch_pb2.CommandResult | None) -> Decimal | None:
    """The mark a SetIndexPrice result reports (None when the market has none)."""
    return Decimal(result.mark_price) if result is not None and result.mark_price else None
