"""Binance Multi-Assets mode, checked against Binance's own worked examples.

Source of the margin example: "How to Calculate Margin Ratio in the Multi-Assets Mode" (Binance
FAQ, 2022-07-06, binance.com/en/support/faq/c983a9268cfa4e70a4916c276bb3b7bc): USDTUSD index 0.99
with bid buffer 0.01 and ask buffer 0.005 (bid rate 0.9801, ask rate 0.99495), USDCUSD at 1; a
USDT wallet of 200 and a USDC wallet of 220; BTCUSDT at 100x (MMR 0.8 %) and ETHUSDC at 50x
(MMR 1 %). Its figures: account equity 416.02; with no positions USDT available 418.13 and USDC
416.02; with 0.5 BTCUSDT at 20,000 and 20 ETHUSDC at 600, uniAvailableForOrder 76.525, USDT
available 76.91, USDC 76.525, maintenance 199.596, margin ratio 0.47977 = 47.98 %.

Haircut and auto-exchange: the Multi-Assets Info page
(binance.com/en/futures/trading-rules/perpetual/multi-asset-info): "BNB with a market value of
$1000 will be valued at $950" (5 % haircut) and "5,000 USDC / 97.5 % = 5,128.20 USDC of the BTC
will be changed to USDC" (2.5 % BTC haircut).
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

import pytest

from perpsim.risk import collateral as col
from perpsim.risk.units import RATE_SCALE, rate

USD = Decimal(10) ** -col.USD_DECIMALS
UNIT = 10**8  # the example's assets at 8 decimals


def usd(units: int) -> Decimal:
    return units * USD


def money(x: str) -> int:
    return int(Decimal(x) * UNIT)


# the example's floating rates: the stablecoin buffers are its own, not the default table's
USDT = col.MarginAsset("USDT", 8, rate("0.01"), rate("0.005"), "FAQ example")
USDC = col.MarginAsset("USDC", 8, 0, 0, "FAQ example")
USDT_INDEX, USDC_INDEX = rate("0.99"), rate("1")


def states(usdt_im="0", usdc_im="0", usdt_mm="0", usdc_mm="0"):
    return [col.AssetState(USDT, USDT_INDEX, money("200"), money(usdt_im), money(usdt_mm)),
            col.AssetState(USDC, USDC_INDEX, money("220"), money(usdc_im), money(usdc_mm))]


def test_account_equity_is_the_sum_at_bid_rates():
    assert usd(col.account_equity(states())) == Decimal("416.02")


def test_available_for_order_without_positions():
    uni = col.uni_available(states())
    assert usd(uni) == Decimal("416.02")
    usdt = Decimal(col.available_for_order(USDT, USDT_INDEX, uni)) / UNIT
    usdc = Decimal(col.available_for_order(USDC, USDC_INDEX, uni)) / UNIT
    # the page prints 2 decimals; the exact 416.02 / 0.99495 = 418.1315... is rounded down
    assert usdt.quantize(Decimal("0.01"), ROUND_DOWN) == Decimal("418.13")
    assert usdt == (Decimal("416.02") / Decimal("0.99495")).quantize(Decimal("1E-8"), ROUND_DOWN)
    assert usdc == Decimal("416.02")
    assert col.margin_ratio(states()) == 0


def test_with_open_positions():
    # IM: 0.5 × 20,000 × 1 % = 100 USDT and 20 × 600 × 2 % = 240 USDC; MM: 80 USDT, 120 USDC
    s = states(usdt_im="100", usdc_im="240", usdt_mm="80", usdc_mm="120")
    uni = col.uni_available(s)
    assert usd(uni) == Decimal("76.525")
    usdt = Decimal(col.available_for_order(USDT, USDT_INDEX, uni)) / UNIT
    assert usdt.quantize(Decimal("0.01"), ROUND_DOWN) == Decimal("76.91")
    assert Decimal(col.available_for_order(USDC, USDC_INDEX, uni)) / UNIT == Decimal("76.525")
    mm = sum(col.owed_value(x.asset, x.maintenance_margin, x.index) for x in s)
    assert usd(mm) == Decimal("199.596")
    ratio = Decimal(col.margin_ratio(s)) / RATE_SCALE
    assert ratio.quantize(Decimal("0.00001"), ROUND_DOWN) == Decimal("0.47977")
    assert (ratio * 100).quantize(Decimal("0.01"), ROUND_HALF_UP) == Decimal("47.98")


def test_haircut_example_bnb_1000_is_950():
    bnb = col.MarginAsset("BNB", 8, rate("0.05"), 0, "Multi-Assets Info page")
    # 2 BNB at 500 USD: a market value of $1,000
    assert usd(col.collateral_value(bnb, 2 * UNIT, rate("500"))) == Decimal("950")


def test_auto_exchange_example_5000_usdc_over_97_5_percent():
    btc = col.DEFAULT_MARGIN_ASSETS["BTC"]
    assert btc.bid_buffer == rate("0.025")
    index = rate("50000")
    sold = col.auto_exchange_sale(money("5000"), USDC, USDC_INDEX, btc, index)
    # 5,000 / 0.975 = 5,128.205128... USD of BTC at 50,000: 0.10256410256... BTC, rounded up
    assert sold == 10_256_411
    assert (Decimal(sold) / UNIT * 50000).quantize(Decimal("0.01"), ROUND_DOWN) == Decimal("5128.20")
    # and what is sold covers the debt at the collateral's haircut value
    assert col.collateral_value(btc, sold, index) >= money("5000")


def test_negative_balance_counts_at_the_ask_rate_rounded_to_more_debt():
    # min(e × bid, e × ask) for e < 0 is e × ask: −100 USDT at 0.99495 = −99.495
    assert usd(col.collateral_value(USDT, -money("100"), USDT_INDEX)) == Decimal("-99.495")
    # one unit of debt at a rate below 1 still rounds to a whole unit owed, never to zero
    assert col.collateral_value(USDT, -1, USDT_INDEX) == -1
    assert col.collateral_value(USDT, 1, USDT_INDEX) == 0


def test_btc_collateral_moves_with_its_index():
    btc = col.DEFAULT_MARGIN_ASSETS["BTC"]
    values = [col.collateral_value(btc, UNIT, rate(p)) for p in ("60000", "54000")]
    assert [usd(v) for v in values] == [Decimal("58500"), Decimal("52650")]


def test_values_by_asset_leaves_out_what_is_not_margin():
    out = col.values_by_asset({"USDT": money("10"), "XYZ": money("5"), "BTC": UNIT},
                              {"USDT": rate("1"), "BTC": rate("40000")})
    assert out == {"USDT": money("10"), "BTC": money("39000")}


@pytest.mark.parametrize("bid,ask", [(-1, 0), (RATE_SCALE, 0), (0, RATE_SCALE)])
def test_buffers_out_of_range_are_refused(bid, ask):
    with pytest.raises(ValueError):
        col.MarginAsset("X", 8, bid, ask, "")


def test_collateral_amount_is_the_most_whose_value_fits():
    btc = col.DEFAULT_MARGIN_ASSETS["BTC"]
    index = rate("40000")
    amount = col.collateral_amount(btc, money("39000"), index)
    assert amount == UNIT
    assert col.collateral_value(btc, amount, index) <= money("39000") < col.collateral_value(btc, amount + 1, index)
    assert col.collateral_amount(btc, money("100.01"), index) * 39000 <= money("100.01")
    assert col.collateral_amount(btc, -5, index) == 0
