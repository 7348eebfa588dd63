"""The gRPC venue: thin servicers in front of ONE sequencer that owns the exchange.

Servicers authenticate, validate and convert requests into engine commands, then `submit`
them. The sequencer task takes commands off one bounded queue in order, stamps their time,
applies them to the VenueState, appends them to the journal, makes the batch durable with
one fsync (group commit) and only then resolves the callers' futures and publishes events.
A full queue is shed with RESOURCE_EXHAUSTED rather than queued without bound.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from perpsim.engine import commands as C
from perpsim.engine.events import ConditionalEvent, Liquidation, ListEvent, OrderEvent
from perpsim.engine.liquidations import ForcedOrder, forced_orders
from perpsim.engine.views import ExchangeView
from perpsim.model.enums import (
    ConditionalKind,
    EventKind,
    LegType,
    ListKind,
    OrderKind,
    PositionSide,
    Side,
    TimeInForce,
    TriggerSource,
)
from perpsim.model.reasons import RejectReason as R
from perpsim.v1 import (
    account_pb2,
    account_pb2_grpc,
    common_pb2,
    history_pb2,
    history_pb2_grpc,
    market_pb2,
    market_pb2_grpc,
    risk_pb2,
    sandbox_pb2,
    sandbox_pb2_grpc,
    trading_pb2,
    trading_pb2_grpc,
)
from perpsim.venue import convert as cv
from perpsim.venue.auth import BadKey, KeyConflict, KeyStore, bearer
from perpsim.venue.codec import CodecError
from perpsim.venue.errors import VenueError, cut, internal_rpc_status, to_rpc_status, to_status
from perpsim.venue.guard import RequestGuard
from perpsim.venue.humane import duration, in_units
from perpsim.venue.limits import RateLimiter
from perpsim.venue.state import KnownConditional, KnownList, KnownOrder, OrderInfo, VenueState, rejection, stamped

log = logging.getLogger("perpsim.venue")

QUEUE_LIMIT = 10_000
OVERLOAD_RETRY_MS = 250  # RetryInfo of a unit shed for a full queue: a few batches' time
MAX_ADVANCE_NS = 10 * 365 * 24 * 3_600 * 10**9
MAX_BATCH_ORDERS = 1_000
STREAM_WINDOW = 2_000  # order-entry stream: requests read and not yet submitted
BATCH_LIMIT = 1_024


class Clock:
    """Wall-clock time (ns) plus an offset the sandbox can advance."""

    def __init__(self) -> None:
        self.offset = 0

    def now(self) -> int:
        return time.time_ns() + self.offset


@dataclass
class _Item:
    makes: list[Callable[[int], object]] | None  # None: a control item, run between batches
    control: Callable[[], object] | None = None
    future: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    results: list = field(default_factory=list)  # per command: its events, or the exception it raised

    @property
    def weight(self) -> int:
        """Places the item takes in the queue: one per command, one for a control item."""
        return len(self.makes) if self.makes is not None else 1


class Sequencer:
    """One writer: applies commands in arrival order, journals them, acknowledges after fsync."""

    def __init__(self, state: VenueState, clock: Clock, journal=None, codec=None, checkpoint=None,
                 checkpoint_every: int = 0) -> None:
        """`journal` and `codec` (a module with encode/decode) go together; without them the
        sequencer runs in memory only."""
        self.state, self.clock = state, clock
        self.journal = journal
        self.encode, self.decode = (codec.encode, codec.decode) if codec is not None else (None, None)
        # checkpoint(durable_seq) snapshots the state; run between batches, when nothing moves
        self.checkpoint, self.checkpoint_every = checkpoint, checkpoint_every
        self._since_checkpoint = 0
        self.queue: asyncio.Queue[_Item] = asyncio.Queue()  # bounded by _enqueue, in commands
        self._queued = 0  # commands (a control item: 1) waiting in the queue
        self.listeners: list[Callable[[object, list], None]] = []
        # read models that need the state as a command arrives (slippage's arrival prices)
        self.before_apply: list[Callable[[object], None]] = []
        self.applied = 0
        self._task: asyncio.Task | None = None
        # rebuild() -> a fresh state from the durable journal, after a command raised midway
        self.rebuild: Callable[[], VenueState] | None = None
        # set while every applied command is durable; reads wait for it (see settled)
        self._durable = asyncio.Event()
        self._durable.set()
        # the journal's fsyncs and rebuilds run on a thread of their own: no client call can
        # occupy it (the loop's default executor is shared with anything that runs blocking code)
        self.io = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="perpsim-journal")

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="sequencer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self.io.shutdown(wait=True)

    async def submit(self, make: Callable[[int], object]) -> list:
        """Queue a command (built from the time it is sequenced at); its events once durable."""
        (result,) = await self.submit_many([make])
        if isinstance(result, BaseException):
            raise result
        return result

    async def submit_many(self, makes: list[Callable[[int], object]]) -> list:
        """Queue commands as one unit: sequenced back to back in this order, made durable by one
        commit and acknowledged together. Per command, its events or the exception it raised."""
        if not makes:
            return []
        item = _Item(makes)
        self._enqueue(item)
        return await item.future

    def _enqueue(self, item: _Item) -> None:
        """Queue an item; overload (QUEUE_LIMIT commands waiting) is shed."""
        if self._queued + item.weight > QUEUE_LIMIT:
            raise VenueError(R.RATE_LIMITED, problem="venue overloaded, retry later", retry_after_ms=OVERLOAD_RETRY_MS)
        self._queued += item.weight
        self.queue.put_nowait(item)

    @property
    def durable(self) -> bool:
        """Whether every applied command is durable (no fsync pending)."""
        return self._durable.is_set()

    async def settled(self) -> None:
        """Return once every applied command is durable: a read after this sees no state that a
        crash could still take back. Holds only while the sequencer waits for an fsync."""
        while not self._durable.is_set():
            await self._durable.wait()

    async def run_quiet(self, control: Callable[[], object]) -> object:
        """Run `control()` between batches, when every earlier command is applied and durable
        and none is in flight (snapshots, reset); its result."""
        item = _Item(None, control)
        self._enqueue(item)
        return await item.future

    async def request_checkpoint(self) -> int:
        """Snapshot the state at the next quiet point; the journal sequence it covers."""
        if self.checkpoint is None:
            raise VenueError(R.INVALID_VALUE, problem="snapshots are not enabled")
        while True:
            seq = await self.run_quiet(self._snapshot)
            # a checkpoint written off the sequencer (venue.checkpoint): answered once on disk
            written = getattr(self.checkpoint, "written_at", None)
            if written is None or await written(seq):
                return seq

    def _snapshot(self) -> int:
        seq = self.journal.durable_seq
        self.checkpoint(seq)
        self._since_checkpoint = 0
        return seq

    async def _run(self) -> None:
        while True:
            batch = [await self.queue.get()]
            commands = batch[0].weight
            while commands < BATCH_LIMIT and not self.queue.empty():
                batch.append(self.queue.get_nowait())
                commands += batch[-1].weight
            self._queued -= commands
            done, controls = [], []
            self._durable.clear()
            for item in batch:
                if item.makes is None:
                    controls.append(item)
                    continue
                for make in item.makes:
                    cmd = make(max(self.clock.now(), self.state.exchange.ts))
                    try:
                        if self.journal is not None:
                            # apply exactly what the journal will hold, so replay rebuilds this state
                            payload = self.encode(cmd)
                            cmd = self.decode(payload)
                    except CodecError as e:  # a value beyond the journal's int64: the caller's, refused
                        log.warning("command refused, it cannot be journaled: %s", cut(e, 200))
                        named = re.match(r"\w+\.(\w+) ", str(e))
                        item.results.append(VenueError(R.INVALID_VALUE, field=named.group(1) if named else "",
                                                       problem="out of the venue's range (int64)"))
                        continue
                    except Exception as e:  # cannot be journaled: refused before it touches the state
                        log.exception("command %r cannot be encoded", cmd)
                        item.results.append(e)
                        continue
                    for hook in self.before_apply:
                        try:
                            hook(cmd)
                        except Exception:  # read models must never stop the sequencer
                            log.exception("before-apply hook %r failed on %r", hook, cmd)
                    try:
                        events = self.state.apply(cmd)
                    except Exception as e:
                        item.results.append(e)
                        await self._recover_from(cmd, e)
                        continue
                    if self.journal is not None:
                        self.journal.append(payload)
                    item.results.append(events)
                    done.append((cmd, events))
            await self._commit()
            self.applied += len(done)
            self._since_checkpoint += len(done)
            for item in batch:
                if item.makes is not None and not item.future.done():
                    item.future.set_result(item.results)
            for cmd, events in done:
                for listener in self.listeners:
                    try:
                        listener(cmd, events)
                    except Exception:  # streams and metrics must never stop the sequencer
                        log.exception("listener %r failed on %r", listener, cmd)
            if self.checkpoint is not None and self.checkpoint_every and \
                    self._since_checkpoint >= self.checkpoint_every:
                try:
                    self._snapshot()
                except Exception:  # a failed snapshot costs recovery time, never data
                    log.exception("automatic snapshot failed")
            for item in controls:
                try:
                    item.future.set_result(item.control())
                except Exception as e:
                    log.exception("sequencer control %r failed", item.control)
                    item.future.set_exception(e)
            await asyncio.sleep(0)  # the acknowledged callers and waiting readers run now, on durable state

    async def _commit(self) -> None:
        if self.journal is not None and self.journal.pending:
            await asyncio.get_running_loop().run_in_executor(self.io, self.journal.commit)
        self._durable.set()

    async def _recover_from(self, cmd, error: Exception) -> None:
        """A command raised inside the core (a bug): it may have left the state half-changed, so
        it is answered INTERNAL, never journaled, and the state is rebuilt from the journal after
        committing the commands before it; the commands after it apply to the rebuilt state."""
        log.error("command %r raised; rebuilding the state from the journal", cmd, exc_info=error)
        if self.rebuild is None:
            return
        await self._commit()
        # cleared before anything else runs: no reader may see the half-changed state meanwhile
        # (the batch's later commands clear it anyway until their own commit)
        self._durable.clear()
        self.state = await asyncio.get_running_loop().run_in_executor(self.io, self.rebuild)


class Venue:
    """What the servicers share: state, sequencer, keys, markets."""

    def __init__(self, state: VenueState, keys: KeyStore, sequencer: Sequencer,
                 limiter: RateLimiter | None = None) -> None:
        self.keys, self.seq = keys, sequencer
        sequencer.state = state
        self.limiter = limiter or RateLimiter(0, 0)
        self.observe_latency = None  # a prometheus Histogram with a "method" label, if metrics are on
        self.observe_rejection = None  # called with each VenueError a client is answered with, if metrics are on
        self.ready = False  # False while recovering: every call answers UNAVAILABLE
        self.paths: dict[str, asyncio.Task] = {}  # sandbox price paths being followed
        self.reset = None  # set by the app: swap in a fresh world (runs between batches)
        # set by the app when its liquidity provider is on: (symbol, index ticks) -> the quote
        # fields of a SetIndexPrice that requotes it around the new index (engine.commands)
        self.quote_fields = None
        self.after_reset = None  # set by the app: coroutine re-seeding the world
        self.account_signals = None  # set by the app: the account risk read models (venue.account_signals)
        self.markets = ExchangeView(state.exchange).specs()

    @property
    def state(self) -> VenueState:
        """The live state: the sequencer's (it replaces it on a reset or a rebuild)."""
        return self.seq.state

    @state.setter
    def state(self, state: VenueState) -> None:
        self.seq.state = state

    @property
    def view(self) -> ExchangeView:
        """The read API over the live state's exchange (engine units)."""
        return ExchangeView(self.seq.state.exchange)

    def refused(self, err: VenueError) -> VenueError:
        """Report a rejection a client is answered with to `observe_rejection`; returns it."""
        if self.observe_rejection is not None:
            self.observe_rejection(err)
        return err

    def spec(self, symbol: str):
        spec = self.markets.get(symbol)
        if spec is None:
            raise VenueError(R.UNKNOWN_SYMBOL, field="symbol", symbol=symbol)
        return spec

    def asset_spec(self, asset: str):
        """A market settled in `asset` (for its money units)."""
        for spec in self.markets.values():
            if spec.settle == asset:
                return spec
        raise VenueError(R.UNKNOWN_SYMBOL, field="asset", asset=asset)

    def account(self, context, weight: int = 1) -> int:
        """The caller's account (bearer API key), after its rate limit (`weight`: the orders
        the call places; every other call weighs 1)."""
        key = bearer(context.invocation_metadata())
        account = self.keys.account_of(key)
        if account is None:
            raise VenueError(R.UNAUTHENTICATED)
        self.take(key, weight)
        return account

    def take(self, key: str | None, weight: int = 1) -> None:
        """Charge `weight` requests to the key's rate limit; RATE_LIMITED if it has no room."""
        wait = self.limiter.acquire(key, weight=weight)
        if wait == float("inf"):  # never allowed, however long the caller waits: not retryable
            raise VenueError(R.INVALID_VALUE, field="orders", count=weight, burst=self.limiter.burst,
                             problem="more orders in one call than the rate limit's burst")
        if wait:
            raise VenueError(R.RATE_LIMITED, retry_after_ms=max(1, round(wait * 1000)))

    def admin(self, context) -> None:
        key = bearer(context.invocation_metadata())
        if key is None:
            raise VenueError(R.UNAUTHENTICATED)
        if not self.keys.is_admin(key):
            raise VenueError(R.PERMISSION_DENIED, problem="the sandbox needs the admin key")

    async def run(self, make) -> list:
        """Submit a command; raise its rejection as a VenueError."""
        events = await self.seq.submit(make)
        if rejection(events) is not None:
            raise_rejection(events, self._spec_of(make(0)))
        return events

    def _spec_of(self, cmd):
        """The spec whose units a command's figures are in: its market's, or a market's settled
        in its asset; None for neither."""
        spec = self.markets.get(getattr(cmd, "symbol", None))
        asset = getattr(cmd, "asset", None)
        return spec or next((s for s in self.markets.values() if s.settle == asset), None)


