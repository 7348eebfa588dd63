"""The account side of the risk signals through the real server: preview and order warnings,
GetAccountRisk against the positions the test built, fill slippage on a sweep of the book, the
account's own thresholds, which price triggers what, and the k σ alert on the account stream."""

from __future__ import annotations

import asyncio
import json
import math
import queue
import time
from decimal import Decimal

import pytest

from perpsim.cli.units import MarketUnits
from perpsim.cli.watch import account_line
from perpsim.clients.client import AsyncClient, Client
from perpsim.clients.errors import InvalidArgumentError
from perpsim.clients.stream_models import AccountUpdate
from tests.integration.conftest import account_updates, own_venue

H8 = 8 * 3_600 * 10**9


@pytest.fixture
def maker(make_account):
    """A deep-pocketed counterparty; its resting orders are canceled after the test."""
    c = make_account("10000000")
    yield c
    for symbol in ("BTCUSDT", "ETHUSDT"):
        c.cancel_all(symbol)


def _equity(client) -> float:
    return float(next(b.margin_balance for b in client.account().balances if b.asset == "USDT"))


def _buy(trader, maker, symbol: str, qty: str, price: str):
    maker.place_order(symbol, "sell", qty, price)
    return trader.place_order(symbol, "buy", qty, price, time_in_force="ioc")


def test_markets_say_which_price_triggers_what(admin):
    for m in admin.markets():
        assert m.liquidation_trigger == "mark"
        assert set(m.conditional_trigger_sources) == {"mark", "last", "index"}
        assert m.default_conditional_trigger_source == "last"


def test_preview_and_order_warn_for_stacked_longs_not_for_a_hedge(make_account, maker):
    trader = make_account("1000")
    _buy(trader, maker, "BTCUSDT", "0.2", "65000")  # 13,000 USDT of BTC on ~1,000: 13x
    long_eth = trader.preview_order("ETHUSDT", "buy", "1.5", "3500")
    short_eth = trader.preview_order("ETHUSDT", "sell", "1.5", "3500")
    (w,) = [w for w in long_eth.warnings if w.code == "correlated_exposure"]
    assert float(w.fields["correlation"]) == pytest.approx(0.8, abs=1e-4)  # the configured BTC/ETH prior
    # E = sqrt(b² + e² + 2 · 0.8 · b · e) at the marks (about 13,000 and 5,250: 17,486) over ~1,000 equity
    b, e = (q * float(trader.mark(s).mark_price) for q, s in ((0.2, "BTCUSDT"), (1.5, "ETHUSDT")))
    exposure = math.sqrt(b * b + e * e + 2 * 0.8 * b * e)
    assert float(w.fields["exposure_after"]) == pytest.approx(exposure, rel=1e-6)
    assert float(w.fields["effective_leverage"]) == pytest.approx(exposure / _equity(trader), abs=1e-4)
    assert not [w for w in short_eth.warnings if w.code == "correlated_exposure"]
    # the order carries the same warning, and is placed anyway
    maker.place_order("ETHUSDT", "sell", "1.5", "3500")
    order = trader.place_order("ETHUSDT", "buy", "1.5", "3500", time_in_force="ioc")
    assert order.status == "filled"
    assert [w.code for w in order.warnings if w.code == "correlated_exposure"] == ["correlated_exposure"]


