"""A scenario's venue over gRPC: a running perpsim venue reached with its gRPC API.

Scenario account numbers map to venue accounts (CreateAccount), each with its own API key,
created when the run hands them out (`reserve`: one call each, all in flight together, mapped
by venue account number so that they map in the order they were handed out). Every account's
calls go on one set of stubs with its key (perpsim.sim.grpc_accounts); orders and index moves
in ticks and lots (perpsim.sim.grpc_batch, perpsim.sim.grpc_reads), money and stops as exact
decimal strings made from the engine integers with the market specs (no rounding). A refusal
comes back as a `CommandRejected` event with the venue's reason; liquidations come from the
venue's public liquidation stream (as `Liquidation` events whose account is unknown, 0). The
venue keeps its own clock; commands' timestamps only drive `AdvanceClock` calls so that
funding times are crossed.

Calls per step: an account's orders of one step go in one PlaceOrders call (`submit_groups`);
reads are answered from the venue's answers since the last command and a step's sample reads
are made together (perpsim.sim.grpc_venue_reads). Commands that commute with each other
(settings, deposits, stops, cancels: `_may_fly`) are sent without waiting for their answers
(perpsim.sim.grpc_flights), so they share the venue's group commit.
"""

from __future__ import annotations

import collections
import functools
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from perpsim.engine import commands as C
from perpsim.engine.events import CommandRejected
from perpsim.model.enums import OrderKind
from perpsim.model.markets import MarketSpec
from perpsim.sim.grpc_accounts import AccountCalls
from perpsim.sim.grpc_flights import Flights
from perpsim.sim.grpc_reads import Reads
from perpsim.sim.grpc_venue_reads import PARALLEL, VenueReads
from perpsim.sim.grpc_wire import liquidation, rejected

if TYPE_CHECKING:
    from perpsim.clients.client import Client

#: most orders of one PlaceOrders call (the venue's limit)
BATCH_MAX = 1000

#: commands that may be in flight together (see GrpcVenue._may_fly)
_FLYING = frozenset({C.Deposit, C.SetLeverage, C.SetMarginMode, C.PlaceConditional, C.CancelAll, C.FundInsurance})
#: of those, the ones an account without orders may have in flight in any order among themselves
_SETTINGS = frozenset({C.Deposit, C.SetLeverage, C.SetMarginMode})
#: the RPC each command is sent with: GrpcVenue.calls_by_rpc
_RPCS = {C.Deposit: "Deposit", C.FundInsurance: "FundInsurance", C.SetLeverage: "SetLeverage",
         C.SetMarginMode: "SetMarginMode", C.SetIndexPrice: "SetIndexPrice", C.CancelAll: "CancelAllOrders",
         C.PlaceOrder: "PlaceOrder", C.PlaceConditional: "PlaceConditionalOrder"}