def raise_rejection(events: list, spec=None) -> None:
    """Raise the command's rejection, if the exchange refused it, as a VenueError: money,
    prices and sizes in the units of `spec` (the command's market, or one settled in its asset),
    times and rates readable; the engine's integers kept for the ErrorInfo metadata."""
    rej = rejection(events)
    if rej is not None:
        fields = dict(rej.fields)
        raise VenueError(R(rej.reason), **fields).by_engine().shown_as(in_units(R(rej.reason), fields, spec))


def rpc(method):
    """Servicer method wrapper: VenueError -> rich status; anything else -> INTERNAL, logged."""

    async def wrapper(self, request, context):
        started = time.perf_counter()
        if not self.venue.ready:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the venue is recovering its journal; retry shortly")
        if not self.venue.seq.durable:
            await self.venue.seq.settled()  # what the call reads is durable
        try:
            return await method(self, request, context)
        except VenueError as e:
            await context.abort_with_status(to_status(self.venue.refused(e)))
        except Exception:
            log.exception("%s failed", method.__name__)
            await context.abort(grpc.StatusCode.INTERNAL, "internal error (logged)")
        finally:
            if self.venue.observe_latency is not None:
                self.venue.observe_latency.labels(method.__name__).observe(time.perf_counter() - started)

    wrapper.__name__ = method.__name__
    return wrapper


