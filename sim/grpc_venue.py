"""A scenario's venue over gRPC: a running perpsim venue reached with its gRPC API.

Scenario account numbers map to venue accounts made when the run hands them out (`reserve`:
CreateAccounts, numbered in the order handed out). Commands travel as BatchService.Apply calls
(perpsim.sim.grpc_apply): the commands waiting when an answer is needed go together, in order,
as one sequencer unit with one journal group commit, each answered with its own result. A
refusal comes back as a `CommandRejected` event with the venue's reason, and each liquidation a
command set off as a `Liquidation` event of that command (of the scenario's account). The run
holds the venue clock (perpsim.sim.grpc_venue_clock): the venue's time is its time at the hold
(moved on to a whole minute) plus the scenario's, moved only by the AdvanceClock commands the
commands' timestamps make, so a run meets the same times whatever the wall-clock time between
its calls (its marks and liquidations are the in-process run's, step by step and row by row);
the clock's mode is put back at `close`.

Commands that wait (`_DEFERRED`): settings, deposits, stops, cancels of an account's orders and
the insurance fund's deposits are answered later: `submit` returns at once and their refusals
come with a later command's events (each changes its own account's, or the fund's, collateral,
settings or orders, never a position, a price or another account's orders, and no agent reads
their answers); so do a market maker's quotes (`submit_groups`: a block of one account's
groups, each ending at its first refusal in the venue). Other orders and index moves are sent
at once with whatever waits before them, and answered; a setup's groups of one command go
together, each answered. Position reads come from the positions the venue reported changed
(perpsim.sim.grpc_apply.Positions), with no call while only quiet commands wait
(perpsim.sim.grpc_quiet: nothing that waits can trade or move a mark); other reads are made
once whatever waits is sent (the step's sample reads in the same Apply,
perpsim.sim.grpc_venue_reads; an Apply with a market maker's requote asks for the last sample's
reads too). Per step of long-squeeze that is an Apply for the index move (the agents read the
mark it leaves), one for the quotes with the sample (a taker order after them in the same), and
one for each taker order before the quotes.
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING, Any

from perpsim.engine import commands as C
from perpsim.engine.events import CommandRejected
from perpsim.model.enums import OrderKind
from perpsim.model.markets import MarketSpec
from perpsim.sim.grpc_apply import MAX_COMMANDS, Batch, Pending, advance_pb, command_pb, error_of, events_of, mark_of
from perpsim.sim.grpc_quiet import cut
from perpsim.sim.grpc_reads import Reads
from perpsim.sim.grpc_requests import order_request
from perpsim.sim.grpc_venue_clock import RunClock
from perpsim.sim.grpc_venue_reads import VenueReads

if TYPE_CHECKING:
    from perpsim.clients.client import Client

#: group numbers, given in turn: more than an Apply's commands, so never two groups alike in one
_GROUPS = 1 << 30
#: commands answered later (see the module docstring)
_DEFERRED = frozenset({C.Deposit, C.SetLeverage, C.SetMarginMode, C.PlaceConditional, C.CancelAll, C.FundInsurance})


class GrpcVenue(VenueReads):
    """A running venue reached with BatchService and perpsim.clients.client.Client (the
    `perpsim.sim.venues.SimVenue` interface, in engine units; its reads:
    perpsim.sim.grpc_venue_reads)."""

    def __init__(self, address: str, admin_key: str, markets: dict[str, MarketSpec], signals: bool = True,
                 hold_clock: bool = True) -> None:
        """`signals`: read the venue's market risk each step (GetMarketRisk); `hold_clock`: hold
        the venue clock for the run (SetClockMode; False: the venue's time runs on the wall clock
        between the run's calls too, as another writer's would)."""
        import grpc

        from perpsim.clients.client import Client

        self.markets = markets
        self.admin = Client(address, admin_key=admin_key, timeout=30)
        self._channel = grpc.insecure_channel(address)
        self._raw = Reads(self._channel, self.admin.timeout)  # reads in ticks and lots
        self.calls_by_rpc: collections.Counter[str] = collections.Counter()  # unary calls made, by RPC
        # reads made, by the RPC that answers each alone (in an Apply's response or on their own)
        self.reads_by_rpc: collections.Counter[str] = collections.Counter()
        self._batch = Batch(self._channel, admin_key, self.admin.timeout, self._tally)
        self.admin.wait_ready(30)
        self.clock = RunClock(self._channel, admin_key, self.admin.timeout, self._tally)
        if hold_clock:
            self.clock.hold()  # before the run's first command
        self._clients: dict[int, Client] = {}  # client objects, only for the rare reads of account models
        self._keys: dict[int, str] = {}  # the API key of each scenario account
        self._ids: dict[int, int] = {}  # the venue account of each scenario account
        self._accounts: dict[int, int] = {}  # the scenario account of each venue account
        self._ts: int | None = None
        self.signals = signals  # off too once the venue says it has none
        self._reads: dict[tuple, Any] = {}  # answers of reads made since the last command
        self._late: list = []  # events of commands answered after submit returned
        self._ordered: set[int] = set()  # accounts an order or a stop was sent for
        self._answered = None  # the last Apply's response (its reads)
        self._sample = None  # the reads of the last step's sample (BatchReads), asked again with a requote
        self._sample_of: tuple | None = None  # the markets and risk rows `_sample` reads
        self._blocks = 0  # submit_groups calls so far (each one's orders wait as a block)
        self._groups = 0  # the last group number given (BatchCommand.group)

    # ---------------------------------------------------------------- accounts

    @property
    def calls(self) -> int:
        """Unary calls made (batches, reads, accounts created)."""
        return sum(self.calls_by_rpc.values())

    @property
    def commands_sent(self) -> int:
        """Commands the Apply calls carried (AdvanceClock included)."""
        return self._batch.sent

    def _tally(self, rpc: str) -> None:
        self.calls_by_rpc[rpc] += 1
        self.clock.keep_alive()  # a long setup renews the held clock's lease (perpsim.sim.grpc_venue_clock)

    def reserve(self, accounts: range) -> None:
        """Create the venue accounts of scenario accounts about to be used, together
        (CreateAccounts): they map in the order handed out."""
        new = [a for a in accounts if a not in self._keys]
        if not new:
            return
        for a, (venue_id, key) in zip(new, self._batch.create_accounts(len(new)), strict=True):
            self._keys[a], self._ids[a], self._accounts[venue_id] = key, venue_id, a

    def _id(self, account: int) -> int:
        venue_id = self._ids.get(account)
        if venue_id is None:
            self.reserve(range(account, account + 1))
            venue_id = self._ids[account]
        return venue_id

    def _key(self, account: int) -> str:
        self._id(account)
        return self._keys[account]

    def _client(self, account: int) -> Client:
        c = self._clients.get(account)
        if c is None:
            c = self._clients[account] = self.admin.with_key(self._key(account))
        return c

    # ---------------------------------------------------------------- commands

    def _add(self, cmd: C.Command, block: int | None = None, group: int = 0) -> Pending:
        """Queue `cmd` for the next Apply (after the clock's move to its time, if it moves);
        `group`: nonzero, the Apply's group it ends with at a refusal (BatchCommand.group)."""
        self._before(cmd)
        account = getattr(cmd, "account", None)
        if isinstance(cmd, (C.PlaceOrder, C.PlaceConditional, C.CancelAll)):
            self._ordered.add(cmd.account)
        pb = command_pb(cmd, 0 if account is None else self._id(account), self.markets)
        if group:
            pb["group"] = group
        return self._batch.add(Pending(cmd, pb, block, group))

    def submit(self, cmd: C.Command) -> list:
        """The command's events: its refusal, the liquidations it set off.

        A deferred command (`_DEFERRED`) returns at once with no events of its own; its
        refusal comes with a later command's events. Anything else is sent now with the
        commands waiting before it, whose events come first."""
        mine = self._add(cmd)
        if type(cmd) in _DEFERRED:
            late, self._late = self._late, []
            return late
        mine.keep = True
        self._send()
        late, self._late = self._late, []
        return late + (mine.events or [])

    def _send(self, reads=None) -> None:
        """Send everything waiting (`reads` answered in the last Apply, its response kept in
        `_answered`): the events of a command its caller waits for (`Pending.keep`) go to its
        `events`, every other command's to the late events. A block of groups goes in one Apply,
        each group ending at its first refusal there (BatchCommand.group). An Apply with a block
        asks for the last sample's reads too: a market maker's requote is most often the step's
        last command but a taker's, and the sample then needs no call of its own (its answers
        hold until the next command, as any read's)."""
        self._reads.clear()
        batch = self._batch
        while batch.pending or reads is not None:
            pending = batch.pending
            n = cut(pending, MAX_COMMANDS)
            last = n == len(pending)
            asked = reads if last else None
            if asked is None and last and self._sample is not None and any(p.block is not None for p in pending):
                asked = self._sample  # a requote is most often the step's last: its sample rides along
            chunk, answered, response = batch.send(n, asked)
            if last:
                self._answered, reads = response, None
            if asked is not None:
                self._take_sample(asked, response)
            moves = [p for p in chunk if type(p.cmd) is C.SetIndexPrice]
            if moves:  # each applied index move's mark, as its result reports it (no result: no mark)
                result = dict(answered)
                for p in moves:
                    r = result.get(p)
                    if r is None or not (r.HasField("error") and r.error.code):
                        self._reads[("mark_price", p.cmd.symbol)] = mark_of(r)
            # a command without a result was applied with no events (its caller's: `events` None)
            for p, r in answered:
                cmd = p.cmd
                events = events_of(cmd, r, self._accounts)
                if type(cmd) is C.AdvanceClock and r.HasField("error") and r.error.code:
                    raise error_of(r)  # the clock did not move: the run cannot go on at its times
                if p.keep:
                    p.events = events
                else:
                    self._late += events

    def _settle(self) -> None:
        """Send whatever waits (a read is about to be made: it sees every command before it);
        the events go to the next command's."""
        if self._batch.pending:
            self._send()

    def position(self, account: int, symbol: str) -> int:
        """The account's signed lots: from the positions the venue reported changed, once the
        commands waiting that are not quiet (perpsim.sim.grpc_quiet) are sent; if another
        writer's commands came between the run's, read (ListPositions), as they may have moved it."""
        if account not in self._ordered:
            return 0  # never sent an order or a stop: it cannot hold a position
        batch = self._batch
        if batch.pending and not batch.quiet.all_quiet(batch.pending, batch.tops, batch.positions.synced):
            self._settle()
        if batch.positions.synced:
            return batch.positions.of(self._ids[account], symbol)
        return super().position(account, symbol)

    def _before(self, cmd: C.Command) -> None:
        """A command is about to change the venue: the reads made so far are stale, and the venue
        clock moves to the command's time."""
        self._reads.clear()
        if self._ts is not None and cmd.ts > self._ts:
            self._batch.add(Pending(C.AdvanceClock(cmd.ts), advance_pb(cmd.ts - self._ts)))
        self._ts = cmd.ts if self._ts is None else max(self._ts, cmd.ts)

    def submit_groups(self, groups: list[list[C.Command]]) -> list[list[list]]:
        """Send groups of commands; each group is applied in order and ends, in effect, at its
        first refused command. Limit orders of one account: every command counts as sent, with
        no events of its own now; they come, in order, with a later command's (what the venue
        did with the rest of a group after its refusal too).

        The limit orders (every group's) wait for the next Apply as a block, in one Apply, each
        group a BatchCommand group: the venue skips the rest of a group after its first refusal,
        as in process. Groups of one command each (none waits for another's answer) go
        together, each answered with its own events. Anything else is sent command by command,
        answered at once."""
        cmds = [c for g in groups for c in g]
        limits = [c for c in cmds if type(c) is C.PlaceOrder and c.kind == OrderKind.LIMIT]
        if not cmds or len(cmds) > MAX_COMMANDS or len(limits) != len(cmds) or len({c.account for c in limits}) != 1:
            if cmds and all(len(g) == 1 for g in groups):
                return [[events] for events in self._together(cmds)]
            return self._one_by_one(groups)
        self._blocks += 1
        block, account = self._blocks, limits[0].account
        account_id, pending, ts = self._id(account), self._batch.pending, None
        self._ordered.add(account)
        for g in groups:  # as _add would each
            self._groups = group = self._groups % _GROUPS + 1  # unique among the groups an Apply can hold
            for c in g:
                if c.ts != ts:  # a command at the time of the one before it changes nothing _before does again
                    self._before(c)
                    ts = c.ts
                # every command here is a limit order (checked above)
                pb = {"account_id": account_id, "place_order": order_request(c), "group": group}  # type: ignore[arg-type]
                pending.append(Pending(c, pb, block, group))
        late, self._late = self._late, []
        out: list[list[list]] = [[[] for _ in g] for g in groups]
        first = next((sent[0] for sent in out if sent), None)
        if first is not None:
            first[:0] = late
        else:
            self._late = late
        return out

    def _together(self, cmds: list[C.Command]) -> list[list]:
        """Commands none of which waits for another's answer (groups of one), sent together in
        order (as few Apply calls as the command limit allows) unless every one of them is
        deferred: each one's events (those of commands answered late before them first)."""
        mine = [self._add(c) for c in cmds]
        if any(type(c) not in _DEFERRED for c in cmds):
            for p in mine:
                p.keep = True
            self._send()
        late, self._late = self._late, []
        out = [p.events or [] for p in mine]
        out[0] = late + out[0]
        return out

    def _one_by_one(self, groups: list[list[C.Command]]) -> list[list[list]]:
        out = []
        for g in groups:
            sent = []
            for cmd in g:
                sent.append(self.submit(cmd))
                if any(type(e) is CommandRejected for e in sent[-1]):
                    break
            out.append(sent)
        return out

    def state_hash(self) -> str:
        """The venue's state hash (GetVenueState) once every waiting command is sent."""
        self._settle()
        return self.clock.venue_state().state_hash

    def close(self) -> None:
        """Send whatever waits and put the venue clock back in its mode before the run."""
        try:
            try:
                self._settle()
            finally:
                self.clock.restore()
        finally:
            self._channel.close()
            self.admin.close()