def test_account_risk_reports_the_positions_built(make_account, maker):
    trader = make_account("1000")
    _buy(trader, maker, "BTCUSDT", "0.1", "65000")
    maker.place_order("ETHUSDT", "buy", "1", "3500")
    trader.place_order("ETHUSDT", "sell", "1", "3500", time_in_force="ioc")  # a partial hedge
    risk = trader.account_risk()
    positions = {p.symbol: p for p in trader.positions()}
    assert {p.symbol: p.quantity for p in risk.positions} == {"BTCUSDT": Decimal("0.1"), "ETHUSDT": Decimal("-1")}
    marks = {s: float(positions[s].mark_price) for s in positions}
    e = {"BTCUSDT": 0.1 * marks["BTCUSDT"], "ETHUSDT": -1 * marks["ETHUSDT"]}
    for p in risk.positions:
        assert p.notional == pytest.approx(e[p.symbol])
        # positions show it on the tick, rounded against the account (a long's up, a short's down)
        tick, shown = Decimal("0.1" if p.symbol == "BTCUSDT" else "0.01"), positions[p.symbol].liquidation_price
        assert p.liquidation_price == shown
        # the distance is measured to the exact price, which is less than a tick inside the shown one
        mark, liq = float(p.mark_price), float(p.liquidation_price)
        assert p.distance_pct == pytest.approx(abs(mark - liq) / mark * 100, abs=float(tick) / mark * 100)
    (usdt,) = risk.assets
    # the configured BTC/ETH correlation while the marks stand still: ρ = 0.8
    exposure = math.sqrt(e["BTCUSDT"] ** 2 + e["ETHUSDT"] ** 2 + 2 * 0.8 * e["BTCUSDT"] * e["ETHUSDT"])
    assert usdt.exposure == pytest.approx(exposure)
    assert usdt.gross_notional == pytest.approx(abs(e["BTCUSDT"]) + abs(e["ETHUSDT"]))
    equity = _equity(trader)
    assert usdt.equity == pytest.approx(equity)
    assert usdt.effective_leverage == pytest.approx(exposure / equity)
    assert usdt.clusters == (("BTCUSDT", "ETHUSDT"),)
    assert risk.thresholds.k == 3 and risk.thresholds.horizon_ns == H8


def test_thresholds_are_the_accounts_own(make_account):
    trader, other = make_account("100"), make_account("100")
    with pytest.raises(InvalidArgumentError) as e:
        trader.set_risk_thresholds(k=3, rho=1.5)
    assert "rho" in str(e.value)
    assert trader.account_risk().thresholds.rho == 0.7  # refused: nothing changed
    t = trader.set_risk_thresholds(k=2, rho=0.9, horizon_ns=3_600 * 10**9)
    assert (t.k, t.rho, t.horizon_ns, t.max_leverage) == (2, 0.9, 3_600 * 10**9, 10)
    assert trader.account_risk().thresholds == t
    assert other.account_risk().thresholds.k == 3
    assert trader.set_risk_thresholds(reset=True).k == 3


def test_fills_carry_slippage_against_mid_and_mark_at_arrival(venue, make_account, maker):
    trader = make_account("10000")
    maker.place_order("BTCUSDT", "buy", "0.1", "64990")
    for price in ("65000", "65010", "65050"):
        maker.place_order("BTCUSDT", "sell", "0.1", price)
    mark = float(trader.mark("BTCUSDT").mark_price)
    updates: queue.Queue = queue.Queue()
    channel = account_updates(venue, trader, updates)
    try:
        time.sleep(0.3)  # the stream is subscribed
        order = trader.place_order("BTCUSDT", "buy", "0.3")  # a market order sweeping three levels
        mid = (64_990 + 65_000) / 2
        expected = [((p - mid) / mid * 1e4, (p - mark) / mark * 1e4) for p in (65_000, 65_010, 65_050)]
        got = [(float(f.slippage_mid_bps), float(f.slippage_mark_bps)) for f in order.fills]
        assert got == [(pytest.approx(a, abs=0.005), pytest.approx(b, abs=0.005)) for a, b in expected]
        # the recent-fills list: newest first, unrounded
        recent = trader.recent_fills("BTCUSDT", limit=3)
        assert [f.price for f in recent] == [Decimal("65050"), Decimal("65010"), Decimal("65000")]
        assert [f.slippage_mid_bps for f in reversed(recent)] == pytest.approx([a for a, _ in expected])
        assert recent[0].arrival_mid_price == Decimal(str(mid)) and recent[0].liquidity == "taker"
        # the account stream's fill updates carry them too
        fills = []
        deadline = time.monotonic() + 5
        while len(fills) < 3 and time.monotonic() < deadline:
            msg = updates.get(timeout=5)
            if msg.WhichOneof("update") == "order" and msg.order.event == "FILL":
                fills.append(msg.order)
        assert [float(f.slippage_mid_bps) for f in fills] == pytest.approx([a for a, _ in expected], abs=0.005)
    finally:
        channel.close()
    # the maker's side of the same fills: sold above the mid it quoted into, so negative
    maker_fills = maker.recent_fills("BTCUSDT", limit=3)
    assert all(f.liquidity == "maker" and f.side == "sell" for f in maker_fills)


