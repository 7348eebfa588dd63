"""`perpsim calc`: tables, --json, exit codes, and one real subprocess run."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from perpsim.cli import main as cli

A3_LONG = ["liq-price", "--side", "long", "--size", "1", "--entry", "20000", "--wallet", "1000", "--leverage", "20",
           "--symbol", "BTCUSDT"]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["calc", *args])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    code, out, err = run(capsys, *args, "--json")
    assert (code, err) == (0, "")
    return json.loads(out)


def test_liq_price_table(capsys):
    code, out, _ = run(capsys, *A3_LONG)
    assert code == 0
    rows = dict(line.split(None, 1) for line in out.splitlines() if line and not line.startswith(" ") and
                not line.endswith(":"))
    assert rows["liquidation_price"] == "19076.4 USDT"  # BTCUSDT tick, a long rounds up
    assert rows["bankruptcy_price"] == "19000.0 USDT"
    assert rows["asset"] == "USDT" and rows["initial_margin"] == "1000.00 USDT"
    assert rows["maintenance_margin"] == "80.00 USDT" and rows["size"] == "1 BTC" and rows["leverage"] == "20"
    assert rows["margin_ratio_pct"].endswith(" %")
    assert "stages:" in out and "full" in out


def test_liq_price_json_has_every_field(capsys):
    out = run_json(capsys, *A3_LONG, "--mark", "19500")
    assert out["margin_ratio_pct"] == "15.60" and out["unrealized_pnl"] == "-500.00"
    assert out["liquidation_bracket"] == 1 and out["leverage"] == 20
    assert out["partial_liquidation_price"] == out["full_liquidation_price"] == out["liquidation_price"]
    assert out["stages"] == [
        {"kind": "full", "price": "19076.4", "bracket": 1, "size_before": "1.000", "size_after": "0.000"}
    ]
    assert out["warnings"] == []


def test_liq_price_band_and_cross(capsys):
    out = run_json(capsys, "liq-price", "--side", "long", "--size", "30", "--entry", "20000", "--leverage", "20",
                   "--symbol", "BTCUSDT")
    assert [s["bracket"] for s in out["stages"]] == [3, 2, 1]
    assert out["partial_liquidation_price"] == "19148.2" and out["full_liquidation_price"] == "18525.0"
    cross = run_json(capsys, "liq-price", "--side", "long", "--size", "1", "--entry", "20000", "--wallet", "5000",
                     "--cross", "--other-mm", "100", "--other-upnl", "-200", "--mmr", "0.004", "--leverage", "20")
    assert cross["margin_mode"] == "cross" and cross["margin_balance"] == "4800.00"
    assert cross["liquidation_price"] == "15361.45"  # 15,300 / 0.996 = 15,361.445…, up


def test_liq_price_inverse_with_a_table(capsys):
    table = "10:125:0.004,20:100:0.005,30:50:0.01,50:20:0.025,100:10:0.05,200:5:0.10,400:4:0.125,1000:3:0.15"
    out = run_json(capsys, "liq-price", "--side", "long", "--size", "100000", "--entry", "45000", "--wallet", "101",
                   "--symbol", "BTCUSD", "--brackets", table, "--price-step", "0.01", "--nearest")
    assert out["liquidation_price"] == "33578.86" and out["asset"] == "BTC" and out["notional"] == "222.22222222"


def test_other_commands(capsys):
    bp = run_json(capsys, "bankruptcy-price", "--side", "long", "--size", "1", "--entry", "20000", "--leverage", "20")
    assert bp["bankruptcy_price"] == "19000.00"
    cost = run_json(capsys, "order-cost", "--side", "sell", "--qty", "1", "--price", "9253.30", "--mark", "9259.84",
                    "--leverage", "20", "--last", "9258.99", "--model", "revised-2024", "--money-places", "4")
    assert cost["initial_margin"] == "463.6439" and cost["assumed_price"] == "9272.878485"
    mm = run_json(capsys, "maint-margin", "--size", "1", "--price", "50000.1", "--symbol", "BTCUSDT")
    assert (mm["bracket"], mm["mmr"], mm["cum"], mm["maintenance_margin"]) == (2, "0.005", "50", "200.00")
    f = run_json(capsys, "funding-rate", "--premium", "0.01", "--paid-every", "1", "--imr", "0.05")
    assert (f["funding_rate"], f["rate_per_payment"], f["impact_margin_notional"]) == ("0.0095", "0.0011875", "4000")
    assert f["payer"] == "longs pay shorts"
    table = run_json(capsys, "brackets", "--symbol", "BTCUSDT")["brackets"]
    assert [r["cum"] for r in table][:4] == ["0", "50", "1300", "16300"]


def test_funding_rate_table(capsys):
    code, out, _ = run(capsys, "funding-rate", "--premium", "-0.00184")
    assert code == 0
    assert "funding_rate  -0.00134" in out and "shorts pay longs" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["liq-price", "--side", "long", "--size", "1", "--entry", "abc", "--leverage", "2"], "not a decimal number"),
        (["liq-price", "--side", "long", "--size", "1", "--entry", "100"], "or the leverage"),
        (["liq-price", "--side", "long", "--size", "1", "--entry", "100", "--leverage", "2", "--brackets", "1:2"],
         "is not CAP:LEV:MMR"),
        (["order-cost", "--side", "sell", "--size", "1", "--price", "1", "--mark", "1", "--leverage", "2",
          "--model", "revised-2024"], "last price"),
        (["funding-rate", "--premium", "0.01", "--paid-every", "3"], "must divide"),
        (["liq-price", "--side", "up", "--size", "1", "--entry", "100"], "invalid choice"),
        (["liq-price", "--size", "1"], "required"),
        (["nope"], "invalid choice"),
        ([], "required"),
    ],
)
def test_bad_input_exits_2_without_a_traceback(capsys, args, message):
    code, out, err = run(capsys, *args)
    assert code == 2 and out == ""
    assert message in err and "error:" in err and "Traceback" not in err


def test_help_exits_0(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "liq-price" in out and "funding-rate" in out
    code, out, _ = run(capsys, "liq-price", "--help")
    assert code == 0 and "--profile" in out


def test_subprocess_json():
    script = Path(sys.executable).with_name("perpsim")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "perpsim.cli"]
    args = ["calc", "liq-price", "--side", "long", "--size", "1", "--entry", "20000", "--leverage", "50",
            "--mmr", "0.005", "--profile", "bybit", "--json"]
    done = subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["liquidation_price"] == "19700.00" and out["profile"] == "bybit"
    bad = subprocess.run([*cmd, "calc", "liq-price", "--side", "long", "--size", "-1", "--entry", "1",
                          "--leverage", "1"], capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 2 and "size must be > 0" in bad.stderr and "Traceback" not in bad.stderr


def test_the_inverse_market_uses_the_venues_coin_table(capsys):
    """`--symbol BTCUSD` alone: the venue's COIN-M brackets. 100 contracts of $100 at 65,000, 20x:
    W = 10,000 / (65,000 x 20) BTC; liquidation where W + Q/E = (1 + 0.004) Q/P, bankruptcy where W + Q/E = Q/P."""
    out = run_json(capsys, "liq-price", "--side", "long", "--size", "100", "--entry", "65000", "--leverage", "20",
                   "--symbol", "BTCUSD")
    q, e = Decimal(10_000), Decimal(65_000)
    w = q / (e * 20)
    assert out["asset"] == "BTC" and out["mmr"] == "0.004" and out["bracket"] == 1
    assert abs(Decimal(out["liquidation_price"]) - Decimal("1.004") * q / (w + q / e)) <= Decimal("0.1")
    assert abs(Decimal(out["bankruptcy_price"]) - q / (w + q / e)) <= Decimal("0.1")
    table = run_json(capsys, "brackets", "--symbol", "BTCUSD")["brackets"]
    assert [(r["cap"], r["max_leverage"], r["mmr"]) for r in table][:2] == [("10", 125, "0.004"), ("20", 100, "0.005")]