def _topic_stream(kind: str):
    """A servicer method streaming one public topic ("trades", "mark", …) of request.symbol."""

    async def stream(self, request, context):
        async for msg in self.streams.topic(kind, request.symbol, context):
            yield msg

    return stream


def order_out(venue: Venue, o: OrderInfo) -> trading_pb2.Order:
    spec = venue.markets[o.symbol]
    # the *_OUT tables are keyed by IntEnum members, which hash and compare as their ints: looked
    # up with the raw values (no enum constructed per order on the response path)
    return trading_pb2.Order(
        order_id=o.order_id, client_order_id=o.client_order_id, symbol=o.symbol, side=cv.SIDE_OUT[o.side],
        type=cv.KIND_OUT[o.kind], status=cv.STATUS_OUT[o.status], price=spec.format_price(o.price),
        price_ticks=o.price, quantity=spec.format_qty(o.qty), quantity_lots=o.qty,
        filled_quantity=spec.format_qty(o.filled), filled_quantity_lots=o.filled,
        time_in_force=cv.TIF_OUT[o.tif], reduce_only=o.reduce_only, position_side=cv.PSIDE_OUT[o.position_side])


def conditional_out(spec, cid: int, c: C.PlaceConditional) -> trading_pb2.ConditionalOrder:
    return trading_pb2.ConditionalOrder(
        conditional_id=cid, symbol=c.symbol, side=cv.SIDE_OUT[Side(c.side)], type=cv.COND_OUT[ConditionalKind(c.kind)],
        quantity=spec.format_qty(c.qty) if c.qty else "", trigger_price=spec.format_price(c.trigger_price)
        if c.trigger_price else "", price=spec.format_price(c.price) if c.price else "",
        trigger_source=cv.SOURCE_OUT[TriggerSource(c.source)], reduce_only=c.reduce_only,
        close_position=c.close_position, callback_rate=cv.rate_out(c.callback_rate) if c.callback_rate else "",
        activation_price=spec.format_price(c.activation_price) if c.activation_price else "",
        client_order_id=c.client_order_id, good_till_time_ns=c.expire_ts)


def order_list_out(spec, gid: int, c: C.PlaceOrderList, live=None, status: str = "WORKING") -> trading_pb2.OrderList:
    """An order list as placed, with its live state (engine.views.OrderListView) while it works."""
    def price(ticks: int) -> str:
        return spec.format_price(ticks) if ticks else ""

    def leg(t: int, trigger: int, limit: int, callback: int = 0) -> trading_pb2.OrderListLeg:
        return trading_pb2.OrderListLeg(type=cv.LEG_OUT[LegType(t)], trigger_price=price(trigger), price=price(limit),
                                        callback_rate=cv.rate_out(callback) if callback else "")

    out = trading_pb2.OrderList(
        list_id=gid, symbol=c.symbol, type=cv.LIST_OUT[ListKind(c.kind)], side=cv.SIDE_OUT[Side(c.side)],
        quantity=spec.format_qty(c.qty), entry_price=price(c.entry_price),
        take_profit=leg(c.tp_type, c.tp_trigger, c.tp_price),
        stop_loss=leg(c.sl_type, c.sl_trigger, c.sl_price, c.sl_callback_rate),
        trigger_source=cv.SOURCE_OUT[TriggerSource(c.source)], reduce_only=c.reduce_only,
        good_till_time_ns=c.expire_ts, client_order_id=c.client_order_id, status=status)
    if live is not None:
        out.entry_order_id, out.take_profit_id, out.stop_loss_id = live.entry_order_id, live.take_profit_id, \
            live.stop_loss_id
        out.covered_quantity = spec.format_qty(live.covered)
    return out


def _trigger_order_fields(r) -> tuple[int, int, int]:
    """Side, trigger source and position side of a conditional-order or order-list request."""
    return (cv.enum_in(cv.SIDE_IN, r.side, "side", R.INVALID_SIDE),
            cv.enum_in(cv.SOURCE_IN, r.trigger_source, "trigger_source", R.INVALID_ORDER_TYPE),
            cv.enum_in(cv.PSIDE_IN, r.position_side, "position_side", R.INVALID_POSITION_SIDE))


class MarketData(market_pb2_grpc.MarketDataServiceServicer):
    def __init__(self, venue: Venue, streams) -> None:
        self.venue, self.streams = venue, streams

    @rpc
    async def ListMarkets(self, request, context):
        out = []
        for s in self.venue.markets.values():
            out.append(market_pb2.Market(
                symbol=s.symbol, kind=str(s.kind.value), base_asset=s.base, quote_asset=s.quote,
                settle_asset=s.settle, tick_size=str(s.tick_size), lot_size=str(s.lot_size),
                min_quantity=str(s.min_qty), max_quantity=str(s.max_qty), min_notional=str(s.min_notional),
                contract_size=str(s.contract_size), maker_fee_rate=str(s.maker_fee), taker_fee_rate=str(s.taker_fee),
                liquidation_fee_rate=str(s.liquidation_fee), price_band_up=str(s.price_band_up),
                price_band_down=str(s.price_band_down),
                liquidation_trigger=cv.LIQUIDATION_TRIGGER_OUT[self.venue.view.liquidation(s.symbol).trigger_source],
                conditional_trigger_sources=sorted(cv.SOURCE_OUT.values()),
                default_conditional_trigger_source=cv.SOURCE_OUT[cv.SOURCE_IN[common_pb2.TRIGGER_SOURCE_UNSPECIFIED]]))
        return market_pb2.ListMarketsResponse(markets=out, profile=self.venue.view.profile.name)

    @rpc
    async def GetOrderBook(self, request, context):
        spec = self.venue.spec(request.symbol)
        depth = request.depth or 20
        if not 0 < depth <= 1_000:
            raise VenueError(R.INVALID_QUANTITY, field="depth", depth=depth)
        book = self.venue.view.book(spec.symbol, depth)
        return market_pb2.GetOrderBookResponse(
            symbol=spec.symbol, sequence=self.venue.seq.applied,
            bids=[cv.level_out(spec, *lv) for lv in book.bids], asks=[cv.level_out(spec, *lv) for lv in book.asks])

    @rpc
    async def GetMarkPrice(self, request, context):
        spec = self.venue.spec(request.symbol)
        view = self.venue.view
        return cv.mark_out(spec, view.prices(spec.symbol), view.funding(spec.symbol), view.ts)

    @rpc
    async def GetInsuranceFund(self, request, context):
        """The insurance fund of one settlement asset, or of each (no key needed: it is public)."""
        view = self.venue.view
        assets = (self.venue.asset_spec(request.asset).settle,) if request.asset else view.assets()
        return market_pb2.GetInsuranceFundResponse(
            funds=[cv.money_out(self.venue.asset_spec(a), view.insurance(a)) for a in assets], time_ns=view.ts)

    async def StreamOrderBook(self, request, context):
        async for msg in self.streams.book(self.venue, request, context):
            yield msg

    # the public topic streams of a market: one servicer method each
    StreamTrades = _topic_stream("trades")
    StreamMarkPrice = _topic_stream("mark")
    StreamLiquidations = _topic_stream("liquidations")
    StreamAlerts = _topic_stream("alerts")


