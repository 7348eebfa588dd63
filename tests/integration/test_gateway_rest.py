"""ccxt binanceusdm, sync and async, against the venue's Binance-compatible REST gateway: every
unified method a futures bot calls, answered from the same state the gRPC API sees."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from .gateway_kit import BTC, ETH, Async, Sync, credentials, gateway_venue, signed


@pytest.fixture
def world(tmp_path):
    """A fresh venue per test (books and positions of its own): (running venue, admin client)."""
    with gateway_venue(tmp_path) as (venue, admin):
        yield venue, admin


@pytest.fixture
def admin(world):
    return world[1]


@pytest.fixture(params=["sync", "async"])
def client(request, world):
    """client(acc) -> a caller of ccxt methods by name, sync or async; closed after the test."""
    made = []

    def make(acc=None):
        c = (Sync if request.param == "sync" else Async)(world[0], acc)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def test_market_data(client, admin) -> None:
    maker, taker = credentials(admin), credentials(admin)
    m, t = client(maker), client(taker)
    public = client()
    markets = public("load_markets")
    assert {BTC, ETH} <= set(markets) and all(v["linear"] for v in markets.values())  # no inverse market
    btc = markets[BTC]
    assert (btc["precision"]["price"], btc["precision"]["amount"]) == (0.1, 0.001)
    assert btc["limits"]["amount"]["min"] == 0.001
    assert abs(public("fetch_time") - time.time() * 1000) < 60_000

    m("create_order", BTC, "limit", "sell", 0.05, 65100)
    m("create_order", BTC, "limit", "sell", 0.02, 65200)
    m("create_order", BTC, "limit", "buy", 0.03, 64900)
    t("create_order", BTC, "market", "buy", 0.06)  # takes 0.05 @ 65100 and 0.01 @ 65200

    book = public("fetch_order_book", BTC, 10)
    assert book["asks"][0] == [65200.0, 0.01] and book["bids"][0] == [64900.0, 0.03]
    assert book["nonce"] > 0
    trades = public("fetch_trades", BTC)
    assert [(x["price"], x["amount"], x["side"]) for x in trades[-2:]] == [(65100.0, 0.05, "buy"),
                                                                          (65200.0, 0.01, "buy")]
    ticker = public("fetch_ticker", BTC)
    assert ticker["last"] == 65200.0 and ticker["high"] == 65200.0 and ticker["low"] == 65100.0
    assert ticker["baseVolume"] >= 0.06
    assert public("fetch_bids_asks", [BTC])[BTC]["ask"] == 65200.0
    assert public("fetch_last_prices", [BTC])[BTC]["price"] == 65200.0
    bars = public("fetch_ohlcv", BTC, "1m", limit=3)
    assert bars[-1][2] >= 65200.0 and bars[-1][3] <= 65100.0 and bars[-1][5] >= 0.06
    mark_bars = public("fetch_mark_ohlcv", BTC, "1h", limit=2)
    assert mark_bars[-1][4] == 65000.0 and mark_bars[-1][5] == 0  # the seeded index = mark; no volume
    assert public("fetch_index_ohlcv", BTC, "1m", limit=1)[-1][4] == 65000.0
    rate = public("fetch_funding_rate", BTC)
    assert rate["markPrice"] == 65000.0 and rate["indexPrice"] == 65000.0 and rate["fundingTimestamp"] > 0
    assert public("fetch_funding_rate_history", BTC) == []  # no funding settled yet
    oi = public("fetch_open_interest", BTC)
    assert oi["openInterestAmount"] >= 0.06


def test_orders_positions_and_account(client, admin) -> None:
    maker, trader = credentials(admin), credentials(admin)
    m, t = client(maker), client(trader)
    t("load_markets")
    assert t("fetch_balance")["USDT"]["free"] == 10000.0

    assert t("set_leverage", 10, ETH)["leverage"] == 10
    t("set_margin_mode", "isolated", ETH)
    assert t("fetch_position_mode", ETH)["hedged"] is False
    t("set_position_mode", True)
    assert t("fetch_position_mode", ETH)["hedged"] is True
    t("set_position_mode", False)

    resting = t("create_order", ETH, "limit", "buy", 0.5, 3400, {"clientOrderId": "my-bid-1"})
    assert (resting["status"], resting["clientOrderId"], resting["price"]) == ("open", "my-bid-1", 3400.0)
    got = t("fetch_order", resting["id"], ETH)
    assert (got["status"], got["amount"], got["filled"]) == ("open", 0.5, 0.0)
    assert [o["id"] for o in t("fetch_open_orders", ETH)] == [resting["id"]]
    edited = t("edit_order", resting["id"], ETH, "limit", "buy", 0.4, 3410)
    assert (edited["price"], edited["amount"]) == (3410.0, 0.4)
    canceled = t("cancel_order", resting["id"], ETH)
    assert canceled["status"] == "canceled"
    assert t("fetch_order", resting["id"], ETH)["status"] == "canceled"  # a completed order is still there

    m("create_order", ETH, "limit", "sell", 2, 3510)
    filled = t("create_order", ETH, "market", "buy", 1)
    assert (filled["status"], filled["filled"], filled["average"]) == ("closed", 1.0, 3510.0)
    mine = t("fetch_my_trades", ETH)
    assert [(x["price"], x["amount"], x["takerOrMaker"]) for x in mine] == [(3510.0, 1.0, "taker")]
    assert mine[0]["fee"]["cost"] == pytest.approx(3510 * 0.0005)
    (pos,) = t("fetch_positions", [ETH])
    assert (pos["side"], pos["contracts"], pos["entryPrice"], pos["marginMode"]) == ("long", 1.0, 3510.0, "isolated")
    margin = t("add_margin", ETH, 50)
    assert margin["amount"] == 50
    assert t("fetch_positions", [ETH])[0]["collateral"] > 0

    batch = t("create_orders", [
        {"symbol": ETH, "type": "limit", "side": "buy", "amount": 0.1, "price": 3300},
        {"symbol": ETH, "type": "limit", "side": "buy", "amount": 0.1, "price": 3301},
    ])
    assert [o["status"] for o in batch] == ["open", "open"]
    t("cancel_all_orders", ETH)
    assert t("fetch_open_orders", ETH) == []
    history = t("fetch_orders", ETH)
    assert {o["status"] for o in history} == {"canceled", "closed"} and len(history) == 4

    balance = t("fetch_balance")["USDT"]
    # the wallet paid the taker fee and moved the isolated margin (1x3510 / 10x, + 50 added) out
    assert balance["total"] == pytest.approx(10000 - 3510 * 0.0005 - 351 - 50)
    fees = t("fetch_trading_fee", ETH)
    assert (fees["maker"], fees["taker"]) == (0.0002, 0.0005)
    tiers = t("fetch_leverage_tiers", [ETH])[ETH]
    assert tiers[0]["minNotional"] == 0 and tiers[0]["maxLeverage"] >= 20
    income = t("fetch_funding_history", ETH)
    assert income == []  # no funding yet; fees and PnL are other income types
    assert t("fetch_my_liquidations", ETH) == []


def test_conditional_orders(client, admin) -> None:
    maker, trader = credentials(admin), credentials(admin)
    m, t = client(maker), client(trader)
    m("create_order", BTC, "limit", "sell", 0.1, 65050)
    t("create_order", BTC, "market", "buy", 0.02)
    stop = t("create_order", BTC, "market", "sell", 0.02, None, {"stopLossPrice": 60000, "reduceOnly": True})
    tp = t("create_order", BTC, "limit", "sell", 0.02, 70010, {"takeProfitPrice": 70000, "reduceOnly": True,
                                                              "workingType": "MARK_PRICE"})
    trail = t("create_order", BTC, "market", "sell", 0.01, None, {"trailingPercent": 1, "reduceOnly": True})
    assert stop["triggerPrice"] == 60000.0 and tp["price"] == 70010.0
    listed = t("fetch_open_orders", BTC, None, None, {"trigger": True})
    assert {o["id"] for o in listed} == {stop["id"], tp["id"], trail["id"]}
    assert t("fetch_order", stop["id"], BTC, {"trigger": True})["status"] == "open"
    t("cancel_order", stop["id"], BTC, {"trigger": True})
    assert t("fetch_order", stop["id"], BTC, {"trigger": True})["status"] == "canceled"
    assert {o["id"] for o in t("fetch_open_orders", BTC, None, None, {"trigger": True})} == {tp["id"], trail["id"]}
    t("cancel_all_orders", BTC, {"trigger": True})
    assert t("fetch_open_orders", BTC, None, None, {"trigger": True}) == []


def test_rails(client, admin) -> None:
    acc = credentials(admin, deposit=None)
    t = client(acc)
    t("load_markets")  # with a key set, ccxt asks sapi for the coins and the margin pairs
    t("transfer", "USDT", 250, "spot", "swap")
    assert t("fetch_balance")["USDT"]["free"] == 250.0
    t("withdraw", "USDT", 50, "external-address")
    assert t("fetch_balance")["USDT"]["free"] == 200.0
    (dep,) = t("fetch_deposits", "USDT")
    (wd,) = t("fetch_withdrawals", "USDT")
    assert (dep["amount"], dep["status"], wd["amount"], wd["status"]) == (250.0, "ok", 50.0, "ok")
    t("transfer", "USDT", 20, "swap", "spot")
    assert t("fetch_balance")["USDT"]["free"] == 180.0


def test_funding_income_and_account_reports(world, admin) -> None:
    venue = world[0]
    maker, trader = credentials(admin), credentials(admin, "1000")
    m, t = Sync(venue, maker), Sync(venue, trader)
    m("create_order", BTC, "limit", "sell", 0.1, 65000)
    t("create_order", BTC, "market", "buy", 0.1)
    m("create_order", BTC, "limit", "buy", 0.1, 66000 - 1500)  # a bid: the mark stays near 65000
    admin.set_index_price("BTCUSDT", "64000")  # the market trades above its index: longs pay
    admin.advance_clock(8 * 3_600 * 10**9)
    admin.set_index_price("BTCUSDT", "64000")  # a command after the funding time settles it
    (rate,) = t("fetch_funding_rate_history", BTC)
    assert rate["fundingRate"] > 0
    (paid,) = t("fetch_funding_history", BTC)
    assert paid["amount"] < 0 and paid["code"] == "USDT"
    kinds = {e["info"]["incomeType"] for e in t("fetch_ledger", "USDT")}
    assert {"TRANSFER", "COMMISSION", "FUNDING_FEE"} <= kinds

    k, s = trader.api_key, trader.api_secret
    _, _, account = signed(venue, "GET", "/fapi/v2/account", {}, k, s)
    (pos,) = [p for p in account["positions"] if p["symbol"] == "BTCUSDT"]
    assert (pos["positionAmt"], pos["leverage"], pos["marginType"]) == ("0.100", "20", "cross")
    _, _, info = signed(venue, "GET", "/fapi/v1/exchangeInfo", {}, None, None, sign=False)
    assert {p["symbol"] for p in account["positions"]} == {x["symbol"] for x in info["symbols"]}  # v2: every market
    _, _, account3 = signed(venue, "GET", "/fapi/v3/account", {}, k, s)
    assert [p["symbol"] for p in account3["positions"]] == ["BTCUSDT"]  # v3: held positions only
    for version in ("v2", "v3"):
        _, _, balance = signed(venue, "GET", f"/fapi/{version}/balance", {}, k, s)
        assert balance[0]["balance"] == account["assets"][0]["walletBalance"]
    _, _, risk = signed(venue, "GET", "/fapi/v2/positionRisk", {"symbol": "BTCUSDT"}, k, s)
    assert risk[0]["positionAmt"] == "0.100" and Decimal(risk[0]["liquidationPrice"]) > 0
    _, _, adl = signed(venue, "GET", "/fapi/v1/adlQuantile", {}, k, s)
    assert adl[0]["symbol"] == "BTCUSDT" and 0 <= adl[0]["adlQuantile"]["LONG"] <= 4
    status, _, ping = signed(venue, "GET", "/fapi/v1/ping", {}, None, None, sign=False)
    assert (status, ping) == (200, {})
    _, _, aggs = signed(venue, "GET", "/fapi/v1/aggTrades", {"symbol": "BTCUSDT"}, None, None, sign=False)
    assert [(x["p"], x["q"]) for x in aggs] == [("65000.0", "0.100")]
    _, _, oi = signed(venue, "GET", "/futures/data/openInterestHist", {"symbol": "BTCUSDT", "period": "5m"},
                      None, None, sign=False)
    assert oi and oi[-1]["sumOpenInterest"] == "0.100"
