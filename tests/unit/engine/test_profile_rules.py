"""The venue profile's rules the engine runs: the liquidation trigger (dYdX's oracle, the index)
and the ADL ranking (Hyperliquid's against Binance's), each through Exchange.apply."""

from __future__ import annotations

from fractions import Fraction as F

import pytest

from perpsim.engine import commands as C
from perpsim.engine.events import AutoDeleveraged, Liquidation
from perpsim.engine.exchange import Exchange
from perpsim.engine.views import ExchangeView
from perpsim.model.enums import Side
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import btcusdt_brackets, market_brackets
from perpsim.risk.profiles import BINANCE, DYDX, HYPERLIQUID, VenueProfile, market_under
from perpsim.risk.venue_rules import adl_score

U = 10**8
SEC = 10**9
SYMBOL = "BTCUSDT"
SPEC = default_markets()[SYMBOL]
LONG, SHORT, MAKER = 1, 2, 3


def px(text: str) -> int:
    return SPEC.price_to_ticks(text)


def lots(text: str) -> int:
    return SPEC.qty_to_lots(text)


def exchange(profile: VenueProfile) -> Exchange:
    return Exchange({SYMBOL: SPEC}, {SYMBOL: btcusdt_brackets(U)}, profile=profile, start_ts=1)


def mark_below_the_index(profile: VenueProfile) -> Exchange:
    """LONG holds 1 BTC from 20,000 on 700 USDT at 100x (liquidation price ≈ 19,387); a trade at
    19,000 and a book around 19,000 pull the mark there while the index stays at 20,000."""
    ex = exchange(profile)
    ex.apply(C.SetIndexPrice(1, SYMBOL, px("20000")))
    for account, usdt in ((MAKER, 1_000_000), (SHORT, 1_000_000), (LONG, 700)):
        ex.apply(C.Deposit(1, account, "USDT", usdt * U))
    ex.apply(C.SetLeverage(1, LONG, SYMBOL, 100))
    ex.apply(C.PlaceOrder(1, MAKER, SYMBOL, Side.SELL, lots("1"), px("20000")))
    ex.apply(C.PlaceOrder(1, LONG, SYMBOL, Side.BUY, lots("1"), px("20000")))
    ex.apply(C.PlaceOrder(1, MAKER, SYMBOL, Side.BUY, lots("0.1"), px("19000")))
    ex.apply(C.PlaceOrder(1, SHORT, SYMBOL, Side.SELL, lots("0.1"), px("19000")))
    ex.apply(C.PlaceOrder(1, MAKER, SYMBOL, Side.BUY, lots("5"), px("18900")))
    ex.apply(C.PlaceOrder(1, MAKER, SYMBOL, Side.SELL, lots("5"), px("19100")))
    assert px("19300") < ex.liquidation_price(LONG, SYMBOL).ticks < px("19400")
    return ex


def liquidations(ex: Exchange, ts: int, index: str) -> list[Liquidation]:
    events = ex.apply(C.SetIndexPrice(ts, SYMBOL, px(index)))
    ex.check_integrity()
    return [e for e in events if isinstance(e, Liquidation)]


def test_binance_liquidates_on_the_mark() -> None:
    ex = mark_below_the_index(BINANCE)
    [liq] = liquidations(ex, 60 * SEC, "20000")
    assert liq.account == LONG and ex.markets[SYMBOL].mark == px("19000")


def test_dydx_liquidates_on_the_oracle_the_index() -> None:
    ex = mark_below_the_index(DYDX)
    assert ExchangeView(ex).liquidation(SYMBOL).trigger_source == "index"
    for minute in range(1, 11):  # the book and the last trade sit at 19,000, under the liquidation price
        assert liquidations(ex, minute * 60 * SEC, "20000") == []
    assert ex.markets[SYMBOL].mark == px("20000")  # dYdX's mark is the oracle: the trades do not move it
    [liq] = liquidations(ex, 11 * 60 * SEC, "19300")  # the index crosses it: at once
    assert liq.account == LONG


def adl_world(profile: VenueProfile) -> tuple[Exchange, list]:
    """Two profitable longs opposite a short that goes bankrupt with nothing to buy from and an
    empty insurance fund: A entered at 20,000 on 10,000 USDT (more profit, little leverage), B at
    21,900 on 3,000 USDT (little profit, more leverage). The short's 1 BTC is deleveraged against
    whichever ranks first at a mark of 22,000."""
    a, b, bankrupt, deep = 11, 12, 13, 14
    ex = exchange(profile)
    ex.apply(C.SetIndexPrice(1, SYMBOL, px("21900")))
    for account, usdt in ((a, 10_000), (b, 3_000), (bankrupt, 1_500), (deep, 1_000_000)):
        ex.apply(C.Deposit(1, account, "USDT", usdt * U))
    ex.apply(C.PlaceOrder(1, deep, SYMBOL, Side.SELL, lots("1"), px("21900")))
    ex.apply(C.PlaceOrder(1, b, SYMBOL, Side.BUY, lots("1"), px("21900")))
    ex.apply(C.SetIndexPrice(2, SYMBOL, px("20000")))
    hl = profile is HYPERLIQUID  # its mark is published on the 3-s grid: the clock goes there after an index
    t = 3 * SEC if hl else 2
    if hl:
        ex.apply(C.AdvanceClock(t))
    ex.apply(C.PlaceOrder(t, bankrupt, SYMBOL, Side.SELL, lots("1"), px("20000")))
    ex.apply(C.PlaceOrder(t, a, SYMBOL, Side.BUY, lots("1"), px("20000")))
    events = ex.apply(C.SetIndexPrice(t if hl else 3, SYMBOL, px("22000")))
    if hl:
        events += ex.apply(C.AdvanceClock(2 * t))
    ex.check_integrity()
    assert ex.markets[SYMBOL].mark == px("22000")
    return ex, [(e.account, e.counterparty, e.qty) for e in events if isinstance(e, AutoDeleveraged)]


