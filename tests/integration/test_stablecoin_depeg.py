"""A USDC depeg through the real venue: the sandbox's SetIndexPrice on "USDCUSD" moves the USD index
of USDC, and a Multi-Assets account whose only collateral is USDC, safe at par, is liquidated.

Binance values Multi-Assets collateral "based on the prevailing market rate for USDTUSD and USDCUSD
pairs" (FAQ "How to Calculate Margin Ratio in the Multi-Assets Mode", 2022-07-06). Default index:
BTCUSDT 65,000.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from perpsim.clients.errors import PerpsimError
from perpsim.model.reasons import RejectReason as R


def test_usdc_at_0_95_liquidates_a_pool_that_is_safe_at_par(admin, make_account):
    trader = make_account(deposit=None)
    maker = make_account(deposit="1000000")
    assert trader.set_multi_assets_mode(True) is True
    trader.deposit("USDC", "5000")
    maker.place_order("BTCUSDT", "sell", "1", "65000")
    trader.set_leverage("BTCUSDT", 20)
    trader.place_order("BTCUSDT", "buy", "1", "65000", time_in_force="IOC")
    assert [p.symbol for p in trader.positions()] == ["BTCUSDT"]

    # at 60,400: equity ≈ 5,000 − 26 (fee) − 4,600 = 374 against MM 60,400 × 0.5 % − 50 = 252
    assert admin.set_index_price("BTCUSDT", "60400").liquidations == 0
    usdt = trader.account().balance("USDT")
    assert usdt.margin_balance > usdt.maintenance_margin and trader.positions()
    before = trader.account().balance("USDC").wallet

    # USDC at 0.95 takes 250 USD off the pool: ≈ 124 left, under the 252 of maintenance
    update = admin.set_index_price("USDCUSD", "0.95")
    assert update.liquidations == 1 and update.mark_price == Decimal("0.95")
    assert trader.positions() == []
    after = trader.account()
    assert after.balance("USDT").wallet >= 0
    usdc = after.balance("USDC")
    assert usdc.wallet < before
    assert usdc.collateral_value == (usdc.wallet * Decimal("0.95")).quantize(Decimal("1E-8"))
    swaps = trader.income("auto_exchange")
    paid = -sum(i.amount for i in swaps if i.asset == "USDC")
    got = sum(i.amount for i in swaps if i.asset == "USDT")
    assert got > 0 and paid >= got / Decimal("0.95") > paid - Decimal("1E-8")  # at 1 / 0.95, rounded up

    admin.set_index_price("USDCUSD", "1")
    assert trader.account().balance("USDC").collateral_value == trader.account().balance("USDC").wallet


@pytest.mark.parametrize("price", ["0", "2.5", "0.123456789"])
def test_a_bad_stablecoin_index_is_refused(admin, price):
    with pytest.raises(PerpsimError) as e:
        admin.set_index_price("USDTUSD", price)
    assert e.value.reason in (R.INVALID_VALUE, R.BAD_PRECISION)


def test_the_rate_survives_a_restart(tmp_path):
    """A stablecoin index is a journaled SetIndexPrice: a venue restarted on the same data
    directory (journal replay, a snapshot on the way) values the USDC at the rate it had."""
    from perpsim.clients.client import Client

    from .conftest import own_venue

    with own_venue(tmp_path, snapshot_every=2) as (running, _, trader):
        key = trader.api_key
        trader.set_multi_assets_mode(True)
        trader.deposit("USDC", "100")
        with Client(running.address, admin_key=(tmp_path / "admin.key").read_text().strip()) as admin:
            admin.set_index_price("USDCUSD", "0.97")
        before = trader.account()
    assert before.balance("USDC").collateral_value == Decimal("97")
    with own_venue(tmp_path) as (running, _, _):
        with Client(running.address, api_key=key) as again:
            after = again.account()
    assert after.balance("USDC").collateral_value == Decimal("97")
    assert after.balance("USDC").margin_balance == before.balance("USDC").margin_balance
