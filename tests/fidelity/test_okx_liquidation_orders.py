"""OKX's liquidation orders in the book: the partial step's order "slightly better than market price"
resting for its minute, and the fund's order at the entrusted price, relisted (venue-mechanics §4.5),
through Exchange.apply and `perpsim serve --profile okx`.

Sources (risk/okx_orders.py quotes them in full): OKX help 360020411711: "liquidation orders will be
sent in a price slightly better than market price, force-closing the required Number of Swaps [...]
About a minute later, if the orders are filled [...] the remaining liquidation orders will be
canceled [...] If the liquidation orders are unfilled [...] the unfilled liquidation orders will be
canceled. The liquidation procedure will start over again." OKX "System Liquidation Mechanism": "the
entrusted price will be calculated based on current market depth, basis, and mark price". The venue's
rules for what they leave vague: the step at the mark × (1 ∓ 0.1 %), rounded against the account; the
fund's order at the depth price of its whole position, capped at min(mark, index) (a sell), never
through the band or its own bankruptcy price; both rest (GTC).

The step world is tests/fidelity/test_okx_partial_steps.py's: LONG holds 15,000 swaps (15 BTC) from
21,000 at 20x on 18,500 USDT; tiers 0.45 % to 40,000, 1.05 % to 240,000 (cum 240), 2.05 % beyond
(cum 2,640); the maker bids 13 BTC at 19,700. At the mark 20,000 it is under water in tier 3: the step
cuts it to tier 1's 2,000 swaps (13,000 go), its order at 20,000 × 0.999 = 19,980.
"""

from __future__ import annotations

import pickle
from dataclasses import replace
from decimal import Decimal

from perpsim.clients.client import Client
from perpsim.engine import commands as C
from perpsim.engine.events import BalanceChanged, Liquidation
from perpsim.engine.exchange import Exchange
from perpsim.engine.twin import pure_exchange
from perpsim.model.enums import EventKind, PositionSide, Side
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import market_brackets
from perpsim.risk.okx_orders import depth_price, entrusted_price, step_limit
from perpsim.risk.profiles import BINANCE, OKX, market_under
from perpsim.venue.state import VenueState
from tests.fidelity import test_okx_partial_steps as steps
from tests.fidelity import test_okx_takeover as takeover
from tests.integration.conftest import own_venue
from tests.integration.test_okx_partial_liquidation import long_100_btc

U = 10**8
SEC = 10**9
BTC = "BTCUSDT"
LONG, MAKER = steps.LONG, steps.MAKER


def liquidation_orders(events: list, kind: int = EventKind.ACCEPTED) -> list:
    """(qty, price) of the liquidation orders' book events of `kind`."""
    return [(e.event.qty, e.event.price) for e in events if getattr(e, "liquidation", False) and e.event.kind == kind]


def fees(events: list) -> list:
    return [(e.account, e.delta) for e in events if isinstance(e, BalanceChanged) and e.cause in ("fee",
                                                                                                  "liquidation_fee")]


def test_the_prices_by_hand() -> None:
    """step_limit: 200,000 ticks (20,000.0) × 0.999 = 199,800 (a sell); 199,501 × 0.999 =
    199,301.499 rounded down to 199,301, × 1.001 = 199,700.501 rounded up to 199,701 (a buy): the
    order may fill that little further, against the account; clamped to the band. depth_price: bids
    of 1,000 lots at 199,900 and 3,000 at 199,500 hold 3,000 lots from 199,500 on, 5,000 nowhere (the
    last level). entrusted_price of a 3,000-lot sell: that depth price, under the fair price
    min(mark 200,000, index 199,800); with bids only at 200,100 the fair price 199,800 (the basis is
    not waited for); an empty book: the fair price; never under the floor (190,000)."""
    assert step_limit(True, 200_000, 190_000, 210_000) == 199_800
    assert step_limit(True, 199_501, 1, 10**9) == 199_301 and step_limit(False, 199_501, 1, 10**9) == 199_701
    assert step_limit(True, 200_000, 199_900, 210_000) == 199_900
    levels = [(199_900, 1_000), (199_500, 3_000)]
    assert depth_price(levels, 3_000) == 199_500 and depth_price(levels, 5_000) == 199_500
    assert depth_price([], 1) is None
    assert entrusted_price(True, 3_000, levels, 200_000, 199_800, 190_000) == 199_500
    assert entrusted_price(True, 3_000, [(200_100, 5_000)], 200_000, 199_800, 190_000) == 199_800
    assert entrusted_price(True, 3_000, [], 200_000, None, 190_000) == 200_000
    assert entrusted_price(True, 3_000, [(180_000, 5_000)], 200_000, 200_000, 190_000) == 190_000
    assert entrusted_price(False, 3_000, [(200_100, 1_000), (200_300, 5_000)], 200_000, 200_200, 210_000) == 200_300


