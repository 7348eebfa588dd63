"""Stablecoins valued at their USD index in Multi-Assets mode, through the exchange state machine.

Source: "How to Calculate Margin Ratio in the Multi-Assets Mode" (Binance FAQ, 2022-07-06,
binance.com/en/support/faq/c983a9268cfa4e70a4916c276bb3b7bc): "the margin ratio is based on the
prevailing market rate for USDTUSD and USDCUSD pairs"; its example: USDTUSD 0.99, a USDT wallet of
200 and a USDC wallet of 220. The engine's stablecoin buffers are 0 (risk.collateral
DEFAULT_MARGIN_ASSETS; the FAQ's 0.01 / 0.005 are its example's, checked with risk.collateral in
tests/fidelity/test_multi_assets.py), so here the equity is 200 × 0.99 + 220 = 418 USD.

A stablecoin index is a SetIndexPrice on "USDTUSD" / "USDCUSD" with the price a RATE_SCALE-scaled
USD figure; until one is set the stablecoins stand at par and nothing differs from before.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perpsim.engine import commands as C
from perpsim.engine import multi_assets as MA
from perpsim.engine.events import BalanceChanged, Liquidation
from perpsim.engine.exchange import Exchange
from perpsim.engine.twin import pure_exchange
from perpsim.model.market_files import default_markets
from perpsim.model.reasons import RejectReason as R
from perpsim.risk.units import RATE_SCALE
from tests.unit.engine.maker_taker_kit import MAKER, TRADER, MakerTaker, U, rejected

MARKETS = default_markets()
BTC = MARKETS["BTCUSDT"]


class World(MakerTaker):
    """BTCUSDT and ETHUSDT at 20,000 and 1,000; MAKER with 10,000,000 USDT on the other side."""

    def __init__(self, cls=Exchange) -> None:
        super().__init__({s: MARKETS[s] for s in ("BTCUSDT", "ETHUSDT")}, {"BTCUSDT": "20000", "ETHUSDT": "1000"},
                         cls)


@pytest.fixture(params=["compiled", "plain"])
def world(request) -> World:
    """The compiled engine and its plain-Python twin (engine/twin.py) run every test alike."""
    return World(Exchange if request.param == "compiled" else pure_exchange().Exchange)


def test_the_faq_wallets_at_usdtusd_0_99(world: World) -> None:
    """200 USDT at 0.99 and 220 USDC at 1: 418 USD of equity; USDT available = 418 / 0.99."""
    ex = world.ex
    world.do(C.SetMultiAssetsMode(world.ts, TRADER, True))
    world.do(C.Deposit(world.ts, TRADER, "USDT", 200 * U))
    world.do(C.Deposit(world.ts, TRADER, "USDC", 220 * U))
    assert ex.margin_balance(TRADER, "USDT") == ex.margin_balance(TRADER, "USDC") == 420 * U
    assert world.index("USDTUSD", "0.99") == []
    assert ex.margin_balance(TRADER, "USDC") == ex.available(TRADER, "USDC") == 418 * U
    usdt = (Decimal(418) / Decimal("0.99")).quantize(Decimal("1E-8"), ROUND_DOWN)  # 422.22222222
    assert ex.available(TRADER, "USDT") == int(usdt * U)
    assert MA.collateral_values(ex.state, TRADER) == {"USDT": 198 * U, "USDC": 220 * U, "BTC": 0}
    # all of the USDT may leave (the pool is free), and no more than it holds
    assert ex.withdrawable(TRADER, "USDT") == 200 * U and ex.withdrawable(TRADER, "USDC") == 220 * U


def test_the_pool_in_one_asset_converts_the_rest_at_its_rate(world: World) -> None:
    """What an ADL counterparty's loss is drawn on, in its market's asset: 200 USDT at 0.99 and
    220 USDC at 1 are 220 + 198 = 418 USDC, or 200 + 220 / 0.99 = 422.22222222 USDT (down)."""
    ex = world.ex
    world.do(C.SetMultiAssetsMode(world.ts, TRADER, True))
    world.do(C.Deposit(world.ts, TRADER, "USDT", 200 * U))
    world.do(C.Deposit(world.ts, TRADER, "USDC", 220 * U))
    assert MA.wallets_in(ex.state, TRADER, "USDT") == MA.wallets(ex.state, TRADER) == 420 * U  # at par
    world.index("USDTUSD", "0.99")
    assert MA.wallets_in(ex.state, TRADER, "USDC") == 418 * U
    usdt = (200 + Decimal(220) / Decimal("0.99")).quantize(Decimal("1E-8"), ROUND_DOWN)
    assert MA.wallets_in(ex.state, TRADER, "USDT") == int(usdt * U)


def test_btc_is_valued_in_usd_through_the_usdt_index(world: World) -> None:
    """BTCUSDT's index is in USDT: 0.1 BTC at 20,000 USDT with USDTUSD 0.99 is 1,980 USD, 1,930.5
    after BTC's 2.5 % haircut."""
    world.do(C.Deposit(world.ts, TRADER, "BTC", U // 10))
    world.do(C.SetMultiAssetsMode(world.ts, TRADER, True))
    assert MA.collateral_values(world.ex.state, TRADER)["BTC"] == 1_950 * U
    world.index("USDTUSD", "0.99")
    assert MA.collateral_values(world.ex.state, TRADER)["BTC"] == 1_930_50 * U // 100
    assert world.ex.margin_balance(TRADER, "USDC") == 1_930_50 * U // 100
    # withdrawable BTC: all of it (no margin in use), never more than the wallet
    assert world.ex.withdrawable(TRADER, "BTC") == U // 10


def test_an_open_position_is_margined_in_usd_at_the_rates(world: World) -> None:
    """A USDT position's initial margin (1,000 USDT at 20x) costs 1,000 × 0.99 USD of a pool
    of USDC: what is left for a USDC order is the USD rest at USDC's rate."""
    ex = world.ex
    world.do(C.SetMultiAssetsMode(world.ts, TRADER, True))
    world.do(C.Deposit(world.ts, TRADER, "USDC", 2_000 * U))
    world.index("USDTUSD", "0.99")
    world.trade("BTCUSDT", "1", "20000")
    assert ex.markets["BTCUSDT"].holds(TRADER)
    fee = -ex.wallet(TRADER, "USDT")
    assert fee > 0
    # equity = 2,000 USDC − fee × 0.99 (a USDT debt at USDT's rate, rounded to more debt)
    equity = 2_000 * U - (fee * 99 + 99) // 100
    assert ex.margin_balance(TRADER, "USDC") == equity
    assert ex.available(TRADER, "USDC") == equity - 990 * U  # IM 1,000 USDT at 0.99
    assert ex.available(TRADER, "USDT") == (equity - 990 * U) * 100 // 99


def test_a_depeg_liquidates_an_account_safe_at_par(world: World) -> None:
    """2,000 USDC behind a 20x long of 1 BTC from 20,000; at 18,150 the pool (≈ 142 USD) covers
    the maintenance margin (≈ 73) at par; USDC at 0.95 takes 100 USD off it: liquidated, and
    the USDT debt is repaid from the USDC at 1 / 0.95 of it."""
    ex = world.ex
    world.do(C.SetMultiAssetsMode(world.ts, TRADER, True))
    world.do(C.Deposit(world.ts, TRADER, "USDC", 2_000 * U))
    world.trade("BTCUSDT", "1", "20000")
    assert not [e for e in world.index("BTCUSDT", "18150") if isinstance(e, Liquidation)]
    at_par = ex.liquidation_price(TRADER, "BTCUSDT").ticks
    assert at_par < BTC.price_to_ticks("18150")

    # a small depeg moves the liquidation price up by 2,000 × 2 % = 40 USDT over (1 − MMR)
    assert world.index("USDCUSD", "0.98") == []
    moved = ex.liquidation_price(TRADER, "BTCUSDT").ticks - at_par
    assert BTC.price_to_ticks("40") <= moved <= BTC.price_to_ticks("40.3")
    assert world.index("USDCUSD", "1") == []
    assert ex.liquidation_price(TRADER, "BTCUSDT").ticks == at_par

    usdc_before = ex.wallet(TRADER, "USDC")
    events = world.index("USDCUSD", "0.95")
    assert [e.account for e in events if isinstance(e, Liquidation)] == [TRADER]
    assert not ex.markets["BTCUSDT"].holds(TRADER)
    moves = [e for e in events if isinstance(e, BalanceChanged) and e.cause == "auto_exchange"
             and e.account == TRADER]
    paid = -sum(e.delta for e in moves if e.asset == "USDC")
    got = sum(e.delta for e in moves if e.asset == "USDT")
    assert got > 0 and ex.wallet(TRADER, "USDT") >= 0
    assert paid * 95 >= got * 100 > (paid - 1) * 95  # USDC given at 0.95 per USDT, rounded up
    assert ex.wallet(TRADER, "USDC") == usdc_before - paid


def test_a_bad_stablecoin_index_is_refused_and_changes_nothing(world: World) -> None:
    before = world.ex.state_hash()  # (at the clock of the last command: a new time alone changes the hash)
    for cmd in (C.SetIndexPrice(world.ts, "USDTUSD", 0), C.SetIndexPrice(world.ts, "USDTUSD", 3 * RATE_SCALE),
                C.SetIndexPrice(world.ts, "USDCUSD", RATE_SCALE, source="feed"),
                C.SetIndexPrice(world.ts, "USDCUSD", RATE_SCALE, quote_account=MAKER, quote_levels=1,
                                quote_step=1, quote_lots=1)):
        assert rejected(world.do(cmd)) == [R.INVALID_VALUE]
    assert world.ex.state_hash() == before


def test_the_hash_covers_a_rate_away_from_par_only() -> None:
    a, b = World(), World()
    a.index("USDTUSD", "1")
    b.index("USDCUSD", "1")
    assert a.ex.state_hash() == b.ex.state_hash()
    a.index("USDTUSD", "0.999")
    b.index("USDTUSD", "1")
    assert a.ex.state_hash() != b.ex.state_hash()
    a.index("USDTUSD", "1")
    b.index("USDCUSD", "1")
    assert a.ex.state_hash() == b.ex.state_hash()


@settings(max_examples=15, deadline=None)
@given(st.lists(st.sampled_from(["0.97", "0.9999", "1.02", "1"]), min_size=1, max_size=4))
def test_at_par_every_figure_is_the_par_engines(moves: list[str]) -> None:
    """A venue whose stablecoin indexes wander (the Multi-Assets account holding positions in
    both) and come back to 1 shows the same figures and state hash as one that never set them."""
    par, moved = World(), World()

    def run(w: World, wander: bool) -> None:
        w.do(C.Deposit(w.ts, TRADER, "BTC", U // 10))
        w.do(C.SetMultiAssetsMode(w.ts, TRADER, True))
        w.do(C.Deposit(w.ts, TRADER, "USDC", 3_000 * U))
        w.trade("BTCUSDT", "1", "20000")
        w.trade("ETHUSDT", "-5", "1000", lev=10)
        for step, price in enumerate(moves):
            if wander:
                w.index("USDTUSD" if step % 2 else "USDCUSD", price)
                w.index("USDTUSD" if step % 2 else "USDCUSD", "1")
            else:
                w.ts += 2
            w.index("BTCUSDT", "19500")

    run(par, False)
    run(moved, True)
    figures = []
    for w in (par, moved):
        ex = w.ex
        figures.append(([(ex.margin_balance(TRADER, a), ex.available(TRADER, a), ex.withdrawable(TRADER, a))
                         for a in ("USDT", "USDC", "BTC")],
                        [ex.liquidation_price(TRADER, s) for s in ("BTCUSDT", "ETHUSDT")],
                        ex.state_hash()))
    assert figures[0] == figures[1]
