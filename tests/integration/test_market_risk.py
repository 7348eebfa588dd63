"""The market half of the RiskService through a real venue: open interest after trades, the
liquidation map against a brute-force sum over the positions the test opened, leverage-spike
flags on a planted spike and none on a quiet run, and the same figures after a restart."""

from __future__ import annotations

import asyncio
import json
import math
from collections import defaultdict
from decimal import Decimal
from fractions import Fraction

import pytest

from perpsim.cli import main as cli
from perpsim.clients.client import AsyncClient, Client
from perpsim.clients.errors import PerpsimError
from perpsim.venue.app import RunningVenue
from perpsim.venue.config import VenueConfig

SYMBOL = "BTCUSDT"
TICK, LOT = Decimal("0.1"), Decimal("0.001")
SECOND = 10**9


def _book(maker: Client) -> None:
    """Resting liquidity around 65,000 for the traders to take (5 lots every 10 USDT)."""
    for i in range(1, 41):
        maker.place_order(SYMBOL, "sell", "5", str(65_000 + 10 * i))
        maker.place_order(SYMBOL, "buy", "5", str(65_000 - 10 * i))


def _open(client: Client, side: str, qty: str, leverage: int, isolated: bool = False) -> None:
    if isolated:
        client.set_margin_mode(SYMBOL, "isolated")
    client.set_leverage(SYMBOL, leverage)
    client.place_order(SYMBOL, side, qty)