class GrpcVenue(VenueReads):
    """A running venue reached with perpsim.clients.client.Client and the sandbox RPCs
    (the `perpsim.sim.venues.SimVenue` interface, in engine units; its reads:
    perpsim.sim.grpc_venue_reads)."""

    def __init__(self, address: str, admin_key: str, markets: dict[str, MarketSpec],
                 liquidation_wait_s: float = 2.0, signals: bool = True) -> None:
        """`signals`: read the venue's market risk each step (GetMarketRisk)."""
        import grpc

        from perpsim.clients.client import Client
        from perpsim.v1 import trading_pb2_grpc

        self.markets = markets
        self.admin = Client(address, admin_key=admin_key, timeout=30)
        # a market maker's quotes go on a channel of their own in the engine's units (perpsim.sim.grpc_batch)
        self._channel = grpc.insecure_channel(address)
        self._trading = trading_pb2_grpc.TradingServiceStub(self._channel)
        self._raw = Reads(self._channel, admin_key, self.admin.timeout)  # reads in ticks and lots
        self._accounts = AccountCalls(self._channel, self.admin.timeout)  # every account's commands, by key
        self.admin.wait_ready(30)
        self._clients: dict[int, Client] = {}  # client objects, only for the rare reads of account models
        self._keys: dict[int, str] = {}  # the API key of each scenario account
        self._ts: int | None = None
        self._liqs: queue.Queue = queue.Queue()
        self._wait = liquidation_wait_s
        self.signals = signals  # off too once the venue says it has none
        self._reads: dict[tuple, Any] = {}  # answers of reads made since the last command
        self._late: list = []  # the events of a command answered after submit returned
        self._pool = ThreadPoolExecutor(PARALLEL, thread_name_prefix="grpc-venue")
        self._flights = Flights(self._pool)  # commands in flight (see _may_fly)
        self._ordered: set[int] = set()  # accounts an order or a stop was sent for
        self._lock = threading.Lock()
        self.calls_by_rpc: collections.Counter[str] = collections.Counter()  # unary calls made, by RPC
        self._streams = [self.admin.stream_liquidations(s) for s in markets]
        self._threads = [threading.Thread(target=self._pump, args=(st,), daemon=True) for st in self._streams]
        for t in self._threads:
            t.start()

    def _pump(self, stream) -> None:
        try:
            for notice in stream:
                self._liqs.put(notice)
        except Exception:  # the stream ends when the venue goes away or close() cancels it
            return

    # ---------------------------------------------------------------- accounts

    @property
    def calls(self) -> int:
        """Unary calls made (commands, reads, accounts created)."""
        return sum(self.calls_by_rpc.values())

    def _tally(self, rpc: str) -> None:
        """Count a unary call of `rpc` (calls in flight are made on the pool's threads)."""
        with self._lock:
            self.calls_by_rpc[rpc] += 1

    def reserve(self, accounts: range) -> None:
        """Create the venue accounts of scenario accounts about to be used, all their calls in
        flight at once (the venue saves the keys of concurrent calls together). The venue numbers
        accounts as their calls arrive, so the keys go to the scenario accounts by venue account
        number: accounts map in the same order as when made one by one on first use."""
        new = [a for a in accounts if a not in self._keys]
        for _ in new:
            self._tally("CreateAccount")
        made = self._raw.create_accounts([f"sim-{a}" for a in new], self._pool)
        for a, (_, key) in zip(new, made, strict=True):
            self._keys[a] = key

    def _key(self, account: int) -> str:
        key = self._keys.get(account)
        if key is None:
            self.reserve(range(account, account + 1))
            key = self._keys[account]
        return key

    def _client(self, account: int) -> Client:
        c = self._clients.get(account)
        if c is None:
            c = self._clients[account] = self.admin.with_key(self._key(account))
        return c

    # ---------------------------------------------------------------- commands

    def submit(self, cmd: C.Command) -> list:
        """The command's events: a refusal, the liquidations the stream has reported by then.

        Some commands are answered later (`_may_fly`): their calls are in flight together while
        the caller goes on, and the next command that does not commute with them, or a read,
        waits for them; their refusals come with the next command's events."""
        from perpsim.clients.errors import PerpsimError

        fly = self._may_fly(cmd)
        self._before(cmd, settle=not fly)
        late, self._late = self._late, []
        if fly:
            account = getattr(cmd, "account", None)  # FundInsurance: the admin's
            if account is not None:
                self._key(account)  # created here, not in the call in flight
            # an account without orders takes its settings in any order; else they go in order
            key = (account, id(cmd)) if type(cmd) in _SETTINGS and account not in self._ordered else account
            if isinstance(cmd, (C.PlaceConditional, C.CancelAll)):
                self._ordered.add(cmd.account)
            self._flights.send(key, functools.partial(self._call, cmd), cmd)
            return late
        if type(cmd) is C.PlaceOrder:
            self._ordered.add(cmd.account)
        try:
            expected = self._call(cmd)
        except PerpsimError as e:
            return [*late, rejected(cmd, e)]
        return late + self._drain(expected)

    def _may_fly(self, cmd: C.Command) -> bool:
        """Whether `cmd` may be in flight with the commands already in flight: the venue may
        sequence them in any order and reach the same state, with the same refusals.

        Deposits, leverage and margin-mode settings, stops (refused if they would trigger at
        once), cancels of an account's orders and the insurance fund's deposits fly at the
        current time: each changes its own account's (or the fund's) collateral, settings or
        orders and never a position, a price or another account's orders, so those of
        different accounts commute; an account's own go in order (perpsim.sim.grpc_flights),
        but for the settings of an account that has no order yet, which commute too. Reads of
        positions, which none of them moves, go on meanwhile (the market makers read their
        inventory right after canceling their quotes); a command that moves the clock, any
        other command and any other read wait for them."""
        return type(cmd) in _FLYING and cmd.ts == self._ts

    def _settle(self) -> None:
        """Wait for the commands in flight (their refusals go to the next command's events)."""
        from perpsim.clients.errors import PerpsimError

        for cmd, e in self._flights.settle():
            if not isinstance(e, PerpsimError):
                raise e
            self._late.append(rejected(cmd, e))

    def _before(self, cmd: C.Command, settle: bool = True) -> None:
        """A command is about to change the venue: the ones in flight are answered first (unless
        it flies with them), the reads made so far are stale, and the venue clock moves to the
        command's time."""
        if settle:
            self._settle()
        self._reads.clear()
        if self._ts is not None and cmd.ts > self._ts:
            self._tally("AdvanceClock")
            self.admin.advance_clock(cmd.ts - self._ts)
        self._ts = cmd.ts if self._ts is None else max(self._ts, cmd.ts)

    def submit_groups(self, groups: list[list[C.Command]]) -> list[list[list]]:
        """Send groups of commands; each group is sent in order and ends at its first refused
        command (the rest of it is not sent). The events of each sent command, per group.

        Limit orders of one account (every group's) go in one PlaceOrders call, which the
        venue sequences back to back, so a whole group reaches the venue: after a refusal the
        rest of its group is taken back (CancelOrder of what still rests), and what the venue
        did with it (a refusal of its own, a fill before it was taken back) is reported with
        the events of the refused command. Anything else is sent command by command."""
        cmds = [c for g in groups for c in g]
        limits = [c for c in cmds if type(c) is C.PlaceOrder and c.kind == OrderKind.LIMIT]
        if not cmds or len(cmds) > BATCH_MAX or len(limits) != len(cmds) or len({c.account for c in limits}) != 1:
            return self._one_by_one(groups)
        import grpc

        from perpsim.clients.errors import PerpsimError, from_rpc_error
        from perpsim.sim.grpc_batch import limit_orders, placed
        from perpsim.sim.grpc_reads import bearer

        self._before(limits[0])
        key = self._key(limits[0].account)
        self._ordered.add(limits[0].account)
        self._tally("PlaceOrders")
        try:
            results = placed(self._trading.PlaceOrders(limit_orders(limits), timeout=self.admin.timeout,
                                                       metadata=bearer(key)))
        except grpc.RpcError as e:  # the whole call refused (none placed)
            results = [from_rpc_error(e)] * len(cmds)
        out: list[list[list]] = []
        i = 0
        for g in groups:
            sent: list[list] = []
            refused = None
            for cmd in g:
                r = results[i]
                i += 1
                if refused is None:
                    sent.append([rejected(cmd, r)] if isinstance(r, PerpsimError) else [])
                    if isinstance(r, PerpsimError):
                        refused = sent[-1]
                elif isinstance(r, PerpsimError):
                    refused.append(rejected(cmd, r))
                elif r.resting:
                    self._take_back(key, r.symbol, r.order_id)
            out.append(sent)
        late, self._late = self._late, []
        last = next((sent[-1] for sent in reversed(out) if sent), None)
        if last is not None:
            last += late + self._drain(0)
        return out

    def _take_back(self, key: str, symbol: str, order_id: int) -> None:
        from perpsim.clients.errors import PerpsimError

        self._tally("CancelOrder")
        try:
            self._accounts.cancel_order(key, symbol, order_id)
        except PerpsimError:
            pass  # filled or gone meanwhile: nothing rests

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

    def _call(self, cmd: C.Command) -> int:
        """Make the client call of a command; how many liquidations it reported (0 if none)."""
        if type(cmd) is not C.AdvanceClock:
            self._tally(_RPCS[type(cmd)])
        match cmd:
            case C.Deposit():
                self._accounts.deposit(self._key(cmd.account), self._settle_spec(cmd.asset), cmd.amount)
            case C.FundInsurance():
                self.admin.fund_insurance(cmd.asset, self._money(cmd.asset, cmd.amount))
            case C.SetLeverage():
                self._accounts.set_leverage(self._key(cmd.account), cmd.symbol, cmd.leverage)
            case C.SetMarginMode():
                self._accounts.set_margin_mode(self._key(cmd.account), cmd.symbol, cmd.isolated)
            case C.SetIndexPrice():
                mark, liquidations = self._raw.set_index(cmd.symbol, cmd.price)
                # the mark once the index moved and its liquidations ran: a read until the next command
                self._reads[("mark_price", cmd.symbol)] = Decimal(mark) if mark else None
                return liquidations
            case C.AdvanceClock():
                pass  # the clock moved in _before
            case C.CancelAll():
                self._accounts.cancel_all(self._key(cmd.account), cmd.symbol)
            case C.PlaceOrder():
                self._place(cmd)
            case C.PlaceConditional():
                self._accounts.place_conditional(self._key(cmd.account), self.markets[cmd.symbol], cmd)
            case _:
                raise NotImplementedError(f"{type(cmd).__name__} is not sent over gRPC by the simulator")
        return 0

    def _place(self, cmd: C.PlaceOrder) -> None:
        """One order in ticks and lots (PlaceOrder); a refusal raises the client's typed error."""
        import grpc

        from perpsim.clients.errors import from_rpc_error
        from perpsim.sim.grpc_batch import order_request
        from perpsim.sim.grpc_reads import bearer

        try:
            self._trading.PlaceOrder(order_request(cmd), timeout=self.admin.timeout,
                                     metadata=bearer(self._key(cmd.account)))
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None

    def _drain(self, expected: int) -> list:
        """Liquidation notices from the stream: at least `expected` of them (waiting up to the
        configured time for them to arrive), plus whatever else has arrived."""
        out: list = []  # the stream's liquidation notices
        deadline = time.monotonic() + self._wait
        while len(out) < expected and time.monotonic() < deadline:
            try:
                out.append(self._liqs.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        while True:
            try:
                out.append(self._liqs.get_nowait())
            except queue.Empty:
                break
        return [liquidation(self.markets[n.symbol], n) for n in out]

    def _money(self, asset: str, units: int) -> Decimal:
        return self._settle_spec(asset).units_to_money(units)

    def close(self) -> None:
        self._settle()
        for st in self._streams:
            st.cancel()
        for t in self._threads:
            t.join(timeout=5)
        self._pool.shutdown()
        self._channel.close()
        self.admin.close()
