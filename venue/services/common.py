"""What every servicer shares: the Venue (state, sequencer, keys, markets), the `rpc` wrapper
that turns a VenueError into a rich status, and engine rejections as VenueErrors.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import grpc

from perpsim.engine.events import CommandRejected, OrderEvent
from perpsim.engine.views import ExchangeView
from perpsim.model.enums import EventKind
from perpsim.model.reasons import RejectReason as R
from perpsim.venue.auth import KeyStore, bearer
from perpsim.venue.errors import VenueError, to_status
from perpsim.venue.humane import in_units
from perpsim.venue.limits import RateLimiter
from perpsim.venue.margin_assets import unit_spec
from perpsim.venue.price_paths import IndexMoves
from perpsim.venue.sequencer import Sequencer
from perpsim.venue.state import KnownOrder, VenueState, rejection

if TYPE_CHECKING:
    from prometheus_client import Histogram

    from perpsim.venue.account_signals import AccountSignals
    from perpsim.venue.signals import Signals

log = logging.getLogger("perpsim.venue")

# the book's event kinds as plain ints: compared per event of every placement's answer
_ACCEPTED, _FILL, _REJECTED = int(EventKind.ACCEPTED), int(EventKind.FILL), int(EventKind.REJECTED)


class Venue:
    """What the servicers share: state, sequencer, keys, markets."""

    def __init__(self, state: VenueState, keys: KeyStore, sequencer: Sequencer,
                 limiter: RateLimiter | None = None) -> None:
        self.keys, self.seq = keys, sequencer
        sequencer.state = state
        self.limiter = limiter or RateLimiter(0, 0)
        self.observe_latency: Histogram | None = None  # with a "method" label, if metrics are on
        # called with each VenueError a client is answered with, if metrics are on
        self.observe_rejection: Callable[[VenueError], None] | None = None
        self.ready = False  # False while recovering or halted: every call answers UNAVAILABLE
        self.halted = False  # the sequencer stopped after a fault it cannot undo (venue.sequencer)
        self.index_moves = IndexMoves(self)  # the sandbox's index prices, shocks and price paths
        self.reset: Callable[[], object] | None = None  # set by the app: swap in a fresh world (between batches)
        # set by the app when its liquidity provider is on: (symbol, index ticks) -> the quote
        # fields of a SetIndexPrice that requotes it around the new index (engine.commands)
        self.quote_fields: Callable[[str, int], dict] | None = None
        self.after_reset: Callable[[], Awaitable[None]] | None = None  # set by the app: re-seeds the world
        # set by the app: the account risk read models (venue.account_signals) and, when on, the
        # market risk signals (venue.signals)
        self.account_signals: AccountSignals | None = None
        self.signals: Signals | None = None
        self.markets = ExchangeView(state.exchange).specs()

    @property
    def unavailable(self) -> str:
        """Why calls are answered UNAVAILABLE while not `ready`, for the caller to act on."""
        if self.halted:
            return ("the venue halted after a fault it could not undo; every acknowledged order is in "
                    "its journal: restart it")
        return "the venue is recovering its journal; retry shortly"

    @property
    def state(self) -> VenueState:
        """The live state: the sequencer's (it replaces it on a reset or a rebuild)."""
        return self.seq.state

    @state.setter
    def state(self, state: VenueState) -> None:
        self.seq.state = state

    @property
    def paths(self) -> dict[str, asyncio.Task]:
        """The sandbox price paths being followed, per market (the app cancels them on shutdown)."""
        return self.index_moves.paths

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
        """The spec of market `symbol`; NOT_FOUND (UNKNOWN_SYMBOL) for a market the venue lacks."""
        spec = self.markets.get(symbol)
        if spec is None:
            raise VenueError(R.UNKNOWN_SYMBOL, field="symbol", symbol=symbol)
        return spec

    def asset_spec(self, asset: str):
        """A market settled in `asset` (for its money units), or for a Multi-Assets margin asset no
        market settles (USDC), a spec of its units (venue.margin_assets.unit_spec)."""
        spec = unit_spec(self.markets, asset)
        if spec is None:
            raise VenueError(R.UNKNOWN_SYMBOL, field="asset", asset=asset)
        return spec

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
        """Check that the caller's bearer key is the admin key: UNAUTHENTICATED without a key, PERMISSION_DENIED for any
        other (no rate limit charged)."""
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
        symbol = getattr(cmd, "symbol", None)
        spec = self.markets.get(symbol) if isinstance(symbol, str) else None
        asset = getattr(cmd, "asset", None)
        return spec or next((s for s in self.markets.values() if s.settle == asset), None)