def test_alert_when_a_position_falls_below_k_sigma(tmp_path):
    with own_venue(tmp_path) as (running, _cfg, trader):
        with trader.with_key(None, admin_key=(tmp_path / "admin.key").read_text().strip()) as admin:
            maker = trader.with_key(admin.create_account().api_key)
            maker.deposit("USDT", "10000000")
            _buy(trader, maker, "BTCUSDT", "0.02", "65000")  # 1,300 on 1,000: calm at first
            assert trader.account_risk().warnings == ()
            updates: queue.Queue = queue.Queue()
            channel = account_updates(running, trader, updates)
            try:
                time.sleep(0.3)
                # the mark swings ±1 % every second of venue time: σ_1h ≈ 0.01 · 60 = 60 %
                for i in range(12):
                    admin.advance_clock(10**9)
                    admin.set_index_price("BTCUSDT", "65650" if i % 2 else "64350")
                alert = None
                deadline = time.monotonic() + 5
                while alert is None and time.monotonic() < deadline:
                    msg = updates.get(timeout=5)
                    if msg.WhichOneof("update") == "risk_alert":
                        alert = msg.risk_alert
                assert alert is not None and alert.symbol == "BTCUSDT" and alert.state == "RAISED"
                assert float(alert.z) < 3 and alert.horizon_ns == H8
                line = account_line(AccountUpdate.from_pb(msg), MarketUnits.of(trader))  # `perpsim watch account`
                assert "RISK ALERT BTCUSDT" in line and "over 8h (below 3σ)" in line
                risk = trader.account_risk()
                (p,) = risk.positions
                assert p.nudge is not None and p.nudge.reduce_quantity > 0
                assert [w.code for w in risk.warnings] == ["liquidation_within_k_sigma"]
                # positions carry the same distance and nudge
                (pos,) = trader.positions()
                assert pos.nudge_reduce_quantity == p.nudge.reduce_quantity > 0
                assert [d.z for d in pos.liquidation_distance_sigma] == pytest.approx([d.z for d in p.distance_sigma])
                # z over 8h is the log distance over the market's published σ over 8h
                h8 = next(d for d in p.distance_sigma if d.horizon_ns == H8)
                sigma_8h = trader.market_risk("BTCUSDT").volatility_pct["8h"] / 100
                assert h8.sigma == pytest.approx(sigma_8h, rel=1e-6)
                d = math.log(float(p.mark_price) / float(p.liquidation_price))
                assert h8.z == pytest.approx(d / sigma_8h, rel=1e-3) and h8.z < 3
                assert h8.touch_probability == pytest.approx(math.erfc(h8.z / math.sqrt(2)), rel=1e-3)
            finally:
                channel.close()


def test_cli_prints_the_risk_summary_preview_warnings_and_fills(venue, make_account, maker, capsys, monkeypatch,
                                                                 tmp_path):
    from perpsim.cli import main as cli

    monkeypatch.chdir(tmp_path)  # no ./perpsim-data/admin.key picked up
    trader = make_account("1000")
    _buy(trader, maker, "BTCUSDT", "0.2", "65000")
    flags = ["--address", venue.address, "--key", trader.api_key]

    def run(*args: str) -> str:
        capsys.readouterr()
        assert cli.main([*args, *flags]) == 0
        return capsys.readouterr().out

    summary = json.loads(run("risk", "--json"))
    assert [(p["symbol"], Decimal(p["quantity"])) for p in summary["positions"]] == [("BTCUSDT", Decimal("0.2"))]
    assert summary["loss_limits"][0]["asset"] == "USDT"
    trader.set_daily_loss_limit("USDT", "500")
    table = run("risk")
    assert "correlated exposure" in table and "/ 500" in table  # today's loss against the limit
    assert "warning [correlated_exposure]" in run("preview", "ETHUSDT", "buy", "1.5", "3500")
    assert "warning [correlated_exposure]" not in run("preview", "ETHUSDT", "sell", "1.5", "3500")
    assert json.loads(run("risk", "set", "--k", "2.5", "--horizon", "1h", "--json"))["k"] == 2.5
    assert trader.account_risk().thresholds.horizon_ns == 3_600 * 10**9
    fills = json.loads(run("risk", "fills", "BTCUSDT", "--json"))
    assert Decimal(fills[0]["price"]) == 65_000 and fills[0]["liquidity"] == "taker"
    markets = run("markets")
    assert "liquidated at" in markets and "mark, last, index (last)" in markets


