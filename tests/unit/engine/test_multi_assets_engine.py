"""Multi-Assets mode through the exchange state machine: the mode's refusals, BTC and USDC as
cross collateral for USDⓈ markets, and liquidations that follow the BTC collateral's index."""

from __future__ import annotations

import pytest

from perpsim.engine import commands as C
from perpsim.engine import multi_assets as MA
from perpsim.engine.events import BalanceChanged, CommandRejected, Liquidation
from perpsim.engine.exchange import Exchange
from perpsim.engine.twin import is_compiled, pure_exchange
from perpsim.model.enums import OrderKind, Side, TimeInForce
from perpsim.model.market_files import default_markets
from perpsim.model.reasons import RejectReason as R
from perpsim.risk.collateral import DEFAULT_MARGIN_ASSETS, collateral_value
from perpsim.risk.units import rate
from tests.unit.engine.maker_taker_kit import MAKER, TRADER, MakerTaker, U, rejected

MARKETS = default_markets()


class Venue(MakerTaker):
    """BTCUSDT, ETHUSDT and BTCUSD at 20,000, 1,000 and 20,000 on the book `impl`; MAKER with
    10,000,000 USDT on the other side."""

    def __init__(self, impl: str = "cython", cls=Exchange) -> None:
        super().__init__({s: MARKETS[s] for s in ("BTCUSDT", "ETHUSDT", "BTCUSD")},
                         {"BTCUSDT": "20000", "ETHUSDT": "1000", "BTCUSD": "20000"}, cls, book_impl=impl)

    def mode(self, account: int, on: bool):
        return self.do(C.SetMultiAssetsMode(self.ts, account, on))


@pytest.fixture(params=["cython", "ref"])
def venue(request):
    return Venue(request.param)


def test_btc_counts_at_its_haircut_value(venue):
    ex = venue.ex
    venue.do(C.Deposit(venue.ts, TRADER, "BTC", U))  # 1 BTC at 20,000: 19,500 after 2.5 %
    assert ex.available(TRADER, "USDT") == 0
    assert venue.mode(TRADER, True) == []
    assert ex.available(TRADER, "USDT") == ex.margin_balance(TRADER, "USDT") == 19_500 * U
    # a 10x long of 5 BTC (100,000 notional, 10,000 margin) fits the collateral
    events = venue.trade("BTCUSDT", "5", "20000", lev=10)
    assert not rejected(events)
    assert ex.position(TRADER, "BTCUSDT").lots == MARKETS["BTCUSDT"].qty_to_lots("5")
    # the fee came out of USDT, which is now negative and covered by the BTC
    assert ex.wallet(TRADER, "USDT") < 0 < ex.available(TRADER, "USDT")
    assert ex.wallet(TRADER, "BTC") == U


def test_single_asset_refuses_what_the_mode_allows(venue):
    venue.do(C.Deposit(venue.ts, TRADER, "BTC", U))
    assert rejected(venue.trade("BTCUSDT", "5", "20000", lev=10)) == [R.MARGIN_INSUFFICIENT]


def test_usdc_and_usdt_pool(venue):
    ex = venue.ex
    venue.do(C.Deposit(venue.ts, TRADER, "USDC", 300 * U))
    venue.do(C.Deposit(venue.ts, TRADER, "USDT", 200 * U))
    assert ex.available(TRADER, "USDT") == 200 * U
    venue.mode(TRADER, True)
    assert ex.available(TRADER, "USDT") == ex.available(TRADER, "USDC") == 500 * U
    assert ex.withdrawable(TRADER, "USDC") == 300 * U


