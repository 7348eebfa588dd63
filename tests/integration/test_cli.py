"""`perpsim` client commands against a real venue, through `perpsim.cli.main.main`.

stdout is captured (not a terminal), so tables are plain text; --json output must parse and
carry exact decimal strings.
"""

from __future__ import annotations

import json
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


def new_key(run: Run, admin_key: str) -> str:
    made = run_json(run, "sandbox", "create-account", admin=admin_key)
    assert isinstance(made["account_id"], int)
    return made["api_key"]


def test_markets_json_and_table(run: Run) -> None:
    markets = {m["symbol"]: m for m in run_json(run, "markets")}
    assert markets["BTCUSDT"]["tick_size"] == "0.1" and markets["ETHUSDT"]["min_notional"] == "20"
    code, out, _ = run("markets")
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split()[:3] == ["symbol", "kind", "settle"]
    assert any(r.split()[0] == "BTCUSDT" and "0.001" in r.split() for r in rows)


def test_deposit_trade_and_balances_exact(run: Run, admin_key: str) -> None:
    a, b = new_key(run, admin_key), new_key(run, admin_key)
    assert run_json(run, "deposit", "USDT", "100", key=a) == {"asset": "USDT", "wallet": "100.00000000"}
    assert run_json(run, "deposit", "USDT", "12.345", key=b)["wallet"] == "12.34500000"
    placed = run_json(run, "order", "place", "BTCUSDT", "buy", "0.001", "64000.5", "--client-id", "cli-1", key=a)
    assert placed["status"] == "new" and placed["price"] == "64000.5" and placed["client_order_id"] == "cli-1"
    listed = run_json(run, "order", "list", "BTCUSDT", key=a)
    assert [o["order_id"] for o in listed] == [placed["order_id"]]
    assert run_json(run, "order", "list", key=b) == []
    sold = run_json(run, "order", "place", "BTCUSDT", "sell", "0.001", key=b)  # market
    assert sold["type"] == "market" and sold["status"] == "filled"
    [fill] = sold["fills"]
    assert {k: fill[k] for k in ("order_id", "price", "quantity", "liquidity", "price_ticks", "quantity_lots")} == {
        "order_id": sold["order_id"], "price": "64000.5", "quantity": "0.001", "liquidity": "taker",
        "price_ticks": 640005, "quantity_lots": 1}
    # maker fee 64.0005 x 0.0002 = 0.0128001, taker fee 64.0005 x 0.0005 = 0.03200025
    [bal_a] = [x for x in run_json(run, "balance", key=a)["balances"] if x["asset"] == "USDT"]
    [bal_b] = [x for x in run_json(run, "balance", key=b)["balances"] if x["asset"] == "USDT"]
    assert bal_a["wallet"] == "99.98719990" and bal_b["wallet"] == "12.31299975"
    assert Decimal(bal_a["wallet"]) == Decimal(100) - Decimal("64.0005") * Decimal("0.0002")
    [pos] = run_json(run, "positions", key=a)
    assert pos["quantity"] == "0.001" and Decimal(pos["entry_price"]) == Decimal("64000.5")
    code, out, _ = run("positions", key=b)
    assert code == 0 and "-0.001" in out
    assert run_json(run, "withdraw", "USDT", "0.00000001", key=b)["wallet"] == "12.31299974"


def test_book_mark_and_preview(run: Run, admin_key: str) -> None:
    a = new_key(run, admin_key)
    run_json(run, "deposit", "USDT", "1000", key=a)
    run_json(run, "order", "place", "ETHUSDT", "sell", "0.01", "3600.25", key=a)
    book = run_json(run, "book", "ETHUSDT", "--depth", "5")
    assert {"price": "3600.25", "quantity": "0.010", "order_count": 1, "price_ticks": 360025,
            "quantity_lots": 10} in book["asks"]
    code, out, _ = run("book", "ETHUSDT")
    assert code == 0 and any(line.split()[:3] == ["ask", "3600.25", "0.010"] for line in out.splitlines())
    mark = run_json(run, "mark", "ETHUSDT")
    assert mark["symbol"] == "ETHUSDT" and Decimal(mark["mark_price"]) == Decimal(3500)
    preview = run_json(run, "preview", "ETHUSDT", "buy", "1", "3500", key=a)
    assert preview["affordable"] is True and preview["resulting_quantity"] == "1.000"
    assert preview["price_band"] == {"mark_price": "3500.00", "min_price": "3325.00", "max_price": "3675.00"}
    code, out, _ = run("preview", "ETHUSDT", "sell", "1", "3500", key=a)
    assert code == 0 and "liquidation_price" in out and "3325.00 .. 3675.00" in out
    assert run_json(run, "order", "cancel-all", "ETHUSDT", key=a) == {"symbol": "ETHUSDT", "canceled": 1}


