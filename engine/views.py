"""The engine's read API: immutable views of an `Exchange`, in engine units.

Everything outside engine/ reads the exchange through `ExchangeView(exchange)` and never
touches a market's internals. A view is a snapshot: a frozen value copied out when it is
read, so holding one never sees (or causes) a later change. Reads change no state and emit
no event (an ADL quantile refreshes the engine's ranking cache, as `Exchange.adl_quantile`).

Units (all ints unless stated): prices in ticks, quantities in lots (positions signed: + long,
− short), money in integer units of the settlement asset (10**settle_decimals per coin), rates
scaled by RATE_SCALE (1e8), times in ns of venue time. Exact non-grid prices (an average entry,
a liquidation or bankruptcy price) are `Fraction`s of a tick, with the rounded tick beside
them (rounded against the account: the tick the venue acts at). Convert with the market's
`MarketSpec` (`view.spec(symbol)`) at the edge. The value types are defined in
engine/view_types.py and importable from here; the account reads live in engine/view_accounts.py.

`ExchangeView` (unknown symbol: `UnknownSymbol`, a KeyError):

  clock, catalogue  ts, next_order_id, profile, symbols(), `symbol in view`, assets(), spec(symbol), specs(),
                    brackets(s) -> (Bracket,), notional(s, lots, price) -> units (int; inverse: Fraction)
  cheap scalars     mark(s), index(s), last(s), top(s) -> (bid, ask), depth(s, side, n) -> [Level],
                    funding_rate(s), insurance(asset), available(account, asset),
                    margin_balance(account, asset), wallet(account, asset),
                    maintenance_margin(account, asset), withdrawable(account, asset),
                    daily_loss_limit(account, asset) -> dict, position_lots(account, s, pside),
                    legs(account, s) -> ((pside, lots),), liquidation_price(account, s, pside) and
                    bankruptcy_price(account, s, pside) -> Fraction of ticks | None,
                    isolated_margin(account, s, pside), predicted_funding_rate(s)
  markets           prices(s) -> PriceView [O(1)], market(s) / markets() -> MarketView
                    [O(positions of the market): open interest]
  book              book(s, depth) -> BookView
  accounts          accounts(), balances(account) -> (BalanceView,), balance(account, asset),
                    hedge_mode(account), leverage(account, s), isolated(account, s), holds(account, s)
  positions         positions(account, s=None) -> (PositionView,), position(account, s, pside),
                    all_positions(s) -> iterator of Holding (liquidation map, open interest)
  preview           preview_order(PlaceOrder) -> dict (what a full fill would do; changes nothing)
  orders            open_orders(account | None, s=None) -> (OpenOrder,), open_order(s, order_id)
                    conditional_orders(account | None, s=None), conditional_order(s, id) -> ConditionalView
                    order_lists(account | None, s=None), order_list(s, id) -> OrderListView
  funding           funding(s) -> FundingView, funding_history(s=None) -> ((ts, FundingSettled),)
  insurance         insurance(asset), insurance_history() -> ((ts, InsuranceFundChanged),),
                    flows(asset) -> AssetFlows (deposited, withdrawn, insurance, fees, dust)
  liquidation       liquidation(s) -> LiquidationFacts, liquidation_trigger(account, s, pside),
                    liquidation_buckets(s, edges_ppm),
                    liquidation_entries(s) -> [LiquidationEntry],
                    liquidation_probe(s) (the index's `triggered(price)`, for benchmarks)
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

from perpsim.engine.exchange import Exchange, position_key, position_of
from perpsim.engine.view_accounts import AccountReads
from perpsim.engine.view_types import (
    AssetFlows,
    BalanceView,
    BookView,
    ConditionalView,
    FundingView,
    Holding,
    Level,
    LiquidationEntry,
    LiquidationFacts,
    MarketView,
    OpenOrder,
    OrderListView,
    PositionView,
    PriceView,
    UnknownSymbol,
)
from perpsim.model.enums import PositionSide, Side
from perpsim.model.markets import MarketSpec
from perpsim.risk.brackets import Bracket
from perpsim.risk.ledger import DUST, FEES
from perpsim.risk.profiles import VenueProfile

__all__ = [
    "AssetFlows", "BalanceView", "BookView", "ConditionalView", "ExchangeView", "FundingView", "Holding",
    "Level", "LiquidationEntry", "LiquidationFacts", "MarketView", "OpenOrder", "OrderListView",
    "PositionView", "PriceView", "UnknownSymbol",
]

BOTH, LONG, SHORT = PositionSide.BOTH, PositionSide.LONG, PositionSide.SHORT


class ExchangeView(AccountReads):
    """Read-only access to one `Exchange` (see the module doc for the API and units). Cheap to
    make: build one per exchange (or per read after the exchange may have been replaced)."""

    __slots__ = ("_ex", "_m")

    def __init__(self, exchange: Exchange) -> None:
        self._ex = exchange
        self._m = exchange.markets

    def _market(self, symbol: str):
        try:
            return self._m[symbol]
        except KeyError:
            raise UnknownSymbol(symbol) from None

    # ------------------------------------------------------------ clock, catalogue

    @property
    def ts(self) -> int:
        """Venue time of the last command applied (ns)."""
        return self._ex.ts

    @property
    def next_order_id(self) -> int:
        """The id the next order, conditional order or list will get (ids only grow)."""
        return self._ex.next_order_id

    def symbols(self) -> tuple[str, ...]:
        """The listed markets, in listing order."""
        return tuple(self._m)

    def __contains__(self, symbol: object) -> bool:
        """Whether the exchange lists the market (O(1))."""
        return symbol in self._m

    def assets(self) -> tuple[str, ...]:
        """The settlement assets, sorted."""
        return tuple(sorted({m.asset for m in self._m.values()}))

    def spec(self, symbol: str) -> MarketSpec:
        """The market's spec (UnknownSymbol for an unknown one)."""
        return self._market(symbol).spec

    @property
    def profile(self) -> VenueProfile:
        """The venue profile: which price triggers liquidation and how its price is solved."""
        return self._ex.profile

    def brackets(self, symbol: str) -> tuple[Bracket, ...]:
        """The market's leverage and maintenance-margin brackets (money units, rates scaled 1e8)."""
        return tuple(self._market(symbol).brackets)

    def notional(self, symbol: str, lots: int, price: int) -> int | Fraction:
        """The value of |lots| at `price` ticks in money units: an exact int on a linear market,
        an exact Fraction on an inverse one (|lots| × contract value / price)."""
        return self._market(symbol).value(lots, price)

    def specs(self) -> dict[str, MarketSpec]:
        """A new dict of every market's spec, in market order."""
        return {s: m.spec for s, m in self._m.items()}

    # ------------------------------------------------------------ cheap scalars

    # the scalars agents read every step look the market up themselves: one call, not two
    def mark(self, symbol: str) -> int | None:
        """The mark (ticks); None before the first mark. UnknownSymbol for an unknown market."""
        try:
            return self._m[symbol].mark
        except KeyError:
            raise UnknownSymbol(symbol) from None

    def last(self, symbol: str) -> int | None:
        """The last trade price (ticks); None before the first trade. UnknownSymbol for an unknown market."""
        try:
            return self._m[symbol].last
        except KeyError:
            raise UnknownSymbol(symbol) from None

    def index(self, symbol: str) -> int | None:
        """The index price (ticks) at the current time, None while no source is live."""
        m, ts = self._market(symbol), self._ex.ts
        return m.index.value(ts)  # (None while no source is live)

    def top(self, symbol: str) -> tuple[int | None, int | None]:
        """(best bid, best ask) in ticks."""
        try:
            book = self._m[symbol].book
        except KeyError:
            raise UnknownSymbol(symbol) from None
        return book.best_bid(), book.best_ask()

    def arrival(self, symbol: str) -> tuple[int | None, int | None, int | None] | None:
        """(best bid, best ask, mark) in ticks, the prices an order arrives at; None for a market
        the exchange does not list (one lookup, nothing raised: read before every command)."""
        m = self._m.get(symbol)
        return None if m is None else (m.book.best_bid(), m.book.best_ask(), m.mark)

    def arrivals(self) -> dict[str, tuple[int | None, int | None, int | None]]:
        """Every market's `arrival` prices, by symbol."""
        return {s: (m.book.best_bid(), m.book.best_ask(), m.mark) for s, m in self._m.items()}

    def depth(self, symbol: str, side: int, levels: int) -> list[Level]:
        """The best `levels` levels of one side (Side.BUY: bids), best first."""
        try:
            raw = self._m[symbol].book.depth(side, levels)
        except KeyError:
            raise UnknownSymbol(symbol) from None
        return [Level(*lv) for lv in raw]

    def funding_rate(self, symbol: str) -> int:
        """The last settled funding rate (scaled 1e8)."""
        try:
            return self._m[symbol].rate
        except KeyError:
            raise UnknownSymbol(symbol) from None

    def insurance(self, asset: str) -> int:
        """The insurance fund of `asset` (units)."""
        return self._ex.ledger.insurance(asset)

    def position_lots(self, account: int, symbol: str, pside: int = BOTH) -> int:
        """Signed lots of one position (0: none)."""
        try:
            p = self._m[symbol].positions.get(position_key(account, pside))
        except KeyError:
            raise UnknownSymbol(symbol) from None
        return 0 if p is None else p.lots

    # ------------------------------------------------------------ markets

    def prices(self, symbol: str) -> PriceView:
        """The market's prices now (PriceView: ticks, the rate scaled 1e8, ns)."""
        m = self._market(symbol)
        return PriceView(symbol, m.mark, self.index(symbol), m.last, m.book.best_bid(), m.book.best_ask(), m.rate,
                         m.next_funding)

    def funding(self, symbol: str) -> FundingView:
        """The market's funding now (FundingView: rates scaled 1e8, ns)."""
        m = self._market(symbol)
        rules = m.funding_config
        return FundingView(symbol, m.rate, self._ex.predicted_funding_rate(symbol), m.next_funding,
                           rules.interval_ns, m.funding.samples, rules.interest_rate(), rules.cap, rules.floor)

    def liquidation(self, symbol: str) -> LiquidationFacts:
        """The market's liquidation state now (LiquidationFacts: ticks)."""
        m = self._market(symbol)
        below = above = None
        if m.mark is not None:
            below, above = m.liq.nearest(m.mark)
        busy = tuple(sorted((a, ps) for s, a, ps in self._ex.state._liquidating if s == symbol))
        return LiquidationFacts(symbol, self._ex.profile.liquidation_trigger, len(m.liq), below, above, busy)

    def market(self, symbol: str) -> MarketView:
        """The market's view; O(its positions) for the open interest."""
        m = self._market(symbol)
        oi = 0
        for p in m.positions.values():
            if p.lots > 0:
                oi += p.lots
        return MarketView(symbol, m.spec, m.asset, m.inverse, self.prices(symbol), self.funding(symbol), oi,
                          len(m.positions), len(m.isolated), self._ex.ledger.insurance(m.asset),
                          self.liquidation(symbol))

    def markets(self) -> tuple[MarketView, ...]:
        """Every market, in listing order (see `market`)."""
        return tuple(self.market(s) for s in self._m)

    # ------------------------------------------------------------ book

    def book(self, symbol: str, depth: int = 20) -> BookView:
        """The top `depth` levels of each side (depth ≥ 0)."""
        if depth < 0:
            raise ValueError(f"depth must be >= 0, got {depth}")
        b = self._market(symbol).book
        return BookView(symbol, tuple(Level(*lv) for lv in b.depth(Side.BUY, depth)),
                        tuple(Level(*lv) for lv in b.depth(Side.SELL, depth)), b.order_count, b.trades, b.volume,
                        b.last_ts)

    # ------------------------------------------------------------ positions

    def _position(self, m, account: int, pside: int, p) -> PositionView:
        ex, symbol, marked = self._ex, m.symbol, m.mark is not None
        iso = account in m.isolated
        lp = ex.liquidation_price(account, symbol, pside)
        bp = ex.bankruptcy_price(account, symbol, pside)
        return PositionView(
            symbol, account, pside, p.lots, m.entry(p), m.mark, m.upnl(p) if marked else 0, iso,
            ex.isolated_margin(account, symbol, pside) if iso else 0, ex.state._lev(account, m),
            None if lp is None else lp.ticks, None if lp is None else lp.tick,
            None if bp is None else bp.ticks, None if bp is None else bp.tick,
            ex.state._mm(m, p) if marked else 0, ex.adl_quantile(account, symbol, pside),
            ex.funding_estimate(account, symbol, pside))

    def predicted_funding_rate(self, symbol: str) -> int:
        """The funding rate the next settlement would apply as things stand (scaled 1e8)."""
        self._market(symbol)
        return self._ex.predicted_funding_rate(symbol)

    def position(self, account: int, symbol: str, pside: int = BOTH) -> PositionView | None:
        """One position, None if the account holds none on that side."""
        m = self._market(symbol)
        p = m.positions.get(position_key(account, pside))
        return None if p is None else self._position(m, account, pside, p)

    def positions(self, account: int, symbol: str | None = None) -> tuple[PositionView, ...]:
        """The account's positions, in market order then position side."""
        ms = (self._market(symbol),) if symbol is not None else self._m.values()
        return tuple(self._position(m, account, ps, p) for m in ms for ps, p in m.leg_list(account))

    def all_positions(self, symbol: str) -> Iterator[Holding]:
        """Every position of the market (the insurance fund's, account 0, included), in no set
        order; one dict walk and one index lookup per position, no margin computed."""
        m = self._market(symbol)
        isolated, get = m.isolated, m.liq.get
        for key, p in m.positions.items():
            account, pside = position_of(key)
            iso = account in isolated
            entry = get(key if iso else key - pside)
            yield Holding(account, pside, p.lots, iso, None if entry is None else entry[1])

    # ------------------------------------------------------------ orders

    def _open(self, m, oid: int, o) -> OpenOrder:
        b = m.book.order(oid)
        return OpenOrder(oid, m.symbol, o.account, o.side, o.price, o.leaves, o.reduce_only, o.pside,
                         0 if b is None else b.tif, 0 if b is None else b.expire_ts)

    def open_order(self, symbol: str, order_id: int) -> OpenOrder | None:
        """The order resting in the book by id (lots, ticks), None when it is not open."""
        m = self._market(symbol)
        o = m.orders.get(order_id)
        return None if o is None else self._open(m, order_id, o)

    def open_orders(self, account: int | None, symbol: str | None = None) -> tuple[OpenOrder, ...]:
        """The account's resting orders (None: every account's), in market order then by id;
        O(orders in those books)."""
        ms = (self._market(symbol),) if symbol is not None else self._m.values()
        return tuple(self._open(m, oid, o) for m in ms for oid, o in sorted(m.orders.items())
                     if account is None or o.account == account)

    def conditional_order(self, symbol: str, conditional_id: int) -> ConditionalView | None:
        """The resting conditional order by id, None when it is not resting."""
        c = self._market(symbol).conditionals.get(conditional_id)
        return None if c is None else ConditionalView(conditional_id, c)

    def conditional_orders(self, account: int | None, symbol: str | None = None) -> tuple[ConditionalView, ...]:
        """The account's resting conditional orders (None: every account's), in market order then
        by id."""
        ms = (self._market(symbol),) if symbol is not None else self._m.values()
        return tuple(ConditionalView(cid, m.conditionals[cid]) for m in ms
                     for cid in sorted(m.conditionals if account is None else m.conditionals_of.get(account, ())))

    def order_list(self, symbol: str, list_id: int) -> OrderListView | None:
        """The live order list by id (its terms, legs and state), None when it has ended."""
        g = self._market(symbol).lists.get(list_id)
        return None if g is None else OrderListView(list_id, g.cmd, g.entry, g.legs[0], g.legs[1], g.armed, g.closed)

    def order_lists(self, account: int | None, symbol: str | None = None) -> tuple[OrderListView, ...]:
        """The account's working order lists (None: every account's), in market order then by id."""
        ms = (self._market(symbol),) if symbol is not None else self._m.values()
        return tuple(self.order_list(m.symbol, gid) for m in ms
                     for gid in sorted(m.lists if account is None else m.lists_of.get(account, ())))

    # ------------------------------------------------------------ funding, insurance

    def funding_history(self, symbol: str | None = None) -> tuple:
        """((ts, FundingSettled), ...) of every settlement so far, oldest first."""
        if symbol is not None:
            self._market(symbol)
        return tuple(h for h in self._ex.funding_history if symbol is None or h[1].symbol == symbol)

    def insurance_history(self) -> tuple:
        """((ts, InsuranceFundChanged), ...) of every change of an insurance fund, oldest first."""
        return tuple(self._ex.insurance_history)

    def flows(self, asset: str) -> AssetFlows:
        """The ledger's totals of an asset (integer money units)."""
        ledger = self._ex.ledger
        return AssetFlows(asset, ledger.deposited.get(asset, 0), ledger.withdrawn.get(asset, 0),
                          ledger.insurance(asset), ledger.balance(FEES, asset), ledger.balance(DUST, asset))

    # ------------------------------------------------------------ liquidation

    def liquidation_trigger(self, account: int, symbol: str, pside: int = BOTH) -> tuple[int, int] | None:
        """(direction, trigger) the liquidation index holds for a position: +1 for a long-like
        entry (liquidated at or below the trigger), −1 short-like; an isolated position's own
        entry, a cross account's one for all its legs in the market (pside ignored); None if
        not indexed. O(1): the liquidation map's read of one changed position."""
        m = self._market(symbol)
        return m.liq.get(position_key(account, pside) if account in m.isolated else position_key(account))

    def liquidation_buckets(self, symbol: str, edges_ppm: list[int]) -> list[int]:
        """For each edge (ppm of the mark, ≥ 0): how many index entries an adverse move of that
        size would cross (cumulative; see LiquidationIndex.buckets). [] before a mark."""
        m = self._market(symbol)
        return [] if m.mark is None else m.liq.buckets(m.mark, edges_ppm)

    def liquidation_entries(self, symbol: str) -> list[LiquidationEntry]:
        """Every entry of the market's liquidation index, by account then side; O(n log n)."""
        out = []
        for key, direction, trigger in self._market(symbol).liq.entries():
            account, side = position_of(key)
            out.append(LiquidationEntry(account, side, direction, trigger))
        return out

    def liquidation_probe(self, symbol: str):
        """The market's liquidation index query `triggered(price) -> [position key]` (reads
        only): what the engine's sweep asks at each mark, for benchmarks of that kernel."""
        return self._market(symbol).liq.triggered
