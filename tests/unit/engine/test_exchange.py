"""The exchange state machine: hand-computed liquidations, funding, rejections, conservation,
and the Cython and reference books giving the same events and state hash."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from perpsim.engine import commands as C
from perpsim.engine.events import (
    AutoDeleveraged,
    CommandRejected,
    FundingSettled,
    Liquidation,
    MarkPriceChanged,
    OrderEvent,
)
from perpsim.engine.exchange import IF_ACCOUNT, Exchange
from perpsim.engine.views import ExchangeView, LiquidationEntry
from perpsim.model.enums import EventKind, OrderKind, PositionSide, Side, TimeInForce
from perpsim.model.market_files import default_markets
from perpsim.model.reasons import RejectReason as R
from perpsim.risk.brackets import BTCUSDT_ROWS, btcusdt_brackets
from perpsim.risk.margin import adl_quantiles
from perpsim.risk.preview import preview_position
from perpsim.risk.units import div_up

U = 10**8  # money units per USDT
HOUR = 3_600 * 10**9
SYMBOL = "BTCUSDT"
SPEC = default_markets()[SYMBOL]


def px(text: str) -> int:
    return SPEC.price_to_ticks(text)


def qty(text: str) -> int:
    return SPEC.qty_to_lots(text)


class Venue:
    """An exchange plus a checker: integrity and conservation after every command."""

    def __init__(self, impl: str = "cython") -> None:
        self.ex = Exchange({SYMBOL: SPEC}, {SYMBOL: btcusdt_brackets(U)}, book_impl=impl, start_ts=1)
        self.ts = 1

    def do(self, cmd):
        events = self.ex.apply(cmd)
        self.ex.check_integrity()
        return events

    def index(self, price: str, dt: int = 0):
        self.ts += dt
        return self.do(C.SetIndexPrice(self.ts, SYMBOL, px(price)))

    def deposit(self, account: int, usdt: int):
        return self.do(C.Deposit(self.ts, account, "USDT", usdt * U))

    def order(self, account: int, side: Side, size: str, price: str | None = None, **kw):
        kind = OrderKind.LIMIT if price else OrderKind.MARKET
        tif = kw.pop("tif", TimeInForce.GTC if price else TimeInForce.IOC)
        return self.do(C.PlaceOrder(self.ts, account, SYMBOL, side, qty(size), px(price) if price else 0,
                                    kind=kind, tif=tif, **kw))

    def wallet(self, account: int) -> int:
        return self.ex.wallet(account, "USDT")


def of(events, kind):
    return [e for e in events if isinstance(e, kind)]


@pytest.fixture
def venue():
    v = Venue()
    v.index("20000")
    for account in (1, 2, 3):
        v.deposit(account, 100_000)
    v.deposit(4, 1_010)  # after the 10 USDT taker fee: spec A3's isolated wallet of 1,000
    return v


def open_long(v: Venue) -> None:
    """Account 4 buys 1 BTC at 20,000 from maker 1 at 20x: taker fee 0.05 % = 10 USDT, leaving
    a wallet of 1,000: spec A3 (LP 19,076.3052, bankruptcy 19,000)."""
    v.order(1, Side.SELL, "1", "20000")
    v.order(4, Side.BUY, "1", "20000")


class TestTrading:
    def test_fill_moves_positions_fees_and_pool(self, venue):
        open_long(venue)
        assert venue.ex.position(4, SYMBOL).lots == qty("1")
        assert venue.ex.position(1, SYMBOL).lots == -qty("1")
        assert venue.wallet(4) == 1_000 * U  # taker 0.05 % of 20,000
        assert venue.wallet(1) == 100_000 * U - 4 * U  # maker 0.02 %
        assert ExchangeView(venue.ex).flows("USDT").fees == 14 * U

    def test_liquidation_price_matches_binance_formula(self, venue):
        open_long(venue)
        # (WB - Q*EP) / (Q*MMR - Q) with WB 1,000, bracket 1 MMR 0.4 %, cum 0 (spec A3)
        lp = venue.ex.liquidation_price(4, SYMBOL)
        assert lp.price == Fraction(1_000 - 20_000) / (Fraction("0.004") - 1)
        assert round(lp.price, 4) == Fraction("19076.3052")
        assert LiquidationEntry(4, 0, 1, lp.tick) in ExchangeView(venue.ex).liquidation_entries(SYMBOL)

    def test_realized_pnl_round_trip_is_exact(self, venue):
        open_long(venue)
        venue.order(2, Side.BUY, "1", "20100")
        venue.order(4, Side.SELL, "1", "20100", reduce_only=True)
        # +100 PnL, minus 10 + 10.05 taker fees
        assert venue.wallet(4) == 1_010 * U + 100 * U - 10 * U - 1_005 * U // 100
        assert not ExchangeView(venue.ex).holds(4, SYMBOL)  # the position record is gone


class TestLiquidation:
    def test_partial_book_fill_then_adl_when_fund_is_empty(self, venue):
        open_long(venue)
        for price in ("19100", "19000", "18900"):
            venue.order(2, Side.BUY, "0.3", price)
        events = venue.index("19050", dt=10**9)
        # bankruptcy price 20,000 - 1,000 = 19,000: the IOC takes 0.3 @ 19,100 and 0.3 @ 19,000
        (liq,) = of(events, Liquidation)
        assert (liq.account, liq.bankruptcy_price, liq.filled) == (4, px("19000"), qty("0.6"))
        # the fund is empty, so the rest is deleveraged against the profitable short (account 1)
        (adl,) = of(events, AutoDeleveraged)
        assert (adl.counterparty, adl.qty, adl.price) == (1, qty("0.4"), px("19000"))
        # 1,000 - 0.3 × 900 - 0.3 × 1,000 - 0.4 × 1,000 = 30 USDT remain: all of it is the fee
        assert venue.wallet(4) == 0
        assert ExchangeView(venue.ex).insurance("USDT") == 30 * U
        assert venue.ex.position(1, SYMBOL).lots == -qty("0.6")
        assert venue.ex.position(2, SYMBOL).lots == qty("0.6")

    def test_fund_takes_over_and_offloads_within_its_balance(self, venue):
        venue.do(C.FundInsurance(venue.ts, "USDT", 1_000 * U))
        open_long(venue)
        venue.order(2, Side.BUY, "0.3", "19100")
        events = venue.index("19050", dt=10**9)
        (liq,) = of(events, Liquidation)
        assert (liq.filled, liq.taken_by_insurance, liq.deleveraged) == (qty("0.3"), qty("0.7"), 0)
        # the fund holds 0.7 long at 19,000 (and got the 30 USDT left); nothing bids for it yet
        assert venue.ex.position(IF_ACCOUNT, SYMBOL).lots == qty("0.7")
        assert ExchangeView(venue.ex).insurance("USDT") == 1_030 * U
        # a bid appears 10 below the fund's entry: the next mark tick offloads into it
        venue.order(3, Side.BUY, "0.7", "18990")
        venue.index("19040", dt=10**9)
        assert not ExchangeView(venue.ex).holds(IF_ACCOUNT, SYMBOL)
        assert ExchangeView(venue.ex).insurance("USDT") == 1_030 * U - 7 * U

    def test_liquidation_cancels_open_orders(self, venue):
        open_long(venue)
        venue.order(4, Side.SELL, "0.5", "20500", reduce_only=True)  # needs no margin
        assert len(ExchangeView(venue.ex).open_orders(4)) == 1
        venue.order(2, Side.BUY, "1", "19500")
        venue.index("19050", dt=10**9)
        assert ExchangeView(venue.ex).open_orders(4) == ()


class TestFunding:
    def test_interest_rate_paid_by_longs_at_funding_time(self, venue):
        open_long(venue)
        before_long, before_short = venue.wallet(4), venue.wallet(1)
        events = venue.index("20000", dt=8 * HOUR)
        (settled,) = of(events, FundingSettled)
        # an empty book gives no impact prices: premium 0, so F = interest 0.01 %
        assert settled.rate == 10_000
        assert venue.wallet(4) == before_long - 2 * U  # 20,000 × 0.01 %
        assert venue.wallet(1) == before_short + 2 * U

    def test_the_carry_shown_before_is_what_the_settlement_books(self, venue):
        open_long(venue)
        venue.index("20000", dt=HOUR)  # premium samples of an empty book: the rate is the interest
        assert venue.ex.predicted_funding_rate(SYMBOL) == 10_000
        assert (venue.ex.funding_estimate(4, SYMBOL), venue.ex.funding_estimate(1, SYMBOL)) == (-2 * U, 2 * U)
        assert venue.ex.funding_estimate(3, SYMBOL) == 0  # no position
        preview = venue.ex.preview_order(C.PlaceOrder(venue.ts, 1, SYMBOL, Side.SELL, qty("0.5"), px("20000")))
        assert preview["funding_payment"] == 3 * U  # the short grows to 1.5 BTC and receives
        assert preview["next_funding_ts"] == ExchangeView(venue.ex).funding(SYMBOL).next_funding_ts
        before = venue.wallet(4)
        venue.index("20000", dt=7 * HOUR)
        assert venue.wallet(4) - before == -2 * U


class TestRejections:
    def rejected(self, venue, events, reason):
        (e,) = events
        assert isinstance(e, CommandRejected) and e.reason == reason
        return dict(e.fields)

    def test_margin_insufficient_changes_nothing(self, venue):
        h = venue.ex.state_hash()
        fields = self.rejected(venue, venue.order(4, Side.BUY, "2", "20000"), R.MARGIN_INSUFFICIENT)
        assert fields["required"] > fields["available"] == 1_010 * U
        assert venue.ex.state_hash() == h

    def test_each_rejection(self, venue):
        open_long(venue)
        self.rejected(venue, venue.order(3, Side.BUY, "0.001", "4000"), R.MIN_NOTIONAL)  # 4 USDT < 5
        self.rejected(venue, venue.order(3, Side.BUY, "1", "21001"), R.PRICE_ABOVE_BAND)
        self.rejected(venue, venue.order(3, Side.SELL, "1", "18999"), R.PRICE_BELOW_BAND)
        self.rejected(venue, venue.order(3, Side.SELL, "1", "20000", reduce_only=True), R.REDUCE_ONLY_REJECTED)
        self.rejected(venue, venue.do(C.Withdraw(venue.ts, 4, "USDT", 990 * U)), R.BALANCE_INSUFFICIENT)
        self.rejected(venue, venue.do(C.PlaceOrder(venue.ts, 3, "XYZ", Side.BUY, 1, 1)), R.UNKNOWN_SYMBOL)
        self.rejected(venue, venue.do(C.CancelOrder(venue.ts, 3, SYMBOL, 1)), R.UNKNOWN_ORDER)
        self.rejected(venue, venue.do(C.SetLeverage(venue.ts, 3, SYMBOL, 126)), R.INVALID_LEVERAGE)
        self.rejected(venue, venue.do(C.Deposit(venue.ts - 1, 3, "USDT", 1)), R.STALE_TIMESTAMP)

    def test_withdraw_only_free_collateral(self, venue):
        venue.order(1, Side.SELL, "1", "20000")
        venue.order(3, Side.BUY, "1", "20000")
        free = venue.ex.withdrawable(3, "USDT")
        assert free == venue.wallet(3) - 1_000 * U  # initial margin at 20x stays
        self.rejected(venue, venue.do(C.Withdraw(venue.ts, 3, "USDT", free + 1)), R.BALANCE_INSUFFICIENT)
        venue.do(C.Withdraw(venue.ts, 3, "USDT", free))
        assert venue.ex.withdrawable(3, "USDT") == 0

    def test_reduce_only_is_clamped_to_the_position(self, venue):
        open_long(venue)
        venue.order(2, Side.BUY, "5", "20000")
        venue.order(4, Side.SELL, "3", "20000", reduce_only=True)
        assert not ExchangeView(venue.ex).holds(4, SYMBOL)  # closed, never flipped short

    def test_a_reduce_only_sweep_across_levels_stops_at_the_position(self, venue):
        """A reduce-only sell larger than the long, limit below three bid levels: it fills the
        position's 1 BTC over two levels and no more, never flipping short (the over-fill a
        backtester allows when it clamps per order instead of per fill)."""
        open_long(venue)
        for price in ("19990", "19980", "19970"):
            venue.order(2, Side.BUY, "0.6", price)
        events = venue.order(4, Side.SELL, "3", "19970", reduce_only=True, tif=TimeInForce.IOC)
        fills = [e.event for e in of(events, OrderEvent) if e.event.kind == EventKind.FILL]
        assert [(f.price, f.qty) for f in fills] == [(px("19990"), qty("0.6")), (px("19980"), qty("0.4"))]
        assert venue.ex.position(4, SYMBOL).lots == 0
        assert [lv[:2] for lv in ExchangeView(venue.ex).depth(SYMBOL, Side.BUY, 5)] == \
            [(px("19980"), qty("0.2")), (px("19970"), qty("0.6"))]


def random_session(seed: int, n: int):
    """A seeded mix of deposits, orders of every kind, cancels, withdrawals and index moves."""
    r = random.Random(seed)
    ts, price = 1, 20_000
    yield C.SetIndexPrice(ts, SYMBOL, px(str(price)))
    for a in range(1, 9):
        yield C.Deposit(ts, a, "USDT", r.choice([500, 2_000, 50_000]) * U)
    for _ in range(n):
        ts += r.randint(0, 3 * 10**9)
        u = r.random()
        a = r.randint(1, 8)
        if u < 0.55:
            side = r.choice(list(Side))
            off = r.randint(-20, 200)
            p = price - off if side == Side.BUY else price + off
            yield C.PlaceOrder(ts, a, SYMBOL, side, qty(r.choice(["0.01", "0.1", "0.5", "1"])), px(str(p)),
                               reduce_only=r.random() < 0.1)
        elif u < 0.65:
            yield C.PlaceOrder(ts, a, SYMBOL, r.choice(list(Side)), qty(r.choice(["0.01", "0.3"])),
                               kind=OrderKind.MARKET, tif=TimeInForce.IOC)
        elif u < 0.75:
            yield C.CancelAll(ts, a, SYMBOL)
        elif u < 0.8:
            yield C.Withdraw(ts, a, "USDT", r.randint(1, 200) * U)
        else:
            price = max(1_000, price + r.randint(-300, 280))
            yield C.SetIndexPrice(ts, SYMBOL, px(str(price)))


@pytest.mark.parametrize("seed", range(4))
def test_random_sessions_conserve_and_twins_agree(seed):
    """Conservation, pool and book integrity after every command; the exchange over the Cython
    book and over the reference book produce the same events and state hash."""
    cy, ref = Venue("cython"), Venue("ref")
    kinds = set()
    for cmd in random_session(seed, 400):
        e_cy, e_ref = cy.do(cmd), ref.do(cmd)
        assert e_cy == e_ref
        assert cy.ex.state_hash() == ref.ex.state_hash()
        kinds |= {type(e).__name__ for e in e_cy}
    assert {"OrderEvent", "MarkPriceChanged", "PositionChanged"} <= kinds


def test_replay_reproduces_state_hash():
    cmds = list(random_session(11, 300))
    a, b = Venue(), Venue()
    for cmd in cmds:
        a.do(cmd)
    for cmd in cmds:
        b.do(cmd)
    assert a.ex.state_hash() == b.ex.state_hash()
    assert of([e for c in cmds[:1] for e in Venue().do(c)], MarkPriceChanged)


class TestModes:
    def test_isolated_margin_moves_on_open_and_back_on_close(self, venue):
        venue.do(C.SetMarginMode(venue.ts, 3, SYMBOL, isolated=True))
        venue.order(1, Side.SELL, "1", "20000")
        venue.order(3, Side.BUY, "1", "20000")
        # 1,000 USDT initial margin at 20x moves into the isolated margin; the fee stays a wallet debit
        assert venue.ex.isolated_margin(3, SYMBOL) == 1_000 * U
        assert venue.wallet(3) == 100_000 * U - 1_000 * U - 10 * U
        venue.order(2, Side.BUY, "1", "20000")
        venue.order(3, Side.SELL, "1", "20000", reduce_only=True)
        assert venue.ex.isolated_margin(3, SYMBOL) == 0
        assert venue.wallet(3) == 100_000 * U - 20 * U

    def test_isolated_liquidation_spares_the_wallet(self, venue):
        venue.do(C.SetMarginMode(venue.ts, 3, SYMBOL, isolated=True))
        venue.order(1, Side.SELL, "1", "20000")
        venue.order(3, Side.BUY, "1", "20000")
        lp = venue.ex.liquidation_price(3, SYMBOL)
        # isolated: (1,000 - 20,000) / (0.004 - 1) = 19,076.3052 (spec A3)
        assert round(float(lp.price), 4) == 19_076.3052
        venue.order(2, Side.BUY, "1", "19000")
        events = venue.index("19070", dt=10**9)
        (liq,) = of(events, Liquidation)
        assert (liq.account, liq.bankruptcy_price) == (3, px("19000"))
        assert venue.wallet(3) == 100_000 * U - 1_000 * U - 10 * U  # only the isolated margin was lost
        assert venue.ex.isolated_margin(3, SYMBOL) == 0

    def test_add_and_remove_isolated_margin(self, venue):
        venue.do(C.SetMarginMode(venue.ts, 3, SYMBOL, isolated=True))
        venue.order(1, Side.SELL, "1", "20000")
        venue.order(3, Side.BUY, "1", "20000")
        lp_before = venue.ex.liquidation_price(3, SYMBOL).price
        venue.do(C.AdjustIsolatedMargin(venue.ts, 3, SYMBOL, 500 * U))
        assert venue.ex.liquidation_price(3, SYMBOL).price < lp_before
        (rej,) = venue.do(C.AdjustIsolatedMargin(venue.ts, 3, SYMBOL, -501 * U))
        assert rej.reason == R.ISOLATED_MARGIN_INSUFFICIENT
        venue.do(C.AdjustIsolatedMargin(venue.ts, 3, SYMBOL, -500 * U))
        assert venue.ex.isolated_margin(3, SYMBOL) == 1_000 * U

    def test_mode_changes_refused_with_position_or_orders(self, venue):
        venue.order(3, Side.BUY, "0.1", "19000")
        (rej,) = venue.do(C.SetMarginMode(venue.ts, 3, SYMBOL, isolated=True))
        assert rej.reason == R.OPEN_ORDERS_EXIST
        (rej,) = venue.do(C.SetPositionMode(venue.ts, 3, hedge=True))
        assert rej.reason == R.OPEN_ORDERS_EXIST
        open_long(venue)
        (rej,) = venue.do(C.SetMarginMode(venue.ts, 4, SYMBOL, isolated=True))
        assert rej.reason == R.POSITION_EXISTS

    def test_hedge_mode_holds_long_and_short(self, venue):
        L, S = PositionSide.LONG, PositionSide.SHORT
        venue.do(C.SetPositionMode(venue.ts, 3, hedge=True))
        (rej,) = venue.order(3, Side.BUY, "1", "20000")  # position side BOTH in hedge mode
        assert rej.reason == R.INVALID_POSITION_SIDE
        venue.order(1, Side.SELL, "1", "20000")
        venue.order(3, Side.BUY, "1", "20000", position_side=L)
        venue.order(2, Side.BUY, "1", "20000")
        venue.order(3, Side.SELL, "1", "20000", position_side=S)
        assert venue.ex.position(3, SYMBOL, L).lots == qty("1")
        assert venue.ex.position(3, SYMBOL, S).lots == -qty("1")
        # a fully hedged pair is liquidatable on a rise only: its PnL is flat, its MM grows
        entries = [e for e in venue.ex.markets[SYMBOL].liq.entries() if e[0] // 4 == 3]
        assert [(key, direction) for key, direction, _ in entries] == [(12, -1)]
        assert entries[0][2] > venue.ex.markets[SYMBOL].mark
        # closing the long: SELL on LONG, clamped to the position
        venue.order(2, Side.BUY, "2", "20000")
        venue.order(3, Side.SELL, "2", "20000", position_side=L)
        assert venue.ex.position(3, SYMBOL, L).lots == 0
        assert venue.ex.position(3, SYMBOL, S).lots == -qty("1")

    def test_transfer_moves_free_collateral_only(self, venue):
        open_long(venue)
        (rej,) = venue.do(C.Transfer(venue.ts, 4, 3, "USDT", 1 * U))
        assert rej.reason == R.BALANCE_INSUFFICIENT
        venue.do(C.Transfer(venue.ts, 3, 4, "USDT", 500 * U))
        assert venue.wallet(4) == 1_500 * U

    def test_adl_quantiles_rank_profitable_leverage_first(self, venue):
        venue.order(1, Side.SELL, "1", "20000")
        venue.order(2, Side.BUY, "0.5", "20000")
        venue.order(3, Side.BUY, "0.5", "20000")
        venue.index("21000", dt=10**9)
        # same profit per position, account 2 and 3 same size: equal scores share the top bucket
        assert venue.ex.adl_quantile(2, SYMBOL) == venue.ex.adl_quantile(3, SYMBOL) == 4
        assert venue.ex.adl_quantile(1, SYMBOL) == 0  # the losing short

    def test_adl_quantile_ranks_among_scores_of_its_window(self, venue):
        """The ranking stands for ADL_WINDOW_NS (Binance: "values update every 30s"); the
        queried position's own score is always current."""
        from perpsim.engine.exchange import ADL_WINDOW_NS

        venue.order(1, Side.SELL, "1", "20000")
        venue.order(2, Side.BUY, "0.5", "20000")
        venue.order(3, Side.BUY, "0.5", "20000")
        venue.index("21000", dt=10**9)
        assert venue.ex.adl_quantile(2, SYMBOL) == 4  # ranked among {2, 3}: tied at the top
        # account 3 halves its position: a lower score now, still ranked among the window's
        venue.order(1, Side.BUY, "0.25", "21000")
        venue.order(3, Side.SELL, "0.25", "21000")
        assert venue.ex.adl_quantile(3, SYMBOL) == 0  # below both scores of the window
        assert venue.ex.adl_quantile(2, SYMBOL) == 4
        venue.index("21000", dt=ADL_WINDOW_NS)
        # a new window ranks the current scores: 3 is now the lower of two (rank 1 of 2)
        assert [venue.ex.adl_quantile(a, SYMBOL) for a in (2, 3)] == [4, 2]
        m = venue.ex.markets[SYMBOL]
        assert adl_quantiles([venue.ex._adl_score(m, a, PositionSide.BOTH) for a in (2, 3)]) == [4, 2]