def test_an_accounts_thresholds_survive_a_restart(tmp_path):
    with own_venue(tmp_path) as (_running, _cfg, trader):
        trader.set_risk_thresholds(k=2, max_leverage=5)
        key = trader.api_key
    with own_venue(tmp_path) as (running, _cfg, _other), Client(running.address, key) as again:
        t = again.account_risk().thresholds
        assert (t.k, t.max_leverage, t.rho) == (2, 5, 0.7)


def test_the_async_client_reads_the_same_risk(venue, make_account, maker):
    trader = make_account("1000")
    _buy(trader, maker, "BTCUSDT", "0.05", "65000")

    async def read():
        async with AsyncClient(venue.address, trader.api_key) as c:
            return await c.account_risk(), await c.recent_fills("BTCUSDT")

    risk, fills = asyncio.run(read())
    assert risk == trader.account_risk()
    assert fills == trader.recent_fills("BTCUSDT")


def test_an_accounts_own_leverage_spike_on_its_stream(tmp_path):
    """A 0 -> 26x jump of effective leverage is flagged when the next step of venue time closes:
    the account's stream says RAISED with its figures (the market risk counts it), and CLEARED
    once the flag's 300 s hold has passed."""
    with own_venue(tmp_path) as (running, _cfg, trader):
        with trader.with_key(None, admin_key=(tmp_path / "admin.key").read_text().strip()) as admin:
            maker = trader.with_key(admin.create_account().api_key)
            maker.deposit("USDT", "10000000")
            trader.set_leverage("BTCUSDT", 50)
            updates: queue.Queue = queue.Queue()
            channel = account_updates(running, trader, updates)
            try:
                time.sleep(0.3)
                _buy(trader, maker, "BTCUSDT", "0.4", "65000")  # 26,000 of BTC on ~1,000 USDT
                admin.advance_clock(2 * 10**9)
                admin.set_index_price("BTCUSDT", "65000")  # a command of a later step closes the step

                def spike_update():
                    deadline = time.monotonic() + 5
                    while time.monotonic() < deadline:
                        msg = updates.get(timeout=5)
                        if msg.WhichOneof("update") == "leverage_spike":
                            return msg
                    return None

                msg = spike_update()
                assert msg is not None
                s = msg.leverage_spike
                assert (s.symbol, s.state, float(s.leverage_before)) == ("BTCUSDT", "RAISED", 0.0)
                equity = _equity(trader)
                assert float(s.leverage_after) == pytest.approx(0.4 * 65_000 / equity, rel=1e-3)
                assert float(s.z) >= 3.5 and s.changed_at_ns > 0
                risk = trader.market_risk("BTCUSDT")
                assert risk.spike_accounts == 1 and "leverage_spike" in [f.code for f in risk.flags]
                update = AccountUpdate.from_pb(msg)  # the SDK's account stream model carries it
                assert update.kind == "leverage_spike" and update.data["state"] == "RAISED"
                admin.advance_clock(301 * 10**9)
                admin.set_index_price("BTCUSDT", "65010")
                msg = spike_update()
                assert msg is not None and msg.leverage_spike.state == "CLEARED"
                assert msg.leverage_spike.symbol == "BTCUSDT"
                assert trader.market_risk("BTCUSDT").spike_accounts == 0
            finally:
                channel.close()