class Trading(trading_pb2_grpc.TradingServiceServicer):
    def __init__(self, venue: Venue) -> None:
        self.venue = venue

    def command(self, account: int, r) -> C.PlaceOrder:
        """The engine command for a PlaceOrderRequest (time stamped later by the sequencer)."""
        spec = self.venue.spec(r.symbol)
        side = cv.enum_in(cv.SIDE_IN, r.side, "side", R.INVALID_SIDE)
        kind = cv.enum_in(cv.KIND_IN, r.type, "type", R.INVALID_ORDER_TYPE)
        qty = cv.qty_in(spec, r.quantity, r.quantity_lots)
        if kind == OrderKind.MARKET:
            if r.price or r.price_ticks:
                raise VenueError(R.INVALID_PRICE, field="price", problem="a market order takes no price")
            price, tif = 0, (TimeInForce.IOC if r.time_in_force in (0, common_pb2.TIME_IN_FORCE_IOC)
                             else cv.enum_in({common_pb2.TIME_IN_FORCE_FOK: TimeInForce.FOK}, r.time_in_force,
                                             "time_in_force", R.INVALID_TIME_IN_FORCE))
        else:
            price = cv.price_in(spec, r.price, r.price_ticks)
            tif = cv.enum_in(cv.TIF_IN, r.time_in_force, "time_in_force", R.INVALID_TIME_IN_FORCE)
        stp = cv.enum_in(cv.STP_IN, r.self_trade_prevention, "self_trade_prevention", R.INVALID_STP_MODE)
        pside = cv.enum_in(cv.PSIDE_IN, r.position_side, "position_side", R.INVALID_POSITION_SIDE)
        return C.PlaceOrder(0, account, spec.symbol, side, qty, price, kind, tif, stp, r.reduce_only,
                            r.good_till_time_ns, pside, cv.client_order_id_in(r.client_order_id))

    @rpc
    async def PlaceOrder(self, request, context):
        return await self._place(self.venue.account(context), request)

    @rpc
    async def PlaceOrders(self, request, context):
        account = self.venue.account(context, weight=max(1, min(len(request.orders), MAX_BATCH_ORDERS)))
        if not 0 < len(request.orders) <= MAX_BATCH_ORDERS:
            raise VenueError(R.INVALID_VALUE, field="orders", count=len(request.orders),
                             problem=f"1 to {MAX_BATCH_ORDERS} orders")

        return trading_pb2.PlaceOrdersResponse(results=await self._place_many(account, request.orders))

    async def StreamOrders(self, requests, context):
        """Order entry on one bidirectional stream: each request is answered in order by its
        order or its own error. Requests are read ahead (up to STREAM_WINDOW waiting), and what
        arrives while earlier ones are sequenced goes to the sequencer as one unit, one commit."""
        if not self.venue.ready:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the venue is recovering its journal; retry shortly")
        try:
            account = self.venue.account(context)
        except VenueError as e:
            await context.abort_with_status(to_status(self.venue.refused(e)))
        key = bearer(context.invocation_metadata())
        waiting: list = []  # requests read and not yet submitted
        arrived, room = asyncio.Event(), asyncio.Event()
        units: asyncio.Queue = asyncio.Queue()  # submitted units' futures, in request order

        async def read() -> None:
            async for r in requests:
                try:  # each order is charged to the key's rate limit; a refusal answers it alone
                    self.venue.take(key)
                    waiting.append(r.order)
                except VenueError as e:
                    waiting.append(e)
                arrived.set()
                while len(waiting) >= STREAM_WINDOW:  # stop reading: gRPC flow control pushes back
                    room.clear()
                    await room.wait()
            waiting.append(None)  # the end of the requests
            arrived.set()

        async def submit() -> None:
            while True:
                await arrived.wait()
                arrived.clear()
                unit = waiting[:MAX_BATCH_ORDERS]
                del waiting[:len(unit)]
                room.set()
                end = unit and unit[-1] is None
                if end:
                    unit.pop()
                if unit:  # whatever arrived while the last unit was sequenced goes as one unit
                    units.put_nowait(asyncio.ensure_future(self._place_many(account, unit)))
                if end:
                    units.put_nowait(None)
                    return
                if waiting:
                    arrived.set()

        tasks = [asyncio.ensure_future(read()), asyncio.ensure_future(submit())]
        try:
            while (unit := await units.get()) is not None:
                for result in await unit:
                    yield trading_pb2.StreamOrdersResponse(result=result)
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()

    async def _place_many(self, account: int, requests) -> list[trading_pb2.PlaceOrderResult]:
        """Place orders as one sequencer unit (in order, one commit); a result each: the order,
        or the error of that request alone."""
        templates: list = []
        for r in requests:
            try:
                if isinstance(r, VenueError):  # refused before it got here (the stream's rate limit)
                    raise r
                templates.append(self.command(account, r))
            except VenueError as e:
                templates.append(e)
        commands = [t for t in templates if not isinstance(t, VenueError)]
        before = self.venue.state.exchange.next_order_id
        try:
            outcomes = iter(await self.venue.seq.submit_many(
                [lambda ts, t=t: stamped(t, ts) for t in commands]))
        except VenueError as e:  # the unit was shed (overload): each of its orders is answered so
            outcomes = iter([e] * len(commands))
        out = []
        for t in templates:
            outcome = t if isinstance(t, VenueError) else next(outcomes)
            try:
                if isinstance(outcome, BaseException):
                    raise outcome
                out.append(trading_pb2.PlaceOrderResult(placed=self._placed(account, t, before, outcome)))
            except VenueError as e:
                out.append(trading_pb2.PlaceOrderResult(error=to_rpc_status(self.venue.refused(e))))
            except Exception:  # a fault in the core, already undone by the sequencer
                log.exception("order %r failed", t)
                out.append(trading_pb2.PlaceOrderResult(error=internal_rpc_status()))
        return out

    async def _place(self, account: int, request) -> trading_pb2.PlaceOrderResponse:
        template = self.command(account, request)
        signals = self.venue.account_signals
        warnings = signals.order_warnings(template) if signals is not None else []
        before = self.venue.state.exchange.next_order_id
        events = await self.venue.run(lambda ts: stamped(template, ts))
        placed = self._placed(account, template, before, events)
        if signals is not None:
            placed.warnings.extend(warnings + signals.after_order(template))
        return placed

    def _placed(self, account: int, template, before: int, events: list) -> trading_pb2.PlaceOrderResponse:
        """The response to an order placement from its command's events; raises its rejection.
        `before`: the next order id before the command was queued (older orders' events are
        not this order's)."""
        raise_rejection(events, self.venue.markets.get(template.symbol))
        known = next((e for e in events if isinstance(e, KnownOrder)), None)
        if known is not None:  # an idempotent retry: the original order, as it is now
            return trading_pb2.PlaceOrderResponse(order=order_out(self.venue, self.venue.state.orders[known.order_id]))
        book_events = [e.event for e in events if isinstance(e, OrderEvent) and e.event.order_id >= before
                       and e.event.account == account]
        for e in book_events:
            if e.kind == EventKind.REJECTED:
                raise VenueError(R(e.reason), field="order").by_engine()
        mine = next((e for e in book_events if e.kind == EventKind.ACCEPTED), None)
        if mine is None:
            raise VenueError(R.UNKNOWN_ORDER, problem="order was not accepted")
        spec = self.venue.markets[template.symbol]
        signals = self.venue.account_signals
        fills = [trading_pb2.Fill(order_id=e.order_id, price=spec.format_price(e.price), price_ticks=e.price,
                                  quantity=spec.format_qty(e.qty), quantity_lots=e.qty,
                                  liquidity=common_pb2.LIQUIDITY_TAKER,
                                  **(signals.fill_slippage(e.order_id, e.side, e.price) if signals else {}))
                 for e in book_events if e.kind == EventKind.FILL and e.order_id == mine.order_id]
        return trading_pb2.PlaceOrderResponse(order=order_out(self.venue, self.venue.state.orders[mine.order_id]),
                                              fills=fills)

    @rpc
    async def CancelOrder(self, request, context):
        account = self.venue.account(context)
        spec = self.venue.spec(request.symbol)
        o = self._own_order(account, spec, request)
        if o.open:
            await self.venue.run(lambda ts: C.CancelOrder(ts, account, spec.symbol, o.order_id))
        return trading_pb2.CancelOrderResponse(order=order_out(self.venue, o))

    @rpc
    async def AmendOrder(self, request, context):
        account = self.venue.account(context)
        spec = self.venue.spec(request.symbol)
        o = self._own_order(account, spec, request)
        price = cv.price_in(spec, request.price, 0)
        qty = cv.qty_in(spec, request.quantity, 0)
        await self.venue.run(lambda ts: C.AmendOrder(ts, account, spec.symbol, o.order_id, price, qty))
        return trading_pb2.AmendOrderResponse(order=order_out(self.venue, o))

    def _own_order(self, account: int, spec, request):
        """The account's order named by order_id or client_order_id in the request's market;
        UNKNOWN_ORDER for anything else (never reveal another account's orders)."""
        order_id = request.order_id
        if request.client_order_id:
            seen = self.venue.state.find_client_order(account, request.client_order_id)
            order_id = seen[1] if seen else 0
        o = self.venue.state.orders.get(order_id)
        if o is None or o.account != account or o.symbol != spec.symbol:
            raise VenueError(R.UNKNOWN_ORDER, field="order_id", order_id=order_id)
        return o

    @rpc
    async def CancelAllOrders(self, request, context):
        account = self.venue.account(context)
        spec = self.venue.spec(request.symbol)
        events = await self.venue.run(lambda ts: C.CancelAll(ts, account, spec.symbol))
        n = sum(1 for e in events if isinstance(e, OrderEvent) and e.event.kind == EventKind.CANCELED)
        return trading_pb2.CancelAllOrdersResponse(canceled_count=n)

    @rpc
    async def PlaceConditionalOrder(self, request, context):
        account = self.venue.account(context)
        r, spec = request, self.venue.spec(request.symbol)
        kind = cv.enum_in(cv.COND_IN, r.type, "type", R.INVALID_ORDER_TYPE)
        side, source, pside = _trigger_order_fields(r)
        trailing = kind == ConditionalKind.TRAILING_STOP_MARKET
        limit = kind in (ConditionalKind.STOP_LIMIT, ConditionalKind.TAKE_PROFIT_LIMIT)
        qty = 0 if r.close_position and not r.quantity else cv.qty_in(spec, r.quantity, 0)
        trigger = 0 if trailing else cv.price_in(spec, r.trigger_price, 0, field="trigger_price")
        price = cv.price_in(spec, r.price, 0) if limit else 0
        tif = cv.tif_in(r.time_in_force, "time_in_force")
        callback = cv.rate_in(r.callback_rate, "callback_rate") if trailing else 0
        activation = cv.price_in(spec, r.activation_price, 0, field="activation_price", required=False)
        cv.client_order_id_in(r.client_order_id)
        if r.good_till_time_ns and r.time_in_force == 0:
            tif = TimeInForce.GTD  # an expiry alone means GTD
        template = C.PlaceConditional(
            0, account, spec.symbol, side, qty, kind, trigger, price, source, r.reduce_only, r.close_position,
            r.price_protect, callback, activation, pside, tif, r.client_order_id, r.good_till_time_ns)
        before = self.venue.state.exchange.next_order_id
        events = await self.venue.run(lambda ts: dataclasses.replace(template, ts=ts))
        known = next((e for e in events if isinstance(e, KnownConditional)), None)
        if known is not None:  # an idempotent retry: the original, whose terms are this request's
            return trading_pb2.PlaceConditionalOrderResponse(order=conditional_out(spec, known.conditional_id,
                                                                                   template))
        new = next(e for e in events if isinstance(e, ConditionalEvent) and e.conditional_id >= before)
        c = self.venue.view.conditional_order(spec.symbol, new.conditional_id).order
        return trading_pb2.PlaceConditionalOrderResponse(order=conditional_out(spec, new.conditional_id, c))

    @rpc
    async def CancelConditionalOrder(self, request, context):
        account = self.venue.account(context)
        spec = self.venue.spec(request.symbol)
        await self.venue.run(lambda ts: C.CancelConditional(ts, account, spec.symbol, request.conditional_id))
        return trading_pb2.CancelConditionalOrderResponse()

    def _symbol(self, symbol: str) -> str | None:
        """The symbol a list request names (NOT_FOUND if there is no such market), None: all."""
        return self.venue.spec(symbol).symbol if symbol else None

    @rpc
    async def ListConditionalOrders(self, request, context):
        account = self.venue.account(context)
        out = [conditional_out(self.venue.markets[c.order.symbol], c.conditional_id, c.order)
               for c in self.venue.view.conditional_orders(account, self._symbol(request.symbol))]
        return trading_pb2.ListConditionalOrdersResponse(orders=out)

    @rpc
    async def PlaceOrderList(self, request, context):
        account = self.venue.account(context)
        r, spec = request, self.venue.spec(request.symbol)
        kind = cv.enum_in(cv.LIST_IN, r.type, "type", R.INVALID_ORDER_TYPE)
        side, source, pside = _trigger_order_fields(r)
        tif = cv.tif_in(r.entry_time_in_force, "entry_time_in_force")
        qty = cv.qty_in(spec, r.quantity, 0)
        entry = cv.price_in(spec, r.entry_price, 0, field="entry_price", required=False)
        legs = []
        for name, leg in (("take_profit", r.take_profit), ("stop_loss", r.stop_loss)):
            t = cv.enum_in(cv.LEG_IN, leg.type, f"{name}.type", R.INVALID_ORDER_TYPE)
            legs += [t, cv.price_in(spec, leg.trigger_price, 0, field=f"{name}.trigger_price", required=False),
                     cv.price_in(spec, leg.price, 0, field=f"{name}.price", required=False)]
        trailing = r.stop_loss.type == common_pb2.LEG_TYPE_TRAILING_STOP_MARKET
        callback = cv.rate_in(r.stop_loss.callback_rate, "stop_loss.callback_rate") if trailing else 0
        cv.client_order_id_in(r.client_order_id)
        template = C.PlaceOrderList(0, account, spec.symbol, kind, side, qty, entry, tif, *legs, source,
                                    r.reduce_only, pside, r.good_till_time_ns, r.client_order_id, callback)
        before = self.venue.state.exchange.next_order_id
        events = await self.venue.run(lambda ts: dataclasses.replace(template, ts=ts))
        view = self.venue.view
        known = next((e for e in events if isinstance(e, KnownList)), None)
        if known is not None:  # an idempotent retry: the original list, as it is now
            live = view.order_list(spec.symbol, known.list_id)
            return trading_pb2.PlaceOrderListResponse(order_list=order_list_out(
                spec, known.list_id, live.order if live is not None else template, live, known.status))
        mine = [e for e in events if isinstance(e, ListEvent) and e.list_id >= before]  # this list's
        live = view.order_list(spec.symbol, mine[0].list_id)
        return trading_pb2.PlaceOrderListResponse(order_list=order_list_out(
            spec, mine[0].list_id, template, live, "WORKING" if live is not None else mine[-1].status))

    @rpc
    async def CancelOrderList(self, request, context):
        account = self.venue.account(context)
        spec = self.venue.spec(request.symbol)
        await self.venue.run(lambda ts: C.CancelOrderList(ts, account, spec.symbol, request.list_id))
        return trading_pb2.CancelOrderListResponse()

    @rpc
    async def ListOrderLists(self, request, context):
        account = self.venue.account(context)
        out = [order_list_out(self.venue.markets[g.order.symbol], g.list_id, g.order, g)
               for g in self.venue.view.order_lists(account, self._symbol(request.symbol))]
        return trading_pb2.ListOrderListsResponse(order_lists=out)

    @rpc
    async def ListOpenOrders(self, request, context):
        account = self.venue.account(context)
        if request.symbol:
            self.venue.spec(request.symbol)
        orders = self.venue.state.open_orders(account, request.symbol)
        return trading_pb2.ListOpenOrdersResponse(orders=[order_out(self.venue, o) for o in orders])


