"""Reduce-only orders, conditional orders and order lists under random commands.

Accounts 1 and 2 trade freely (limit and market orders, conditional orders, OCO / OTO /
brackets); account 3 starts long and account 4 short, and afterwards send only closing orders
(reduce-only limit and market orders, reduce-only and close-position conditional orders,
reduce-only OCO lists); account 5 places only buy brackets. Prices move by the index and by
trades; time moves so that GTD orders and lists expire.

After every step, through every intermediate position of the step: account 3 is never short
and never longer than it started, account 4 the mirror image, account 5 never short (its exits
are reduce-only). And: check_integrity (conservation, pools, order and list indexes), the
plain-Python twin (the exchange's source run as Python, on the reference book) gives the same
events and state hash, no resting reduce-only order could open or flip a position, and the
closing exits an entry armed sit against a position on the right side and no larger than it.
"""

from __future__ import annotations

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from perpsim.engine import commands as C
from perpsim.engine.events import ListEvent, PositionChanged
from perpsim.engine.exchange import Exchange, _exit_side
from perpsim.engine.twin import pure_exchange
from perpsim.model.enums import ConditionalKind, LegType, ListKind, OrderKind, Side, TimeInForce, TriggerSource
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import btcusdt_brackets

from .twin_kit import apply_both, checked_twins

U = 10**8
PURE = pure_exchange()
SYMBOL = "BTCUSDT"
SEC = 10**9
FREE = st.sampled_from([1, 2])
SIDES = st.sampled_from(list(Side))
LOTS = st.sampled_from([10, 50, 100, 300])
SOURCES = st.sampled_from(list(TriggerSource))
OFFSET = st.integers(min_value=1, max_value=3_000)  # ticks of 0.1 away from the index
TP_LEGS = st.sampled_from([LegType.LIMIT, LegType.TAKE_PROFIT_MARKET, LegType.TAKE_PROFIT_LIMIT])
SL_LEGS = st.sampled_from([LegType.STOP_MARKET, LegType.STOP_LIMIT, LegType.TRAILING_STOP_MARKET])
START = 100  # lots: accounts 3 and 4 start with 0.1 BTC, less than some of their exits


class OrderListMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        # the compiled exchange on the Cython book against the plain-Python exchange on the reference book
        self.a, self.b = (ex({SYMBOL: default_markets()[SYMBOL]}, {SYMBOL: btcusdt_brackets(U)},
                             book_impl=impl, start_ts=1)
                          for ex, impl in ((Exchange, "cython"), (PURE.Exchange, "ref")))
        self.ts, self.price = 1, 200_000
        self.send(C.SetIndexPrice(self.ts, SYMBOL, self.price))
        for account in range(1, 6):
            self.send(C.Deposit(self.ts, account, "USDT", 50_000 * U))
        for closer, side in ((3, Side.BUY), (4, Side.SELL)):
            self.send(C.PlaceOrder(self.ts, 1, SYMBOL, 1 - side, START, self.price))
            self.send(C.PlaceOrder(self.ts, closer, SYMBOL, side, START, self.price))

    def send(self, cmd) -> list:
        ea = apply_both(self.a, self.b, cmd)
        for e in ea:
            if isinstance(e, PositionChanged):
                bounds = {3: (0, START), 4: (-START, 0), 5: (0, None)}.get(e.account)
                if bounds is not None:
                    low, high = bounds
                    assert low <= e.lots and (high is None or e.lots <= high), \
                        f"account {e.account} reached {e.lots} through closing orders only"
            elif isinstance(e, ListEvent):
                event(f"list {e.status} {e.cause}")
        return ea

    def closing_side(self, account: int) -> int:
        return Side.BUY if account == 4 else Side.SELL

    def away(self, side: int, offset: int, favourable: bool) -> int:
        """A price `offset` ticks from the index: above it for a sell when favourable, etc."""
        up = (side == Side.SELL) == favourable
        return max(1_000, self.price + offset if up else self.price - offset)

    # ------------------------------------------------------------ free traders

    @rule(account=FREE, side=SIDES, lots=LOTS, offset=st.integers(min_value=-200, max_value=500),
          market=st.booleans(), reduce_only=st.booleans())
    def order(self, account, side, lots, offset, market, reduce_only) -> None:
        price = self.price - offset if side == Side.BUY else self.price + offset
        kind, tif = (OrderKind.MARKET, TimeInForce.IOC) if market else (OrderKind.LIMIT, TimeInForce.GTC)
        self.send(C.PlaceOrder(self.ts, account, SYMBOL, side, lots, 0 if market else price, kind=kind, tif=tif,
                               reduce_only=reduce_only))

    @rule(account=FREE, side=SIDES, lots=LOTS, kind=st.sampled_from(list(ConditionalKind)), offset=OFFSET,
          source=SOURCES, reduce_only=st.booleans(), gtd=st.booleans())
    def conditional(self, account, side, lots, kind, offset, source, reduce_only, gtd) -> None:
        take_profit = kind in (ConditionalKind.TAKE_PROFIT_MARKET, ConditionalKind.TAKE_PROFIT_LIMIT)
        trigger = self.away(side, offset, take_profit)
        limit = trigger if kind in (ConditionalKind.STOP_LIMIT, ConditionalKind.TAKE_PROFIT_LIMIT) else 0
        self.send(C.PlaceConditional(self.ts, account, SYMBOL, side, lots, kind, trigger, limit, source, reduce_only,
                                     callback_rate=1_000_000, tif=TimeInForce.GTD if gtd else TimeInForce.GTC,
                                     expire_ts=self.ts + 30 * SEC if gtd else 0))

    @rule(account=FREE, kind=st.sampled_from(list(ListKind)), side=SIDES, lots=LOTS,
          entry=st.integers(min_value=-1, max_value=300), tp=TP_LEGS, tp_offset=OFFSET, sl=SL_LEGS, sl_offset=OFFSET,
          source=SOURCES, reduce_only=st.booleans(), gtd=st.booleans(), one_leg=st.booleans())
    def order_list(self, account, kind, side, lots, entry, tp, tp_offset, sl, sl_offset, source, reduce_only, gtd,
                   one_leg) -> None:
        self.place_list(account, kind, side, lots, entry, tp, tp_offset, sl, sl_offset, source, reduce_only, gtd,
                        one_leg)

    def place_list(self, account, kind, side, lots, entry, tp, tp_offset, sl, sl_offset, source, reduce_only, gtd,
                   one_leg=False) -> list:
        """entry: ticks below (buy) / above (sell) the index, -1 = a market entry."""
        entry_price = 0 if kind == ListKind.OCO or entry < 0 else (
            self.price - entry if side == Side.BUY else self.price + entry)
        exit_side = side if kind == ListKind.OCO else 1 - side
        ref = entry_price or self.price
        tp_level = ref + tp_offset if exit_side == Side.SELL else max(1_000, ref - tp_offset)
        sl_level = max(1_000, ref - sl_offset) if exit_side == Side.SELL else ref + sl_offset
        if kind == ListKind.OTO:  # one leg, either one
            tp, sl = (tp, LegType.NONE) if one_leg else (LegType.NONE, sl)
        legs = {"tp_type": tp, "sl_type": sl}
        if tp == LegType.LIMIT:
            legs |= {"tp_price": tp_level}
        elif tp != LegType.NONE:
            legs |= {"tp_trigger": tp_level, "tp_price": tp_level if tp == LegType.TAKE_PROFIT_LIMIT else 0}
        if sl == LegType.TRAILING_STOP_MARKET:  # 1 %; an odd offset: an activation price beyond ref
            activation = ref + sl_offset if exit_side == Side.SELL else max(1_000, ref - sl_offset)
            legs |= {"sl_trigger": activation if sl_offset % 2 else 0, "sl_callback_rate": 1_000_000}
        elif sl != LegType.NONE:
            legs |= {"sl_trigger": sl_level, "sl_price": sl_level if sl == LegType.STOP_LIMIT else 0}
        return self.send(C.PlaceOrderList(self.ts, account, SYMBOL, kind, side, lots, entry_price, **legs,
                                          source=source, reduce_only=reduce_only,
                                          expire_ts=self.ts + 30 * SEC if gtd else 0))

    # ------------------------------------------------------------ closing-only accounts

    @rule(account=st.sampled_from([3, 4]), lots=LOTS, offset=st.integers(min_value=-200, max_value=500),
          market=st.booleans())
    def close_order(self, account, lots, offset, market) -> None:
        side = self.closing_side(account)
        price = self.price - offset if side == Side.BUY else self.price + offset
        kind, tif = (OrderKind.MARKET, TimeInForce.IOC) if market else (OrderKind.LIMIT, TimeInForce.GTC)
        self.send(C.PlaceOrder(self.ts, account, SYMBOL, side, lots, 0 if market else price, kind=kind, tif=tif,
                               reduce_only=True))

    @rule(account=st.sampled_from([3, 4]), lots=LOTS, kind=st.sampled_from(list(ConditionalKind)), offset=OFFSET,
          source=SOURCES, close_position=st.booleans())
    def close_conditional(self, account, lots, kind, offset, source, close_position) -> None:
        side = self.closing_side(account)
        market = kind in (ConditionalKind.STOP_MARKET, ConditionalKind.TAKE_PROFIT_MARKET,
                          ConditionalKind.TRAILING_STOP_MARKET)
        close_position = close_position and market
        take_profit = kind in (ConditionalKind.TAKE_PROFIT_MARKET, ConditionalKind.TAKE_PROFIT_LIMIT)
        trigger = self.away(side, offset, take_profit)
        self.send(C.PlaceConditional(self.ts, account, SYMBOL, side, 0 if close_position else lots, kind, trigger,
                                     0 if market else trigger, source, not close_position, close_position,
                                     callback_rate=500_000))

    @rule(account=st.sampled_from([3, 4]), lots=LOTS, tp=TP_LEGS, tp_offset=OFFSET, sl=SL_LEGS, sl_offset=OFFSET,
          source=SOURCES)
    def close_oco(self, account, lots, tp, tp_offset, sl, sl_offset, source) -> None:
        self.place_list(account, ListKind.OCO, self.closing_side(account), lots, 0, tp, tp_offset, sl, sl_offset,
                        source, True, False)

    # ------------------------------------------------------------ bracket trader

    @rule(lots=LOTS, entry=st.integers(min_value=-1, max_value=300), tp=TP_LEGS, tp_offset=OFFSET, sl=SL_LEGS,
          sl_offset=OFFSET, source=SOURCES, gtd=st.booleans())
    def bracket(self, lots, entry, tp, tp_offset, sl, sl_offset, source, gtd) -> None:
        self.place_list(5, ListKind.BRACKET, Side.BUY, lots, entry, tp, tp_offset, sl, sl_offset, source, False, gtd)

    # ------------------------------------------------------------ everyone

    @rule(account=st.integers(min_value=1, max_value=5), pick=st.integers(min_value=0, max_value=50))
    def cancel_list(self, account, pick) -> None:
        ids = sorted(self.a.markets[SYMBOL].lists_of.get(account, ()))
        if ids:
            self.send(C.CancelOrderList(self.ts, account, SYMBOL, ids[pick % len(ids)]))

    @rule(account=st.integers(min_value=1, max_value=5), pick=st.integers(min_value=0, max_value=50))
    def cancel_order(self, account, pick) -> None:
        m = self.a.markets[SYMBOL]
        ids = sorted(oid for oid, o in m.orders.items() if o.account == account)
        if ids:
            self.send(C.CancelOrder(self.ts, account, SYMBOL, ids[pick % len(ids)]))

    @rule(maker=FREE, side=SIDES, lots=LOTS, through=st.integers(min_value=-300, max_value=300))
    def trade(self, maker, side, lots, through) -> None:
        """Liquidity at a price near the index, then a market order from the other free trader."""
        price = self.price + through
        self.send(C.PlaceOrder(self.ts, maker, SYMBOL, 1 - side, lots, price))
        self.send(C.PlaceOrder(self.ts, 3 - maker, SYMBOL, side, lots, 0, kind=OrderKind.MARKET, tif=TimeInForce.IOC))

    @rule(move=st.integers(min_value=-3_000, max_value=3_000), dt=st.sampled_from([0, SEC, 20 * SEC]))
    def index(self, move, dt) -> None:
        self.ts += dt
        self.price = min(240_000, max(160_000, self.price + move))
        self.send(C.SetIndexPrice(self.ts, SYMBOL, self.price))

    @invariant()
    def sound(self) -> None:
        ex = checked_twins(self)
        if ex is None:
            return
        m = ex.markets[SYMBOL]
        for account in range(1, 6):
            lots = ex.position(account, SYMBOL).lots
            closing = Side.SELL if lots > 0 else Side.BUY
            ro = [o for o in m.orders.values() if o.account == account and o.reduce_only]
            assert all(lots and o.side == closing for o in ro), "a reduce-only order could open a position"
            assert sum(o.leaves for o in ro) <= abs(lots), "reduce-only orders exceed the position"
            for gid in m.lists_of.get(account, ()):
                g = m.lists[gid]
                # an entry's fills armed closing exits (an OCO may rest before its position opens)
                if g.cmd.kind != ListKind.OCO and g.armed > g.closed and (
                        g.cmd.reduce_only or g.cmd.kind == ListKind.BRACKET):
                    assert lots and _exit_side(g.cmd) == closing, f"list {gid} exits no position"
                    assert all(m.conditionals[lid].qty <= abs(lots) for lid in g.legs if lid in m.conditionals)


OrderListMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestOrderListMachine = OrderListMachine.TestCase


class LongOrderListMachine(OrderListMachine):
    pass


LongOrderListMachine.TestCase.settings = settings(max_examples=1_000, stateful_step_count=80, deadline=None)
TestLongOrderListMachine = pytest.mark.slow(LongOrderListMachine.TestCase)