def test_the_step_rests_and_fills_within_its_minute() -> None:
    """The step's sell of 13,000 rests at 19,980 (nothing at the bid 19,700). 20 s later a buyer at
    19,985 takes it at 19,980, a maker's fill: LONG realizes 13 × (19,980 − 21,000) = −13,260 and
    pays the liquidation fee, 0.05 % of 13 × 19,980 = 129.87, to the fund, no maker fee (0.02 %
    would be 51.948): its wallet 18,500 − 13,260 − 129.87 = 5,110.13. At the minute's end nothing is
    left to cancel, and the 2,000 left are compliant (equity 5,110.13 − 2,000 = 3,110.13 against
    tier 1's 180): no more goes."""
    ex = steps.world(bid=("13", "19700"))
    events = ex.apply(C.SetIndexPrice(2, BTC, 200_000))
    ex.check_integrity()
    assert [(e.qty, e.bankruptcy_price, e.filled) for e in events if isinstance(e, Liquidation)] == \
        [(13_000, 197_667, 0)]
    assert liquidation_orders(events) == [(13_000, 199_800)] and not liquidation_orders(events, EventKind.CANCELED)
    [oid] = ex.state._forced
    assert ex.markets[BTC].orders[oid].account == LONG and ex.markets[BTC].book.best_ask() == 199_800
    assert steps.held(ex) == 15_000
    fill = ex.apply(C.PlaceOrder(2 + 20 * SEC, MAKER, BTC, Side.BUY, 13_000, 199_850))
    ex.check_integrity()
    assert [f for f in fees(fill) if f[0] == LONG] == [(LONG, -12_987_000_000)]  # the liquidation fee alone
    assert steps.held(ex) == 2_000 and ex.state.wallet(LONG, "USDT") == 511_013_000_000
    assert ex.state.ledger.insurance("USDT") == 12_987_000_000
    after = ex.apply(C.AdvanceClock(2 + 60 * SEC))
    ex.check_integrity()
    assert not ex.state._forced and not [e for e in after if isinstance(e, Liquidation)] and steps.held(ex) == 2_000


def test_what_the_minute_leaves_is_canceled_and_the_step_starts_over() -> None:
    """A buyer at 19,981 takes 1 BTC of the resting 13 at 19,980 (30 s): −1,020 and the fee 9.99,
    the wallet 17,470.01, 14,000 held. The mark falls to 19,800 at 40 s: frozen, nothing happens,
    the order stays at 19,980. At 62 s its 12,000 left are canceled and the re-check finds the 14 BTC
    under water (equity 17,470.01 − 16,800 = 670.01 ≤ MM 277,200 × 2.05 % − 2,640 = 3,042.6, tier 3):
    a new step to tier 1 (40,000 / 19,800 = 2.0202: 2,020 kept, 11,980 go), its order at 19,800 ×
    0.999 = 19,780.2, the bankruptcy price 21,000 − 17,470.01 / 14 = 19,752.142…, rounded up to
    19,752.2."""
    ex = steps.world(bid=("13", "19700"))
    ex.apply(C.SetIndexPrice(2, BTC, 200_000))
    [first] = ex.state._forced
    ex.apply(C.PlaceOrder(2 + 30 * SEC, MAKER, BTC, Side.BUY, 1_000, 199_810))
    assert steps.held(ex) == 14_000 and ex.state.wallet(LONG, "USDT") == 1_747_001_000_000
    assert ex.markets[BTC].orders[first].leaves == 12_000
    assert not [e for e in ex.apply(C.SetIndexPrice(2 + 40 * SEC, BTC, 198_000)) if isinstance(e, Liquidation)]
    assert ex.markets[BTC].orders[first].price == 199_800
    events = ex.apply(C.AdvanceClock(2 + 60 * SEC))
    ex.check_integrity()
    assert liquidation_orders(events, EventKind.CANCELED) == [(12_000, 199_800)]
    assert liquidation_orders(events) == [(11_980, 197_802)]
    assert [(e.qty, e.bankruptcy_price, e.filled) for e in events if isinstance(e, Liquidation)] == \
        [(11_980, 197_522, 0)]
    assert first not in ex.state._forced and len(ex.state._forced) == 1 and steps.held(ex) == 14_000