class Accounts(account_pb2_grpc.AccountServiceServicer):
    def __init__(self, venue: Venue, streams) -> None:
        self.venue, self.streams = venue, streams

    async def StreamAccount(self, request, context):
        try:
            account = self.venue.account(context)
        except VenueError as e:
            await context.abort_with_status(to_status(self.venue.refused(e)))
        async for msg in self.streams.topic("account", str(account), context, check_symbol=False):
            yield msg

    @rpc
    async def GetAccount(self, request, context):
        account = self.venue.account(context)
        view = self.venue.view
        out = []
        for b in view.balances(account):
            spec = self.venue.asset_spec(b.asset)

            def m(units, spec=spec):
                return cv.money_out(spec, units)

            out.append(account_pb2.Balance(
                asset=b.asset, wallet=m(b.wallet), available=m(b.available), withdrawable=m(b.withdrawable),
                margin_balance=m(b.margin_balance), unrealized_pnl=m(b.upnl),
                maintenance_margin=m(b.maintenance_margin), initial_margin=m(b.initial_margin)))
        return account_pb2.GetAccountResponse(account_id=account, balances=out, hedge_mode=view.hedge_mode(account))

    @rpc
    async def ListPositions(self, request, context):
        account = self.venue.account(context)
        symbol = request.symbol or None
        known = symbol is None or symbol in self.venue.markets  # an unknown symbol holds no positions
        out = []
        for v in self.venue.view.positions(account, symbol) if known else ():
            spec = self.venue.markets[v.symbol]
            tick = Fraction(spec.tick_size)  # the view's exact prices are in ticks

            def price(ticks, tick=tick):
                return "" if ticks is None else cv.fraction_out(ticks * tick)

            out.append(account_pb2.Position(
                symbol=v.symbol, position_side=cv.PSIDE_OUT[PositionSide(v.position_side)],
                quantity=str((1 if v.lots > 0 else -1) * spec.lots_to_qty(abs(v.lots))), quantity_lots=v.lots,
                entry_price=price(v.entry), mark_price=spec.format_price(v.mark) if v.mark else "",
                unrealized_pnl=cv.money_out(spec, v.upnl), liquidation_price=on_tick(spec, v.liquidation_tick),
                bankruptcy_price=on_tick(spec, v.bankruptcy_tick),
                margin_mode=common_pb2.MARGIN_MODE_ISOLATED if v.isolated else common_pb2.MARGIN_MODE_CROSS,
                leverage=v.leverage, isolated_margin=cv.money_out(spec, v.isolated_margin),
                adl_quantile=v.adl_quantile, maintenance_margin=cv.money_out(spec, v.maintenance_margin),
                next_funding_payment=cv.money_out(spec, v.funding_estimate)))
        signals = self.venue.account_signals
        if signals is not None:
            signals.decorate_positions(account, out)
        return account_pb2.ListPositionsResponse(positions=out)

    @rpc
    async def SetLeverage(self, request, context):
        account = self.venue.account(context)
        spec = self.venue.spec(request.symbol)
        await self.venue.run(lambda ts: C.SetLeverage(ts, account, spec.symbol, request.leverage))
        return account_pb2.SetLeverageResponse(leverage=request.leverage)

    @rpc
    async def SetMarginMode(self, request, context):
        account = self.venue.account(context)
        spec = self.venue.spec(request.symbol)
        mode = cv.enum_in({common_pb2.MARGIN_MODE_CROSS: False, common_pb2.MARGIN_MODE_ISOLATED: True},
                          request.margin_mode, "margin_mode", R.INVALID_MARGIN_MODE)
        await self.venue.run(lambda ts: C.SetMarginMode(ts, account, spec.symbol, mode))
        return account_pb2.SetMarginModeResponse()

    @rpc
    async def SetPositionMode(self, request, context):
        account = self.venue.account(context)
        await self.venue.run(lambda ts: C.SetPositionMode(ts, account, request.hedge_mode))
        return account_pb2.SetPositionModeResponse()

    @rpc
    async def AdjustIsolatedMargin(self, request, context):
        account = self.venue.account(context)
        spec = self.venue.spec(request.symbol)
        pside = cv.enum_in(cv.PSIDE_IN, request.position_side, "position_side", R.INVALID_POSITION_SIDE)
        amount = cv.money_in(spec, request.amount, allow_negative=True)
        await self.venue.run(lambda ts: C.AdjustIsolatedMargin(ts, account, spec.symbol, amount, pside))
        margin = self.venue.view.isolated_margin(account, spec.symbol, pside)
        return account_pb2.AdjustIsolatedMarginResponse(isolated_margin=cv.money_out(spec, margin))

    @rpc
    async def PreviewOrder(self, request, context):
        account = self.venue.account(context)
        cmd = Trading(self.venue).command(account, request.order)
        preview = self.venue.view.preview_order(cmd)
        spec = self.venue.markets[cmd.symbol]
        signals = self.venue.account_signals
        return account_pb2.PreviewOrderResponse(
            **(signals.preview_fields(cmd, preview) if signals is not None else {}),
            cost=cv.money_out(spec, preview["cost"]), available=cv.money_out(spec, preview["available"]),
            affordable=preview["cost"] <= preview["available"],
            resulting_quantity=str(spec.lots_to_qty(abs(preview["lots"])) * (1 if preview["lots"] >= 0 else -1)),
            liquidation_price=on_tick(spec, preview["liquidation_tick"]),
            bankruptcy_price=on_tick(spec, preview["bankruptcy_tick"]),
            maintenance_margin=cv.money_out(spec, preview["maintenance_margin"]),
            liquidation_distance_percent=cv.fraction_out(preview["liquidation_distance_percent"]),
            funding_rate=cv.rate_out(preview["funding_rate"]),
            funding_payment=cv.money_out(spec, preview["funding_payment"]),
            next_funding_time_ns=preview["next_funding_ts"],
            partial_liquidation_price=cv.decimal_out(preview["liquidation_band"][0]),
            full_liquidation_price=cv.decimal_out(preview["liquidation_band"][1]))

    async def _rail(self, request, context, make, response):
        account = self.venue.account(context)
        spec = self.venue.asset_spec(request.asset)
        amount = cv.money_in(spec, request.amount)
        await self.venue.run(lambda ts: make(ts, account, amount))
        return response(wallet=cv.money_out(spec, self.venue.view.wallet(account, request.asset)))

    @rpc
    async def Deposit(self, request, context):
        return await self._rail(request, context, lambda ts, a, x: C.Deposit(ts, a, request.asset, x),
                                account_pb2.DepositResponse)

    @rpc
    async def Withdraw(self, request, context):
        return await self._rail(request, context, lambda ts, a, x: C.Withdraw(ts, a, request.asset, x),
                                account_pb2.WithdrawResponse)

    @rpc
    async def Transfer(self, request, context):
        if not self.venue.keys.has_account(request.to_account_id):
            raise VenueError(R.UNKNOWN_ACCOUNT, field="to_account_id", to_account_id=request.to_account_id)
        return await self._rail(
            request, context, lambda ts, a, x: C.Transfer(ts, a, request.to_account_id, request.asset, x),
            account_pb2.TransferResponse)

    @rpc
    async def SetDailyLossLimit(self, request, context):
        account = self.venue.account(context)
        spec = self.venue.asset_spec(request.asset)
        try:  # "0" removes the limit; anything else is a positive amount of the asset
            zero = bool(request.amount) and Decimal(request.amount) == 0
        except ArithmeticError:
            zero = False
        amount = 0 if zero else cv.money_in(spec, request.amount)
        await self.venue.run(lambda ts: C.SetDailyLossLimit(ts, account, spec.settle, amount,
                                                            request.include_unrealized, request.flatten))
        return loss_limit_out(spec, self.venue.view.daily_loss_limit(account, spec.settle))

    @rpc
    async def GetDailyLossLimit(self, request, context):
        account = self.venue.account(context)
        spec = self.venue.asset_spec(request.asset)
        return loss_limit_out(spec, self.venue.view.daily_loss_limit(account, spec.settle))


