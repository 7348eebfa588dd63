"""Account and market history: a read model of the exchange's events.

`History.handoff(cmd, events, ts)` takes each applied command with its events (O(1) for the
commands of order entry: folded in later, see venue/history_handoff.py); the queries answer
orders (open or completed), an account's trades and income, public and aggregate trades,
funding rates, klines of trades, mark and index, the 24-hour ticker, open interest and its
history, and liquidations. Units are the engine's (ticks, lots, integer money units, ns); the
records are immutable (venue/history_records.py). Retention is bounded by `HistoryLimits`:
per account (orders, trades, income) and per market (public trades, klines per interval,
funding, open-interest samples, liquidations); the oldest go first, open orders never.

Replay. The history lives inside the `VenueState`: `VenueState.apply` hands it every
command, so it is pickled into every snapshot with the exchange (folded in first), and recovery
(snapshot plus the journal's tail, applied through `VenueState.apply`) rebuilds it exactly as it
was: the same commands give the same events, hence the same records, ids and bars, whenever
they are folded in. Sequencer listeners are not called during recovery, which is why it is not
one of them. It is not part of
`state_hash()` (the hash is what the engine's determinism is checked by); `digest()` hashes
the history for tests.

Orders build on the venue's order registry (`VenueState.orders`, venue/state.py): the history
holds the registry's own `OrderInfo` of each order (status, filled quantity, amended price and
quantity stay the registry's business) and adds what the registry does not keep: the fills'
quote sum, times, and the conditional order that placed it. It keeps them after the registry
has evicted them. Orders refused at placement are not orders and are not recorded; forced
(liquidation) orders appear as `force_orders` and their fills as the account's trades.

Trades are every position change: book fills, and the fills outside the book (auto-
deleveraging, the insurance fund taking a liquidated position over: order id 0, no fee).
What events do not say, and so is not here: realized PnL and funding of isolated positions
settle into the isolated margin without a wallet event (income and trades show 0 for them).
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING

import cython

if cython.compiled:  # a C call
    from cython.cimports.perpsim.venue.history_handoff import event_field
else:
    from perpsim.venue.history_handoff import event_field

from perpsim.engine.book_types import BookEvent
from perpsim.engine.events import (
    AutoDeleveraged,
    BalanceChanged,
    ConditionalEvent,
    FundingSettled,
    Liquidation,
    MarkPriceChanged,
    OrderEvent,
    OrderPlaced,
    PositionChanged,
)
from perpsim.engine.views import ExchangeView
from perpsim.model.enums import EventKind, PositionSide, Side
from perpsim.venue.history_income import FUNDING_FEE, PSIDE, PendingFill
from perpsim.venue.history_open_interest import HistoryOpenInterest
from perpsim.venue.history_orders import ended_orders, order_record
from perpsim.venue.history_query import HistoryQueries
from perpsim.venue.history_records import (
    INTERVALS,
    OI_SAMPLE_NS,
    SOURCES,
    AccountTrade,
    ForceOrder,
    FundingRate,
    HistoryLimits,
    OpenInterest,
    PublicTrade,
)
from perpsim.venue.klines import BarLadder

if TYPE_CHECKING:
    from perpsim.venue.history_orders import OrderInfo

# the book's event kinds as plain ints (compared per event)
_ACCEPTED, _FILL, _CANCELED, _EXPIRED, _AMENDED = (int(EventKind.ACCEPTED), int(EventKind.FILL),
                                                  int(EventKind.CANCELED), int(EventKind.EXPIRED),
                                                  int(EventKind.AMENDED))
_BUY, _SELL = int(Side.BUY), int(Side.SELL)
_BOTH, _LONG, _SHORT = int(PositionSide.BOTH), int(PositionSide.LONG), int(PositionSide.SHORT)
_ENDED = frozenset({"TRIGGERED", "REJECTED_AT_TRIGGER", "CANCELED", "EXPIRED"})
# the fields of the events of order entry, read by position (history_handoff.event_field)
_SYMBOL, _EVENT, _LIQUIDATION = (OrderEvent._fields.index(name) for name in ("symbol", "event", "liquidation"))
_KIND, _ORDER_ID, _ACCOUNT, _SIDE, _PRICE, _QTY, _COUNTER_ORDER_ID, _COUNTER_ACCOUNT = (
    BookEvent._fields.index(name) for name in ("kind", "order_id", "account", "side", "price", "qty",
                                               "counter_order_id", "counter_account"))
_P_SYMBOL, _P_ACCOUNT, _P_LOTS = (PositionChanged._fields.index(name) for name in ("symbol", "account", "lots"))


class HistoryFeed(HistoryOpenInterest):
    """The writing side of `History`: its state and the fold of the exchange's events into it.
    Compiled (venue/history.pxd): the last of the history's C classes, whose attributes are C
    slots and whose steps per event are C calls (the sequencer folds every command in)."""

    def __init__(self, exchange, orders: dict, limits: HistoryLimits | None = None) -> None:
        """`exchange`: the Exchange the events come from (read through ExchangeView for times,
        marks, funding and positions);
        `orders`: the venue's order registry (VenueState.orders), read for orders it accepted."""
        self.view = view = ExchangeView(exchange)
        self._registry = orders
        self.limits = limits = limits or HistoryLimits()
        self._ts = view.ts
        # per account, in placement (= id) order: the registry's OrderInfo, the history's fields kept on it
        self._orders: dict[int, dict[int, OrderInfo]] = {}
        self._done: dict[int, deque[OrderInfo]] = {}  # per account, completed orders kept, first completed first
        self._by_client: dict[int, dict[str, int]] = {}  # per account: client order id -> order id
        # live conditional id -> (kind, trigger, trigger source, price protection)
        self._conditionals: dict[int, tuple[int, int, int, bool]] = {}
        # per account, AccountTrade's and Income's fields as a tuple; per market PublicTrade's:
        # the records are made when a query answers (a NamedTuple costs a Python call to build,
        # per fill, per fee), and a tuple of ints, strs and bools alone leaves the collector's
        # view at its first look (a list or a record holding an enum member would stay in it)
        self._trades: dict[int, deque[tuple]] = {}
        self._income: dict[int, deque[tuple]] = {}
        # Income.info (the engine's cause: an enum member, which would keep its tuple in the
        # collector's view) is kept as a code: the index of the very object in _causes
        self._causes: list = []
        self._cause_codes: dict = {}
        self._income_id = 0
        symbols = view.symbols()
        self._asset = {s: view.spec(s).settle for s in symbols}
        self._public: dict[str, deque[tuple]] = {s: deque(maxlen=limits.trades_per_market) for s in symbols}
        self._trade_id = dict.fromkeys(symbols, 0)
        self._agg: dict[str, tuple[int, int, int, int]] = {}  # last (taker order, price, ts, agg id)
        self._funding: dict[str, deque] = {s: deque(maxlen=limits.funding_per_market) for s in symbols}
        self._next_funding = {s: view.prices(s).next_funding_ts for s in symbols}
        self._bars = {(s, src): BarLadder(INTERVALS.values(), limits.klines_per_interval)
                      for s in symbols for src in SOURCES}
        self._marks = {s: view.mark(s) or 0 for s in symbols}
        self._oi = dict.fromkeys(symbols, 0)
        # (symbol, account) -> the long lots of its BOTH and its LONG position (a SHORT one holds none)
        self._legs: dict[tuple[str, int], tuple[int, int]] = {}
        self._oi_hist: dict[str, deque] = {s: deque(maxlen=limits.open_interest_per_market) for s in symbols}
        self._force: dict[str, deque] = {s: deque(maxlen=limits.force_orders_per_market) for s in symbols}
        self._force_id = 0
        for s in symbols:  # an exchange that already holds positions
            for account in sorted({h.account for h in view.all_positions(s)}):
                self._update_longs(s, account)
        self._funding_due = min(self._next_funding.values(), default=None)
        self._pending: list = []  # handed over, not yet folded in: command, events, ts of each, flat
        self._pending_events = 0

    # ================================================================== feeding

    def observe(self, cmd, events: list) -> None:
        """Record what one applied command did (its events, at the exchange's time after it),
        now: what was handed over first, then this command (which may read the state)."""
        self.catch_up()
        self._fold(cmd, events, self.view.ts)

    def _fold(self, cmd, events: list, ts: int) -> None:
        """Fold in one command at `ts`, the exchange's time right after it. Reads of the
        exchange (`moved`, conditional orders, forced fills, funding) happen only for commands
        that HistoryHandoff folds in at once, right after they applied.

        Order entry is what most commands are: the containers only other events need are made
        when one comes (None until then)."""
        finished = ended_orders(events)  # the orders this command ended
        if ts // OI_SAMPLE_NS != self._ts // OI_SAMPLE_NS:
            self._sample_oi(ts - ts % OI_SAMPLE_NS)
        self._ts = ts
        fill: PendingFill | None = None
        symbol = ""  # the market of the latest order event: where fees and PnL come from
        moved: set[tuple[str, int]] | None = None
        funding: list | None = None  # funding payments before their FundingSettled (which names the market)
        settled: dict[str, list[FundingSettled]] | None = None
        forced: dict[tuple[str, int], list[int]] | None = None  # a forced order's (lots, quote) so far
        ended: list[int] | None = None
        trades: list[list] = []  # the command's account trades, as lists until their fees and PnL are in
        # auto-deleveraging: the side of each account's latest forced order (the bankrupt's side),
        # and the realized PnL no fill claimed since the last order event, with the position
        # changes seen before it (an ADL pair books its counterparty first: 0, then the bankrupt: 1)
        forced_side: dict[tuple[str, int], int] | None = None
        loose: list[tuple[int, int, int]] | None = None
        positions = 0
        registry = self._registry
        for e in events:
            t = type(e)
            if t is OrderEvent:
                symbol = event_field(e, _SYMBOL)
                loose = None
                positions = 0
                b = event_field(e, _EVENT)
                kind = event_field(b, _KIND)
                liquidation = event_field(e, _LIQUIDATION)
                fill = None
                if liquidation:
                    if forced_side is None:
                        forced_side = {}
                    forced_side[(symbol, b.account)] = int(b.side)
                if kind == _FILL:
                    fill = self._fill(e, ts, forced, trades, finished)
                elif kind == _ACCEPTED:
                    if liquidation:
                        if forced is None:
                            forced = {}
                        forced[(symbol, b.account)] = [0, 0]
                    else:
                        oid = event_field(b, _ORDER_ID)
                        info = registry.get(oid)
                        if info is not None:
                            self._add_order(info, ts, oid in finished)
                elif kind == _CANCELED or kind == _EXPIRED or kind == _AMENDED:
                    self._touch(event_field(b, _ACCOUNT), event_field(b, _ORDER_ID), ts, 0, finished)
            elif t is BalanceChanged:
                if e.cause == "funding":
                    if e.account > 0:
                        if funding is None:
                            funding = []
                        funding.append((e.account, e.asset, e.delta))
                elif not self._balance(e, ts, fill, symbol) and e.cause == "realized_pnl":
                    if loose is None:
                        loose = []
                    loose.append((e.account, e.delta, positions))
            elif t is PositionChanged:
                positions += 1
                if fill is not None and fill.positions < 2 and not fill.forced:  # a book fill's side
                    fill.positions += 1
                    side = fill.taker if fill.positions == 1 else fill.maker
                    self._leg(event_field(e, _P_SYMBOL), event_field(e, _P_ACCOUNT), side[PSIDE],
                              event_field(e, _P_LOTS))
                else:  # the state right after the command tells (folded in at once: HistoryHandoff)
                    symbol = e.symbol  # an off-book change (a takeover, ADL): its PnL is this market's
                    if moved is None:
                        moved = set()
                    moved.add((e.symbol, e.account))
                    if fill is not None:
                        fill.positions += 1
            elif t is MarkPriceChanged:
                self._marks[e.symbol] = e.mark
                self._bars[(e.symbol, "mark")].add(ts, e.mark)
                self._bars[(e.symbol, "index")].add(ts, e.index)
            elif t is OrderPlaced:
                self._placed(e)
            elif t is ConditionalEvent:
                if e.status == "NEW":
                    self._conditional(cmd, e)
                elif e.status in _ENDED:
                    if ended is None:
                        ended = []
                    ended.append(e.conditional_id)
            elif t is FundingSettled:
                if settled is None:
                    settled = {}
                settled.setdefault(e.symbol, []).append(e)
                if funding is not None:
                    for account, asset, delta in funding:
                        self._add_income(account, FUNDING_FEE, asset, delta, e.symbol, "funding", 0, ts)
                    funding = None
            elif t is AutoDeleveraged:
                self._adl(e, ts, forced_side.get((e.symbol, e.account)) if forced_side else None, loose or (),
                          trades)
                loose = None
                positions = 0
            elif t is Liquidation:
                if e.taken_by_insurance:  # the fund (booked first) took the rest over at the bankruptcy price
                    self._off_book(e.symbol, ts, e.bankruptcy_price, e.taken_by_insurance, loose or (), trades,
                                   ((0, 0, False), (e.account, int(e.side), True)))
                fill = None
                loose = None
                positions = 0
                symbol = e.symbol
                lots, quote = forced.pop((e.symbol, e.account), (0, 0)) if forced else (0, 0)
                self._force_id += 1
                self._force[e.symbol].append(ForceOrder(
                    self._force_id, e.symbol, e.account, int(e.side), e.qty, e.bankruptcy_price, e.filled,
                    quote if lots == e.filled else 0, e.taken_by_insurance, e.deleveraged, ts))
        if trades:
            kept_trades = self._trades
            for fields in trades:  # kept as AccountTrade's fields (see __init__)
                account = fields[2]
                kept = kept_trades.get(account)
                if kept is None:
                    kept = kept_trades[account] = deque(maxlen=self.limits.trades_per_account)
                kept.append(tuple(fields))
        if ended is not None:
            for cid in ended:
                self._conditionals.pop(cid, None)
        if moved is not None:
            for s, account in moved:
                self._update_longs(s, account)
        if self._funding_due is not None and ts >= self._funding_due:
            self._funding_closed(ts, settled if settled is not None else {})

    def _fill(self, oe: OrderEvent, ts: int, forced: dict | None, trades: list, ended: set) -> PendingFill:
        e, symbol = event_field(oe, _EVENT), event_field(oe, _SYMBOL)
        price, qty = event_field(e, _PRICE), event_field(e, _QTY)
        quote = price * qty
        tid = self._trade_id[symbol] = self._trade_id[symbol] + 1
        side = int(event_field(e, _SIDE))
        taker_buys = side == _BUY
        taker_order = event_field(e, _ORDER_ID)
        account, counter_order, counter_account = (event_field(e, _ACCOUNT), event_field(e, _COUNTER_ORDER_ID),
                                                   event_field(e, _COUNTER_ACCOUNT))
        last = self._agg.get(symbol)
        agg = last[3] if last is not None and last[0] == taker_order and last[1] == price and last[2] == ts else tid
        self._agg[symbol] = (taker_order, price, ts, agg)
        # PublicTrade's fields (made into the record when read)
        self._public[symbol].append((tid, symbol, price, qty, quote, not taker_buys, ts, agg, taker_order))
        self._bars[(symbol, "trade")].add(ts, price, qty, quote, taker_buys, tid)
        self._touch(account, taker_order, ts, quote, ended)
        self._touch(counter_account, counter_order, ts, quote, ended)
        liquidation = event_field(oe, _LIQUIDATION)
        if liquidation and forced is not None:
            acc = forced.get((symbol, account))
            if acc is not None:
                acc[0] += qty
                acc[1] += quote
        asset = self._asset[symbol]
        maker_side = _SELL if taker_buys else _BUY
        # AccountTrade's fields, as a list: the fees and the realized PnL come in the events after it
        taker = [tid, symbol, account, taker_order, side, self._pside(taker_order, account, side),
                 price, qty, quote, 0, asset, 0, False, taker_buys, liquidation, ts]
        maker = [tid, symbol, counter_account, counter_order, maker_side,
                 self._pside(counter_order, counter_account, maker_side), price, qty, quote, 0, asset, 0,
                 True, not taker_buys, False, ts]
        if account > 0:  # the insurance fund (account 0) has no history
            trades.append(taker)
        if counter_account > 0:
            trades.append(maker)
        return PendingFill(symbol, tid, taker, maker, not liquidation and account > 0, liquidation)

    def _pside(self, order_id: int, account: int, side: int) -> int:
        """A fill's position side: its order's. An order the registry never held is the venue's
        own, placed to liquidate (whether it filled as it came or rested, as OKX's steps do), or
        none (a fill outside the book): in hedge mode it closes the leg it liquidates."""
        info = self._registry.get(order_id)
        if info is not None:
            return int(info.position_side)
        if self.view.hedge_mode(account):
            return _LONG if side == _SELL else _SHORT
        return _BOTH

    def _off_book(self, symbol: str, ts: int, price: int, qty: int, loose: Sequence[tuple[int, int, int]],
                  trades: list, sides: tuple[tuple[int, int, bool], ...]) -> None:
        """A fill outside the book (auto-deleveraging, the insurance fund taking a position over)
        as its accounts' trades: no order (order id 0), no fee, a trade id but no market trade.
        `sides`: (account, side, liquidated) in the order the pair booked them; each one's
        realized PnL is the unclaimed PnL booked before its position change (0: the first)."""
        tid = self._trade_id[symbol] = self._trade_id[symbol] + 1
        for i, (account, side, liquidated) in enumerate(sides):
            if account <= 0:
                continue
            pnl = sum(d for a, d, seen in loose if a == account and seen == i)
            trades.append([tid, symbol, account, 0, side, self._pside(0, account, side), price, qty, price * qty,
                           0, self._asset[symbol], pnl, False, side == _BUY, liquidated, ts])

    def _adl(self, e: AutoDeleveraged, ts: int, bankrupt_side: int | None, loose: Sequence[tuple[int, int, int]],
             trades: list) -> None:
        """An auto-deleveraging fill: the counterparty trades against the bankrupt side (which
        trades the way its forced order did) at the bankruptcy price."""
        if bankrupt_side is None:  # no forced order before it in this command: the direction is unknown
            return
        cp_side = _BUY if bankrupt_side == _SELL else _SELL
        self._off_book(e.symbol, ts, e.price, e.qty, loose, trades,
                       ((e.counterparty, cp_side, False), (e.account, bankrupt_side, True)))

    def _funding_closed(self, ts: int, settled: dict[str, list[FundingSettled]]) -> None:
        """Record the funding intervals that ended by `ts`, one per funding time: with the
        rate and mark the engine settled at; when it settled nothing (no positions) with the
        market's rate and mark after the command."""
        for s in self._next_funding:
            f = self.view.funding(s)
            due, nxt = self._next_funding[s], f.next_funding_ts
            if nxt == due:
                continue
            step = f.interval_ns
            mark = self.view.mark(s) or 0
            times = list(range(due, nxt, step))
            events = settled.get(s, [])[-len(times):]
            missing = len(times) - len(events)
            for i, at in enumerate(times):
                if i < missing:
                    self._funding[s].append(FundingRate(s, f.rate, mark, at, ts))
                else:
                    ev = events[i - missing]
                    self._funding[s].append(FundingRate(s, ev.rate, ev.mark, at, ts))
            self._next_funding[s] = nxt
        self._funding_due = min(self._next_funding.values(), default=None)


    def digest(self) -> str:
        """A hash of everything the history holds (two histories of the same commands match)."""
        self.catch_up()
        h = hashlib.blake2b(digest_size=16)
        for account in sorted(self._orders):
            for o in self._orders[account].values():
                h.update(repr(order_record(o)).encode())
        for by_account, make in ((self._trades, AccountTrade._make), (self._income, self._income_record)):
            for account in sorted(by_account):
                h.update(repr((account, [make(r) for r in by_account[account]])).encode())
        for by_symbol, record in ((self._public, PublicTrade), (self._funding, FundingRate),
                                  (self._oi_hist, OpenInterest), (self._force, ForceOrder)):
            for symbol in sorted(by_symbol):
                h.update(repr((symbol, [record._make(r) for r in by_symbol[symbol]])).encode())
        for key in sorted(self._bars):
            h.update(repr((key, [list(b.bars) for b in self._bars[key]])).encode())
        h.update(repr((sorted(self._oi.items()), sorted(self._marks.items()), self._income_id, self._force_id,
                       sorted(self._trade_id.items()))).encode())
        return h.hexdigest()