def raise_rejection(events: list, spec=None) -> None:
    """Raise the command's rejection, if the exchange refused it, as a VenueError: money,
    prices and sizes in the units of `spec` (the command's market, or one settled in its asset),
    times and rates readable; the engine's integers kept for the ErrorInfo metadata."""
    rej = rejection(events)
    if rej is not None:
        fields = dict(rej.fields)
        # the offending field, when the engine names one, is VenueError's own argument
        rest = {k: v for k, v in fields.items() if k != "field"}
        raise VenueError(R(rej.reason), str(fields.get("field", "")), **rest).by_engine().shown_as(
            in_units(R(rej.reason), fields, spec))


def placed_order(markets: dict, account: int, symbol: str, before: int, events: list) -> tuple[int, list]:
    """The id of the order a placement's events placed (an idempotent retry's: the original
    order's) and the account's fills among them (none for a retry); raises its rejection (the
    exchange's, or the book's REJECTED: both the engine's own). `before`: the next order id when
    the command was queued (older orders' events are not this order's). One pass over the events."""
    refused = False
    known = accepted = rejected = None
    fills: list = []  # this account's fills of orders from `before` on
    for e in events:
        t = type(e)  # (the event types are final NamedTuples: exact type checks, cheaper)
        if t is OrderEvent:
            b = e.event
            if b.order_id >= before and b.account == account:
                kind = b.kind
                if kind == _ACCEPTED:
                    if accepted is None:
                        accepted = b
                elif kind == _FILL:
                    fills.append(b)
                elif kind == _REJECTED and rejected is None:
                    rejected = b
        elif t is CommandRejected:
            refused = True
        elif t is KnownOrder and known is None:
            known = e
    if refused:
        raise_rejection(events, markets.get(symbol))
    if known is not None:  # an idempotent retry: the original order, as it is now
        return known.order_id, []
    if rejected is not None:
        raise VenueError(R(rejected.reason), field="order").by_engine()
    if accepted is None:
        raise VenueError(R.UNKNOWN_ORDER, problem="order was not accepted")
    return accepted.order_id, fills


def rpc(method):
    """Servicer method wrapper: VenueError -> rich status; anything else -> INTERNAL, logged.
    The call runs once every applied command is durable (what it reads is durable)."""
    return _wrapped(method, settle=True)


def order_entry(method):
    """`rpc` for the calls that place orders (PlaceOrder, PlaceOrders), without the wait for
    the sequencer to settle: what they read before their commands (the markets' rules, the
    account's pre-trade warnings, the next order id) needs no durability, and they answer only
    after their own commit, which makes every command before theirs durable too."""
    return _wrapped(method, settle=False)


def _wrapped(method, settle: bool):
    name = method.__name__
    timer: list = [None, None]  # the latency histogram, and its child of this method

    async def wrapper(self, request, context):
        started = time.perf_counter()
        venue = self.venue
        if not venue.ready:
            await context.abort(grpc.StatusCode.UNAVAILABLE, venue.unavailable)
        if settle and not venue.seq.durable:
            await venue.seq.settled()  # what the call reads is durable
        try:
            return await method(self, request, context)
        except VenueError as e:
            await context.abort_with_status(to_status(venue.refused(e)))
        except Exception:
            log.exception("%s failed", name)
            await context.abort(grpc.StatusCode.INTERNAL, "internal error (logged)")
        finally:
            histogram = venue.observe_latency
            if histogram is not None:
                if timer[0] is not histogram:  # labels() looked up once per method, not per call
                    timer[:] = histogram, histogram.labels(name)
                timer[1].observe(time.perf_counter() - started)

    wrapper.__name__ = name
    return wrapper