def loss_limit_out(spec, d: dict) -> account_pb2.DailyLossLimit:
    """Exchange.daily_loss_limit's figures on the wire (money in the asset of `spec`)."""
    return account_pb2.DailyLossLimit(
        limit=cv.money_out(spec, d["limit"]), include_unrealized=d["include_unrealized"], flatten=d["flatten"],
        loss=cv.money_out(spec, d["loss"]), hit=d["hit"], resets_at_ns=d["resets_at"],
        change_pending=d["pending_from"] != 0, pending_limit=cv.money_out(spec, d["pending"]),
        pending_from_ns=d["pending_from"])


def on_tick(spec, ticks: int | None) -> str:
    """A liquidation or bankruptcy price as the venue displays it: on the market's tick grid,
    already rounded against the account (a long's up, a short's down); "" for none."""
    return "" if ticks is None else spec.format_price(ticks)


def forced_order_out(spec, f: ForcedOrder) -> sandbox_pb2.ForcedOrder:
    """A forced order on the wire: quantities in the market's lots, the average fill price
    rounded half-even onto the tick grid, the improvement in bps to 2 decimals."""
    bps = f.improvement_bps
    return sandbox_pb2.ForcedOrder(
        symbol=f.symbol, account_id=f.account, side=cv.SIDE_OUT[Side(f.side)], quantity=spec.format_qty(f.qty),
        bankruptcy_price=spec.format_price(f.bankruptcy_price), filled_quantity=spec.format_qty(f.filled),
        fill_price="" if f.fill_price is None else spec.format_price(round(f.fill_price)),
        improvement_bps="" if bps is None else f"{Decimal(bps.numerator) / bps.denominator:.2f}",
        taken_by_insurance=spec.format_qty(f.taken_by_insurance), deleveraged=spec.format_qty(f.deleveraged))