def test_bybit_profile_liquidates_earlier_with_mm_at_entry():
    """Spec A2: 1 BTC long at 20,000, 50x (IM 400), MMR 0.5 %: Bybit 19,700 vs Binance 19,698.49."""
    from perpsim.risk.brackets import Brackets
    from perpsim.risk.profiles import BINANCE, BYBIT

    flat = Brackets.from_rows([(10**9 * U, 50, 500_000)])  # one bracket: MMR 0.5 %, cum 0
    prices = {}
    for profile in (BINANCE, BYBIT):
        ex = Exchange({SYMBOL: SPEC}, {SYMBOL: flat}, book_impl="ref", profile=profile, start_ts=1)
        ex.apply(C.SetIndexPrice(1, SYMBOL, px("20000")))
        for a, amount in ((1, 100_000 * U), (3, 100_000 * U)):
            ex.apply(C.Deposit(1, a, "USDT", amount))
        ex.apply(C.SetMarginMode(1, 3, SYMBOL, isolated=True))
        ex.apply(C.SetLeverage(1, 3, SYMBOL, 50))
        ex.apply(C.PlaceOrder(1, 1, SYMBOL, Side.SELL, qty("1"), px("20000")))
        ex.apply(C.PlaceOrder(1, 3, SYMBOL, Side.BUY, qty("1"), px("20000")))
        assert ex.isolated_margin(3, SYMBOL) == 400 * U
        prices[profile.name] = ex.liquidation_price(3, SYMBOL).price
    assert prices["bybit"] == 19_700
    assert round(prices["binance"], 2) == pytest.approx(19_698.49)


