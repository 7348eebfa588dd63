"""Account and market history through the real server (HistoryService, the SDK's history calls):
orders after they completed, trades with their fees and PnL, income of every kind, klines built
from trades, funding history, liquidations, retention, and a restart that rebuilds the same
history from the snapshot and the journal."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import grpc
import pytest

from perpsim.clients.client import AsyncClient, Client
from perpsim.clients.errors import InvalidArgumentError, NotFoundError
from perpsim.v1 import sandbox_pb2, sandbox_pb2_grpc
from perpsim.venue.app import RunningVenue

from .conftest import own_venue

BTC, ETH = "BTCUSDT", "ETHUSDT"
SEC, MIN = 10**9, 60 * 10**9
FUNDING_NS = 8 * 3_600 * SEC


def fees(client: Client, symbol: str) -> tuple[Decimal, Decimal]:
    m = next(m for m in client.markets() if m.symbol == symbol)
    return m.maker_fee_rate, m.taker_fee_rate


def test_completed_orders_by_id_and_client_id_and_never_another_accounts(
        admin: Client, make_account: Callable[..., Client]) -> None:
    admin.set_index_price(BTC, "65000")
    maker, taker, other = make_account("100000"), make_account("100000"), make_account()
    first = maker.place_order(BTC, "sell", "0.01", "65000", client_order_id="hist-m1")
    second = maker.place_order(BTC, "sell", "0.01", "65010")
    buy = taker.place_order(BTC, "buy", "0.015", "65010", time_in_force="ioc", client_order_id="hist-t1")
    maker.cancel_order(BTC, second.order_id)

    filled = maker.order(client_order_id="hist-m1")
    assert filled.order.order_id == first.order_id and filled.status == "filled"
    assert filled.order.filled_quantity == Decimal("0.01") and filled.average_price == Decimal("65000")
    assert filled.cumulative_quote == Decimal("650") and filled.orig_type == "" and filled.stop_price is None
    assert (filled.working_type, filled.price_protect) == ("last", False)
    assert filled.time_ns <= filled.update_time_ns
    canceled = maker.order(second.order_id, symbol=BTC)
    assert canceled.status == "canceled" and canceled.order.filled_quantity == Decimal("0.005")
    assert canceled.cumulative_quote == Decimal("325.05")
    mine = taker.order(buy.order_id)
    assert mine.status == "filled" and mine.order.client_order_id == "hist-t1"
    assert mine.cumulative_quote == Decimal("975.05")
    assert mine.average_price == (Decimal("975.05") / Decimal("0.015")).quantize(Decimal("1e-8"))
    assert [o.order.order_id for o in maker.orders(BTC)] == [first.order_id, second.order_id]

    with pytest.raises(NotFoundError):
        other.order(buy.order_id)  # another account's order does not exist for this one
    with pytest.raises(NotFoundError):
        taker.order(client_order_id="hist-m1")
    with pytest.raises(NotFoundError):
        maker.order(first.order_id, symbol=ETH)  # not in that market
    assert other.orders() == [] and other.trades() == []


def test_trades_carry_their_commission_and_realized_pnl(admin: Client, make_account: Callable[..., Client]) -> None:
    admin.set_index_price(BTC, "65000")
    maker_rate, taker_rate = fees(admin, BTC)
    maker, taker = make_account("100000"), make_account("1000")
    maker.place_order(BTC, "sell", "0.01", "65000")
    opened = taker.place_order(BTC, "buy", "0.01")
    maker.place_order(BTC, "buy", "0.01", "65100")
    closed = taker.place_order(BTC, "sell", "0.01")

    t_open, t_close = taker.trades(BTC)
    assert (t_open.order_id, t_open.side, t_open.price, t_open.quantity) == (opened.order_id, "buy", Decimal(65000),
                                                                            Decimal("0.01"))
    assert t_open.quote_quantity == Decimal("650") and t_open.commission == 650 * taker_rate
    assert t_open.realized_pnl == 0 and not t_open.maker and t_open.buyer and t_open.commission_asset == "USDT"
    assert (t_close.order_id, t_close.side, t_close.price) == (closed.order_id, "sell", Decimal(65100))
    assert t_close.commission == 651 * taker_rate and t_close.realized_pnl == Decimal("1")  # (65100 - 65000) × 0.01
    m_open, m_close = maker.trades(BTC)[-2:]
    assert m_open.trade_id == t_open.trade_id and m_open.maker and not m_open.buyer
    assert m_open.commission == 650 * maker_rate and m_close.buyer
    assert taker.trades(BTC, from_id=t_close.trade_id) == [t_close]
    assert taker.trades(BTC, limit=1) == [t_close]  # the latest
    with pytest.raises(InvalidArgumentError):
        taker.trades(from_id=1)  # trade ids count per market: from_id needs one


def test_income_of_every_kind_adds_up_to_the_wallet(admin: Client, make_account: Callable[..., Client]) -> None:
    """Deposits, withdrawals and transfers, commissions, realized PnL, a funding settlement and
    a liquidation's clearance fee: the wallet is the sum of the account's income."""
    admin.set_index_price(BTC, "65000")
    maker, me, friend = make_account("1000000"), make_account("1000"), make_account(None)
    me.withdraw("USDT", "100")
    me.transfer(friend.account().account_id, "USDT", "50")
    me.set_leverage(BTC, 20)
    maker.place_order(BTC, "sell", "0.02", "65000")
    me.place_order(BTC, "buy", "0.02")
    me.place_order(BTC, "sell", "0.01", "65200")  # rests: me is the maker now
    maker.place_order(BTC, "buy", "0.01", "65200")  # takes it: +2 realized
    now = admin.advance_clock(60 * SEC)
    [p] = me.positions(BTC)
    admin.advance_clock(me.mark(BTC).next_funding_time_ns - now)  # the funding time

    kinds = {}
    for r in me.income(limit=1000):
        kinds.setdefault(r.type, []).append(r)
    assert [(r.info, r.amount) for r in kinds["transfer"]] == [
        ("deposit", Decimal(1000)), ("withdraw", Decimal(-100)), ("transfer", Decimal(-50))]
    assert all(r.symbol == "" and r.trade_id == 0 for r in kinds["transfer"])
    [pnl] = kinds["realized_pnl"]
    assert pnl.amount == Decimal("2") and pnl.symbol == BTC and pnl.trade_id > 0
    assert sum(r.amount for r in kinds["commission"]) == -sum(t.commission for t in me.trades(BTC))
    [funding] = kinds["funding_fee"]
    assert funding.symbol == BTC and funding.amount == p.next_funding_payment < 0  # the long pays
    assert [r.amount for r in friend.income()] == [Decimal(50)]
    assert me.income("funding_fee") == kinds["funding_fee"]
    assert me.account().balance("USDT").wallet == sum(r.amount for r in me.income(limit=1000))



def test_an_isolated_positions_pnl_and_funding_are_income(admin: Client, make_account: Callable[..., Client]) -> None:
    """An isolated position's funding and realized PnL are booked in its isolated margin, not the
    wallet: they are FUNDING_FEE and REALIZED_PNL income all the same, the closing trade carries
    its PnL, and the wallet plus the isolated margin is the income's sum."""
    admin.set_index_price(BTC, "65000")
    maker, me = make_account("1000000"), make_account("1000")
    me.set_margin_mode(BTC, "isolated")
    me.set_leverage(BTC, 10)
    maker.place_order(BTC, "sell", "0.02", "65000")
    me.place_order(BTC, "buy", "0.02")
    now = admin.advance_clock(60 * SEC)
    [p] = me.positions(BTC)
    assert p.margin_mode == "isolated" and p.isolated_margin > 0
    admin.advance_clock(me.mark(BTC).next_funding_time_ns - now)  # the funding time
    [funded] = me.positions(BTC)
    assert funded.isolated_margin == p.isolated_margin + p.next_funding_payment  # paid out of the margin
    me.place_order(BTC, "sell", "0.01", "65200")  # rests: half the position closes as maker
    maker.place_order(BTC, "buy", "0.01", "65200")  # takes it: +2 realized into the isolated margin

    kinds: dict[str, list] = {}
    for r in me.income(limit=1000):
        kinds.setdefault(r.type, []).append(r)
    [funding] = kinds["funding_fee"]
    assert funding.symbol == BTC and funding.amount == p.next_funding_payment < 0  # the long pays
    [pnl] = kinds["realized_pnl"]
    assert pnl.amount == Decimal("2") and pnl.symbol == BTC
    closing = next(t for t in me.trades(BTC) if t.trade_id == pnl.trade_id)
    assert closing.realized_pnl == Decimal("2") and closing.side == "sell" and closing.maker
    [left] = me.positions(BTC)
    wallet = me.account().balance("USDT").wallet
    assert wallet + left.isolated_margin == sum(r.amount for r in me.income(limit=1000))