def test_refusals(venue):
    ex = venue.ex
    venue.do(C.Deposit(venue.ts, TRADER, "USDT", 10_000 * U))
    assert rejected(venue.mode(TRADER, False)) == [R.MULTI_ASSETS_UNCHANGED]
    venue.do(C.SetMarginMode(venue.ts, TRADER, "ETHUSDT", True))
    assert rejected(venue.mode(TRADER, True)) == [R.MULTI_ASSETS_ISOLATED]
    venue.do(C.SetMarginMode(venue.ts, TRADER, "ETHUSDT", False))
    venue.trade("BTCUSDT", "0.1", "20000")
    assert rejected(venue.mode(TRADER, True)) == [R.POSITION_EXISTS]
    venue.trade("BTCUSDT", "-0.1", "20000")
    assert venue.mode(TRADER, True) == []
    assert rejected(venue.do(C.SetMarginMode(venue.ts, TRADER, "ETHUSDT", True))) == [R.MULTI_ASSETS_ISOLATED]
    spec = MARKETS["BTCUSD"]
    order = C.PlaceOrder(venue.ts, TRADER, "BTCUSD", Side.BUY, 1, spec.price_to_ticks("19000"),
                         OrderKind.LIMIT, TimeInForce.GTC)
    assert rejected(venue.do(order)) == [R.MULTI_ASSETS_COIN_M]
    eth = MARKETS["ETHUSDT"]
    resting = venue.do(C.PlaceOrder(venue.ts, TRADER, "ETHUSDT", Side.BUY, eth.qty_to_lots("1"),
                                    eth.price_to_ticks("900"), OrderKind.LIMIT, TimeInForce.GTC))
    assert not rejected(resting)
    assert rejected(venue.mode(TRADER, False)) == [R.OPEN_ORDERS_EXIST]
    assert TRADER in ex.multi_assets


def test_state_hash_unchanged_until_an_account_uses_the_mode(venue):
    before = venue.ex.state_hash()
    venue.index("BTCUSDT", "20100")  # the collateral index moves; no account uses the mode
    after_move = venue.ex.state_hash()
    assert after_move != before  # the mark moved
    venue.do(C.Deposit(venue.ts, TRADER, "BTC", U))
    h = venue.ex.state_hash()
    venue.mode(TRADER, True)
    assert venue.ex.state_hash() != h


