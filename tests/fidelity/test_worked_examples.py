"""Worked examples of venue-mechanics §10, through the public preview API (perpsim.risk.preview)
and, for A2 and A3, through `perpsim calc`.

Each example is checked exactly at the precision the spec prints. Where the spec's figure is a
nearest rounding of an exact fraction (A2's 19,698.49, A3's 19,076.3052 / 20,916.3347) the test
asks for ``rounding="nearest"`` and also pins the venue display, which rounds a liquidation price
conservatively (a long's up, a short's down) and so differs by one step.

Left out: A9 (BitMEX insurance-fund flow) needs a BitMEX profile (limit order at the bankruptcy
price, fills better/worse than BP booked to a per-contract fund), which does not exist; A14
(Hyperliquid tick rules) is order validation, not a calculation.
"""

from __future__ import annotations

import json
from decimal import Decimal as D
from fractions import Fraction

import pytest

from perpsim.cli import main as cli
from perpsim.risk import preview as pv


def calc_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert cli.main(["calc", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


# --- A2: Bybit 19,700 vs Binance 19,698.49 ---------------------------------------------------

A2 = dict(side="long", size="1", entry="20000", leverage=50, mmr="0.005")  # IM 400, MM 100


def test_a2_bybit_vs_binance():
    bybit = pv.preview_position(**A2, profile="bybit")
    assert (bybit.initial_margin, bybit.maintenance_margin) == (D("400.00"), D("100.00"))
    assert bybit.liquidation_price == D("19700.00")
    assert pv.liquidation_price(**A2, profile="binance", rounding="nearest") == D("19698.49")
    # Venue display: the exact 19,698.4924… rounded up for a long.
    assert pv.liquidation_price(**A2, profile="binance") == D("19698.50")


def test_a2_cli(capsys):
    args = ["liq-price", "--side", "long", "--size", "1", "--entry", "20000", "--leverage", "50", "--mmr", "0.005"]
    assert calc_json(capsys, *args, "--profile", "bybit")["liquidation_price"] == "19700.00"
    assert calc_json(capsys, *args, "--nearest")["liquidation_price"] == "19698.49"


# --- A3: Binance isolated long/short ---------------------------------------------------------

A3 = dict(size="1", entry="20000", wallet="1000", leverage=20, market="BTCUSDT")  # bracket 1: 0.4 %, cum 0


def test_a3_isolated_long_and_short():
    kw = dict(A3, price_step="0.0001", rounding="nearest")
    long_ = pv.preview_position(side="long", **kw)
    short = pv.preview_position(side="short", **kw)
    assert (long_.mmr, long_.cum, long_.liquidation_bracket) == (D("0.004"), D("0"), 1)
    assert long_.liquidation_price == D("19076.3052")
    assert long_.bankruptcy_price == D("19000")
    assert short.liquidation_price == D("20916.3347")
    assert short.bankruptcy_price == D("21000")
    # Bybit profile: MM at entry = 80 → 19,080.
    assert pv.liquidation_price(side="long", **A3, profile="bybit") == D("19080.0")
    assert pv.preview_position(side="long", **A3, profile="bybit").maintenance_margin == D("80.00")
    # Venue display at BTCUSDT's tick 0.1: long up, short down.
    assert pv.liquidation_price(side="long", **A3) == D("19076.4")
    assert pv.liquidation_price(side="short", **A3) == D("20916.3")
    assert pv.bankruptcy_price(side="long", size="1", entry="20000", wallet="1000") == D("19000.00")


def test_a3_cli(capsys):
    base = ["--size", "1", "--entry", "20000", "--wallet", "1000", "--leverage", "20", "--symbol", "BTCUSDT"]
    fine = ["--price-step", "0.0001", "--nearest"]
    long_ = calc_json(capsys, "liq-price", "--side", "long", *base, *fine)
    short = calc_json(capsys, "liq-price", "--side", "short", *base, *fine)
    assert (long_["liquidation_price"], long_["bankruptcy_price"]) == ("19076.3052", "19000.0000")
    assert (short["liquidation_price"], short["bankruptcy_price"]) == ("20916.3347", "21000.0000")
    assert calc_json(capsys, "liq-price", "--side", "long", *base, "--profile", "bybit")["liquidation_price"] == (
        "19080.0"
    )
    bp = calc_json(capsys, "bankruptcy-price", "--side", "short", "--size", "1", "--entry", "20000", "--wallet", "1000")
    assert bp["bankruptcy_price"] == "21000.00"


# --- A4: Binance order cost (published) ------------------------------------------------------

A4 = dict(size="1", price="9253.30", mark="9259.84", leverage=20)


def test_a4_order_cost():
    long_ = pv.order_cost(side="buy", **A4)
    assert (long_.initial_margin, long_.open_loss, long_.cost) == (D("462.66"), D("0.00"), D("462.66"))
    short = pv.order_cost(side="sell", **A4)
    assert (short.initial_margin, short.open_loss, short.cost) == (D("462.66"), D("6.54"), D("469.20"))
    # 2024 revision: short assumed price max(9,258.99 × 1.0015, 9,259.84, 9,253.30).
    rev = pv.order_cost(side="sell", **A4, last="9258.99", model="revised_2024", money_places=4)
    assert rev.assumed_price == D("9272.878485")
    assert rev.assumed_price.quantize(D("0.0001")) == D("9272.8785")
    assert rev.initial_margin == D("463.6439")
    # The long side is unchanged by the revision.
    assert pv.order_cost(side="buy", **A4, last="9258.99", model="revised_2024").cost == D("462.66")


def test_a4_cli(capsys):
    args = ["order-cost", "--size", "1", "--price", "9253.30", "--mark", "9259.84", "--leverage", "20"]
    out = calc_json(capsys, *args, "--side", "sell")
    assert (out["initial_margin"], out["open_loss"], out["cost"]) == ("462.66", "6.54", "469.20")


# --- A5: Binance position-risk consistency (published) ---------------------------------------


def test_a5_position_risk():
    p = pv.preview_position(
        side="long", size="30", entry="0.385", mark="0.41047590", leverage=20, mmr="0.0065", money_places=8
    )
    assert p.unrealized_pnl == D("0.76427700")
    assert p.notional == D("12.31427700")
    assert p.initial_margin == D("0.61571385")
    assert p.maintenance_margin == D("0.08004280")
    m = pv.maintenance(size="30", price="0.41047590", mmr="0.0065", leverage=20, money_places=8)
    assert (m.notional, m.maintenance_margin, m.initial_margin) == (
        D("12.31427700"),
        D("0.08004280"),
        D("0.61571385"),
    )


# --- A7: BitMEX funding rate with premium (published) ----------------------------------------


def test_a7_bitmex_funding():
    # Same form as Binance: F = P + clamp(I − P, −0.05 %, 0.05 %); shorts pay longs.
    assert pv.funding_rate("-0.00184", interest="0.0001") == D("-0.00134")


# --- A11: maintenance-amount recursion --------------------------------------------------------


def test_a11_cum_recursion():
    btcusd = [("10", 125, "0.004"), ("20", 100, "0.005"), ("30", 50, "0.01"), ("50", 20, "0.025"), ("100", 10, "0.05")]
    level5 = pv.bracket_table(brackets=btcusd)[4]
    assert (level5.number, level5.floor, level5.mmr, level5.cum) == (5, D("50"), D("0.05"), D("1.81"))
    assert pv.bracket_table(brackets=btcusd)[3].cum == D("0.56")
    usdt = [row.cum for row in pv.bracket_table(market="BTCUSDT")]
    assert usdt == [
        D(c) for c in ("0", "50", "1300", "16300", "266300", "1266300", "2516300", "5016300", "25016300", "100016300")
    ]


# --- A12: funding clamp arithmetic ------------------------------------------------------------


@pytest.mark.parametrize(
    ("premium", "expected"), [("0.0002", "0.0001"), ("0.0010", "0.0005"), ("-0.00184", "-0.00134")]
)
def test_a12_clamp(premium, expected):
    assert pv.funding_rate(premium, interest="0.0001") == D(expected)


def test_a12_impact_notional_and_hyperliquid():
    assert pv.impact_notional("0.05") == D("4000")  # 200 USDT / 5 %
    assert pv.funding_rate("0.01") == D("0.0095")  # Hyperliquid F_8h
    assert pv.funding_rate("0.01", interval_hours=8, payment_hours=1) == D("0.0011875")  # paid hourly


# --- A15: Hyperliquid isolated liquidation price ----------------------------------------------


def test_a15_hyperliquid_isolated():
    # Hyperliquid: MM = ½ IM at max leverage = notional × l, l = 1/(2 × 40) = 1.25 %, at the mark.
    # That is the Binance model with one fixed bracket (mmr = l, cum 0), and the HL formula
    #   liq = price − side × margin_available / size / (1 − l × side),
    #   margin_available = isolated margin − MM at entry (as A15 uses it; [U] in the spec)
    # is the same equation solved for the price: 100,000 − 8,750 / 0.9875 = (10,000 − 100,000)/(l − 1).
    kw = dict(side="long", size="1", entry="100000", wallet="10000", leverage=10, mmr="0.0125")
    p = pv.preview_position(**kw, price_step="0.0001", rounding="nearest")
    assert p.maintenance_margin == D("1250.00")
    assert p.liquidation_price == D("91139.2405")
    rate_l, margin_available = Fraction(1, 80), Fraction(10_000 - 1_250)
    assert Fraction(p.liquidation_price) == round(100_000 - margin_available / (1 - rate_l), 4)
    # Check: at the liquidation price, equity 1,139.2405 = MM (shown at 4 decimals).
    at = pv.preview_position(**kw, mark="91139.2405", money_places=4)
    assert at.margin_balance == at.maintenance_margin == D("1139.2405")