def test_a_liquidation_is_a_force_order_and_pays_the_clearance_fee(
        admin: Client, make_account: Callable[..., Client]) -> None:
    """The forced order fills above the bankruptcy price, so collateral is left for the
    liquidation (clearance) fee: INSURANCE_CLEAR income; the wallet is still the income's sum."""
    admin.set_index_price(BTC, "65000")
    maker, thin = make_account("1000000"), make_account("100")
    thin.set_leverage(BTC, 20)
    maker.place_order(BTC, "sell", "0.02", "65000")
    thin.place_order(BTC, "buy", "0.02")  # liquidation price about 60274, bankruptcy about 60032
    maker.place_order(BTC, "buy", "0.02", "60500")
    try:
        update = admin.set_index_price(BTC, "60100")
        assert update.liquidations == 1 and thin.positions(BTC) == []
    finally:
        admin.set_index_price(BTC, "65000")
        maker.cancel_all(BTC)
    [force] = thin.force_orders(BTC)
    assert (force.side, force.quantity, force.filled_quantity, force.average_price) == (
        "sell", Decimal("0.02"), Decimal("0.02"), Decimal("60500"))
    assert Decimal(60000) < force.price < Decimal(60100)  # the bankruptcy price
    last = thin.trades(BTC)[-1]
    assert last.liquidation and last.price == Decimal(60500) and last.commission == 0
    assert last.realized_pnl == Decimal("-90")  # (60500 - 65000) × 0.02
    [clear] = thin.income("insurance_clear")
    assert clear.amount < 0 and clear.symbol == BTC
    assert thin.account().balance("USDT").wallet == sum(r.amount for r in thin.income(limit=1000))
    assert maker.force_orders() == []