@pytest.mark.parametrize(("profile", "first"), [(BINANCE, 11), (HYPERLIQUID, 12)])
def test_adl_ranks_by_the_profiles_formula(profile: VenueProfile, first: int) -> None:
    _, adl = adl_world(profile)
    assert adl == [(13, first, lots("1"))]


def test_dydx_has_no_ranking_but_the_same_commands_give_the_same_queue() -> None:
    """dYdX v4 deleverages opposite positions from a pseudo-random start: here drawn from the
    venue time, so a replay picks the same counterparty; position keys (account × 4 + side)
    follow in order from the start, wrapping around."""
    _, adl = adl_world(DYDX)
    assert adl == adl_world(DYDX)[1] and len(adl) == 1
    start = 3 * 2654435761 % (2**61 - 1)  # the shock's venue time, 3
    expected = min((11, 12), key=lambda account: (account * 4 - start) % (2**61 - 1))
    assert adl[0][1] == expected


def test_the_two_rankings_disagree_by_their_published_formulas() -> None:
    """By hand, before the fees: A (upnl 2,000, wallet 10,000), B (upnl 100, wallet 3,000), MM
    0.4 % of 22,000 = 88 each. Binance: upnl / wallet × MM / (wallet + upnl); Hyperliquid:
    (mark / entry) × (notional / account value)."""
    def scores(ranking):
        return [adl_score(ranking, upnl=F(u), wallet=F(w), maintenance=F(88), mark=F(22000), entry=F(e),
                          notional=F(22000), entry_notional=F(e)) for u, w, e in ((2000, 10_000, 20_000),
                                                                                 (100, 3_000, 21_900))]
    a, b = scores(BINANCE.adl.ranking)
    assert a > b
    a, b = scores(HYPERLIQUID.adl.ranking)
    assert b > a



def partial_world(profile: VenueProfile, leverage: int, wallet: int, index: str) -> tuple[Exchange, list]:
    """The market as the profile runs it (its tiers, fees and clearance fee): LONG holds 10 BTC
    from 20,000 (200k of notional) at `leverage` on `wallet` USDT, deep bids 5 under `index`, to
    which the index falls in the same instant (no basis yet: the mark follows it)."""
    spec = market_under(profile, SPEC)
    ex = Exchange({SYMBOL: spec}, {SYMBOL: market_brackets(spec)}, profile=profile, start_ts=1)
    ex.apply(C.SetIndexPrice(1, SYMBOL, px("20000")))
    ex.apply(C.Deposit(1, MAKER, "USDT", 10_000_000 * U))
    fee = 10 * 20_000 * spec.taker_fee  # the opening taker fee
    ex.apply(C.Deposit(1, LONG, "USDT", int((wallet + fee) * U)))
    ex.apply(C.SetLeverage(1, LONG, SYMBOL, leverage))
    ex.apply(C.PlaceOrder(1, MAKER, SYMBOL, Side.SELL, lots("10"), px("20000")))
    ex.apply(C.PlaceOrder(1, LONG, SYMBOL, Side.BUY, lots("10"), px("20000")))
    assert ex.wallet(LONG, "USDT") == wallet * U
    ex.apply(C.PlaceOrder(1, MAKER, SYMBOL, Side.BUY, lots("50"), px(index) - px("5")))
    events = ex.apply(C.SetIndexPrice(1, SYMBOL, px(index)))
    if profile is HYPERLIQUID:  # its mark is published on the 3-s grid (risk.hyperliquid_mark)
        events += ex.apply(C.AdvanceClock(3 * SEC))
    ex.check_integrity()
    assert ex.markets[SYMBOL].mark == px(index)
    return ex, [e for e in events if isinstance(e, Liquidation)]


@pytest.mark.parametrize(("profile", "leverage", "wallet", "index", "cut"), [
    # MM 1.25 %: 5,000 − 10 × 260 = 2,400 ≤ 2,467.5; after 2 BTC at 19,735: 2,390 > 1,974
    (HYPERLIQUID, 40, 5_000, "19740", "2"),
    # MM 3 %: 10,000 − 10 × 420 = 5,800 ≤ 5,874; after 1 BTC at 19,575 and its 1.5 % fee: 5,501.4 > 5,286.6
    (DYDX, 20, 10_000, "19580", "1"),
])
def test_a_fraction_per_step_liquidation_stops_once_the_account_is_compliant(
        profile: VenueProfile, leverage: int, wallet: int, index: str, cut: str) -> None:
    """Hyperliquid closes 20 % of a position above 100k of notional first, dYdX 10 % (§4.6-4.7):
    filled at the bids 5 under the mark, what is left is margin compliant and stays open."""
    ex, liqs = partial_world(profile, leverage, wallet, index)
    assert [(e.account, e.qty, e.filled) for e in liqs] == [(LONG, lots(cut), lots(cut))]
    assert ex.markets[SYMBOL].positions[LONG * 4].lots == lots("10") - lots(cut)