class Sandbox(sandbox_pb2_grpc.SandboxServiceServicer):
    def __init__(self, venue: Venue) -> None:
        self.venue = venue

    @rpc
    async def CreateAccount(self, request, context):
        self.venue.admin(context)
        try:
            made = self.venue.keys.create_account(request.api_key or None, request.api_secret or None)
        except BadKey as e:
            raise VenueError(R.INVALID_VALUE, "api_key", detail=str(e)) from None
        except KeyConflict:
            raise VenueError(R.API_KEY_IN_USE, "api_key") from None
        return sandbox_pb2.CreateAccountResponse(account_id=made.account, api_key=made.api_key,
                                                 api_secret=made.api_secret)

    async def _set_index(self, spec, ticks: int) -> list:
        # the built-in liquidity provider (if on) requotes around the new index in the same command
        quote = self.venue.quote_fields(spec.symbol, ticks) if self.venue.quote_fields else {}
        return await self.venue.run(lambda ts: C.SetIndexPrice(ts, spec.symbol, ticks, **quote))

    @rpc
    async def SetIndexPrice(self, request, context):
        self.venue.admin(context)
        spec = self.venue.spec(request.symbol)
        events = await self._set_index(spec, cv.price_in(spec, request.price, request.price_ticks))
        mark = self.venue.view.mark(spec.symbol)
        return sandbox_pb2.SetIndexPriceResponse(
            mark_price=spec.format_price(mark) if mark else "",
            liquidations=sum(isinstance(e, Liquidation) for e in events))

    @rpc
    async def ShockPrice(self, request, context):
        self.venue.admin(context)
        spec = self.venue.spec(request.symbol)
        index = self.venue.view.index(spec.symbol)
        try:
            pct = Decimal(request.percent)
        except ArithmeticError:
            raise VenueError(R.BAD_PRECISION, field="percent", value=request.percent) from None
        if not pct.is_finite():
            raise VenueError(R.BAD_PRECISION, field="percent", value=request.percent)
        if not -100 < pct < 1_000:
            raise VenueError(R.INVALID_VALUE, field="percent", value=request.percent, problem="must be in (-100, 1000)")
        if index is None:
            raise VenueError(R.INVALID_PRICE, field="symbol", problem="the market has no index price yet")
        target = int(index * (100 + pct) / 100)  # rounded toward zero onto the tick grid
        events = await self._set_index(spec, max(target, 1))
        mark = self.venue.view.mark(spec.symbol)
        return sandbox_pb2.ShockPriceResponse(
            index_price=spec.format_price(max(target, 1)), mark_price=spec.format_price(mark) if mark else "",
            liquidations=sum(isinstance(e, Liquidation) for e in events),
            forced_orders=[forced_order_out(self.venue.spec(f.symbol), f) for f in forced_orders(events)])

    @rpc
    async def SetPricePath(self, request, context):
        self.venue.admin(context)
        spec = self.venue.spec(request.symbol)
        points, last = [], 0
        for i, pt in enumerate(request.points):
            if pt.offset_ms < last or pt.offset_ms > MAX_ADVANCE_NS // 10**6:
                raise VenueError(R.INVALID_VALUE, field=f"points[{i}].offset_ms", offset_ms=pt.offset_ms,
                                 problem="offsets must be non-decreasing and within ten years")
            last = pt.offset_ms
            points.append((pt.offset_ms, cv.price_in(spec, pt.price, 0, field=f"points[{i}].price")))
        old = self.venue.paths.pop(spec.symbol, None)
        if old is not None:
            old.cancel()
        if points:
            self.venue.paths[spec.symbol] = asyncio.get_running_loop().create_task(self._follow(spec, points))
        return sandbox_pb2.SetPricePathResponse(points=len(points))

    async def _follow(self, spec, points: list[tuple[int, int]]) -> None:
        """Set the index at each point's time; stops at the end or when replaced."""
        start = time.monotonic()
        for offset_ms, ticks in points:
            await asyncio.sleep(max(0.0, start + offset_ms / 1000 - time.monotonic()))
            try:
                await self._set_index(spec, ticks)
            except VenueError as e:  # e.g. overload: the path goes on with its next point
                log.warning("price path %s: %s", spec.symbol, e)
        self.venue.paths.pop(spec.symbol, None)

    @rpc
    async def AdvanceClock(self, request, context):
        self.venue.admin(context)
        if not 0 < request.advance_ns <= MAX_ADVANCE_NS:
            raise VenueError(R.INVALID_VALUE, field="advance_ns", advance_ns=request.advance_ns).shown_as(
                {"advance": duration(request.advance_ns),
                 "problem": f"must be more than 0 and at most {duration(MAX_ADVANCE_NS)} (ten years)"})
        advance = request.advance_ns
        await self.venue.run(lambda ts: C.AdvanceClock(ts + advance))
        self.venue.seq.clock.offset += advance  # later commands keep the new time
        return sandbox_pb2.AdvanceClockResponse(now_ns=self.venue.state.exchange.ts)

    @rpc
    async def FundInsurance(self, request, context):
        self.venue.admin(context)
        spec = self.venue.asset_spec(request.asset)
        amount = cv.money_in(spec, request.amount)
        await self.venue.run(lambda ts: C.FundInsurance(ts, request.asset, amount))
        return sandbox_pb2.FundInsuranceResponse(
            insurance_fund=cv.money_out(spec, self.venue.view.insurance(request.asset)))

    @rpc
    async def GetVenueState(self, request, context):
        self.venue.admin(context)
        view = self.venue.view
        funds = [cv.money_out(self.venue.asset_spec(a), view.insurance(a)) for a in view.assets()]
        journal = self.venue.seq.journal
        return sandbox_pb2.GetVenueStateResponse(
            now_ns=view.ts, state_hash=self.venue.state.state_hash(), insurance_funds=funds,
            journal_sequence=journal.durable_seq if journal is not None else self.venue.seq.applied)

    @rpc
    async def Reset(self, request, context):
        self.venue.admin(context)
        if self.venue.reset is None:
            raise VenueError(R.INVALID_VALUE, problem="reset is not available")
        archived = await self.venue.seq.run_quiet(self.venue.reset)
        for task in self.venue.paths.values():
            task.cancel()
        if self.venue.after_reset is not None:
            await self.venue.after_reset()
        return sandbox_pb2.ResetResponse(archived_to=str(archived))

    @rpc
    async def Snapshot(self, request, context):
        self.venue.admin(context)
        return sandbox_pb2.SnapshotResponse(journal_sequence=await self.venue.seq.request_checkpoint())