def _at_minute_start(admin: Client, minutes: int = 1) -> int:
    """Advance the venue clock to 1 ms past a minute boundary `minutes` ahead; that boundary."""
    now = admin.advance_clock(1)
    boundary = now - now % MIN + minutes * MIN
    admin.advance_clock(boundary + 10**6 - now)
    return boundary


def test_klines_from_a_sequence_of_trades(admin: Client, make_account: Callable[..., Client]) -> None:
    admin.set_index_price(ETH, "3500")
    maker, buyer, seller = make_account("100000"), make_account("100000"), make_account("100000")
    m0 = _at_minute_start(admin)
    maker.place_order(ETH, "sell", "0.1", "3500")
    maker.place_order(ETH, "sell", "0.2", "3502")
    maker.place_order(ETH, "buy", "0.1", "3490")
    buyer.place_order(ETH, "buy", "0.3", "3502", time_in_force="ioc")  # 0.1 @ 3500, 0.2 @ 3502
    seller.place_order(ETH, "sell", "0.1", "3490", time_in_force="ioc")  # 0.1 @ 3490
    m3 = _at_minute_start(admin, 3)
    maker.place_order(ETH, "sell", "0.05", "3495")
    buyer.place_order(ETH, "buy", "0.05", "3495", time_in_force="ioc")

    bars = admin.klines(ETH, "1m", start_ns=m0)
    assert [k.open_time_ns for k in bars] == [m0, m0 + MIN, m0 + 2 * MIN, m3]
    first, gap1, gap2, last = bars
    assert (first.open, first.high, first.low, first.close) == (Decimal(3500), Decimal(3502), Decimal(3490),
                                                                Decimal(3490))
    assert (first.volume, first.quote_volume, first.trades) == (Decimal("0.4"), Decimal("1399.4"), 3)
    assert (first.taker_buy_volume, first.taker_buy_quote_volume) == (Decimal("0.3"), Decimal("1050.4"))
    assert first.close_time_ns == m0 + MIN - 1
    for gap in (gap1, gap2):  # nothing traded: flat at the previous close
        assert (gap.open, gap.high, gap.low, gap.close, gap.volume, gap.trades) == (Decimal(3490),) * 4 + (0, 0)
    assert (last.open, last.close, last.volume, last.quote_volume, last.trades) == (
        Decimal(3495), Decimal(3495), Decimal("0.05"), Decimal("174.75"), 1)
    assert admin.klines(ETH, "1m", limit=2) == [gap2, last]  # without a start: the latest

    trades = admin.market_trades(ETH)
    assert [(t.price, t.quantity, t.buyer_maker) for t in trades] == [
        (Decimal(3500), Decimal("0.1"), False), (Decimal(3502), Decimal("0.2"), False),
        (Decimal(3490), Decimal("0.1"), True), (Decimal(3495), Decimal("0.05"), False)]
    aggs = admin.market_trades(ETH, aggregate=True)
    assert [(a.first_trade_id, a.last_trade_id) for a in aggs] == [(t.id, t.id) for t in trades]
    ticker = admin.ticker_24h(ETH)
    assert (ticker.open_price, ticker.high_price, ticker.low_price, ticker.last_price) == (
        Decimal(3500), Decimal(3502), Decimal(3490), Decimal(3495))
    assert (ticker.volume, ticker.trades, ticker.price_change) == (Decimal("0.45"), 4, Decimal(-5))
    assert ticker.first_trade_id == trades[0].id and ticker.last_trade_id == trades[-1].id

    admin.set_index_price(ETH, "3510")
    [mark_bar] = admin.klines(ETH, "1m", "mark", limit=1)
    assert mark_bar.close == admin.mark(ETH).mark_price and mark_bar.volume == 0
    with pytest.raises(InvalidArgumentError):
        admin.klines(ETH, "2m")
    with pytest.raises(InvalidArgumentError):
        admin.klines(ETH, "1m", limit=1501)


