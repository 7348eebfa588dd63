"""The read API (engine/views.py): views agree with the engine's own queries and with values
worked out by hand, are immutable snapshots, and refuse unknown symbols without changing state."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest

from perpsim.engine import commands as C
from perpsim.engine.events import FundingSettled
from perpsim.engine.exchange import Exchange, position_key
from perpsim.engine.views import ExchangeView, Level, UnknownSymbol
from perpsim.model.enums import (
    ConditionalKind,
    LegType,
    ListKind,
    OrderKind,
    PositionSide,
    Side,
    TimeInForce,
    TriggerSource,
)
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import default_brackets

U = 10**8  # money units per USDT (and satoshis per BTC)
S, INV = "BTCUSDT", "BTCUSD"
SPECS = default_markets()
HOUR = 3_600 * 10**9


def px(text: str, symbol: str = S) -> int:
    return SPECS[symbol].price_to_ticks(text)


def lots(text: str) -> int:
    return SPECS[S].qty_to_lots(text)


def do(ex: Exchange, cmd) -> list:
    events = ex.apply(cmd)
    ex.check_integrity()
    assert not [e for e in events if type(e).__name__ == "CommandRejected"], events
    return events


@pytest.fixture
def ex() -> Exchange:
    """BTCUSDT at 20,000: account 1 makes (asks 0.5 @ 20,000 and 1 @ 20,001 left, a bid 0.7 @
    19,990 left), account 2 bought 0.5 cross at 20,000, account 3 sold 0.3 isolated at 10x at
    19,990; the insurance fund holds 1,000 USDT. BTCUSD (inverse) at 50,000, untraded."""
    ex = Exchange({s: SPECS[s] for s in (S, INV)},
                  {s: default_brackets(SPECS[s].kind.value == "inverse", U) for s in (S, INV)}, start_ts=1)
    do(ex, C.SetIndexPrice(1, S, px("20000")))
    do(ex, C.SetIndexPrice(1, INV, px("50000", INV)))
    for account in (1, 2, 3):
        do(ex, C.Deposit(1, account, "USDT", 10_000 * U))
    do(ex, C.FundInsurance(1, "USDT", 1_000 * U))
    do(ex, C.PlaceOrder(1, 1, S, Side.SELL, lots("1"), px("20000")))
    do(ex, C.PlaceOrder(1, 1, S, Side.SELL, lots("1"), px("20010")))
    do(ex, C.PlaceOrder(1, 1, S, Side.BUY, lots("1"), px("19990")))
    do(ex, C.PlaceOrder(1, 2, S, Side.BUY, lots("0.5"), 0, kind=OrderKind.MARKET, tif=TimeInForce.IOC))
    do(ex, C.SetMarginMode(1, 3, S, True))
    do(ex, C.SetLeverage(1, 3, S, 10))
    do(ex, C.PlaceOrder(1, 3, S, Side.SELL, lots("0.3"), 0, kind=OrderKind.MARKET, tif=TimeInForce.IOC))
    return ex


def test_positions_by_hand(ex):
    v = ExchangeView(ex)
    p = v.position(2, S)
    # 0.5 BTC long at 20,000: notional 10,000 USDT; MM 0.4 % = 40 USDT; no PnL at the mark
    assert (p.lots, p.entry, p.mark, p.upnl, p.leverage, p.isolated) == (500, 200_000, 200_000, 0, 20, False)
    assert p.maintenance_margin == 40 * U
    # wallet 10,000 − 5 (taker fee 0.05 %): bankrupt where 9,995 + 0.5 (P − 20,000) = 0, P = 10
    # USDT = 100 ticks; liquidated where 9,995 + 0.5 (P − 20,000) = 0.4 % × 0.5 P: P = 5 / 0.498
    assert (p.bankruptcy, p.bankruptcy_tick) == (100, 100)
    assert p.liquidation == Fraction(25_000, 249) and p.liquidation_tick == 101  # rounded up for a long
    short = v.position(3, S)
    # 0.3 sold into the 19,990 bid, isolated at 10x: 5,997 USDT notional, 599.7 USDT of margin
    assert (short.lots, short.entry, short.isolated, short.leverage) == (-300, 199_900, True, 10)
    assert short.isolated_margin == 59_970_000_000
    assert short.upnl == -(200_000 - 199_900) * 300 * SPECS[S].notional_per_tick_lot  # marked at 20,000
    assert v.position(2, S, PositionSide.LONG) is None and v.position(4, S) is None
    assert v.positions(4) == () and [x.symbol for x in v.positions(2)] == [S]


def test_position_views_agree_with_the_engine(ex):
    v = ExchangeView(ex)
    for account in (1, 2, 3):
        for p in v.positions(account):
            lp, bp = ex.liquidation_price(account, S, p.position_side), ex.bankruptcy_price(account, S, p.position_side)
            assert p.lots == ex.position(account, S).lots
            assert (p.liquidation, p.liquidation_tick) == (lp.ticks, lp.tick)
            assert (p.bankruptcy, p.bankruptcy_tick) == (bp.ticks, bp.tick)
            assert p.adl_quantile == ex.adl_quantile(account, S)
            assert p.funding_estimate == ex.funding_estimate(account, S)
            assert p.isolated_margin == (ex.isolated_margin(account, S) if p.isolated else 0)
    # the liquidation index holds each position's (or cross account's) liquidation tick
    held = {(h.account, h.position_side): h for h in v.all_positions(S)}
    assert set(held) == {(1, 0), (2, 0), (3, 0)}
    for (account, pside), h in held.items():
        assert h.lots == v.position_lots(account, S, pside)
        assert h.trigger == v.position(account, S, pside).liquidation_tick
    assert held[(3, 0)].isolated and not held[(2, 0)].isolated


def test_balances_by_hand_and_against_the_engine(ex):
    v = ExchangeView(ex)
    btc, b = v.balances(2)  # one per settlement asset, by asset
    assert (btc.asset, btc.wallet, btc.available) == ("BTC", 0, 0)
    # wallet 10,000 − 5 fee; initial margin 10,000 / 20 = 500; nothing unrealized at the mark
    assert (b.asset, b.wallet, b.upnl, b.initial_margin, b.maintenance_margin) == ("USDT", 9_995 * U, 0, 500 * U,
                                                                                    40 * U)
    assert (b.margin_balance, b.available, b.withdrawable) == (9_995 * U, 9_495 * U, 9_495 * U)
    for account in (1, 2, 3, 7):
        for b in v.balances(account):
            a = b.asset
            assert (b.wallet, b.available, b.margin_balance, b.upnl, b.initial_margin, b.maintenance_margin,
                    b.withdrawable) == (ex.wallet(account, a), ex.available(account, a), ex.margin_balance(account, a),
                                        ex.upnl(account, a), ex.initial_margin(account, a), ex.maintenance(account, a),
                                        ex.withdrawable(account, a))
    assert v.assets() == ("BTC", "USDT") and v.accounts() == (1, 2, 3)
    # the first BTCUSDT bracket: up to 50,000 USDT at 125x, MMR 0.4 %
    first = v.brackets(S)[0]
    assert (first.cap, first.max_leverage, first.mmr) == (50_000 * U, 125, 400_000) and v.profile is ex.profile
    assert v.notional(S, -500, 200_000) == 10_000 * U  # 0.5 BTC at 20,000
    assert v.notional(INV, 100, px("50000", INV)) == Fraction(2 * U, 10)  # 100 contracts of 100 USD: 0.2 BTC
    assert v.available(2, "USDT") == 9_495 * U


def test_market_book_and_orders(ex):
    v = ExchangeView(ex)
    book = v.book(S, 5)
    assert book.bids == (Level(199_900, 700, 1),)  # 0.3 of the 1 BTC bid went to account 3
    assert book.asks == (Level(200_000, 500, 1), Level(200_100, 1_000, 1))
    assert (book.order_count, book.trades, book.volume) == (3, 2, 800)
    assert v.book(S, 1).asks == book.asks[:1] and v.depth(S, Side.SELL, 1) == list(book.asks[:1])
    assert [(lv.price, lv.lots, lv.orders) for lv in v.depth(S, Side.BUY, 5)] == [(199_900, 700, 1)]
    assert v.top(S) == (199_900, 200_000)
    m = v.market(S)
    assert (m.asset, m.inverse, m.open_interest, m.positions, m.isolated_accounts) == ("USDT", False, 500, 3, 1)
    assert m.insurance == 1_000 * U == v.insurance("USDT")
    assert (m.prices.mark, m.prices.index, m.prices.best_bid, m.prices.best_ask) == (200_000, 200_000, 199_900,
                                                                                      200_000)
    assert m.prices.last == 199_900 == v.last(S)  # the last trade: account 3's sell
    inv = v.market(INV)
    assert (inv.asset, inv.inverse, inv.open_interest, inv.prices.last) == ("BTC", True, 0, None)
    assert [x.symbol for x in v.markets()] == [INV, S] == list(v.symbols())  # by symbol
    orders = v.open_orders(1)
    assert [(o.side, o.price, o.leaves) for o in orders] == [(Side.SELL, 200_000, 500), (Side.SELL, 200_100, 1_000),
                                                             (Side.BUY, 199_900, 700)]
    assert all(o.tif == TimeInForce.GTC and o.account == 1 for o in orders)
    assert v.open_orders(2) == () and v.open_orders(None) == orders
    assert v.open_order(S, orders[0].order_id) == orders[0] and v.open_order(S, 10**9) is None


def test_conditional_orders_and_lists(ex):
    v = ExchangeView(ex)
    first = v.next_order_id
    stop = C.PlaceConditional(1, 2, S, Side.SELL, 100, ConditionalKind.STOP_MARKET, px("18000"),
                              source=TriggerSource.MARK, reduce_only=True)
    do(ex, stop)
    (c,) = v.conditional_orders(2)
    assert (c.conditional_id, c.order) == (first, stop) and v.conditional_order(S, first) == c
    oco = C.PlaceOrderList(1, 2, S, ListKind.OCO, Side.SELL, 200, tp_type=LegType.LIMIT, tp_price=px("21000"),
                           sl_type=LegType.STOP_MARKET, sl_trigger=px("17000"), reduce_only=True)
    do(ex, oco)
    (g,) = v.order_lists(2)
    assert g.order == oco and g.entry_order_id == 0 and (g.armed, g.closed, g.covered) == (200, 0, 200)
    assert v.order_list(S, g.list_id) == g
    # its take-profit rests in the book, its stop-loss with the conditional orders
    assert [o.order_id for o in v.open_orders(2)] == [g.take_profit_id]
    assert [x.conditional_id for x in v.conditional_orders(2, S)] == [first, g.stop_loss_id]
    assert v.conditional_orders(2, INV) == () and v.order_lists(1) == ()
    assert v.conditional_orders(None) == v.conditional_orders(2) and v.order_lists(None) == (g,)


def test_funding_insurance_and_flows(ex):
    v = ExchangeView(ex)
    f = v.funding(S)
    assert (f.next_funding_ts, f.interval_ns) == (8 * HOUR, 8 * HOUR)
    assert f.predicted_rate == ex.predicted_funding_rate(S)
    events = do(ex, C.AdvanceClock(8 * HOUR))
    settled = [e for e in events if isinstance(e, FundingSettled) and e.symbol == S]
    assert [h for _, h in v.funding_history(S)] == settled and v.funding(S).rate == settled[0].rate
    assert v.funding(S).next_funding_ts == 16 * HOUR and v.ts == 8 * HOUR
    flows = v.flows("USDT")
    # three deposits of 10,000 and the fund's 1,000 came in from outside
    assert (flows.deposited, flows.withdrawn, flows.insurance) == (31_000 * U, 0, 1_000 * U)
    # taker fees 0.05 % of 10,000 and of 5,997; maker fees 0.02 % of both
    assert flows.fees == (5 * U + 2 * U) + (299_850_000 + 119_940_000)
    assert v.insurance_history()[-1][1].balance == 1_000 * U


def test_liquidation_facts(ex):
    v = ExchangeView(ex)
    facts = v.liquidation(S)
    assert (facts.trigger_source, facts.indexed, facts.in_liquidation) == ("mark", 3, ())
    shorts = [v.position(a, S).liquidation_tick for a in (1, 3)]
    assert (facts.nearest_long_trigger, facts.nearest_short_trigger) == (101, min(shorts))
    assert v.liquidation_buckets(S, [0]) == [0]  # nothing crossed at the mark
    probe = v.liquidation_probe(S)
    assert probe(200_000) == [] and probe(101) == [position_key(2)]
    assert v.liquidation_buckets(INV, [0, 10_000]) == [0, 0]
    assert v.liquidation_trigger(2, S) == (1, 101) and v.liquidation_trigger(3, S) == (-1, shorts[1])
    assert v.liquidation_trigger(9, S) is None
    entries = v.liquidation_entries(S)
    assert [(e.account, e.position_side, e.direction) for e in entries] == [(1, 0, -1), (2, 0, 1), (3, 0, -1)]
    assert [e.trigger for e in entries] == [h.trigger for h in sorted(v.all_positions(S))]


def test_inverse_entry_is_exact():
    ex = Exchange({INV: SPECS[INV]}, {INV: default_brackets(True, U)}, start_ts=1)
    do(ex, C.SetIndexPrice(1, INV, px("50000", INV)))
    for account in (1, 2):
        do(ex, C.Deposit(1, account, "BTC", 10 * U))
    for price in ("50000", "50000"):
        do(ex, C.PlaceOrder(1, 1, INV, Side.SELL, 100, px(price, INV)))
        do(ex, C.PlaceOrder(1, 2, INV, Side.BUY, 100, px(price, INV)))
    do(ex, C.SetIndexPrice(2, INV, px("60000", INV)))
    do(ex, C.PlaceOrder(2, 1, INV, Side.SELL, 100, px("60000", INV)))
    do(ex, C.PlaceOrder(2, 2, INV, Side.BUY, 100, px("60000", INV)))
    p = ExchangeView(ex).position(2, INV)
    # 300 contracts of 100 USD: 200 at 50,000 (0.4 BTC) and 100 at 60,000 (1/6 BTC, held as
    # 16,666,666 sat): the contract-weighted harmonic mean of the cost the engine holds,
    # 30,000 USD / 0.56666666 BTC = 52,941.17… USD, exact, in 0.1 USD ticks
    assert p.lots == 300 and p.entry == Fraction(30_000 * 10 * U, 56_666_666)
    assert p.upnl == ex.upnl(2, "BTC")


def test_views_are_immutable_snapshots(ex):
    v = ExchangeView(ex)
    p, m, b, book = v.position(2, S), v.market(S), v.balance(2, "USDT"), v.book(S)
    for view, name in ((p, "lots"), (m, "open_interest"), (b, "wallet"), (book, "bids"), (m.prices, "mark"),
                       (m.funding, "rate"), (m.liquidation, "indexed"), (v.flows("USDT"), "fees")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(view, name, 0)
    with pytest.raises(AttributeError):
        book.asks[0].lots = 1  # a Level is a NamedTuple
    do(ex, C.PlaceOrder(2, 2, S, Side.BUY, lots("0.5"), 0, kind=OrderKind.MARKET, tif=TimeInForce.IOC))
    assert (p.lots, b.wallet, book.asks[0]) == (500, 9_995 * U, Level(200_000, 500, 1))  # as they were read
    assert v.position(2, S).lots == 1_000 and v.book(S).asks == (Level(200_100, 1_000, 1),)


def test_unknown_symbols_are_refused_and_change_nothing(ex):
    v, before = ExchangeView(ex), ex.state_hash()
    for read in (v.market, v.prices, v.funding, v.liquidation, v.book, v.mark, v.index, v.spec,
                 lambda s: v.positions(2, s), lambda s: v.open_orders(2, s), lambda s: v.position(2, s),
                 lambda s: list(v.all_positions(s)), lambda s: v.funding_history(s)):
        with pytest.raises(UnknownSymbol) as err:
            read("DOGEUSDT")
        assert err.value.symbol == "DOGEUSDT" and isinstance(err.value, KeyError)
    with pytest.raises(ValueError):
        v.book(S, -1)
    assert ex.state_hash() == before


def test_scalar_reads_by_hand_and_against_the_engine(ex):
    v, before = ExchangeView(ex), ex.state_hash()
    assert S in v and INV in v and "DOGEUSDT" not in v
    # account 2 (see test_balances_by_hand...): wallet 10,000 − 5 fee, MM 40, 500 of initial margin
    assert (v.wallet(2, "USDT"), v.margin_balance(2, "USDT")) == (9_995 * U, 9_995 * U)
    assert (v.maintenance_margin(2, "USDT"), v.withdrawable(2, "USDT")) == (40 * U, 9_495 * U)
    assert v.legs(2, S) == ((PositionSide.BOTH, 500),) and v.legs(3, S) == ((PositionSide.BOTH, -300),)
    assert v.legs(4, S) == () and v.legs(2, INV) == ()
    # the same exact prices as the position's view (worked out by hand in test_positions_by_hand)
    assert v.liquidation_price(2, S) == Fraction(25_000, 249) and v.bankruptcy_price(2, S) == 100
    assert v.liquidation_price(4, S) is None and v.bankruptcy_price(4, S) is None
    short = ex.liquidation_price(3, S)
    assert v.liquidation_price(3, S) == short.ticks == v.position(3, S).liquidation
    assert v.isolated_margin(3, S) == 59_970_000_000 and v.isolated_margin(4, S) == 0
    assert v.predicted_funding_rate(S) == ex.predicted_funding_rate(S)
    limit = v.daily_loss_limit(2, "USDT")
    assert limit == ex.daily_loss_limit(2, "USDT") and (limit["limit"], limit["hit"]) == (0, False)
    # a preview of 0.5 more for account 2 at 20,000: the engine's own, and nothing changed by it
    cmd = C.PlaceOrder(2, 2, S, Side.BUY, lots("0.5"), px("20000"))
    preview = v.preview_order(cmd)
    assert preview == ex.preview_order(cmd) and preview["lots"] == 1_000
    assert ex.state_hash() == before


def test_scalar_reads_refuse_unknown_symbols(ex):
    v, before = ExchangeView(ex), ex.state_hash()
    for read in (lambda s: v.legs(2, s), lambda s: v.liquidation_price(2, s), lambda s: v.bankruptcy_price(2, s),
                 lambda s: v.isolated_margin(2, s), v.predicted_funding_rate,
                 lambda s: v.preview_order(C.PlaceOrder(2, 2, s, Side.BUY, 1, 1))):
        with pytest.raises(UnknownSymbol):
            read("DOGEUSDT")
    assert ex.state_hash() == before


def test_a_held_positions_band_is_what_the_preview_said_the_fill_would_leave(ex):
    """PreviewOrder's band for an order's result and the read API's band of the position once
    the order filled are one computation (risk.liqband) on the same figures: equal, in ticks."""
    view = ExchangeView(ex)
    do(ex, C.SetLeverage(1, 4, S, 50))
    do(ex, C.Deposit(1, 4, "USDT", 400 * U))
    do(ex, C.PlaceOrder(1, 1, S, Side.SELL, lots("1"), px("20000")))  # 1 BTC on the ask at 20,000
    order = C.PlaceOrder(1, 4, S, Side.BUY, lots("0.8"), px("20000"), OrderKind.LIMIT, TimeInForce.IOC)
    previewed = view.preview_order(order)["liquidation_band"]
    do(ex, order)
    assert view.position(4, S).lots == lots("0.8")
    assert previewed[0] is not None
    assert view.liquidation_band(4, S) == previewed
    # an isolated position has a band of its own; an account without a position has none
    assert view.liquidation_band(3, S) is not None and view.liquidation_band(5, S) is None
