"""`perpsim calc compare`: the side-by-side table, its JSON, and refusals (exit 2, nothing printed to stdout)."""

from __future__ import annotations

import json

from perpsim.cli import main as cli

ARGS = ["calc", "compare", "--side", "short", "--size", "2", "--entry", "30000", "--leverage", "25", "--mark", "30300",
        "--premium", "0.001"]


def test_json_has_one_entry_per_profile(capsys) -> None:
    assert cli.main([*ARGS, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    venues = {v["profile"]: v for v in out["venues"]}
    assert list(venues) == ["binance", "bybit", "okx", "hyperliquid", "dydx"]
    assert venues["bybit"]["liquidation_price"] == "31050.0" and venues["dydx"]["leverage"] == 20
    assert venues["hyperliquid"]["funding_payment"] == "3.78" and out["asset"] == "USDT"


def test_table_puts_profiles_side_by_side(capsys) -> None:
    assert cli.main([*ARGS, "--profiles", "binance,dydx"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["binance", "dydx"]
    row = {ln.split()[0]: ln.split()[1:] for ln in lines[2:] if ln and not ln.startswith("warning")}
    assert row["liquidation_price"] == ["31069.6", "USDT", "30582.5", "USDT"]
    assert row["funding_every_hours"] == ["8", "h", "1", "h"]
    assert any(ln.startswith("warning: dydx:") for ln in lines)


def test_inverse_marks_unlisted_venues(capsys) -> None:
    assert cli.main(["calc", "compare", "--side", "long", "--size", "100", "--entry", "65000", "--leverage", "10",
                     "--symbol", "BTCUSD"]) == 0
    out = capsys.readouterr().out
    assert "(not listed)" in out and "okx: no inverse perpetuals" in out and " BTC" in out


def test_bad_input_exits_2(capsys) -> None:
    assert cli.main(["calc", "compare", "--side", "long", "--size", "-1", "--entry", "1", "--leverage", "2"]) == 2
    assert cli.main([*ARGS, "--profiles", "kraken"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "size" in captured.err and "kraken" in captured.err