def test_funding_history_after_advancing_the_clock(admin: Client, make_account: Callable[..., Client]) -> None:
    admin.set_index_price(BTC, "65000")
    maker, me = make_account("100000"), make_account("1000")
    maker.place_order(BTC, "sell", "0.01", "65000")
    me.place_order(BTC, "buy", "0.01")
    before = me.mark(BTC)
    admin.advance_clock(before.next_funding_time_ns - admin.advance_clock(1))
    after = me.mark(BTC)
    latest = me.funding_rates(BTC, limit=1)[0]
    assert latest.funding_time_ns == before.next_funding_time_ns and latest.funding_time_ns % FUNDING_NS == 0
    assert latest.rate == after.funding_rate and latest.mark_price is not None
    assert me.funding_rates(BTC, start_ns=latest.funding_time_ns) == [latest]
    current, history = me.open_interest(BTC, "5m")
    assert current.open_interest >= Decimal("0.01") and current.mark_price == after.mark_price
    assert all(h.time_ns % (5 * MIN) == 0 for h in history)


def _everything(c: Client, until: int) -> dict:
    """All the history the API shows one account, and the markets' up to venue time `until`
    (later bars, the 24-hour window and the current open interest move with the clock)."""
    out = {"orders": c.orders(limit=1000), "trades": c.trades(limit=1000), "income": c.income(limit=1000),
           "force": c.force_orders(limit=100), "funding": c.funding_rates(limit=1000)}
    for symbol in (BTC, ETH):
        ticker = c.ticker_24h(symbol)
        out[symbol] = (c.market_trades(symbol, limit=1000), c.market_trades(symbol, aggregate=True, limit=1000),
                       c.klines(symbol, "1m", end_ns=until, limit=1500), c.klines(symbol, "1h", "mark", end_ns=until),
                       c.klines(symbol, "1d", "index", end_ns=until),
                       (ticker.volume, ticker.trades, ticker.open_price, ticker.last_price),
                       c.open_interest(symbol, "5m", end_ns=until)[1])
    return out


def _snapshot(running: RunningVenue, admin_key: str) -> int:
    with grpc.insecure_channel(running.address) as ch:
        return sandbox_pb2_grpc.SandboxServiceStub(ch).Snapshot(
            sandbox_pb2.SnapshotRequest(), metadata=(("authorization", f"Bearer {admin_key}"),)).journal_sequence


@pytest.mark.slow
def test_a_restart_rebuilds_the_same_history(tmp_path: Path) -> None:
    """After a snapshot and more commands, a restart (snapshot + journal tail) and a replay of
    the whole journal (no snapshot) answer exactly what the venue answered before."""
    with own_venue(tmp_path) as (running, _, trader):
        admin_key = (tmp_path / "admin.key").read_text().strip()
        with Client(running.address, admin_key=admin_key) as admin:
            maker = admin.with_key(admin.create_account().api_key)
            maker.deposit("USDT", "100000")
            maker.place_order(BTC, "sell", "0.01", "65000")
            trader.place_order(BTC, "buy", "0.01")
            admin.advance_clock(FUNDING_NS)
            assert _snapshot(running, admin_key) > 0
            maker.place_order(BTC, "buy", "0.01", "64900", client_order_id="after-snapshot")
            trader.place_order(BTC, "sell", "0.01")
            trader.place_order(BTC, "buy", "0.001", "60000")
            admin.set_index_price(ETH, "3600")
            trader.withdraw("USDT", "10")
            until = admin.advance_clock(1)
            before = _everything(trader, until)
            assert before["orders"] and before["funding"] and len(before["trades"]) == 2
    with own_venue(tmp_path) as (running, _, _), Client(running.address, api_key=trader.api_key) as again:
        assert _everything(again, until) == before  # the snapshot and the journal after it
    shutil.rmtree(tmp_path / "snapshots")
    with own_venue(tmp_path) as (running, _, _), Client(running.address, api_key=trader.api_key) as again:
        assert _everything(again, until) == before  # the whole journal replayed


