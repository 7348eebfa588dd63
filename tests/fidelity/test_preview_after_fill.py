"""A preview shows what the fill will leave (issue 19 item 3).

Binance's liquidation price is solved against WB, the crossWalletBalance (or the isolated
wallet of the position) — the wallet after the fill has paid its fee (venue-mechanics §4.1,
https://www.binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93). Worked example A3 of
venue-mechanics §10: 1 BTC long at 20,000 against a wallet of 1,000, bracket 1 (0.4 %, cum 0):
LP = (1,000 − 20,000) / (0.004 − 1) = 19,076.3052. A cross account depositing 1,010 USDT whose
buy takes 1 BTC at 20,000 pays a taker fee of 10 (0.05 %) and is left with exactly that wallet:
its preview must give A3's price, as the position does after the fill (before the fix, the
preview solved against 1,010 and showed 19,066.27).

The distance to liquidation is signed: positive while the mark is on the safe side (above a
long's price, below a short's), negative once it is past.
"""

from __future__ import annotations

from fractions import Fraction

from perpsim.engine import commands as C
from perpsim.engine.exchange import Exchange
from perpsim.model.enums import OrderKind, Side
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import btcusdt_brackets

U = 10**8
SYMBOL = "BTCUSDT"
SPEC = default_markets()[SYMBOL]


def venue(deposit_usdt: str, isolated: bool = False) -> Exchange:
    """Account 2 (the trader) with `deposit_usdt`; account 1 a maker with an ask of 1 BTC at 20,000."""
    ex = Exchange({SYMBOL: SPEC}, {SYMBOL: btcusdt_brackets(U)}, start_ts=1)
    ex.apply(C.SetIndexPrice(1, SYMBOL, SPEC.price_to_ticks("20000")))
    ex.apply(C.Deposit(1, 1, "USDT", 10**6 * U))
    ex.apply(C.Deposit(1, 2, "USDT", SPEC.money_to_units(deposit_usdt)))
    if isolated:
        ex.apply(C.SetMarginMode(1, 2, SYMBOL, isolated=True))
    ex.apply(C.PlaceOrder(1, 1, SYMBOL, Side.SELL, SPEC.qty_to_lots("1"), SPEC.price_to_ticks("20000")))
    return ex


def buy(price: str, qty: str = "1") -> C.PlaceOrder:
    return C.PlaceOrder(1, 2, SYMBOL, Side.BUY, SPEC.qty_to_lots(qty), SPEC.price_to_ticks(price), OrderKind.LIMIT)


def test_a3_cross_preview_is_solved_against_the_wallet_after_the_opening_fee() -> None:
    ex = venue("1010")
    preview = ex.preview_order(buy("20000"))
    assert preview["fee"] == 10 * U  # taker: the order trades at once
    a3 = Fraction(19_000, 1) / Fraction(996, 1000)  # (1,000 − 20,000) / (0.004 − 1)
    assert preview["liquidation_price"] == a3
    assert round(float(a3), 4) == 19_076.3052
    ex.apply(buy("20000"))
    assert ex.wallet(2, "USDT") == 1_000 * U
    assert ex.liquidation_price(2, SYMBOL).price == preview["liquidation_price"]
    assert ex.bankruptcy_price(2, SYMBOL).price == preview["bankruptcy_price"] == 19_000  # A3's bankruptcy price


def test_isolated_preview_is_unchanged_by_the_fee_the_wallet_pays() -> None:
    """Isolated: the position's wallet is its initial margin (1,000 at 20x); the fee comes out
    of the cross wallet, so A3's price holds with any deposit that pays it."""
    ex = venue("1500", isolated=True)
    preview = ex.preview_order(buy("20000"))
    assert preview["liquidation_price"] == Fraction(19_000, 1) / Fraction(996, 1000)
    ex.apply(buy("20000"))
    assert ex.isolated_margin(2, SYMBOL) == 1_000 * U
    assert ex.liquidation_price(2, SYMBOL).price == preview["liquidation_price"]


def test_a_resting_order_pays_the_maker_fee() -> None:
    """A buy at 19,000 rests: maker fee 0.02 % of 19,000 = 3.8; WB = 1,010 − 3.8 = 1,006.2;
    LP = (1,006.2 − 19,000) / (0.004 − 1) = 18,065.06…"""
    ex = venue("1010")
    preview = ex.preview_order(buy("19000"))
    assert preview["fee"] == 380_000_000
    assert preview["liquidation_price"] == (Fraction(19_000) - Fraction(10_062, 10)) / Fraction(996, 1000)


def test_the_distance_is_signed() -> None:
    """Mark 20,000. A buy of 1 at 20,000 with 1,010: LP 19,076.3052, 4.618 % away (positive).
    A buy of 1 at 20,500 resting above the mark with 100 USDT (maker fee 4.1): LP = (95.9 −
    20,500) / (0.004 − 1) = 20,486.04…, above the mark: past it, −2.43 %."""
    ex = venue("1010")
    safe = ex.preview_order(buy("20000"))["liquidation_distance_percent"]
    assert safe == (20_000 - Fraction(19_000) / Fraction(996, 1000)) / 20_000 * 100 > 0
    ex2 = Exchange({SYMBOL: SPEC}, {SYMBOL: btcusdt_brackets(U)}, start_ts=1)
    ex2.apply(C.SetIndexPrice(1, SYMBOL, SPEC.price_to_ticks("20000")))
    ex2.apply(C.Deposit(1, 2, "USDT", 100 * U))
    past = ex2.preview_order(buy("20500"))
    lp = (Fraction(20_500) - Fraction(959, 10)) / Fraction(996, 1000)
    assert past["liquidation_price"] == lp
    assert past["liquidation_distance_percent"] == (20_000 - lp) / 20_000 * 100 < 0
    # a short's distance counts upwards. A sell of 1 at 19,500 resting with 100 (maker fee 3.9):
    # LP = (96.1 + 19,500) / (0.004 + 1) = 19,518.03…, below the mark: past it
    short = ex2.preview_order(C.PlaceOrder(1, 2, SYMBOL, Side.SELL, 1_000, 195_000, OrderKind.LIMIT))
    short_lp = (Fraction(961, 10) + 19_500) / Fraction(1_004, 1000)
    assert short["liquidation_price"] == short_lp
    assert short["liquidation_distance_percent"] == (short_lp - 20_000) / 20_000 * 100 < 0
    # and at 20,000 with 1,010 (maker fee 4): LP = (1,006 + 20,000) / 1.004, safe above the mark
    ex2.apply(C.Deposit(1, 2, "USDT", 910 * U))
    short = ex2.preview_order(C.PlaceOrder(1, 2, SYMBOL, Side.SELL, 1_000, 200_000, OrderKind.LIMIT))
    short_lp = (Fraction(1_010) - 4 + 20_000) / Fraction(1_004, 1000)  # (WB + Q·EP) / (Q·MMR + Q)
    assert short["liquidation_price"] == short_lp
    assert short["liquidation_distance_percent"] == (short_lp - 20_000) / 20_000 * 100 > 0
