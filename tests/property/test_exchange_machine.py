"""The exchange under random commands from several accounts.

After every step: conservation and pool identities (check_integrity); no account with a
position is left under maintenance margin once the sweep has run; no negative wallet or
isolated margin; and a second exchange fed the same commands gives the same events and hash.
The second one is the plain-Python twin of the compiled exchange (perpsim.engine.twin), so
the same steps prove the compiled build equal to its source run as Python.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from perpsim.engine import commands as C
from perpsim.engine.exchange import IF_ACCOUNT, Exchange, position_of
from perpsim.engine.twin import is_compiled, pure_exchange
from perpsim.model.enums import OrderKind, PositionSide, Side, TimeInForce
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import Brackets, btcusdt_brackets

from .twin_kit import apply_both, checked_twins

U = 10**8
PURE = pure_exchange()
ACCOUNTS = st.integers(min_value=1, max_value=6)


class ExchangeMachine(RuleBasedStateMachine):
    """Linear BTCUSDT; deposits in USDT (amounts below are whole units of ASSET / SCALE)."""

    SYMBOL, ASSET, SCALE = "BTCUSDT", "USDT", 1
    BRACKETS = btcusdt_brackets(U)

    def make(self, impl=Exchange) -> Exchange:
        return impl({self.SYMBOL: default_markets()[self.SYMBOL]}, {self.SYMBOL: self.BRACKETS},
                    book_impl="cython", start_ts=1)

    def units(self, whole: int) -> int:
        return whole * U // self.SCALE

    @initialize(isolated=st.sets(ACCOUNTS, max_size=3), hedge=st.sets(ACCOUNTS, max_size=2),
                funds=st.lists(st.sampled_from([100, 1_000, 20_000]), min_size=6, max_size=6))
    def setup(self, isolated, hedge, funds) -> None:
        self.a, self.b = self.make(), self.make(PURE.Exchange)
        self.ts, self.price = 1, 200_000  # ticks of 0.1: 20,000 USDT
        self.hedge = hedge
        self.send(C.SetIndexPrice(self.ts, self.SYMBOL, self.price))
        for account in sorted(isolated):
            self.send(C.SetMarginMode(self.ts, account, self.SYMBOL, isolated=True))
        for account in sorted(hedge):
            self.send(C.SetPositionMode(self.ts, account, hedge=True))
        for account, usdt in enumerate(funds, start=1):
            self.send(C.Deposit(self.ts, account, self.ASSET, self.units(usdt)))

    def send(self, cmd) -> list:
        ea = apply_both(self.a, self.b, cmd)
        for e in ea:
            if type(e).__name__ in ("Liquidation", "AutoDeleveraged", "FundingSettled", "PositionChanged",
                                    "DailyLossLimitHit"):
                event(type(e).__name__)
        return ea

    @rule(account=ACCOUNTS, usdt=st.sampled_from([50, 500, 5_000, 100_000]))
    def deposit(self, account, usdt) -> None:
        self.send(C.Deposit(self.ts, account, self.ASSET, self.units(usdt)))

    @rule(account=ACCOUNTS, usdt=st.integers(min_value=-5, max_value=5_000))
    def withdraw(self, account, usdt) -> None:
        self.send(C.Withdraw(self.ts, account, self.ASSET, self.units(usdt)))

    @rule(account=ACCOUNTS, leverage=st.sampled_from([1, 5, 20, 50, 125, 200]))
    def leverage(self, account, leverage) -> None:
        self.send(C.SetLeverage(self.ts, account, self.SYMBOL, leverage))

    @rule(account=ACCOUNTS, side=st.sampled_from(list(Side)), lots=st.sampled_from([1, 10, 100, 500, 2_000]),
          offset=st.integers(min_value=-400, max_value=400), market=st.booleans(), reduce_only=st.booleans(),
          long_side=st.booleans())
    def order(self, account, side, lots, offset, market, reduce_only, long_side) -> None:
        pside = PositionSide.BOTH
        if account in self.hedge:
            pside, reduce_only = (PositionSide.LONG if long_side else PositionSide.SHORT), False
        price = self.price - offset if side == Side.BUY else self.price + offset
        kind, tif = (OrderKind.MARKET, TimeInForce.IOC) if market else (OrderKind.LIMIT, TimeInForce.GTC)
        self.send(C.PlaceOrder(self.ts, account, self.SYMBOL, side, lots, 0 if market else price, kind=kind, tif=tif,
                               reduce_only=reduce_only, position_side=pside))

    @rule(maker=ACCOUNTS, taker=ACCOUNTS, side=st.sampled_from(list(Side)),
          lots=st.sampled_from([10, 100, 500, 1_000]), leverage=st.sampled_from([10, 20, 50, 100]))
    def cross(self, maker, taker, side, lots, leverage) -> None:
        """A maker quote at the index and a taker that lifts it: builds leveraged positions."""
        for account in (maker, taker):
            self.send(C.SetLeverage(self.ts, account, self.SYMBOL, leverage))
        sides = {a: (PositionSide.LONG if s == Side.BUY else PositionSide.SHORT) if a in self.hedge
                 else PositionSide.BOTH for a, s in ((maker, 1 - side), (taker, side))}
        self.send(C.PlaceOrder(self.ts, maker, self.SYMBOL, Side(1 - side), lots, self.price,
                               position_side=sides[maker]))
        self.send(C.PlaceOrder(self.ts, taker, self.SYMBOL, side, lots, 0, kind=OrderKind.MARKET, tif=TimeInForce.IOC,
                               position_side=sides[taker]))

    @rule(account=ACCOUNTS, offset=st.integers(min_value=-400, max_value=400),
          lots=st.sampled_from([1, 10, 100, 500, 2_000]))
    def amend(self, account, offset, lots) -> None:
        """Re-price and re-size the account's oldest resting order (it may trade)."""
        m = self.a.markets[self.SYMBOL]
        mine = sorted(oid for oid, o in m.orders.items() if o.account == account)
        if mine:
            side = m.orders[mine[0]].side
            price = self.price - offset if side == Side.BUY else self.price + offset
            self.send(C.AmendOrder(self.ts, account, self.SYMBOL, mine[0], max(1, price), lots))

    @rule(account=ACCOUNTS)
    def cancel_all(self, account) -> None:
        self.send(C.CancelAll(self.ts, account, self.SYMBOL))

    @rule(move=st.integers(min_value=-2_500, max_value=2_500), dt=st.sampled_from([0, 10**9, 3_600 * 10**9]))
    def index(self, move, dt) -> None:
        self.ts += dt
        self.price = max(1_000, self.price + move * 10)
        self.send(C.SetIndexPrice(self.ts, self.SYMBOL, self.price))

    @rule(usdt=st.sampled_from([10, 1_000]))
    def fund(self, usdt) -> None:
        self.send(C.FundInsurance(self.ts, self.ASSET, self.units(usdt)))

    @rule(account=ACCOUNTS, cents=st.sampled_from([0, 1, 100, 50_000]), unrealized=st.booleans(),
          flatten=st.booleans())
    def loss_limit(self, account, cents, unrealized, flatten) -> None:
        """A daily loss limit (0 removes it; a cent is hit by the first fee): its refusals and
        flatten orders in both builds."""
        self.send(C.SetDailyLossLimit(self.ts, account, self.ASSET, self.units(1) * cents // 100, unrealized, flatten))

    @invariant()
    def sound(self) -> None:
        ex = checked_twins(self)
        if ex is None:
            return
        m = ex.markets[self.SYMBOL]
        for k in list(m.positions):
            account, pside = position_of(k)
            if account != IF_ACCOUNT and m.mark is not None:
                assert not ex._liquidatable(m, account, pside), f"account {account} left under MM"
        for holder, balances in ex.ledger._bal.items():
            if holder[0] in ("wallet",) or holder[0].startswith("iso:"):
                assert balances.get(self.ASSET, 0) >= 0, f"{holder} negative"


class InverseExchangeMachine(ExchangeMachine):
    """Inverse BTCUSD (100 USD contracts); deposits in BTC at 1/20,000 of the USDT amounts."""

    SYMBOL, ASSET, SCALE = "BTCUSD", "BTC", 20_000
    BRACKETS = Brackets.from_rows([(10 * U, 125, 400_000), (20 * U, 100, 500_000), (30 * U, 50, 1_000_000)])


for machine in (ExchangeMachine, InverseExchangeMachine):
    machine.TestCase.settings = settings(max_examples=100, stateful_step_count=50, deadline=None)
TestExchangeMachine = ExchangeMachine.TestCase
TestInverseExchangeMachine = InverseExchangeMachine.TestCase


class LongExchangeMachine(ExchangeMachine):
    """The same, longer (`pytest -m slow`): 1,500 runs found a sell limit filling at a stale
    higher bid that took its isolated wallet below zero."""


class LongInverseExchangeMachine(InverseExchangeMachine):
    pass


for machine in (LongExchangeMachine, LongInverseExchangeMachine):
    machine.TestCase.settings = settings(max_examples=1_500, stateful_step_count=60, deadline=None)
TestLongExchangeMachine = pytest.mark.slow(LongExchangeMachine.TestCase)
TestLongInverseExchangeMachine = pytest.mark.slow(LongInverseExchangeMachine.TestCase)



def test_the_machines_compare_the_compiled_exchange_with_its_source() -> None:
    """The build compiles the exchange; its twin runs the very same file as Python."""
    assert is_compiled()
    assert PURE.__file__ == str(Path(sys.modules[Exchange.__module__].__file__).with_name("exchange.py"))
    assert PURE.Exchange is not Exchange
