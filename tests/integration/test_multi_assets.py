"""Multi-Assets mode through the real venue: the gRPC client, the `perpsim account
multi-assets` commands and the REST gateway's /fapi/v1/multiAssetsMargin (raw and through ccxt).

Default index prices: BTCUSDT 65,000 (the BTC collateral's index), BTC's haircut 2.5 %.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from perpsim.cli import main as cli
from perpsim.clients.errors import PerpsimError
from perpsim.model.reasons import RejectReason as R
from tests.integration.gateway_kit import credentials, signed, sync_exchange

BTC_INDEX = Decimal("65000")


def _collateral(client, asset: str) -> Decimal | None:
    return client.account().balance(asset).collateral_value


def test_btc_and_usdc_back_a_usdt_position_and_its_liquidation(admin, make_account):
    trader = make_account(deposit=None)
    maker = make_account(deposit="1000000")
    with pytest.raises(PerpsimError) as e:  # no market settles USDC: unknown to a single-asset account
        trader.deposit("USDC", "100")
    assert e.value.reason == R.UNKNOWN_SYMBOL
    trader.deposit("BTC", "0.1")
    assert trader.account().balance("USDT").available == 0
    assert trader.set_multi_assets_mode(True) is True
    trader.deposit("USDC", "100")
    acct = trader.account()
    assert acct.multi_assets
    # 0.1 BTC × 65,000 × (1 − 2.5 %) = 6,337.5; USDC and USDT at par
    assert acct.balance("BTC").collateral_value == Decimal("0.1") * BTC_INDEX * Decimal("0.975")
    assert acct.balance("USDC").collateral_value == Decimal("100")
    assert acct.balance("USDT").available == acct.balance("USDC").available == Decimal("6437.5")

    # a 20x long of 1 BTC (65,000 notional, 3,250 margin) with no USDT at all
    maker.place_order("BTCUSDT", "sell", "1", "65000")
    trader.set_leverage("BTCUSDT", 20)
    trader.place_order("BTCUSDT", "buy", "1", "65000", time_in_force="IOC")
    assert [p.symbol for p in trader.positions()] == ["BTCUSDT"]
    assert trader.account().balance("USDT").wallet < 0  # the fee: a USDT debt the pool covers

    with pytest.raises(PerpsimError) as e:
        trader.set_multi_assets_mode(False)
    assert e.value.reason == R.POSITION_EXISTS
    with pytest.raises(PerpsimError) as e:
        trader.place_order("BTCUSD", "buy", "1", "60000")
    assert e.value.reason == R.MULTI_ASSETS_COIN_M

    # equity at P ≈ 0.0975 P (the BTC) + 100 (USDC) − 26 (fee) + (P − 65,000) (the long), against
    # a maintenance margin of under 0.5 % of P: compliant at 60,000, under water near 59,400
    admin.set_index_price("BTCUSDT", "60000")
    acct = trader.account()
    assert trader.positions()
    assert acct.balance("USDT").margin_balance > acct.balance("USDT").maintenance_margin
    admin.set_index_price("BTCUSDT", "59000")
    assert trader.positions() == []
    after = trader.account()
    # auto-exchange repaid the USDT debt from the USDC, then from the BTC (sold at its haircut)
    assert after.balance("USDT").wallet >= 0 and after.balance("USDC").wallet == 0
    assert after.balance("BTC").wallet < Decimal("0.1")
    assert after.balance("BTC").collateral_value == after.balance("BTC").wallet * 59000 * Decimal("0.975")
    sold = trader.income("auto_exchange")
    assert {(i.asset, i.amount < 0) for i in sold} == {("USDC", True), ("BTC", True), ("USDT", False)}
    assert sum(i.amount for i in sold if i.asset == "BTC") == after.balance("BTC").wallet - Decimal("0.1")


def test_cli_switches_and_shows(admin, make_account, venue, capsys):
    trader = make_account(deposit="500")

    def run(*args: str) -> dict:
        assert cli.main([*args, "--json", "--address", venue.address, f"--key={trader.api_key}"]) == 0
        return json.loads(capsys.readouterr().out)

    assert run("account", "multi-assets", "on") == {"multi_assets": True}
    shown = run("account", "multi-assets", "show")
    assert shown["multi_assets"] is True
    values = {row["asset"]: Decimal(row["collateral_value"]) for row in shown["collateral"]}
    assert values["USDT"] == Decimal("500") and values["USDC"] == 0
    assert cli.main(["account", "multi-assets", "on", "--address", venue.address, f"--key={trader.api_key}"]) != 0
    err = capsys.readouterr().err
    assert "already in this asset mode" in err
    assert cli.main(["balance", "--address", venue.address, f"--key={trader.api_key}"]) == 0
    table = capsys.readouterr().out
    assert "multi-assets" in table and "collateral" in table and "500.00000000 USD" in table
    assert run("account", "multi-assets", "off") == {"multi_assets": False}


def test_rest_multi_assets_margin(admin, venue):
    acc = credentials(admin, "1000")
    status, _, body = signed(venue, "GET", "/fapi/v1/multiAssetsMargin", {}, acc.api_key, acc.api_secret)
    assert (status, body) == (200, {"multiAssetsMargin": False})
    status, _, body = signed(venue, "POST", "/fapi/v1/multiAssetsMargin", {}, acc.api_key, acc.api_secret,
                             body={"multiAssetsMargin": "true"})
    assert (status, body) == (200, {"code": 200, "msg": "success"})
    status, _, body = signed(venue, "POST", "/fapi/v1/multiAssetsMargin", {}, acc.api_key, acc.api_secret,
                             body={"multiAssetsMargin": "true"})
    assert status == 400 and body["code"] == -4171
    status, _, body = signed(venue, "POST", "/fapi/v1/multiAssetsMargin", {}, acc.api_key, acc.api_secret)
    assert status == 400 and body["code"] == -1102
    ex = sync_exchange(venue, acc)
    assert ex.fapiPrivateGetMultiAssetsMargin()["multiAssetsMargin"] is True
    account = ex.fapiPrivateV2GetAccount()
    assert account["multiAssetsMargin"] is True
    assert {"USDT", "USDC", "BTC"} <= {a["asset"] for a in account["assets"]}
    assert ex.fapiPrivatePostMultiAssetsMargin({"multiAssetsMargin": "false"})["code"] == 200
    assert ex.fapiPrivateGetMultiAssetsMargin()["multiAssetsMargin"] is False


def test_the_mode_survives_a_restart(tmp_path):
    """The mode is a journaled command: a venue restarted on the same data directory (journal
    replay, and a snapshot taken on the way) has the account in the mode, the BTC counted."""
    from perpsim.clients.client import Client

    from .conftest import own_venue

    with own_venue(tmp_path, snapshot_every=2) as (_, _, trader):
        key = trader.api_key
        trader.deposit("BTC", "0.5")
        trader.set_multi_assets_mode(True)
        trader.deposit("USDC", "25")
        before = trader.account()
    with own_venue(tmp_path) as (running, _, _):
        with Client(running.address, api_key=key) as again:
            after = again.account()
    assert after.multi_assets
    for asset in ("USDT", "USDC", "BTC"):
        assert after.balance(asset).collateral_value == before.balance(asset).collateral_value
    assert after.balance("USDC").wallet == Decimal("25")