def test_retention_drops_the_oldest(tmp_path: Path) -> None:
    limits = {"orders_per_account": 3, "trades_per_account": 2, "income_per_account": 3}
    with own_venue(tmp_path, history=limits) as (running, _, trader):
        admin_key = (tmp_path / "admin.key").read_text().strip()
        with Client(running.address, admin_key=admin_key) as admin:
            maker = admin.with_key(admin.create_account().api_key)
            maker.deposit("USDT", "100000")
            ids = []
            for i in range(4):
                maker.place_order(BTC, "sell", "0.001", str(65000 + i))
                ids.append(trader.place_order(BTC, "buy", "0.001").order_id)
            resting = trader.place_order(BTC, "buy", "0.001", "60000")
            kept = [o.order.order_id for o in trader.orders()]
            assert kept == [*ids[-2:], resting.order_id]  # 3 kept: the open one is never dropped
            with pytest.raises(NotFoundError):
                trader.order(ids[0])
            assert [t.order_id for t in trader.trades()] == ids[-2:]
            assert len(trader.income(limit=1000)) == 3  # the deposit went first
            assert all(r.type == "commission" for r in trader.income())


def test_the_cli_shows_history(admin: Client, make_account: Callable[..., Client], venue: RunningVenue,
                               capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from perpsim.cli import main as cli

    for name in ("PERPSIM_ADDRESS", "PERPSIM_API_KEY", "PERPSIM_ADMIN_KEY"):
        monkeypatch.delenv(name, raising=False)
    admin.set_index_price(BTC, "65000")
    maker, me = make_account("100000"), make_account("1000")
    maker.place_order(BTC, "sell", "0.01", "65000")
    bought = me.place_order(BTC, "buy", "0.01", client_order_id="cli-1")

    def run(*args: str, key: str = me.api_key) -> tuple[int, str, str]:
        code = cli.main([*args, "--address", venue.address, f"--key={key}"])
        out, err = capsys.readouterr()
        return code, out, err

    def run_json(*args: str) -> object:
        code, out, err = run(*args, "--json")
        assert (code, err) == (0, ""), err
        return json.loads(out)

    got = run_json("order", "get", "--client-id", "cli-1")
    assert got["order"]["order_id"] == bought.order_id and got["order"]["status"] == "filled"
    assert got["average_price"] == "65000.00000000" and got["cumulative_quote"] == "650.0000"
    [trade] = run_json("trades", BTC)
    assert (trade["price"], trade["quantity"], trade["maker"]) == ("65000.0", "0.010", False)
    [fee] = run_json("income", "--type", "commission")
    assert Decimal(fee["amount"]) == -Decimal(trade["commission"]) and fee["trade_id"] == trade["trade_id"]
    assert [o["order"]["order_id"] for o in run_json("order", "history", BTC)] == [bought.order_id]
    bars = run_json("klines", BTC, "--since", "1h", "--limit", "2")
    assert bars and Decimal(bars[-1]["close"]) == Decimal(65000)
    code, out, _ = run("trades")
    assert code == 0 and "commission" in out.splitlines()[0] and "65000.0 USDT" in out
    code, out, _ = run("income", "--since", "1d", "--until", "0s")
    assert code == 0 and "deposit" in out
    assert run("order", "get", str(bought.order_id), key=maker.api_key)[0] == 1  # not the maker's order
    code, _, err = run("order", "get")
    assert code == 2 and "ORDER_ID" in err


def test_the_async_client_reads_the_same_history(make_account: Callable[..., Client], venue: RunningVenue) -> None:
    maker, me = make_account("100000"), make_account("1000")
    maker.place_order(BTC, "sell", "0.01", "65000")
    bought = me.place_order(BTC, "buy", "0.01")
    at = me.order(bought.order_id).time_ns  # bars up to a fixed time: the clock moves on

    async def main() -> tuple:
        async with AsyncClient(venue.address, api_key=me.api_key) as c:
            return (await c.order(bought.order_id), await c.trades(BTC), await c.income(),
                    await c.klines(BTC, "1m", end_ns=at, limit=1), await c.ticker_24h(BTC), await c.open_interest(BTC))

    order, trades, income, klines, ticker, oi = asyncio.run(main())
    assert order == me.order(bought.order_id) and order.status == "filled"
    assert trades == me.trades(BTC) and income == me.income()
    assert klines == me.klines(BTC, "1m", end_ns=at, limit=1) and ticker.last_price == Decimal(65000)
    assert oi[0].open_interest >= Decimal("0.01")