def test_binance_still_sends_an_ioc() -> None:
    """Other profiles are unchanged: under binance the same step is an IOC at the bankruptcy price
    (down a tier, then the rest): nothing rests, nothing is kept."""
    world = takeover.world(profile=BINANCE)
    events = takeover.mark_at(world, 2, "20000")
    assert liquidation_orders(events) == [(1_000, 199_667), (2_000, 199_667)]
    assert not world.state._forced and not world.markets[BTC].book.open_orders(takeover.TRADER)


def test_the_fund_rests_at_the_entrusted_price_and_relists() -> None:
    """tests/fidelity/test_okx_takeover.py's world with the maker bidding 1 BTC at 19,990 only: the
    fund takes the 3 BTC at 19,966.7 (and the 0.1 the fee takes: 1,000.1). Its order: the depth price
    of 3 BTC is 19,990 (the book holds less: its last level), under the fair price min(20,000,
    20,000); its floor max(19,000, the fund's own bankruptcy price 19,966.7 − 1,000.1 / 3 = 19,633.4)
    is below: it sells 1 at 19,990 (+23.3) and rests 2 at 19,990. At 19,980 (3 s) it is relisted:
    no bid, so the fair price, 19,980 (floor 19,455 = 19,966.7 − 1,023.4 / 2 rounded up); a buyer at
    19,985 (4 s) takes the 2 at 19,980 as a maker's fill, no fee for the fund: +26.6, 1,050 in all."""
    ex = takeover.world(bid=("1", "19990"))
    events = takeover.mark_at(ex, 2, "20000")
    assert ex.markets[BTC].mark == 200_000
    assert liquidation_orders(events) == [(3_000, 199_900)]
    assert takeover.held(ex, takeover.IF_ACCOUNT) == 2_000 and ex.state.ledger.insurance("USDT") == 1_023_40_000_000
    assert ex.markets[BTC].book.best_ask() == 199_900
    events = takeover.mark_at(ex, 3, "19980")
    assert liquidation_orders(events, EventKind.CANCELED) == [(2_000, 199_900)]
    assert liquidation_orders(events) == [(2_000, 199_800)]
    fill = ex.apply(C.PlaceOrder(4, MAKER, BTC, Side.BUY, 2_000, 199_850))
    ex.check_integrity()
    assert [f for f in fees(fill) if f[0] != MAKER] == []
    assert takeover.held(ex, takeover.IF_ACCOUNT) == 0 and ex.state.ledger.insurance("USDT") == 1_050 * U


def run(engine: type) -> tuple:
    ex = takeover.world(bid=("1", "19990"), engine=engine)
    out = [takeover.mark_at(ex, 2, "20000"), takeover.mark_at(ex, 3, "19980"),
           ex.apply(C.PlaceOrder(4, MAKER, BTC, Side.BUY, 2_000, 199_850))]
    st = steps.world(bid=("13", "19700"), engine=engine)
    out += [st.apply(C.SetIndexPrice(2, BTC, 200_000)), st.apply(C.PlaceOrder(2 + 30 * SEC, MAKER, BTC, Side.BUY,
                                                                               1_000, 199_810)),
            st.apply(C.AdvanceClock(2 + 60 * SEC))]
    return [[list(e) for e in step] for step in out], ex.state_hash(), st.state_hash()


def test_the_plain_twin_rests_alike() -> None:
    """The compiled engine and its plain-Python twin (engine/twin.py): the same events and hashes."""
    compiled, plain = run(Exchange), run(pure_exchange().Exchange)
    assert compiled == plain


def test_a_resting_step_is_in_the_state_and_survives_a_snapshot() -> None:
    """The resting order's record is in the state hash (a copy without it hashes otherwise), and a
    pickled copy fills, cancels and re-steps as the original does."""
    ex = steps.world(bid=("13", "19700"))
    ex.apply(C.SetIndexPrice(2, BTC, 200_000))
    copy, forgot = pickle.loads(pickle.dumps(ex)), pickle.loads(pickle.dumps(ex))
    assert copy.state_hash() == ex.state_hash() and copy.state._forced == ex.state._forced
    forgot.state._forced = {}
    assert forgot.state_hash() != ex.state_hash()
    for cmd in (C.PlaceOrder(2 + 30 * SEC, MAKER, BTC, Side.BUY, 1_000, 199_810), C.AdvanceClock(2 + 60 * SEC)):
        a, b = ex.apply(cmd), copy.apply(cmd)
        assert [list(e) for e in a] == [list(e) for e in b]
    assert ex.state_hash() == copy.state_hash()