def test_cancel_by_id(run: Run, admin_key: str) -> None:
    a = new_key(run, admin_key)
    run_json(run, "deposit", "USDT", "100", key=a)
    placed = run_json(run, "order", "place", "BTCUSDT", "buy", "0.001", "64000", "--post-only", key=a)
    assert placed["time_in_force"] == "gtx"
    amended = run_json(run, "order", "amend", "BTCUSDT", str(placed["order_id"]), "--price", "63999.9",
                       "--quantity", "0.002", key=a)
    assert (amended["price"], amended["quantity"], amended["status"]) == ("63999.9", "0.002", "new")
    canceled = run_json(run, "order", "cancel", "BTCUSDT", str(placed["order_id"]), key=a)
    assert canceled["status"] == "canceled"


def test_errors_are_one_line_with_exit_code_1(run: Run, admin_key: str) -> None:
    a = new_key(run, admin_key)
    run_json(run, "deposit", "USDT", "10", key=a)
    code, out, err = run("order", "place", "BTCUSDT", "buy", "0.001", "65000.05", key=a)
    assert (code, out) == (1, "")
    assert err.startswith("error: price_off_tick (-4014): ") and err.count("\n") == 1
    code, _, err = run("order", "place", "BTCUSDT", "buy", "1", "65000", key=a)
    assert code == 1 and err.startswith("error: margin_insufficient (-2019): ")
    code, _, err = run("book", "NOPE")
    assert code == 1 and err.startswith("error: unknown_symbol (-1121): ")
    code, _, err = run("balance")
    assert code == 1 and err.startswith("error: unauthenticated (-2015): ")
    code, _, err = run("sandbox", "state", key=a)  # a user key is not the admin key
    assert code == 1 and err.startswith("error: permission_denied: ")
    assert "Traceback" not in err


def test_usage_errors_exit_2(run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["order", "place", "BTCUSDT", "up", "1"])
    assert info.value.code == 2
    capsys.readouterr()
    code, _, err = run("deposit", "USDT", "lots")
    assert code == 2 and "not a decimal number" in err


def test_unreachable_venue(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["markets", "--address", "127.0.0.1:1", "--timeout", "1"])
    _, err = capsys.readouterr()
    assert code == 1 and err.startswith("error: unavailable: ")


def test_environment_and_admin_key_file(run: Run, capsys: pytest.CaptureFixture[str], venue: RunningVenue,
                                        admin_key: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PERPSIM_ADDRESS", venue.address)
    (tmp_path / "perpsim-data").mkdir()
    (tmp_path / "perpsim-data" / "admin.key").write_text(admin_key + "\n")
    assert cli.main(["sandbox", "create-account", "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    monkeypatch.setenv("PERPSIM_API_KEY", made["api_key"])
    assert cli.main(["balance", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["account_id"] == made["account_id"]
    state = run_json(run, "sandbox", "state")
    assert set(state) == {"now_ns", "state_hash", "journal_sequence", "insurance_funds", "clock_mode",
                          "clock_lease_remaining_ms"}


def test_sandbox_index_and_shock(run: Run, admin_key: str) -> None:
    out = run_json(run, "sandbox", "set-index", "BTCUSD", "64000", admin=admin_key)
    assert out == {"symbol": "BTCUSD", "mark_price": "64000.0", "liquidations": 0}
    out = run_json(run, "sandbox", "shock", "BTCUSD", "-2.5", admin=admin_key)
    assert out["index_price"] == "62400.0"
    run_json(run, "sandbox", "set-index", "BTCUSD", "65000", admin=admin_key)


def test_watch_trades(venue: RunningVenue, admin: Client, capsys: pytest.CaptureFixture[str]) -> None:
    key_a = admin.create_account().api_key
    key_b = admin.create_account().api_key
    a, b = admin.with_key(key_a), admin.with_key(key_b)
    a.deposit("USDT", "100")
    b.deposit("USDT", "100")
    codes: list[int] = []
    watcher = threading.Thread(target=lambda: codes.append(cli.main(
        ["watch", "trades", "BTCUSDT", "--count", "2", "--json", "--address", venue.address])))
    watcher.start()
    deadline = time.monotonic() + 20
    while watcher.is_alive() and time.monotonic() < deadline:
        a.place_order("BTCUSDT", "sell", "0.001", "65000")
        b.place_order("BTCUSDT", "buy", "0.001", "65000", time_in_force="ioc")
        watcher.join(timeout=0.1)
    assert not watcher.is_alive() and codes == [0]
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 2
    assert lines[1]["sequence"] == lines[0]["sequence"] + 1
    assert all(t["price"] == "65000.0" and t["quantity"] == "0.001" and t["taker_side"] == "buy" for t in lines)
