"""The Cython book against its reference twin: same commands in, same events and hash out."""

from __future__ import annotations

import random

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from perpsim.engine.book_types import BookLimits, make_book
from perpsim.model.enums import OrderKind, Side, StpMode, TimeInForce

LIMITS = BookLimits(min_price=1, max_price=200, min_qty=1, max_qty=1_000)
MID = 100


class TwinBooks:
    """Applies each command to both implementations and insists they agree."""

    def __init__(self, limits: BookLimits = LIMITS) -> None:
        self.ref = make_book("ref", limits)
        self.cy = make_book("cython", limits)

    def do(self, method: str, *args: int) -> int:
        r_ref = getattr(self.ref, method)(*args)
        r_cy = getattr(self.cy, method)(*args)
        ev_ref, ev_cy = self.ref.events(), self.cy.events()
        assert ev_cy == ev_ref, f"{method}{args}: events differ\nref: {ev_ref}\ncy:  {ev_cy}"
        assert r_cy == r_ref
        return r_ref

    def check(self) -> None:
        self.ref.check_integrity()
        self.cy.check_integrity()
        assert self.cy.state_hash() == self.ref.state_hash()
        assert self.cy.orders() == self.ref.orders()
        for side in Side:
            assert self.cy.depth(side, 5) == self.ref.depth(side, 5)
        assert (self.cy.best_bid(), self.cy.best_ask()) == (self.ref.best_bid(), self.ref.best_ask())
        assert (self.cy.trades, self.cy.volume, self.cy.last_ts) == (self.ref.trades, self.ref.volume, self.ref.last_ts)


prices = st.integers(min_value=MID - 8, max_value=MID + 8)
# mostly valid, sometimes out of range, to exercise every rejection path
wild_prices = st.one_of(prices, st.integers(min_value=-2, max_value=LIMITS.max_price + 2))
qtys = st.one_of(st.integers(min_value=1, max_value=30), st.integers(min_value=-1, max_value=LIMITS.max_qty + 1))
accounts = st.integers(min_value=1, max_value=4)


class BookTwinMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        self.books = TwinBooks()
        self.next_id = 1
        self.ts = 1_000

    def _ids(self) -> list[int]:
        return [o.order_id for o in self.books.ref.orders()]

    @rule(
        account=accounts,
        side=st.sampled_from(list(Side)),
        price=wild_prices,
        qty=qtys,
        tif=st.sampled_from(list(TimeInForce)),
        stp=st.sampled_from(list(StpMode)),
        gtd_in=st.integers(min_value=-1, max_value=5),
        dt=st.integers(min_value=0, max_value=3),
    )
    def place_limit(self, account, side, price, qty, tif, stp, gtd_in, dt) -> None:
        self.ts += dt
        expire = self.ts + gtd_in if tif == TimeInForce.GTD else 0
        self.books.do("place", self.next_id, account, side, OrderKind.LIMIT, price, qty, tif, stp, expire, self.ts)
        self.next_id += 1

    @rule(
        account=accounts,
        side=st.sampled_from(list(Side)),
        protect=wild_prices,
        qty=qtys,
        tif=st.sampled_from([TimeInForce.IOC, TimeInForce.FOK, TimeInForce.GTC]),
        stp=st.sampled_from(list(StpMode)),
    )
    def place_market(self, account, side, protect, qty, tif, stp) -> None:
        self.books.do("place", self.next_id, account, side, OrderKind.MARKET, protect, qty, tif, stp, 0, self.ts)
        self.next_id += 1

    @rule(data=st.data(), bad=st.booleans())
    def reuse_or_bad_values(self, data, bad) -> None:
        # duplicate ids, invalid enums and stale timestamps must be rejected identically
        oid = data.draw(st.sampled_from(self._ids())) if self._ids() and not bad else self.next_id
        side = data.draw(st.integers(min_value=-1, max_value=2))
        kind = data.draw(st.integers(min_value=-1, max_value=2))
        tif = data.draw(st.integers(min_value=-1, max_value=5))
        stp = data.draw(st.integers(min_value=-1, max_value=4))
        ts = self.ts - data.draw(st.integers(min_value=0, max_value=1))
        self.books.do("place", oid, 1, side, kind, MID, 5, tif, stp, 0, ts)

    @precondition(lambda self: self.books.ref.order_count > 0)
    @rule(data=st.data())
    def cancel(self, data) -> None:
        self.books.do("cancel", data.draw(st.sampled_from(self._ids())), self.ts)

    @rule(oid=st.integers(min_value=0, max_value=3))
    def cancel_unknown(self, oid) -> None:
        self.books.do("cancel", -oid, self.ts)

    @precondition(lambda self: self.books.ref.order_count > 0)
    @rule(data=st.data(), price=wild_prices, qty=qtys)
    def amend(self, data, price, qty) -> None:
        self.books.do("amend", data.draw(st.sampled_from(self._ids())), price, qty, self.ts)

    @precondition(lambda self: self.books.ref.order_count > 0)
    @rule(data=st.data(), shrink=st.integers(min_value=0, max_value=5))
    def amend_down(self, data, shrink) -> None:
        o = self.books.ref.order(data.draw(st.sampled_from(self._ids())))
        self.books.do("amend", o.order_id, o.price, max(o.leaves - shrink, 1), self.ts)

    @rule(account=accounts)
    def cancel_all(self, account) -> None:
        self.books.do("cancel_all", account, self.ts)

    @rule(dt=st.integers(min_value=-1, max_value=4))
    def advance(self, dt) -> None:
        # dt = -1 sends a stale timestamp, which must be rejected by both
        self.ts += max(dt, 0)
        self.books.do("advance", self.ts + min(dt, 0))

    @invariant()
    def agree(self) -> None:
        if hasattr(self, "books"):
            self.books.check()


BookTwinMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)
TestBookTwin = BookTwinMachine.TestCase


def random_commands(seed: int, n: int):
    """A seeded mixed command stream: every order type, several accounts, amends, time."""
    r = random.Random(seed)
    ts, next_id, live = 1, 1, []
    for _ in range(n):
        u = r.random()
        if u < 0.55 or not live:
            side = r.randrange(2)
            tif = r.choices(list(TimeInForce), weights=[70, 8, 4, 8, 10])[0]
            kind = OrderKind.MARKET if r.random() < 0.08 else OrderKind.LIMIT
            if kind == OrderKind.MARKET:
                tif = TimeInForce.IOC if r.random() < 0.8 else TimeInForce.FOK
            off = r.randint(-3, 40)
            price = MID - off if side == Side.BUY else MID + off
            price = min(max(price, 1), LIMITS.max_price)
            expire = ts + r.randint(1, 500) if tif == TimeInForce.GTD else 0
            stp = r.choices(list(StpMode), weights=[70, 10, 10, 10])[0]
            yield ("place", next_id, r.randint(1, 40), side, kind, price, r.randint(1, 50), tif, stp, expire, ts)
            live.append(next_id)
            next_id += 1
        elif u < 0.85:
            yield ("cancel", live.pop(r.randrange(len(live))), ts)
        elif u < 0.95:
            oid = live[r.randrange(len(live))]
            yield ("amend", oid, MID + r.randint(-30, 30), r.randint(1, 50), ts)
        elif u < 0.97:
            yield ("cancel_all", r.randint(1, 40), ts)
        else:
            ts += r.randint(1, 50)
            yield ("advance", ts)
        if r.random() < 0.1:
            ts += r.randint(0, 5)
        if len(live) > 5_000:
            del live[: len(live) // 2]


def test_seeded_200k_commands_agree() -> None:
    books = TwinBooks()
    for i, (method, *args) in enumerate(random_commands(seed=7, n=200_000)):
        books.do(method, *args)
        if i % 20_000 == 0:
            books.check()
    books.check()
    assert books.ref.trades > 10_000  # the stream really trades