def _brute_force_map(traders: list[Client], maker: Client, mark: int, width_pct: float, range_pct: float):
    """(bucket index -> [long lots, short lots, long notional, short notional]) summed over
    every position's liquidation price as the account sees it, bucketed as the map says."""
    w, k = Fraction(str(width_pct)) / 100, round(range_pct / width_pct)
    out: dict[int, list] = defaultdict(lambda: [0, 0, 0.0, 0.0])
    for c in [*traders, maker]:
        for p in c.positions(SYMBOL):
            if p.liquidation_price is None:
                continue
            x = p.liquidation_price / TICK
            tick = math.ceil(x - Decimal("1e-6")) if p.quantity_lots > 0 else math.floor(x + Decimal("1e-6"))
            i = math.floor(Fraction(tick - mark) / (mark * w))
            if -k <= i < k:
                lots = abs(p.quantity_lots)
                notional = float(lots * LOT * tick * TICK)
                side = 0 if p.quantity_lots > 0 else 1
                out[i][side] += lots
                out[i][2 + side] += notional
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Its own venue: a maker, four quiet traders at 3-8x (two isolated), their positions."""
    data_dir = tmp_path_factory.mktemp("market-risk")
    cfg = VenueConfig(listen="127.0.0.1:0", data_dir=data_dir, feed=False, liquidity=False, metrics_listen="",
                      rest_listen="off")
    running = RunningVenue(cfg).start_in_thread()
    try:
        admin = Client(running.address, admin_key=(data_dir / "admin.key").read_text().strip())
        admin.wait_ready()
        trader = admin.with_key(admin.create_account().api_key)
        trader.deposit("USDT", "1000")
        maker = admin.with_key(admin.create_account().api_key)
        maker.deposit("USDT", "5000000")
        _book(maker)
        traders = [trader]
        for _ in range(3):
            c = admin.with_key(admin.create_account().api_key)
            c.deposit("USDT", "1000")
            traders.append(c)
        _open(traders[0], "buy", "0.06", 10)  # ~3.9x of 1,000
        _open(traders[1], "buy", "0.1", 10, isolated=True)
        _open(traders[2], "sell", "0.12", 10)
        _open(traders[3], "sell", "0.05", 10, isolated=True)
        for _ in range(3):  # steps of venue time pass: leverage is measured once per step
            admin.advance_clock(2 * SECOND)
        yield running, cfg, admin, maker, traders
    finally:
        if running._loop is not None and not running._loop.is_closed():
            running.stop()


def test_open_interest_and_sides_after_trades(world) -> None:
    _, _, admin, maker, traders = world
    risk = admin.market_risk(SYMBOL)
    lots = [p.quantity_lots for c in [*traders, maker] for p in c.positions(SYMBOL)]
    held_long = sum(x for x in lots if x > 0)
    assert risk.open_interest_lots == held_long == -sum(x for x in lots if x < 0) > 0
    assert risk.open_interest == held_long * LOT
    longs = sum(1 for c in [*traders, maker] for p in c.positions(SYMBOL) if p.quantity_lots > 0)
    shorts = sum(1 for c in [*traders, maker] for p in c.positions(SYMBOL) if p.quantity_lots < 0)
    assert (risk.long_accounts, risk.short_accounts) == (longs, shorts)
    assert risk.long_short_ratio == pytest.approx(longs / shorts)
    assert 1.0 < risk.average_leverage < 10.0
    mark = Decimal(risk.mark_price)
    assert risk.open_interest_notional == pytest.approx(float(held_long * LOT * mark))


def test_liquidation_map_matches_brute_force(world) -> None:
    _, cfg, admin, maker, traders = world
    risk = admin.market_risk(SYMBOL)
    mark = int(risk.mark_price / TICK)
    expected = _brute_force_map(traders, maker, mark, risk.bucket_pct, cfg.risk_map_range_pct)
    assert expected, "the test's positions have liquidation prices within the map's range"
    got = {}
    w = risk.bucket_pct / 100
    for b in risk.liquidation_map:
        i = round((float(b.price_low) / float(mark * TICK) - 1.0) / w)
        got[i] = [b.long_lots, b.short_lots, b.long_notional, b.short_notional]
    assert sorted(got) == sorted(expected)
    for i, (ll, sl, ln, sn) in expected.items():
        assert got[i][:2] == [ll, sl]
        assert got[i][2] == pytest.approx(ln) and got[i][3] == pytest.approx(sn)


def test_quiet_run_raises_no_leverage_spike(world) -> None:
    _, _, admin, *_ = world
    risk = admin.market_risk(SYMBOL)
    assert risk.spike_accounts == 0
    assert "leverage_spike" not in {f.code for f in risk.flags}


def test_unknown_symbol_and_bad_notional_are_refused(world) -> None:
    _, _, admin, *_ = world
    with pytest.raises(PerpsimError) as e:
        admin.market_risk("NOPE")
    assert e.value.code == "unknown_symbol"
    with pytest.raises(PerpsimError) as e:
        admin.market_risk(SYMBOL, slippage_notional="-5")
    assert e.value.code == "invalid_value" and e.value.metadata["field"] == "slippage_notional"


def test_planted_leverage_spike_is_flagged(world) -> None:
    """A crowd of three goes from about 5x to about 40x within a minute: flagged, with its share
    of open interest; the traders of the quiet run are not among them."""
    _, _, admin, maker, traders = world
    crowd = []
    for _ in range(3):
        c = admin.with_key(admin.create_account().api_key)
        c.deposit("USDT", "1000")
        _open(c, "buy", "0.077", 50)  # ~5x
        crowd.append(c)
    admin.advance_clock(2 * SECOND)
    assert admin.market_risk(SYMBOL).spike_accounts == 0
    for c in crowd:
        c.place_order(SYMBOL, "buy", "0.53")  # to ~40x
    admin.advance_clock(2 * SECOND)
    risk = admin.market_risk(SYMBOL)
    assert risk.spike_accounts == 3
    crowd_lots = sum(abs(p.quantity_lots) for c in crowd for p in c.positions(SYMBOL))
    all_lots = sum(abs(p.quantity_lots) for c in [*traders, *crowd, maker] for p in c.positions(SYMBOL))
    assert risk.spike_oi_pct == pytest.approx(crowd_lots / all_lots * 100)
    flag = next(f for f in risk.flags if f.code == "leverage_spike")
    assert "3 account(s)" in flag.message and "3 long" in flag.message


def test_stream_market_risk_sends_the_figures(world) -> None:
    _, _, admin, *_ = world
    with admin.stream_market_risk(SYMBOL, interval_ms=100, timeout=10) as stream:
        first, second = next(stream), next(stream)
    assert (first.sequence, second.sequence) == (1, 2)
    assert first.risk.open_interest_lots == admin.market_risk(SYMBOL).open_interest_lots


def test_async_client_reads_the_same_figures(world) -> None:
    running, _, admin, *_ = world

    async def read():
        async with AsyncClient(running.address, admin_key=admin.admin_key) as c:
            risk = await c.market_risk(SYMBOL)
            async with c.stream_market_risk(SYMBOL, interval_ms=100, timeout=10) as stream:
                update = await stream.__anext__()
            return risk, update

    risk, update = asyncio.run(read())
    assert risk == admin.market_risk(SYMBOL)
    assert update.sequence == 1 and update.risk.open_interest_lots == risk.open_interest_lots


def test_stream_refuses_a_too_short_interval(world) -> None:
    _, _, admin, *_ = world
    with pytest.raises(PerpsimError) as e, admin.stream_market_risk(SYMBOL, interval_ms=5, timeout=10) as stream:
        next(stream)
    assert e.value.code == "invalid_value" and e.value.metadata["field"] == "interval_ms"


def test_cli_risk_market_and_watch(world, capsys) -> None:
    running, _, admin, *_ = world
    assert cli.main(["risk", "market", SYMBOL, "--json", "--address", running.address]) == 0
    shown = json.loads(capsys.readouterr().out)
    risk = admin.market_risk(SYMBOL)
    assert shown["open_interest_lots"] == risk.open_interest_lots
    assert Decimal(shown["open_interest"]) == risk.open_interest
    assert [b["long_lots"] for b in shown["liquidation_map"]] == [b.long_lots for b in risk.liquidation_map]
    assert cli.main(["risk", "market", SYMBOL, "--address", running.address]) == 0
    table = capsys.readouterr().out
    assert "open interest" in table and "insurance fund stress" in table and "liquidation map" in table
    assert cli.main(["watch", "risk", SYMBOL, "--count", "2", "--interval-ms", "100",
                     "--address", running.address]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [x.split()[0] for x in lines] == ["#1", "#2"]
    assert all(f"OI {risk.open_interest}" in x for x in lines)


def test_same_figures_after_restart(world) -> None:
    """Run last: the venue restarts on its data directory (journal replay) and answers the same."""
    running, cfg, admin, *_ = world
    before = admin.market_risk(SYMBOL)
    assert before.spike_accounts and before.volatility_pct["1h"] is not None  # history-borne figures too
    running.stop()
    again = RunningVenue(cfg).start_in_thread()
    try:
        with Client(again.address, admin_key=admin.admin_key) as c:
            c.wait_ready()
            after = c.market_risk(SYMBOL)
    finally:
        again.stop()
    assert after == before
