"""`perpsim` commands beyond orders, against a real venue through `perpsim.cli.main.main`:
account settings, isolated margin, price paths, the account stream, watch --timeout, the mark's
funding labels, durations, units in tables, and a reader that stops early."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

from perpsim.cli import main as cli
from perpsim.clients.client import Client
from perpsim.venue.app import RunningVenue

from .cli_kit import Run, run_json

pytestmark = pytest.mark.usefixtures("clean_cli")

HOUR_NS = 3_600_000_000_000


def test_leverage_margin_mode_and_isolated_margin(run: Run, admin: Client, admin_key: str) -> None:
    me = admin.with_key(admin.create_account().api_key)
    maker = admin.with_key(admin.create_account().api_key)
    me.deposit("USDT", "1000")
    maker.deposit("USDT", "1000")
    assert run_json(run, "leverage", "ETHUSDT", "10", key=me.api_key) == {"symbol": "ETHUSDT", "leverage": 10}
    assert run_json(run, "margin-mode", "ETHUSDT", "isolated", key=me.api_key)["margin_mode"] == "isolated"
    maker.place_order("ETHUSDT", "sell", "0.1", "3500")
    me.place_order("ETHUSDT", "buy", "0.1", "3500")
    [pos] = me.positions("ETHUSDT")
    assert (pos.margin_mode, pos.leverage) == ("isolated", 10)
    added = run_json(run, "margin", "add", "ETHUSDT", "5", key=me.api_key)
    assert Decimal(added["isolated_margin"]) == pos.isolated_margin + 5 and added["asset"] == "USDT"
    removed = run_json(run, "margin", "remove", "ETHUSDT", "2.5", key=me.api_key)
    assert Decimal(removed["isolated_margin"]) == pos.isolated_margin + Decimal("2.5")
    assert me.positions("ETHUSDT")[0].isolated_margin == pos.isolated_margin + Decimal("2.5")
    code, out, _ = run("margin", "add", "ETHUSDT", "1", key=me.api_key)
    assert code == 0 and out.strip() == f"ETHUSDT isolated margin {pos.isolated_margin + Decimal('3.5')} USDT"
    # the venue refuses a mode change with a position open: one line, exit 1, nothing changed
    code, _, err = run("margin-mode", "ETHUSDT", "cross", key=me.api_key)
    assert code == 1 and err.startswith("error: ") and err.count("\n") == 1
    assert me.positions("ETHUSDT")[0].margin_mode == "isolated"
    # the positions table: every price and amount with its unit
    code, out, _ = run("positions", "ETHUSDT", key=me.api_key)
    assert code == 0 and "0.100 ETH" in out and "3500.00 USDT" in out
    assert f"isolated {pos.isolated_margin + Decimal('3.5')} USDT" in out


def test_bad_settings_are_usage_errors(run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["leverage", "BTCUSDT", "0"], ["leverage", "BTCUSDT", "2.5"], ["margin", "add", "BTCUSDT", "-1"],
                 ["margin", "remove", "BTCUSDT", "lots"], ["margin-mode", "BTCUSDT", "portfolio"],
                 ["position-mode", "both"]):
        with pytest.raises(SystemExit) as info:
            run(*args)
        assert info.value.code == 2, args
        assert "invalid" in capsys.readouterr().err


def test_position_mode(run: Run, admin: Client) -> None:
    me = admin.with_key(admin.create_account().api_key)
    assert run_json(run, "position-mode", "hedge", key=me.api_key) == {"position_mode": "hedge"}
    assert me.account().hedge_mode is True
    code, out, _ = run("position-mode", "one-way", key=me.api_key)
    assert code == 0 and out.strip() == "position mode one-way" and me.account().hedge_mode is False


def test_price_path_drives_the_index(run: Run, admin: Client, admin_key: str) -> None:
    before = admin.mark("BTCUSD").index_price
    target = before + 250
    made = run_json(run, "sandbox", "set-price-path", "BTCUSD", f"0s:{before}", f"300ms:{target}", admin=admin_key)
    assert made == {"symbol": "BTCUSD", "points": 2}
    deadline = time.monotonic() + 10
    while admin.mark("BTCUSD").index_price != target and time.monotonic() < deadline:
        time.sleep(0.05)
    assert admin.mark("BTCUSD").index_price == target
    code, out, _ = run("sandbox", "set-price-path", "BTCUSD", admin=admin_key)
    assert code == 0 and out.strip() == "BTCUSD price path stopped"
    for bad in ("1.5x:3", "1us:65000", "65000", ":65000"):
        with pytest.raises(SystemExit) as info:
            run("sandbox", "set-price-path", "BTCUSD", bad, admin=admin_key)
        assert info.value.code == 2, bad


def test_advance_clock_takes_durations(run: Run, admin_key: str) -> None:
    before = run_json(run, "sandbox", "state", admin=admin_key)["now_ns"]
    out = run_json(run, "sandbox", "advance-clock", "1h30m", admin=admin_key)
    assert out["advanced_ns"] == HOUR_NS * 3 // 2
    assert HOUR_NS * 3 // 2 <= out["now_ns"] - before < HOUR_NS * 3 // 2 + 60 * 10**9
    code, text, _ = run("sandbox", "advance-clock", "30m", admin=admin_key)
    assert code == 0 and text.startswith("now 20") and text.rstrip().endswith("UTC (advanced 30m)")
    assert run_json(run, "sandbox", "advance-clock", "1000", admin=admin_key)["advanced_ns"] == 1000  # ns still work


def test_mark_labels_predicted_and_last_funding(run: Run, venue: RunningVenue) -> None:
    out = run_json(run, "mark", "BTCUSDT")
    funding = venue.venue.view.funding("BTCUSDT")
    assert Decimal(out["predicted_funding_rate"]) == Decimal(funding.predicted_rate) / 10**8
    assert Decimal(out["last_funding_rate"]) == Decimal(funding.rate) / 10**8
    assert out["next_funding_time_ns"] == funding.next_funding_ts and out["time_ns"] > 0
    code, text, _ = run("mark", "BTCUSDT")
    assert code == 0
    fields = dict(line.split(None, 1) for line in text.splitlines())
    assert set(fields) >= {"mark_price", "index_price", "predicted_funding_rate", "last_funding_rate",
                           "next_funding_time"}
    assert "funding_rate" not in fields and fields["mark_price"].endswith(" USDT")
    assert " UTC (in " in fields["next_funding_time"]


def test_watch_timeout_ends_quietly(run: Run) -> None:
    started = time.monotonic()
    code, out, err = run("watch", "trades", "BTCUSDT", "--timeout", "0.5")
    assert (code, out, err) == (0, "", "")
    assert time.monotonic() - started < 5


def test_watch_account(venue: RunningVenue, admin: Client, capsys: pytest.CaptureFixture[str]) -> None:
    me = admin.with_key(admin.create_account().api_key)
    codes: list[int] = []
    watcher = threading.Thread(target=lambda: codes.append(cli.main(
        ["watch", "account", "--count", "1", "--json", "--address", venue.address, f"--key={me.api_key}"])))
    watcher.start()
    deadline = time.monotonic() + 20
    while watcher.is_alive() and time.monotonic() < deadline:  # until the stream is up and sees one
        me.deposit("USDT", "1")
        watcher.join(timeout=0.2)
    assert not watcher.is_alive() and codes == [0]
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert line["kind"] == "balance" and line["data"]["cause"] == "deposit"
    assert line["data"]["delta"] == {"asset": "USDT", "amount": "1.00000000"}
    wallet = Decimal(line["data"]["wallet"]["amount"])
    [usdt] = [b for b in me.account().balances if b.asset == "USDT"]
    assert 1 <= wallet <= usdt.wallet and line["sequence"] > 0


def test_watch_account_lines(venue: RunningVenue, admin: Client, capsys: pytest.CaptureFixture[str]) -> None:
    me = admin.with_key(admin.create_account().api_key)
    me.deposit("USDT", "100")
    codes: list[int] = []
    watcher = threading.Thread(target=lambda: codes.append(cli.main(
        ["watch", "account", "--count", "1", "--address", venue.address, f"--key={me.api_key}", "--timeout", "20"])))
    watcher.start()
    deadline = time.monotonic() + 20
    placed = []
    while watcher.is_alive() and time.monotonic() < deadline:
        placed.append(me.place_order("BTCUSDT", "buy", "0.001", "50000").order_id)
        watcher.join(timeout=0.2)
    assert codes == [0]
    line = capsys.readouterr().out.strip()
    assert line.split()[1:4] == ["order", str(line.split()[2]), "BTCUSDT"]
    assert int(line.split()[2]) in placed and "accepted" in line and "50000.0 USDT" in line
    me.cancel_all("BTCUSDT")


def test_tables_carry_units(run: Run, admin: Client) -> None:
    me = admin.with_key(admin.create_account().api_key)
    me.deposit("BTC", "1")
    me.place_order("BTCUSD", "buy", "10", "60000")
    code, out, _ = run("order", "list", "BTCUSD", key=me.api_key)
    assert code == 0 and "60000.0 USD" in out and "10 cont" in out
    code, out, _ = run("book", "BTCUSD")
    assert code == 0 and out.splitlines()[1].split()[:5] == ["side", "price", "(USD)", "quantity", "(cont)"]
    code, out, _ = run("balance", key=me.api_key)
    assert code == 0 and "1.00000000 BTC" in out
    code, out, _ = run("markets")
    assert code == 0 and "0.1 USD" in out and "0.001 BTC" in out
    me.cancel_all("BTCUSD")


def _perpsim() -> list[str]:
    script = Path(sys.executable).with_name("perpsim")
    return [str(script)] if script.exists() else [sys.executable, "-m", "perpsim.cli"]


@pytest.mark.parametrize("args", [["calc", "brackets", "--symbol", "BTCUSDT"], ["markets"], ["--help"]])
def test_a_reader_that_is_gone_ends_the_command_quietly(args: list[str], venue: RunningVenue) -> None:
    """`perpsim ... | head`: stdout is a pipe whose reader has already closed it."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run([*_perpsim(), *args, *(["--address", venue.address] if args == ["markets"] else [])],
                              stdout=write, stderr=subprocess.PIPE, text=True, timeout=60, check=False)
    finally:
        os.close(write)
    assert done.returncode == 0 and done.stderr == "", done.stderr