class History(HistoryFeed, HistoryQueries):
    """The history of one exchange (see the module docstring). Deterministic: a function of
    the commands applied since the exchange was created."""

    def __reduce__(self):
        """Pickled folded in (a snapshot holds no buffer), as its attributes by name."""
        self.catch_up()
        state = dict(getattr(self, "__dict__", {}))
        state.update((name, getattr(self, name)) for name in _FIELDS)
        return _restored, (type(self), state)


#: The history's attributes (those of its compiled parts: venue/history*.pxd), pickled by name.
_FIELDS = ("_pending", "_pending_events", "_funding_due",  # HistoryHandoff
           "view", "limits", "_registry", "_orders", "_done", "_by_client", "_conditionals",  # HistoryOrders
           "_income", "_cause_codes", "_income_id", "_causes",  # HistoryIncome
           "_oi", "_legs", "_oi_hist", "_marks",  # HistoryOpenInterest
           "_ts", "_trades", "_asset", "_public", "_trade_id", "_agg", "_funding", "_next_funding",
           "_bars", "_force", "_force_id")  # HistoryFeed


def _restored(cls: type[History], state: dict) -> History:
    """A History from its pickled attributes (History.__reduce__)."""
    history = cls.__new__(cls)
    for name, value in state.items():
        setattr(history, name, value)
    return history