SERVICE_NAMES = (
    market_pb2.DESCRIPTOR.services_by_name["MarketDataService"].full_name,
    trading_pb2.DESCRIPTOR.services_by_name["TradingService"].full_name,
    account_pb2.DESCRIPTOR.services_by_name["AccountService"].full_name,
    sandbox_pb2.DESCRIPTOR.services_by_name["SandboxService"].full_name,
    history_pb2.DESCRIPTOR.services_by_name["HistoryService"].full_name,
    risk_pb2.DESCRIPTOR.services_by_name["RiskService"].full_name,
    "perpsim.v1.ProfileService",
)


def build_server(venue: Venue, streams) -> tuple[grpc.aio.Server, health.aio.HealthServicer]:
    """A grpc.aio server with the four services, health and reflection (not yet started).

    Health is the asyncio servicer: the synchronous one parks a worker thread per open Watch,
    and watchers would exhaust the executor everything else needs. The port is bound
    exclusively (no SO_REUSEPORT): a second venue on a taken address fails instead of
    sharing it. Health starts NOT_SERVING (see `set_serving`). Every request passes the
    RequestGuard (undecodable bytes, 64-bit ids out of range) before its servicer."""
    server = grpc.aio.server(interceptors=(RequestGuard(),), options=(("grpc.so_reuseport", 0),))
    market_pb2_grpc.add_MarketDataServiceServicer_to_server(MarketData(venue, streams), server)
    trading_pb2_grpc.add_TradingServiceServicer_to_server(Trading(venue), server)
    account_pb2_grpc.add_AccountServiceServicer_to_server(Accounts(venue, streams), server)
    sandbox_pb2_grpc.add_SandboxServiceServicer_to_server(Sandbox(venue), server)
    from perpsim.venue.history_service import History  # it imports this module: bound at call time
    history_pb2_grpc.add_HistoryServiceServicer_to_server(History(venue), server)
    from perpsim.venue.risk_service import add_to_server  # it imports this module: bound at call time
    add_to_server(venue, server)
    from perpsim.venue import profile_service  # it imports this module: bound at call time
    profile_service.add_to_server(venue, server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    return server, health_servicer


async def set_serving(health_servicer: health.aio.HealthServicer, serving: bool) -> None:
    """Every service (and "") SERVING or NOT_SERVING."""
    status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
    for name in ("", *SERVICE_NAMES):
        await health_servicer.set(name, status)