def test_funding_interval_and_cap_per_market():
    """A 4 h market pays every 4 h with the interest pro rata (0.005 %); a cap bounds the rate."""
    from perpsim.risk.funding import FundingConfig

    cfg = {SYMBOL: FundingConfig(interval_ns=4 * HOUR, cap=3_000)}  # cap 0.003 %
    ex = Exchange({SYMBOL: SPEC}, {SYMBOL: btcusdt_brackets(U)}, start_ts=1, funding=cfg)
    ex.apply(C.SetIndexPrice(1, SYMBOL, px("20000")))
    for a in (1, 2):
        ex.apply(C.Deposit(1, a, "USDT", 100_000 * U))
    ex.apply(C.PlaceOrder(1, 1, SYMBOL, Side.SELL, qty("1"), px("20000")))
    ex.apply(C.PlaceOrder(1, 2, SYMBOL, Side.BUY, qty("1"), px("20000")))
    events = ex.apply(C.SetIndexPrice(4 * HOUR, SYMBOL, px("20000")))
    (settled,) = of(events, FundingSettled)
    assert settled.rate == 3_000  # 0.005 % interest, capped at 0.003 %
    assert [t for t, _ in ex.funding_history] == [4 * HOUR]
    ex.check_integrity()


def test_the_order_preview_band_is_the_calculators_on_the_accounts_numbers():
    """The venue's band for a 100 BTC long at 20,000 opened at 5x in a 60,000 USDT cross wallet is
    what `perpsim calc` gives for the same inputs typed in by hand (above the first bracket at its
    LP, cut down a bracket there, liquidated in full lower down)."""
    v = Venue()
    v.index("20000")
    v.deposit(2, 60_000)
    v.do(C.SetLeverage(v.ts, 2, SYMBOL, 5))
    preview = v.ex.preview_order(C.PlaceOrder(v.ts, 2, SYMBOL, Side.BUY, qty("100"), px("20000")))
    # the order rests (no asks): the wallet the fill leaves is 60,000 less the maker fee, 0.02 % of 2 M
    by_hand = preview_position(side="long", size="100", entry="20000", leverage=5, wallet="59600", mark="20000",
                               margin_mode="cross", market=SPEC, brackets=BTCUSDT_ROWS,
                               liquidation_fee=SPEC.liquidation_fee)
    partial, full = (SPEC.ticks_to_price(t) for t in preview["liquidation_band"])  # ticks, against the account
    assert (partial, full) == (by_hand.partial_liquidation_price, by_hand.full_liquidation_price)
    assert full < partial and abs(Fraction(partial) - preview["liquidation_price"]) <= Fraction(1, 10)


