"""The exchange: the venue's deterministic state machine.

`Exchange.apply(command) -> list[event]` is the only thing that changes state. It reads no
clock, draws no random number and does no I/O: time comes in on each command (ns).

Pipeline for an order: validate -> pre-trade risk (band, min notional, reduce-only, cost to
open) -> match in the market's book -> settle fills (positions, realized PnL, fees) -> mark.
A mark change runs: liquidation sweep through the liquidation index -> forced IOC order at the
bankruptcy price -> the insurance fund takes what the book could not -> ADL if the fund cannot
-> the fund offloads what it holds. Funding settles when a command reaches a funding time.

Scope of this version: linear markets, one-way positions, cross margin.

Money flows are ledger movements between named holders, so conservation holds by
construction: wallets, the insurance fund (which is also account 0 when it holds positions),
fees, rounding dust, and per market a "pnl" pool whose balance is always -K × Σ cost of the
market's positions (realized PnL is paid out of it; see `check_integrity`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from fractions import Fraction

from perpsim.engine import commands as C
from perpsim.engine.book_types import BookLimits, make_book
from perpsim.engine.events import (
    AutoDeleveraged,
    BalanceChanged,
    CommandRejected,
    FundingSettled,
    InsuranceFundChanged,
    Liquidation,
    MarkPriceChanged,
    OrderEvent,
    PositionChanged,
)
from perpsim.model.enums import EventKind, OrderKind, Side, StpMode, TimeInForce
from perpsim.model.markets import MarketKind, MarketSpec
from perpsim.model.reasons import RejectReason as R
from perpsim.risk import margin as M
from perpsim.risk.brackets import Brackets
from perpsim.risk.funding import (
    FUNDING_INTERVAL_NS,
    PREMIUM_SAMPLE_NS,
    FundingAccumulator,
    funding_payments,
    funding_rate,
    impact_notional,
    impact_price,
    next_funding_ts,
    premium_index,
)
from perpsim.risk.index import IndexPrice
from perpsim.risk.ledger import DUST, FEES, INSURANCE, OUTSIDE, Ledger
from perpsim.risk.liqindex import LiquidationIndex
from perpsim.risk.liqprice import Leg, bankruptcy_price, liquidation_price
from perpsim.risk.mark import MarkPrice
from perpsim.risk.positions import Position
from perpsim.risk.units import RATE_SCALE, apply_rate_down, apply_rate_up, div_up, rate

#: The insurance fund acts as account 0 when it takes over positions; its wallet is INSURANCE.
IF_ACCOUNT = 0
DEFAULT_LEVERAGE = 20
_NEVER_STALE = 1 << 62
#: Book levels read for an impact price; deeper than any impact notional needs in practice.
_IMPACT_LEVELS = 1_000


@dataclass
class _Open:
    """An order resting in a book, as the risk layer sees it."""

    account: int
    side: int
    price: int
    leaves: int
    reduce_only: bool


@dataclass
class _Market:
    spec: MarketSpec
    book: object
    K: int
    tick: Fraction
    brackets: Brackets
    index: IndexPrice
    mark_state: MarkPrice
    funding: FundingAccumulator
    liq: LiquidationIndex = field(default_factory=LiquidationIndex)
    positions: dict[int, Position] = field(default_factory=dict)
    orders: dict[int, _Open] = field(default_factory=dict)
    mark: int | None = None
    last: int | None = None
    rate: int = 0
    next_funding: int = 0

    @property
    def pnl_pool(self) -> tuple[str, int]:
        return ("pnl:" + self.spec.symbol, 0)


class Exchange:
    """The venue's state: markets, accounts' positions and orders, the ledger."""

    def __init__(self, markets: dict[str, MarketSpec], brackets: dict[str, Brackets], *,
                 book_impl: str = "cython", start_ts: int = 0) -> None:
        self.markets: dict[str, _Market] = {}
        for symbol in sorted(markets):
            spec = markets[symbol]
            if spec.kind is not MarketKind.LINEAR:
                raise ValueError(f"{symbol}: only linear markets are supported by this version")
            self.markets[symbol] = _Market(
                spec=spec,
                book=make_book(book_impl, BookLimits(*spec.book_limits())),
                K=spec.notional_per_tick_lot,
                tick=Fraction(spec.tick_size),
                brackets=brackets[symbol],
                # a price set by the sandbox holds until it is changed: it never goes stale
                index=IndexPrice({"sandbox": 1}, stale_after_ns=_NEVER_STALE),
                mark_state=MarkPrice(start_ts=start_ts),
                funding=FundingAccumulator(start_ts=start_ts),
                next_funding=next_funding_ts(start_ts, FUNDING_INTERVAL_NS),
            )
        self.ledger = Ledger()
        self.leverage: dict[tuple[int, str], int] = {}
        self.ts = start_ts
        self.next_order_id = 1
        self._events: list = []

    # ================================================================== commands

    def apply(self, cmd: C.Command) -> list:
        """Apply one command; returns its events. A rejected command changes nothing except
        the clock (time-driven work due at its timestamp still happens)."""
        self._events = []
        if cmd.ts < self.ts:
            return [CommandRejected(type(cmd).__name__, getattr(cmd, "account", 0), R.STALE_TIMESTAMP,
                                    (("ts", cmd.ts), ("last_ts", self.ts)))]
        self._advance(cmd.ts)
        handler = getattr(self, "_" + type(cmd).__name__)
        handler(cmd)
        return self._events

    def _reject(self, cmd, reason: R, **fields) -> None:
        self._events.append(CommandRejected(type(cmd).__name__, getattr(cmd, "account", 0), int(reason),
                                            tuple(fields.items())))

    def _market(self, cmd) -> _Market | None:
        """The command's market, or None after rejecting the command with UNKNOWN_SYMBOL."""
        m = self.markets.get(cmd.symbol)
        if m is None:
            self._reject(cmd, R.UNKNOWN_SYMBOL, symbol=cmd.symbol)
        return m

    def _Deposit(self, cmd: C.Deposit) -> None:
        if cmd.amount <= 0 or cmd.account <= 0:
            return self._reject(cmd, R.INVALID_QUANTITY, amount=cmd.amount)
        self._move(cmd.asset, OUTSIDE, cmd.account, cmd.amount, "deposit")
        self._rekey_account(cmd.account)

    def _Withdraw(self, cmd: C.Withdraw) -> None:
        if cmd.amount <= 0 or cmd.account <= 0:
            return self._reject(cmd, R.INVALID_QUANTITY, amount=cmd.amount)
        free = self.withdrawable(cmd.account, cmd.asset)
        if cmd.amount > free:
            return self._reject(cmd, R.BALANCE_INSUFFICIENT, required=cmd.amount, available=free)
        self._move(cmd.asset, cmd.account, OUTSIDE, cmd.amount, "withdraw")
        self._rekey_account(cmd.account)

    def _FundInsurance(self, cmd: C.FundInsurance) -> None:
        if cmd.amount <= 0:
            return self._reject(cmd, R.INVALID_QUANTITY, amount=cmd.amount)
        self._move(cmd.asset, OUTSIDE, INSURANCE, cmd.amount, "insurance_deposit")

    def _SetLeverage(self, cmd: C.SetLeverage) -> None:
        if (m := self._market(cmd)) is None:
            return None
        pos = m.positions.get(cmd.account)
        notional = abs(pos.lots) * (m.mark or 0) * m.K if pos else 0
        allowed = m.brackets.max_leverage_for(notional)
        if not 1 <= cmd.leverage <= allowed:
            return self._reject(cmd, R.INVALID_LEVERAGE, leverage=cmd.leverage, max_leverage=allowed)
        old = self.leverage.get((cmd.account, cmd.symbol), DEFAULT_LEVERAGE)
        self.leverage[(cmd.account, cmd.symbol)] = cmd.leverage
        if cmd.leverage < old and self.available(cmd.account, m.spec.settle) < 0:
            self.leverage[(cmd.account, cmd.symbol)] = old
            return self._reject(cmd, R.MARGIN_INSUFFICIENT, leverage=cmd.leverage)

    def _SetIndexPrice(self, cmd: C.SetIndexPrice) -> None:
        if (m := self._market(cmd)) is None:
            return None
        lo, hi, _, _ = m.spec.book_limits()
        if not lo <= cmd.price <= hi:
            return self._reject(cmd, R.PRICE_TOO_HIGH if cmd.price > hi else R.PRICE_TOO_LOW, price=cmd.price)
        if cmd.source != "sandbox":  # the only index constituent this version configures
            return self._reject(cmd, R.UNKNOWN_SYMBOL, source=cmd.source)
        m.index.update(cmd.source, cmd.price, cmd.ts)
        self._remark(m)

    def _AdvanceClock(self, cmd: C.AdvanceClock) -> None:
        for m in self.markets.values():
            m.book.advance(cmd.ts)
            self._book_events(m, None)

    def _CancelOrder(self, cmd: C.CancelOrder) -> None:
        if (m := self._market(cmd)) is None:
            return None
        o = m.orders.get(cmd.order_id)
        if o is None or o.account != cmd.account:  # never reveal another account's order
            return self._reject(cmd, R.UNKNOWN_ORDER, order_id=cmd.order_id)
        m.book.cancel(cmd.order_id, self.ts)
        self._book_events(m, None)

    def _CancelAll(self, cmd: C.CancelAll) -> None:
        if (m := self._market(cmd)) is None:
            return None
        m.book.cancel_all(cmd.account, self.ts)
        self._book_events(m, None)

    def _PlaceOrder(self, cmd: C.PlaceOrder) -> None:
        if (m := self._market(cmd)) is None:
            return None
        if cmd.account <= 0:
            return self._reject(cmd, R.UNKNOWN_ACCOUNT, account=cmd.account)
        if cmd.side not in (Side.BUY, Side.SELL):
            return self._reject(cmd, R.INVALID_SIDE, side=cmd.side)
        spec, sign = m.spec, 1 if cmd.side == Side.BUY else -1
        price = cmd.price
        if cmd.kind == OrderKind.MARKET:
            if m.mark is None:
                return self._reject(cmd, R.INVALID_PRICE, problem="no mark price yet for a market order")
            price = self._protection(m, cmd.side)
        elif m.mark is not None and cmd.kind == OrderKind.LIMIT and price > 0:
            up, down = self._band(m)
            if cmd.side == Side.BUY and price > up:
                return self._reject(cmd, R.PRICE_ABOVE_BAND, price=price, max_price=up)
            if cmd.side == Side.SELL and price < down:
                return self._reject(cmd, R.PRICE_BELOW_BAND, price=price, min_price=down)
        pos = m.positions.get(cmd.account, Position())
        qty = cmd.qty
        if cmd.reduce_only:
            closable = abs(pos.closing_qty(sign * qty))
            if closable == 0:
                return self._reject(cmd, R.REDUCE_ONLY_REJECTED, position=pos.lots)
            qty = closable  # never increases or flips the position
        else:
            ref_price = m.mark if cmd.kind == OrderKind.MARKET else price
            min_units = spec.money_to_units(spec.min_notional)
            if ref_price > 0 and qty > 0 and ref_price * qty * m.K < min_units:
                return self._reject(cmd, R.MIN_NOTIONAL, notional=ref_price * qty * m.K, min_notional=min_units)
            if m.book.open_orders(cmd.account) >= spec.max_open_orders:
                return self._reject(cmd, R.MAX_OPEN_ORDERS, limit=spec.max_open_orders)
            opening = qty - abs(pos.closing_qty(sign * qty))
            if opening > 0 and price > 0 and m.mark is not None:
                lev = self.leverage.get((cmd.account, cmd.symbol), DEFAULT_LEVERAGE)
                cost = M.cost_to_open(Side(cmd.side), opening, price, m.mark, lev, m.K).total
                avail = self.available(cmd.account, spec.settle)
                if cost > avail:
                    return self._reject(cmd, R.MARGIN_INSUFFICIENT, required=cost, available=avail)
        oid = self.next_order_id
        reason = m.book.place(oid, cmd.account, cmd.side, cmd.kind, price, qty, cmd.tif, cmd.stp,
                              cmd.expire_ts, self.ts)
        if reason == 0:
            self.next_order_id += 1
        self._book_events(m, cmd.reduce_only)
        self._after_trades(m)

    # ================================================================== queries

    def position(self, account: int, symbol: str) -> Position:
        return self.markets[symbol].positions.get(account, Position())

    def wallet(self, account: int, asset: str) -> int:
        return self.ledger.insurance(asset) if account == IF_ACCOUNT else self.ledger.wallet(account, asset)

    def _positions(self, account: int, asset: str):
        for m in self.markets.values():
            if m.spec.settle == asset and account in m.positions:
                yield m, m.positions[account]

    def upnl(self, account: int, asset: str, skip: str | None = None) -> int:
        """Unrealized PnL (money units) of the account's positions settled in `asset`, at mark."""
        return sum(M.upnl(p.lots, p.cost, m.mark, m.K) for m, p in self._positions(account, asset)
                   if m.mark is not None and m.spec.symbol != skip)

    def maintenance(self, account: int, asset: str, skip: str | None = None, exact: bool = False):
        """Maintenance margin at mark (rounded up; exact Fraction if `exact`)."""
        f = M.maintenance_margin_exact if exact else M.maintenance_margin
        return sum(f(M.notional(p.lots, m.mark, m.K), m.brackets) for m, p in self._positions(account, asset)
                   if m.mark is not None and m.spec.symbol != skip)

    def initial_margin(self, account: int, asset: str) -> int:
        """Initial margin of positions (at mark) and of open non-reduce-only orders (at their price)."""
        total = 0
        for m in self.markets.values():
            if m.spec.settle != asset:
                continue
            lev = self.leverage.get((account, m.spec.symbol), DEFAULT_LEVERAGE)
            p = m.positions.get(account)
            if p and m.mark is not None:
                total += M.initial_margin(M.notional(p.lots, m.mark, m.K), lev)
            for o in m.orders.values():
                if o.account == account and not o.reduce_only:
                    total += M.initial_margin(o.leaves * o.price * m.K, lev)
        return total

    def margin_balance(self, account: int, asset: str) -> int:
        return self.wallet(account, asset) + self.upnl(account, asset)

    def available(self, account: int, asset: str) -> int:
        """Margin balance minus initial margin in use (money units; may be negative)."""
        return self.margin_balance(account, asset) - self.initial_margin(account, asset)

    def withdrawable(self, account: int, asset: str) -> int:
        """What may leave: the wallet minus margin in use, never counting unrealized profit."""
        wallet = self.wallet(account, asset)
        return max(0, min(wallet, wallet + min(0, self.upnl(account, asset)) - self.initial_margin(account, asset)))

    def liquidation_price(self, account: int, symbol: str):
        """Exact liquidation price (LiqPrice) of the account's position in `symbol`, or None."""
        m = self.markets[symbol]
        p = m.positions.get(account)
        if not p or m.mark is None:
            return None
        asset = m.spec.settle
        return liquidation_price([Leg(p.lots, p.cost)], self.wallet(account, asset), K=m.K, tick_size=m.tick,
                                 brackets=m.brackets, other_mm=self.maintenance(account, asset, skip=symbol),
                                 other_upnl=self.upnl(account, asset, skip=symbol))

    def state_hash(self) -> str:
        """One hash over every market's book, positions, prices and the whole ledger."""
        h = hashlib.blake2b(digest_size=16)
        h.update(f"{self.ts}:{self.next_order_id};".encode())
        for symbol, m in self.markets.items():
            h.update(f"{symbol}:{m.book.state_hash()}:{m.mark}:{m.last}:{m.rate}:{m.next_funding};".encode())
            for acct in sorted(m.positions):
                p = m.positions[acct]
                h.update(f"{acct}:{p.lots}:{p.cost};".encode())
            for oid in sorted(m.orders):
                o = m.orders[oid]
                h.update(f"{oid}:{o.account}:{o.side}:{o.price}:{o.leaves}:{o.reduce_only};".encode())
            h.update(m.liq.state_hash().encode())
        for key in sorted(self.leverage):
            h.update(f"{key}:{self.leverage[key]};".encode())
        self.ledger.digest(h)
        return h.hexdigest()

    def check_integrity(self) -> None:
        """Conservation, the pnl pools, zero net open interest, and the kernels' own checks."""
        self.ledger.check_conservation()
        for m in self.markets.values():
            m.book.check_integrity()
            m.liq.check_integrity()
            net = sum(p.lots for p in m.positions.values())
            pool = self.ledger.balance(m.pnl_pool, m.spec.settle)
            expected = -m.K * sum(p.cost for p in m.positions.values())
            if net != 0 or pool != expected:
                raise AssertionError(f"{m.spec.symbol}: net lots {net}, pnl pool {pool} != {expected}")
            resting = {o.order_id: o.leaves for o in m.book.orders()}
            if resting != {oid: o.leaves for oid, o in m.orders.items()}:
                raise AssertionError(f"{m.spec.symbol}: open-order records disagree with the book")

    # ================================================================== internals: money

    def _holder(self, account: int) -> tuple[str, int]:
        return INSURANCE if account == IF_ACCOUNT else ("wallet", account)

    def _move(self, asset: str, source, dest, amount: int, cause: str) -> None:
        """Move money between accounts (ints) or named holders, with balance events."""
        if amount == 0:
            return
        src = self._holder(source) if isinstance(source, int) else source
        dst = self._holder(dest) if isinstance(dest, int) else dest
        mv = self.ledger.move(asset, src, dst, amount, cause)
        for holder, sign in ((mv.source, -1), (mv.dest, 1)):
            if holder == INSURANCE:
                self._events.append(InsuranceFundChanged(asset, sign * mv.amount, self.ledger.insurance(asset), cause))
            elif holder[0] == "wallet":
                self._events.append(BalanceChanged(holder[1], asset, sign * mv.amount,
                                                   self.ledger.wallet(holder[1], asset), cause))

    def _trade(self, m: _Market, account: int, qty: int, price: int) -> None:
        """Apply a signed fill to an account's position and pay its realized PnL from the pool."""
        p = m.positions.setdefault(account, Position())
        realized = p.apply_fill(qty, price) * m.K
        self._move(m.spec.settle, m.pnl_pool, account, realized, "realized_pnl")
        if p.lots == 0:
            del m.positions[account]
        self._events.append(PositionChanged(m.spec.symbol, account, p.lots, p.cost))

    # ================================================================== internals: orders

    def _book_events(self, m: _Market, reduce_only: bool | None, liquidation: bool = False) -> None:
        """Turn the book's events of the last operation into exchange events and settlements."""
        spec = m.spec
        for e in m.book.events():
            self._events.append(OrderEvent(spec.symbol, e, liquidation))
            if e.kind == EventKind.ACCEPTED and reduce_only is not None:
                m.orders[e.order_id] = _Open(e.account, e.side, e.price, e.qty, reduce_only)
            elif e.kind == EventKind.FILL:
                sign = 1 if e.side == Side.BUY else -1
                self._trade(m, e.account, sign * e.qty, e.price)
                self._trade(m, e.counter_account, -sign * e.qty, e.price)
                notional = e.price * e.qty * m.K
                if not liquidation and e.account != IF_ACCOUNT:
                    self._move(spec.settle, e.account, FEES, apply_rate_up(notional, rate(spec.taker_fee)), "fee")
                maker_rate = rate(spec.maker_fee)
                if e.counter_account != IF_ACCOUNT:
                    fee = (apply_rate_up(notional, maker_rate) if maker_rate >= 0
                           else -apply_rate_down(notional, -maker_rate))
                    self._move(spec.settle, e.counter_account, FEES, fee, "fee")
                m.last = e.price
                self._settle_open(m, e.order_id, e.leaves)
                self._settle_open(m, e.counter_order_id, e.counter_leaves)
            elif e.kind in (EventKind.CANCELED, EventKind.EXPIRED):
                m.orders.pop(e.order_id, None)
        # an order accepted and fully done in the same operation leaves no record behind
        for oid in [oid for oid, o in m.orders.items() if o.leaves == 0]:
            del m.orders[oid]

    def _settle_open(self, m: _Market, order_id: int, leaves: int) -> None:
        o = m.orders.get(order_id)
        if o is not None:
            o.leaves = leaves

    def _band(self, m: _Market) -> tuple[int, int]:
        """PERCENT_PRICE band around mark in ticks: buy limit ≤ up, sell limit ≥ down."""
        up = int(m.mark * Fraction(m.spec.price_band_up))  # floor: stays inside the band
        down = div_up(m.mark * Fraction(m.spec.price_band_down).numerator,
                      Fraction(m.spec.price_band_down).denominator)
        lo, hi, _, _ = m.spec.book_limits()
        return min(up, hi), max(down, lo)

    def _protection(self, m: _Market, side: int) -> int:
        up, down = self._band(m)
        return up if side == Side.BUY else down

    # ================================================================== internals: time and prices

    def _advance(self, ts: int) -> None:
        """Time-driven work due at ts: premium sampling and funding settlement."""
        crossed = ts // PREMIUM_SAMPLE_NS != self.ts // PREMIUM_SAMPLE_NS
        self.ts = ts
        for m in self.markets.values():
            if not crossed:
                continue
            premium = self._premium(m)
            m.mark_state.sample(ts, m.index.value(ts) if m.index.live_sources(ts) else None,
                                m.book.best_bid(), m.book.best_ask())
            for closed in m.funding.sample(ts, premium):
                if closed.avg_premium is not None:
                    m.rate = funding_rate(closed.avg_premium)
                self._settle_funding(m, closed.funding_ts)
            m.next_funding = m.funding.open_interval_end

    def _premium(self, m: _Market) -> int | None:
        if not m.index.live_sources(self.ts):
            return None
        index = m.index.value(self.ts)
        # Binance IMN = 200 USDT / IMR at the highest leverage
        imn = impact_notional(RATE_SCALE // m.brackets[0].max_leverage, 10**m.spec.settle_decimals)
        levels = ([(p, q) for p, q, _ in m.book.depth(s, _IMPACT_LEVELS)] for s in (Side.BUY, Side.SELL))
        bid, ask = (impact_price(lv, imn, m.K) for lv in levels)
        return premium_index(bid, ask, index)

    def _settle_funding(self, m: _Market, funding_ts: int) -> None:
        if m.mark is None or not m.positions:
            return
        pay = funding_payments({a: p.lots for a, p in m.positions.items()}, m.mark, m.rate, m.K)
        pool = ("funding:" + m.spec.symbol, 0)
        for acct, delta in pay.deltas.items():
            if delta < 0:
                self._move(m.spec.settle, acct, pool, -delta, "funding")
        for acct, delta in pay.deltas.items():
            if delta > 0:
                self._move(m.spec.settle, pool, acct, delta, "funding")
        self._move(m.spec.settle, pool, DUST, pay.dust, "funding_dust")
        self._events.append(FundingSettled(m.spec.symbol, m.rate, m.mark, pay.dust))
        for acct in sorted(m.positions):
            self._rekey_account(acct)

    def _remark(self, m: _Market) -> None:
        index = m.index.value(self.ts)
        if index is None:
            return
        mark = m.mark_state.value(self.ts, index, m.last, m.rate, m.next_funding, m.funding.interval_ns)
        if mark is None or mark == m.mark:
            return
        m.mark = mark
        self._events.append(MarkPriceChanged(m.spec.symbol, mark, index))
        # other markets' liquidation prices of multi-market accounts depend on this mark
        for other in self.markets.values():
            if other is not m:
                for acct in [a for a in other.positions if a in m.positions]:
                    self._rekey(other, acct)
        self._sweep(m)
        self._offload(m)

    def _after_trades(self, m: _Market) -> None:
        for acct in sorted({o for o in m.positions} | {e.account for e in self._events
                                                        if isinstance(e, PositionChanged)}):
            self._rekey_account(acct)
        self._remark(m)

    # ================================================================== internals: liquidation

    def _rekey_account(self, account: int) -> None:
        for m in self.markets.values():
            self._rekey(m, account)

    def _rekey(self, m: _Market, account: int) -> None:
        """Index the account's position by the price at which it becomes liquidatable."""
        if account == IF_ACCOUNT or account not in m.positions or m.mark is None:
            m.liq.remove(account)
            return
        lp = self.liquidation_price(account, m.spec.symbol)
        long = m.positions[account].lots > 0
        if lp is None:
            # no positive solution: a long no price can liquidate (not indexed), or a short that
            # is liquidatable at any price (trigger 0: every tick checks it)
            m.liq.upsert(account, 1 if long else -1, None if long else 0)
        else:
            m.liq.upsert(account, 1 if long else -1, lp.tick)

    def _liquidatable(self, account: int, asset: str) -> bool:
        """Binance: margin ratio = MM / margin balance ≥ 100 %; compared with the exact MM so the
        index (which rounds the liquidation price conservatively) never misses an account."""
        return self.margin_balance(account, asset) <= self.maintenance(account, asset, exact=True)

    def _sweep(self, m: _Market) -> None:
        for acct in m.liq.triggered(m.mark):
            if acct in m.positions and self._liquidatable(acct, m.spec.settle):
                self._liquidate(m, acct)

    def _liquidate(self, m: _Market, account: int) -> None:
        asset, p = m.spec.settle, m.positions[account]
        # 1. cancel every open order of the account
        for other in self.markets.values():
            if other.book.open_orders(account):
                other.book.cancel_all(account, self.ts)
                self._book_events(other, None)
        lots = p.lots
        side = Side.SELL if lots > 0 else Side.BUY
        bp = bankruptcy_price([Leg(p.lots, p.cost)], self.wallet(account, asset), K=m.K, tick_size=m.tick,
                              other_upnl=self.upnl(account, asset, skip=m.spec.symbol))
        lo, hi, _, _ = m.spec.book_limits()
        bp_tick = min(max(bp.tick if bp is not None else m.mark, lo), hi)
        # 2. the forced order: LIMIT IOC at the bankruptcy price, no trading fee
        oid = self.next_order_id
        self.next_order_id += 1
        m.book.place(oid, account, side, OrderKind.LIMIT, bp_tick, abs(lots), TimeInForce.IOC, StpMode.NONE, 0,
                     self.ts)
        self._book_events(m, None, liquidation=True)
        filled = abs(lots) - abs(m.positions[account].lots if account in m.positions else 0)
        # 3. the rest: the insurance fund takes it over at the bankruptcy price, or ADL if it cannot
        rest = m.positions[account].lots if account in m.positions else 0
        taken = deleveraged = 0
        if rest and self.ledger.insurance(asset) > 0:
            self._transfer(m, account, IF_ACCOUNT, rest, bp_tick)
            taken = abs(rest)
        elif rest:
            deleveraged = self._adl(m, account, rest, bp_tick)
        # 4. the liquidation fee on the liquidated amount comes out of the collateral that is left
        #    (Binance: part of the remaining collateral goes to the fund); a negative remainder,
        #    left only by rounding to the tick, is covered by the fund
        remaining = self.margin_balance(account, asset)
        fee = apply_rate_up(abs(lots) * bp_tick * m.K, rate(m.spec.liquidation_fee))
        if remaining > 0:
            self._move(asset, account, INSURANCE, min(fee, remaining), "liquidation_fee")
        elif remaining < 0:
            self._move(asset, INSURANCE, account, -remaining, "insurance_cover")
        self._events.append(Liquidation(m.spec.symbol, account, side, abs(lots), bp_tick, filled, taken, deleveraged))
        self._rekey_account(account)

    def _transfer(self, m: _Market, source: int, dest: int, lots: int, price: int) -> None:
        """Move `lots` (signed like the source's position) from source to dest at price, no fee."""
        self._trade(m, source, -lots, price)
        self._trade(m, dest, lots, price)

    def _adl(self, m: _Market, account: int, lots: int, price: int) -> int:
        """Close `lots` of the bankrupt side against the opposite side, highest LeveragePnL first."""
        asset = m.spec.settle
        ranked = []
        for acct, p in m.positions.items():
            if acct in (account, IF_ACCOUNT) or (p.lots > 0) == (lots > 0):
                continue
            wallet, upnl = self.wallet(acct, asset), self.upnl(acct, asset)
            score = M.leverage_pnl(upnl, wallet, self.maintenance(acct, asset), money_scale=10**m.spec.settle_decimals)
            ranked.append((-score, acct))
        done = 0
        for _, acct in sorted(ranked):
            if done == abs(lots):
                break
            q = min(abs(lots) - done, abs(m.positions[acct].lots))
            signed = q if lots > 0 else -q
            if m.book.open_orders(acct):
                m.book.cancel_all(acct, self.ts)
                self._book_events(m, None)
            self._transfer(m, account, acct, signed, price)
            self._events.append(AutoDeleveraged(m.spec.symbol, account, acct, q, price))
            self._rekey_account(acct)
            done += q
        return done

    def _offload(self, m: _Market) -> None:
        """The insurance fund unloads positions it took over into the book, within the band;
        once the mark reaches the fund's own bankruptcy price, the rest is deleveraged there."""
        p = m.positions.get(IF_ACCOUNT)
        if p is None:
            return
        side = Side.SELL if p.lots > 0 else Side.BUY
        # never trade at a loss beyond the fund's balance: limit at its own bankruptcy price,
        # rounded in the fund's favour (the fund never pays for rounding)
        bp = bankruptcy_price([Leg(p.lots, p.cost)], self.ledger.insurance(m.spec.settle), K=m.K, tick_size=m.tick)
        protect = self._protection(m, side)
        limit = protect if bp is None else (max(protect, bp.tick) if side == Side.SELL else min(protect, bp.tick))
        oid = self.next_order_id
        self.next_order_id += 1
        m.book.place(oid, IF_ACCOUNT, side, OrderKind.LIMIT, limit, abs(p.lots), TimeInForce.IOC, StpMode.NONE, 0,
                     self.ts)
        self._book_events(m, None, liquidation=True)
        rest = m.positions.get(IF_ACCOUNT)
        if rest is not None and bp is not None and (m.mark <= bp.tick if rest.lots > 0 else m.mark >= bp.tick):
            self._adl(m, IF_ACCOUNT, rest.lots, bp.tick)