def test_the_step_rests_in_the_book_through_the_real_server(tmp_path) -> None:
    """`perpsim serve --profile okx` (its BTC tiers: 0.45 % to 1,000,000, 1.05 % to 5,000,000 (cum
    6,000), 2.05 % to 20,000,000 (cum 56,000)). 100 BTC from 65,000 at 20x on 371,000; a bid at 61,000.
    At 61,900: equity 61,000 ≤ MM 6,190,000 × 2.05 % − 56,000 = 70,895, tier 3: the step keeps
    1,000,000 / 61,900 = 16.155 (rounded down) and sells 83.845, its order resting at 61,900 × 0.999
    = 61,838.1, the book's best ask. A buyer at 61,850 takes it there: 83.845 × (61,838.1 − 65,000) =
    −265,109.5055 and the liquidation fee 0.05 % × 5,184,815.4945 = 2,592.40774725 to the fund: the
    wallet 103,298.08675275. Past the minute the 16.155 left are compliant (equity 53,217.59 at
    61,900 against 4,499.98): it keeps them."""
    with own_venue(tmp_path, profile="okx") as (running, _cfg, trader), \
            Client(running.address, admin_key=(tmp_path / "admin.key").read_text().strip()) as admin:
        maker = long_100_btc(admin, trader)
        maker.place_order(BTC, "buy", "100", "61000")

        admin.set_index_price(BTC, "61900")
        book = trader.book(BTC, 5)
        assert (book.asks[0].price, book.asks[0].quantity) == (Decimal("61838.1"), Decimal("83.845"))
        assert sum(p.quantity for p in trader.positions(BTC)) == Decimal("100")
        maker.place_order(BTC, "buy", "83.845", "61850")
        assert sum(p.quantity for p in trader.positions(BTC)) == Decimal("16.155")
        assert trader.account().balance("USDT").wallet == Decimal("103298.08675275")
        assert admin.insurance_fund("USDT")["USDT"] == Decimal("2592.40774725")
        [sold] = [(t.side, t.price, t.quantity) for t in trader.trades(BTC)[-1:]]
        assert sold == ("sell", Decimal("61838.1"), Decimal("83.845"))
        admin.advance_clock(61 * SEC)
        admin.set_index_price(BTC, "61900")
        assert sum(p.quantity for p in trader.positions(BTC)) == Decimal("16.155")


def test_a_resting_steps_later_fill_is_the_long_legs_trade_in_hedge_mode() -> None:
    """The world above with the trader in hedge mode, long on its LONG leg: the step's sell rests,
    and its fill 20 s later (the trader the maker) is the trader's trade on position side LONG in
    the history, as the fill that opened the leg is. The venue's own order was never in the
    order registry, so the history reads the leg from the order's side: a sell closes the long."""
    spec = replace(market_under(OKX, default_markets()[BTC]), brackets=steps.TIERS)
    px = spec.price_to_ticks
    state = VenueState(Exchange({BTC: spec}, {BTC: market_brackets(spec)}, profile=OKX, start_ts=1))
    state.apply(C.SetIndexPrice(1, BTC, px("21000")))
    state.apply(C.Deposit(1, MAKER, "USDT", 100_000_000 * U))
    state.apply(C.Deposit(1, LONG, "USDT", int((Decimal("18500") + 15 * 21_000 * spec.taker_fee) * U)))
    state.apply(C.SetPositionMode(1, LONG, True))
    state.apply(C.SetLeverage(1, LONG, BTC, 20))
    state.apply(C.PlaceOrder(1, MAKER, BTC, Side.SELL, 15_000, px("21000")))
    state.apply(C.PlaceOrder(1, LONG, BTC, Side.BUY, 15_000, px("21000"), position_side=PositionSide.LONG))
    state.apply(C.PlaceOrder(1, MAKER, BTC, Side.BUY, 13_000, px("19700")))
    state.apply(C.SetIndexPrice(2, BTC, 200_000))
    state.apply(C.PlaceOrder(2 + 20 * SEC, MAKER, BTC, Side.BUY, 13_000, 199_850))
    state.exchange.check_integrity()
    trades = state.history.trades(LONG, BTC)
    assert [(t.side, t.position_side, t.qty, t.price) for t in sorted(trades, key=lambda t: t.id)] == [
        (Side.BUY, PositionSide.LONG, 15_000, px("21000")), (Side.SELL, PositionSide.LONG, 13_000, 199_800)]