class TestMarketableOrderCost:
    """An order that trades through the book is costed at the worst price it can trade at, and
    its fills' own roundings: an accepted order never takes a wallet below zero."""

    def setup_venue(self, isolated: bool) -> Venue:
        v = Venue()
        v.index("20000")
        v.deposit(6, 1_000_000)
        if isolated:
            v.do(C.SetMarginMode(v.ts, 1, SYMBOL, isolated=True))
        return v

    def test_a_sell_below_a_stale_higher_bid(self):
        """Found by the exchange machine: a sell limit under the mark fills at a bid 5 % above
        it, on a larger notional than its limit's; the margin and fee it moves must be there."""
        v = self.setup_venue(isolated=True)
        v.deposit(1, 100)
        v.order(6, Side.BUY, "0.5", "20000")  # a bid left behind as the index falls
        v.index("19047")
        v.do(C.SetLeverage(v.ts, 1, SYMBOL, 100))
        # at its limit 0.5 × 19,047 / 100 = 95.24 margin + 4.76 fee reserve fits 100 USDT, but it
        # would trade at 20,000: 100 margin + 5 fee
        (rej,) = v.order(1, Side.SELL, "0.5", "19047")
        assert rej.reason == R.MARGIN_INSUFFICIENT and dict(rej.fields)["required"] >= 105 * U
        v.deposit(1, 5)
        v.order(1, Side.SELL, "0.5", "19047")
        assert v.ex.position(1, SYMBOL).lots == -qty("0.5") and v.wallet(1) == 0

    def test_a_market_buy_up_a_thin_book(self):
        v = self.setup_venue(isolated=True)
        v.order(6, Side.SELL, "0.001", "20000")
        v.order(6, Side.SELL, "1", "20900")
        v.do(C.SetLeverage(v.ts, 1, SYMBOL, 20))
        v.deposit(1, 600)  # Ask1 × 1.0005 would cost 500.25 + fee: the fills cost 522.45 + open loss 449.5
        (rej,) = v.order(1, Side.BUY, "0.5")
        assert rej.reason == R.MARGIN_INSUFFICIENT
        v.deposit(1, 400)
        v.order(1, Side.BUY, "0.5")
        assert v.ex.position(1, SYMBOL).lots == qty("0.5") and v.wallet(1) >= 0

    def test_fills_that_each_round_their_margin_up(self):
        """Three makers of 0.001 at 20,000.1 and an isolated taker at 7x: each fill's margin
        (20.0001 / 7) rounds up on its own, one unit beyond the total rounded once for each fill
        after the first."""
        v = self.setup_venue(isolated=True)
        for maker in (6, 7, 8):
            v.deposit(maker, 1_000)
            v.order(maker, Side.SELL, "0.001", "20000.1")
        v.do(C.SetLeverage(v.ts, 1, SYMBOL, 7))
        K, price, mark = SPEC.notional_per_tick_lot, px("20000.1"), px("20000")
        value = 3 * price * K
        formula = div_up(value, 7) + 3 * (price - mark) * K + div_up(value * 5, 10_000)  # IM + open loss + fee
        v.do(C.Deposit(v.ts, 1, "USDT", formula + 1))
        (rej,) = v.order(1, Side.BUY, "0.003", "20000.1", tif=TimeInForce.IOC)
        assert rej.reason == R.MARGIN_INSUFFICIENT and dict(rej.fields)["required"] == formula + 2
        v.do(C.Deposit(v.ts, 1, "USDT", 1))
        v.order(1, Side.BUY, "0.003", "20000.1", tif=TimeInForce.IOC)
        assert v.ex.position(1, SYMBOL).lots == 3 and v.wallet(1) >= 0