@pytest.mark.parametrize("symbol,entry,size", [("ETHUSDT", "1000", "36"), ("BTCUSDT", "20000", "1.9")])
def test_liquidated_as_the_btc_collateral_falls(venue, symbol, entry, size):
    """A long backed only by BTC: as the BTC index falls the collateral shrinks (and, in BTCUSDT,
    the position loses too). After every index step the account is either still margin compliant
    over the pool or has been liquidated, and it is liquidated at the first step where the pool's
    margin ratio reached 100 %."""
    ex = venue.ex
    venue.do(C.Deposit(venue.ts, TRADER, "BTC", U // 10))  # 0.1 BTC: 1,950 USDT of collateral
    venue.mode(TRADER, True)
    assert not rejected(venue.trade(symbol, size, entry, lev=20))
    hc = DEFAULT_MARGIN_ASSETS["BTC"]
    liquidated_at = None
    for step in range(1, 60):
        price = 20000 - 330 * step
        would = _pool_liquidatable_at(venue, price, symbol)
        events = venue.index("BTCUSDT", str(price))
        if any(isinstance(e, Liquidation) and e.account == TRADER for e in events):
            liquidated_at = price
            assert would, f"liquidated at {price} while the pool was compliant"
            # auto-exchange: the USDT debt was repaid by selling BTC to the desk, none left owing
            sold = [e for e in events if isinstance(e, BalanceChanged) and e.cause == "auto_exchange"]
            assert {(e.asset, e.delta < 0) for e in sold} == {("BTC", True), ("USDT", False)}
            assert ex.wallet(TRADER, "USDT") >= 0 and 0 <= ex.wallet(TRADER, "BTC") < U // 10
            break
        assert not would, f"pool at or above 100 % at {price} and not liquidated"
        assert not MA.liquidatable(ex, TRADER)
        assert ex._collateral_index["BTC"] == rate(str(price))
        assert MA.collateral_usd(ex, TRADER) == collateral_value(hc, U // 10, rate(str(price)))
    assert liquidated_at is not None


def _pool_liquidatable_at(venue, price: int, symbol: str) -> bool:
    """Whether the pool would be at or above 100 % with the BTC index (and, for BTCUSDT, the
    mark) at `price`: the same figures computed on a copy of the exchange in the reference build."""
    import pickle

    twin = pickle.loads(pickle.dumps(venue.ex))
    twin.apply(C.SetIndexPrice(venue.ts + 1, "BTCUSDT", MARKETS["BTCUSDT"].price_to_ticks(str(price))))
    if not twin.markets[symbol].holds(TRADER):  # the twin liquidated it: it was liquidatable
        return True
    return MA.liquidatable(twin, TRADER)


@pytest.mark.skipif(not is_compiled(), reason="the compiled build is not installed")
@pytest.mark.parametrize("symbol,size", [("ETHUSDT", "36"), ("BTCUSDT", "1.9")])
def test_compiled_and_plain_builds_agree(symbol, size):
    """The same Multi-Assets run (mode, BTC collateral, a long, the BTC index falling through
    its liquidation) through the compiled exchange and its plain-Python twin."""
    runs = []
    for cls in (Exchange, pure_exchange().Exchange):
        v = Venue("cython", cls)
        out = [v.do(C.Deposit(v.ts, TRADER, "BTC", U // 10)), v.mode(TRADER, True),
               v.trade(symbol, size, "1000" if symbol == "ETHUSDT" else "20000")]
        for step in range(1, 60):
            out.append(v.index("BTCUSDT", str(20000 - 330 * step)))
            out.append(v.ex.state_hash())
        runs.append(out)
    assert runs[0] == runs[1]
    assert any(isinstance(e, Liquidation) for step in runs[0] if isinstance(step, list) for e in step)


def test_preview_uses_the_pool(venue):
    """The preview's liquidation price of a BTC-backed long is the one the account then gets."""
    ex = venue.ex
    venue.do(C.Deposit(venue.ts, TRADER, "BTC", U // 10))
    venue.mode(TRADER, True)
    spec = MARKETS["ETHUSDT"]
    venue.do(C.SetLeverage(venue.ts, TRADER, "ETHUSDT", 20))
    venue.do(C.PlaceOrder(venue.ts, MAKER, "ETHUSDT", Side.SELL, spec.qty_to_lots("30"), spec.price_to_ticks("1000"),
                          OrderKind.LIMIT, TimeInForce.GTC))
    order = C.PlaceOrder(venue.ts, TRADER, "ETHUSDT", Side.BUY, spec.qty_to_lots("30"), spec.price_to_ticks("1000"),
                         OrderKind.LIMIT, TimeInForce.IOC)
    preview = ex.preview_order(order)
    assert preview["available"] == 1_950 * U
    assert not rejected(venue.do(order))
    lp = ex.liquidation_price(TRADER, "ETHUSDT")
    assert preview["liquidation_price"] == lp.price
    # without the BTC the 1,950 of collateral would not exist: a price far below the entry
    assert 0 < lp.price < 1000


def test_snapshot_keeps_the_mode(venue):
    import pickle

    venue.do(C.Deposit(venue.ts, TRADER, "BTC", U))
    venue.mode(TRADER, True)
    copy = pickle.loads(pickle.dumps(venue.ex))
    assert copy.multi_assets == {TRADER}
    assert copy._collateral_index == venue.ex._collateral_index
    assert copy.state_hash() == venue.ex.state_hash()
    assert copy.available(TRADER, "USDT") == venue.ex.available(TRADER, "USDT") == 19_500 * U


def test_auto_exchange_sells_usdc_then_btc_at_the_haircut(venue):
    """A USDT debt after a liquidation is repaid from USDC at par first, then from BTC: the BTC
    sold is the rest over (1 − 2.5 %) at the index, rounded up."""
    ex = venue.ex
    venue.do(C.Deposit(venue.ts, TRADER, "USDC", 100 * U))
    venue.do(C.Deposit(venue.ts, TRADER, "BTC", U))
    venue.mode(TRADER, True)
    ex.ledger.move("USDT", ("wallet", TRADER), ("outside", 0), 1_075 * U)  # a 1,075 USDT debt to repay
    MA.auto_exchange(ex, TRADER)
    ex.check_integrity()
    # 100 from USDC; 975 / 0.975 = 1,000 USD of BTC at 20,000 = 0.05 BTC
    assert (ex.wallet(TRADER, "USDT"), ex.wallet(TRADER, "USDC")) == (0, 0)
    assert ex.wallet(TRADER, "BTC") == U - U // 20
    assert ex.ledger.balance(MA.DESK, "BTC") == U // 20


@pytest.mark.parametrize("seed", range(6))
def test_random_walk_leaves_no_pool_under_water(seed):
    """Multi-Assets accounts (some in hedge mode, with BTC, USDC and USDT collateral) trade
    BTCUSDT and ETHUSDT while both indexes walk at random: after every step no account with a
    position has its pool at or above 100 % margin ratio (the sweep found every one), conservation
    holds, and the plain-Python twin gives the same events and state hash."""
    import random

    runs = []
    for cls in (Exchange, pure_exchange().Exchange):
        v = Venue("cython", cls)
        ex, out = v.ex, []
        traders = (11, 12, 13, 14)
        for a in traders:
            if a % 2:
                v.do(C.SetPositionMode(v.ts, a, True))
            v.do(C.Deposit(v.ts, a, "BTC", U // 20 * (a - 10)))
            v.do(C.Deposit(v.ts, a, "USDC", 200 * U))
            v.mode(a, True)
        prices = {"BTCUSDT": 20000, "ETHUSDT": 1000}
        step_rng = random.Random(seed)
        for _ in range(80):
            symbol = step_rng.choice(("BTCUSDT", "ETHUSDT"))
            spec = MARKETS[symbol]
            if step_rng.random() < 0.5:
                a = step_rng.choice(traders)
                buy = step_rng.random() < 0.5
                size = spec.qty_to_lots("0.5" if symbol == "BTCUSDT" else "10")
                price = spec.price_to_ticks(str(prices[symbol]))
                pside = (1 if buy else 2) if a in ex.hedge else 0  # open a leg on the order's side
                v.do(C.SetLeverage(v.ts, a, symbol, 20))
                v.do(C.PlaceOrder(v.ts, MAKER, symbol, Side.SELL if buy else Side.BUY, size, price,
                                  OrderKind.LIMIT, TimeInForce.GTC))
                out.append(v.do(C.PlaceOrder(v.ts, a, symbol, Side.BUY if buy else Side.SELL, size, price,
                                             OrderKind.LIMIT, TimeInForce.IOC, position_side=pside)))
                v.do(C.CancelAll(v.ts, MAKER, symbol))
            else:
                move = step_rng.choice((-8, -5, -2, 2, 5, 8)) / 100
                prices[symbol] = max(1, round(prices[symbol] * (1 + move)))
                out.append(v.index(symbol, str(prices[symbol])))
            for a in traders:
                if a in ex._markets_of:
                    assert not MA.liquidatable(ex, a), f"account {a} under water after the sweep"
            out.append(ex.state_hash())
        runs.append(out)
    assert runs[0] == runs[1]
    events = [e for step in runs[0] if isinstance(step, list) for e in step]
    assert not [e for e in events if isinstance(e, CommandRejected) and e.reason != R.MARGIN_INSUFFICIENT]
    assert any(isinstance(e, Liquidation) for e in events)  # the walk reaches liquidations
