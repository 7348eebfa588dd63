"""Server streams: public trades, mark prices, liquidations and the order book.

The sequencer hands each durable batch to `Streams.publish_batch` (`publish` per command, in
order; with nobody following anything, only the alerts' bookkeeping once a batch). Every topic
(kind, symbol) numbers its messages 1, 2, 3, … so a subscriber sees no gaps; each subscriber
has a mailbox (perpsim.venue.mailbox), and one that stays behind for too long is dropped with
RESOURCE_EXHAUSTED instead of slowing the venue down; a burst it keeps up with is not. The book
stream starts with a snapshot, then sends changed levels.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal

from perpsim.engine.events import (
    AutoDeleveraged,
    BalanceChanged,
    ConditionalEvent,
    HedgedPairClosed,
    Liquidation,
    ListEvent,
    MarkPriceChanged,
    OrderEvent,
    PositionChanged,
)
from perpsim.model.enums import EventKind, Side
from perpsim.model.reasons import RejectReason as R
from perpsim.v1 import account_pb2, common_pb2, market_pb2
from perpsim.venue import convert as cv
from perpsim.venue.alerts import MarketAlerts
from perpsim.venue.errors import VenueError, to_status
from perpsim.venue.mailbox import DROPPED, Mailbox

_FILL = int(EventKind.FILL)  # (compared per event: an Enum class attribute is slow)

log = logging.getLogger("perpsim.venue")

#: A margin warning goes to an account's stream when maintenance margin / margin balance reaches this.
MARGIN_WARNING_PERCENT = 80


class Streams:
    """The venue's server streams (public topics, the order book, account updates and alerts): fed by
    the sequencer's durable batches; each topic numbers its messages 1, 2, 3, …; a mailbox per subscriber."""

    def __init__(self, venue, alert_spread_bps: int = 50, alert_funding_bps: int = 5) -> None:
        """Alerts: a market whose spread reaches `alert_spread_bps` (basis points of the mid)
        while its predicted funding rate reaches `alert_funding_bps` (basis points per interval,
        either sign) is RAISED, and CLEARED when either falls back below."""
        self.venue = venue
        self.market_alerts = MarketAlerts(alert_spread_bps, alert_funding_bps)
        self._warned: set[tuple[int, str]] = set()  # (account, asset) above the margin warning
        # risk_alerts(account, ts): the account risk alerts, run where margin warnings are
        self.risk_alerts = None
        # spike_alerts(ts): the followed accounts' own leverage-spike flags, after each command
        self.spike_alerts: Callable[[int], None] | None = None
        # the fills' read model (venue.signals.slippage.SlippageTracker): `publish` records each
        # command in it just before that command's messages, which carry its fills' slippage
        self.slippage = None
        self._subs: dict[tuple[str, str], set[Mailbox]] = defaultdict(set)
        self._seq: dict[tuple[str, str], int] = defaultdict(int)
        # per book subscriber: [depth, bids, asks, its own sequence number]
        self._books: dict[str, dict[Mailbox, list]] = defaultdict(dict)
        # whether the market alerts may hold state of a follower (see _alerts)
        self._alerts_kept = True
        # the kinds of the topics in _subs (a topic, once subscribed, stays there, maybe empty)
        self._kinds: set[str] = set()

    # ---------------------------------------------------------------- publishing

    def _send(self, topic: tuple[str, str], make) -> None:
        if not self._subs.get(topic):
            return
        self._seq[topic] += 1
        msg = make(self._seq[topic])
        for q in list(self._subs[topic]):
            self._offer(q, msg)

    def _offer(self, q: Mailbox, msg) -> None:
        if not q.put(msg):  # a slow consumer: drop it rather than block the venue
            q.drop()
            for subs in self._subs.values():
                subs.discard(q)
            for books in self._books.values():
                books.pop(q, None)

    def publish_batch(self, done: list) -> None:
        """Sequencer batch listener: `publish` each durable command of a batch ((command, events)
        each), in order. While no stream has a follower and no account stream was ever opened
        (whose risk alerts keep per-account state), the commands' messages would go nowhere:
        the batch is recorded in `slippage` at once and only what later followers depend on is
        kept up, the spike and market alerts' bookkeeping, once a batch (`publish` repeats it
        per command with the same outcome: each look reads the same state, the state after the
        batch, and a repeat finds nothing new)."""
        if self._quiet():
            if self.slippage is not None:
                self.slippage.record_batch(done)
            ts = self.venue.state.exchange.ts
            if self.spike_alerts is not None:
                self.spike_alerts(ts)
            self._alerts(ts)  # (returns at once when no market's alerts are followed)
            return
        publish = self.publish
        for cmd, events in done:
            try:  # a command's failure is its own: the streams go on with the next
                publish(cmd, events)
            except Exception:
                log.exception("publishing %r failed", cmd)

    def _quiet(self) -> bool:
        """Whether no topic and no book has a follower and no account stream was ever opened."""
        return "account" not in self._kinds and not any(self._subs.values()) and not any(self._books.values())

    def publish(self, cmd, events: list) -> None:
        """One durable command: recorded in `slippage`, then its events to its streams (a
        per-command listener; the venue registers `publish_batch`)."""
        if self.slippage is not None:
            try:  # the fills' read model first: the messages carry their slippage
                self.slippage.record(cmd, events, cmd.ts)
            except Exception:
                log.exception("recording the fills of %r failed", cmd)
        self._publish(cmd, events)

    def _publish(self, cmd, events: list) -> None:
        ts = self.venue.state.exchange.ts
        touched = set()
        accounts = self._account_updates(events, ts)
        subs = self._subs
        for e in events:
            t = type(e)  # (the event types are final NamedTuples: exact type checks, cheaper)
            if t is OrderEvent:
                touched.add(e.symbol)
                if e.event.kind == _FILL and subs.get(("trades", e.symbol)):
                    self._trade(e, ts)
            elif t is MarkPriceChanged:
                view = self.venue.view
                if subs.get(("mark", e.symbol)):
                    spec = self.venue.markets[e.symbol]
                    self._send(("mark", e.symbol), lambda seq, v=view, s=spec: market_pb2.StreamMarkPriceResponse(
                        sequence=seq, price=cv.mark_out(s, v.prices(s.symbol), v.funding(s.symbol), ts),
                        time_ns=ts))
                # a mark move changes the margin ratio of every account holding a position there
                if "account" in self._kinds:
                    for kind, key in subs:
                        if kind == "account" and subs[(kind, key)] and view.holds(int(key), e.symbol):
                            accounts.add(int(key))
            elif t is Liquidation:
                self._liquidation(e, ts)
        if self._books:
            for symbol in touched:
                self._book_deltas(symbol)
        for account in sorted(accounts):
            self._margin_warning(account, ts)
            if self.risk_alerts is not None:
                self.risk_alerts(account, ts)
        if self.spike_alerts is not None:
            self.spike_alerts(ts)
        self._alerts(ts)

    def _alerts(self, ts: int) -> None:
        """Each followed market's alert that was raised or cleared (venue.alerts) to its stream."""
        if "alerts" not in self._kinds or \
                not any(kind == "alerts" and subs for (kind, _), subs in self._subs.items()):
            # nobody follows a market's alerts: one look forgets what earlier followers left
            # (every market unwatched, nothing raised), the looks after it would change nothing
            if not self._alerts_kept:
                return
            self._alerts_kept = False
        else:
            self._alerts_kept = True
        for alert in self.market_alerts.changes(self.venue.view, lambda s: bool(self._subs.get(("alerts", s)))):
            self._send(("alerts", alert.symbol), lambda seq, a=alert: market_pb2.StreamAlertsResponse(
                sequence=seq, alert=a, time_ns=ts))

    def followed_accounts(self) -> set[int]:
        """The accounts whose stream someone follows."""
        return {int(key) for (kind, key), subs in self._subs.items() if kind == "account" and subs}

    def send_account(self, account: int, ts: int, **update) -> None:
        """One update (a StreamAccountResponse field) to the account's stream, numbered in turn."""
        self._account(account, ts, **update)

    def _account(self, account: int, ts: int, **update) -> None:
        self._send(("account", str(account)), lambda seq: account_pb2.StreamAccountResponse(
            sequence=seq, time_ns=ts, **update))

    def _account_updates(self, events: list, ts: int) -> set[int]:
        """Each event to the streams of the accounts it concerns; the accounts touched."""
        if "account" not in self._kinds:
            return set()
        touched = set()
        for e in events:
            if isinstance(e, OrderEvent):
                spec, b = self.venue.markets[e.symbol], e.event
                kind = EventKind(b.kind).name
                sides = [(b.account, b.order_id, b.leaves, common_pb2.LIQUIDITY_TAKER)]
                if b.kind == EventKind.FILL:
                    sides.append((b.counter_account, b.counter_order_id, b.counter_leaves, common_pb2.LIQUIDITY_MAKER))
                signals = getattr(self.venue, "account_signals", None) if b.kind == EventKind.FILL else None
                for account, oid, leaves, liq in sides:
                    touched.add(account)
                    side = b.side if liq == common_pb2.LIQUIDITY_TAKER else 1 - b.side  # the owner's side
                    slippage = signals.fill_slippage(oid, side, b.price) if signals is not None else {}
                    self._account(account, ts, order=account_pb2.OrderUpdate(
                        order_id=oid, symbol=e.symbol, event=kind, price=spec.format_price(b.price) if b.price else "",
                        quantity=spec.format_qty(b.qty), remaining_quantity=spec.format_qty(leaves),
                        liquidity=liq if b.kind == EventKind.FILL else common_pb2.LIQUIDITY_UNSPECIFIED,
                        liquidation=e.liquidation, **slippage))
            elif isinstance(e, PositionChanged):
                spec = self.venue.markets[e.symbol]
                touched.add(e.account)
                self._account(e.account, ts, position=account_pb2.PositionUpdate(
                    symbol=e.symbol, quantity=str((1 if e.lots >= 0 else -1) * spec.lots_to_qty(abs(e.lots))),
                    quantity_lots=e.lots))
            elif isinstance(e, BalanceChanged) and not e.symbol:  # the wallet's (an isolated margin is no wallet)
                spec = self.venue.asset_spec(e.asset)
                touched.add(e.account)
                self._account(e.account, ts, balance=account_pb2.BalanceUpdate(
                    delta=cv.money_out(spec, e.delta), wallet=cv.money_out(spec, e.balance), cause=e.cause))
            elif isinstance(e, Liquidation):
                spec = self.venue.markets[e.symbol]
                self._account(e.account, ts, liquidation=account_pb2.LiquidationUpdate(
                    symbol=e.symbol, kind="liquidation", quantity=spec.format_qty(e.qty),
                    price=spec.format_price(e.bankruptcy_price)))
            elif isinstance(e, ConditionalEvent):
                touched.add(e.account)
                self._account(e.account, ts, conditional=account_pb2.ConditionalUpdate(
                    conditional_id=e.conditional_id, symbol=e.symbol, status=e.status, order_id=e.order_id,
                    reason=R(e.reason).name.lower() if e.reason else ""))
            elif isinstance(e, ListEvent):
                spec = self.venue.markets[e.symbol]
                touched.add(e.account)
                self._account(e.account, ts, order_list=account_pb2.OrderListUpdate(
                    list_id=e.list_id, symbol=e.symbol, status=e.status, cause=e.cause,
                    covered_quantity=spec.format_qty(e.qty), order_id=e.order_id,
                    reason=R(e.reason).name.lower() if e.reason else ""))
            elif isinstance(e, AutoDeleveraged):
                spec = self.venue.markets[e.symbol]
                for account in (e.account, e.counterparty):
                    self._account(account, ts, liquidation=account_pb2.LiquidationUpdate(
                        symbol=e.symbol, kind="auto_deleverage", quantity=spec.format_qty(e.qty),
                        price=spec.format_price(e.price)))
            elif isinstance(e, HedgedPairClosed):  # OKX: the pair closed against itself, no order
                spec = self.venue.markets[e.symbol]
                self._account(e.account, ts, liquidation=account_pb2.LiquidationUpdate(
                    symbol=e.symbol, kind="hedged_pair_closed", quantity=spec.format_qty(e.qty),
                    price=spec.format_price(e.price)))
        return touched

    def _margin_warning(self, account: int, ts: int) -> None:
        """Warn an account's stream when its cross margin ratio (maintenance margin / margin
        balance) reaches MARGIN_WARNING_PERCENT; once per crossing, again after it recovered."""
        if not self._subs.get(("account", str(account))):
            return
        view = self.venue.view
        for asset in sorted({s.settle for s in self.venue.markets.values()}):
            balance, mm = view.margin_balance(account, asset), view.maintenance_margin(account, asset)
            if not (mm and balance > 0 and mm * 100 >= MARGIN_WARNING_PERCENT * balance):
                self._warned.discard((account, asset))
            elif (account, asset) not in self._warned:
                self._warned.add((account, asset))
                self._account(account, ts, margin_warning=account_pb2.MarginWarning(
                    asset=asset, margin_ratio_percent=str(Decimal(mm * 10_000 // balance) / 100)))  # rounded down

    def _trade(self, oe: OrderEvent, ts: int) -> None:
        spec, e = self.venue.markets[oe.symbol], oe.event
        self._send(("trades", oe.symbol), lambda seq: market_pb2.StreamTradesResponse(
            sequence=seq, symbol=oe.symbol, price=spec.format_price(e.price), price_ticks=e.price,
            quantity=spec.format_qty(e.qty), quantity_lots=e.qty, taker_side=cv.SIDE_OUT[Side(e.side)],
            time_ns=ts, liquidation=oe.liquidation))

    def _liquidation(self, e: Liquidation, ts: int) -> None:
        spec = self.venue.markets[e.symbol]
        self._send(("liquidations", e.symbol), lambda seq: market_pb2.StreamLiquidationsResponse(
            sequence=seq, symbol=e.symbol, side=cv.SIDE_OUT[Side(e.side)], quantity=spec.format_qty(e.qty),
            bankruptcy_price=spec.format_price(e.bankruptcy_price), filled_quantity=spec.format_qty(e.filled),
            taken_by_insurance=spec.format_qty(e.taken_by_insurance),
            auto_deleveraged=spec.format_qty(e.deleveraged), time_ns=ts))

    def _levels(self, symbol: str, depth: int) -> tuple[dict, dict]:
        book = self.venue.view.book(symbol, depth)
        return {p: (q, n) for p, q, n in book.bids}, {p: (q, n) for p, q, n in book.asks}

    def _book_deltas(self, symbol: str) -> None:
        subs = self._books.get(symbol)
        if not subs:
            return
        spec = self.venue.markets[symbol]
        for q, sub in list(subs.items()):
            depth, bids, asks, seq = sub
            new_bids, new_asks = self._levels(symbol, depth)
            changed = [_diff(spec, bids, new_bids), _diff(spec, asks, new_asks)]
            if changed[0] or changed[1]:
                sub[1:] = [new_bids, new_asks, seq + 1]
                self._offer(q, market_pb2.StreamOrderBookResponse(
                    sequence=seq + 1, snapshot=False, bids=changed[0], asks=changed[1]))

    # ---------------------------------------------------------------- subscribing

    async def _drain(self, q: Mailbox, context):
        try:
            while True:
                msg = await q.get()
                if msg is DROPPED:
                    await context.abort_with_status(to_status(VenueError(
                        R.RATE_LIMITED, problem=f"slow consumer: more than {q.patience_s:g} s behind (or "
                        f"{q.limit} messages unread), dropped; subscribe again", retry_after_ms=1_000)))
                yield msg
        finally:
            for subs in self._subs.values():
                subs.discard(q)
            for books in self._books.values():
                books.pop(q, None)

    async def topic(self, kind: str, symbol: str, context, check_symbol: bool = True):
        """Messages of one topic from now on, each with the topic's next sequence number."""
        if check_symbol and symbol not in self.venue.markets:
            await context.abort_with_status(to_status(self.venue.refused(
                VenueError(R.UNKNOWN_SYMBOL, field="symbol", symbol=symbol))))
        q = Mailbox()
        self._subs[(kind, symbol)].add(q)
        self._kinds.add(kind)
        async for msg in self._drain(q, context):
            yield msg

    async def book(self, venue, request, context):
        """A snapshot of `depth` levels, then the levels that change (quantity 0: removed)."""
        symbol, depth = request.symbol, request.depth or 20
        if symbol not in self.venue.markets:
            await context.abort_with_status(to_status(self.venue.refused(
                VenueError(R.UNKNOWN_SYMBOL, field="symbol", symbol=symbol))))
        spec = self.venue.markets[symbol]
        q = Mailbox()
        bids, asks = self._levels(symbol, depth)
        self._books[symbol][q] = [depth, bids, asks, 1]
        q.put(market_pb2.StreamOrderBookResponse(
            sequence=1, snapshot=True,
            bids=[cv.level_out(spec, p, *v) for p, v in sorted(bids.items(), reverse=True)],
            asks=[cv.level_out(spec, p, *v) for p, v in sorted(asks.items())]))
        async for msg in self._drain(q, context):
            yield msg


def _diff(spec, old: dict, new: dict) -> list[common_pb2.PriceLevel]:
    out = [cv.level_out(spec, p, *v) for p, v in sorted(new.items()) if old.get(p) != v]
    out += [cv.level_out(spec, p, 0, 0) for p in sorted(old) if p not in new]
    return out