class TestAmendOrder:
    """Binance's Modify Order: a resting order's new price and quantity, checked like a new
    order's (integrity, hence the open-order margin, is checked after every command)."""

    @pytest.fixture
    def v(self):
        v = Venue()
        v.index("20000")
        for account in (1, 2, 3):
            v.deposit(account, 100_000)
        return v

    def resting(self, v, account):
        return [o.order_id for o in ExchangeView(v.ex).open_orders(account)]

    def amend(self, v, account, oid, price, size):
        return v.do(C.AmendOrder(v.ts, account, SYMBOL, oid, px(price), qty(size)))

    def test_reprice_and_resize_move_the_margin_held(self, v):
        v.order(1, Side.BUY, "1", "19900")
        (oid,) = self.resting(v, 1)
        held = v.ex.initial_margin(1, "USDT")
        (e,) = [e for e in self.amend(v, 1, oid, "19800", "2") if isinstance(e, OrderEvent)]
        assert (e.event.kind, e.event.price, e.event.qty) == (EventKind.AMENDED, px("19800"), qty("2"))
        assert ExchangeView(v.ex).top(SYMBOL)[0] == px("19800")
        assert v.ex.initial_margin(1, "USDT") > held  # 2 × 19,800 > 1 × 19,900

    def test_a_smaller_quantity_at_the_same_price_keeps_the_queue_place(self, v):
        v.order(1, Side.BUY, "1", "19900")
        v.order(2, Side.BUY, "1", "19900")
        (first,) = self.resting(v, 1)
        self.amend(v, 1, first, "19900", "0.5")
        events = v.order(3, Side.SELL, "0.5", "19900")
        (fill,) = [e.event for e in events if isinstance(e, OrderEvent) and e.event.kind == EventKind.FILL]
        assert fill.counter_account == 1  # still first in the queue
        (second,) = self.resting(v, 2)
        self.amend(v, 2, second, "19900", "1")  # no change
        v.order(1, Side.BUY, "1", "19900")
        self.amend(v, 2, second, "19900", "0.9")
        events = v.order(3, Side.SELL, "0.1", "19900")
        (fill,) = [e.event for e in events if isinstance(e, OrderEvent) and e.event.kind == EventKind.FILL]
        assert fill.counter_account == 2

    def test_a_reprice_that_crosses_trades(self, v):
        v.order(2, Side.SELL, "0.4", "20010")
        v.order(1, Side.BUY, "1", "19900")
        (oid,) = self.resting(v, 1)
        events = self.amend(v, 1, oid, "20010", "1")
        assert any(isinstance(e, OrderEvent) and e.event.kind == EventKind.FILL for e in events)
        assert v.ex.position(1, SYMBOL).lots == qty("0.4") and ExchangeView(v.ex).last(SYMBOL) == px("20010")
        assert ExchangeView(v.ex).open_order(SYMBOL, oid).leaves == qty("0.6")  # the rest rests at 20,010

    @pytest.mark.parametrize(("who", "price", "size", "reason"), [
        (2, "19800", "1", R.UNKNOWN_ORDER),  # never another account's order
        (1, "19900", "1", R.SAME_ORDER),  # -5027
        (1, "21500", "1", R.PRICE_ABOVE_BAND),
        (1, "19900", "200", R.MARGIN_INSUFFICIENT),
        (1, "19900", "0", R.INVALID_QUANTITY),
    ])
    def test_refusals_change_nothing(self, v, who, price, size, reason):
        v.order(1, Side.BUY, "1", "19900")
        (oid,) = self.resting(v, 1)
        before = v.ex.state_hash()
        (rej,) = self.amend(v, who, oid, price, size) if size != "0" else \
            v.do(C.AmendOrder(v.ts, who, SYMBOL, oid, px(price), 0))
        assert isinstance(rej, CommandRejected) and rej.reason == reason
        assert v.ex.state_hash() == before

    def test_a_reduce_only_order_stays_within_its_room(self, v):
        v.order(2, Side.SELL, "1", "20000")
        v.order(1, Side.BUY, "1", "20000")  # account 1 long 1
        v.order(1, Side.SELL, "0.6", "20500", reduce_only=True)
        v.order(1, Side.SELL, "0.3", "20600", reduce_only=True)
        first, _ = self.resting(v, 1)
        (rej,) = self.amend(v, 1, first, "20500", "0.8")  # 0.8 + 0.3 > 1
        assert rej.reason == R.REDUCE_ONLY_REJECTED
        self.amend(v, 1, first, "20400", "0.7")
        assert ExchangeView(v.ex).open_order(SYMBOL, first).leaves == qty("0.7")

    def test_no_band_before_the_first_mark(self):
        """As for a new order: before any mark there is no PERCENT_PRICE band to check against."""
        v = Venue()
        v.deposit(1, 100_000)
        v.order(1, Side.BUY, "0.1", "19000")
        (oid,) = self.resting(v, 1)
        self.amend(v, 1, oid, "19100", "0.1")
        assert ExchangeView(v.ex).top(SYMBOL)[0] == px("19100")

    def test_a_post_only_order_may_not_be_moved_across(self, v):
        v.order(2, Side.SELL, "1", "20010")
        v.order(1, Side.BUY, "1", "19900", tif=TimeInForce.GTX)
        (oid,) = self.resting(v, 1)
        (rej,) = self.amend(v, 1, oid, "20010", "1")
        assert rej.reason == R.POST_ONLY_WOULD_TAKE
