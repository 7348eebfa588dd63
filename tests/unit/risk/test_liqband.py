"""risk.liqband: the integer liquidation band, by hand and against the `perpsim calc` calculator
(risk.preview) fed the same position through its decimal edge, on a grid of positions."""

from __future__ import annotations

import itertools
from decimal import Decimal
from fractions import Fraction

import pytest

from perpsim.model.market_files import default_markets
from perpsim.model.markets import MarketKind
from perpsim.risk.brackets import Brackets, market_brackets
from perpsim.risk.liqband import NO_BAND, Band, liquidation_band
from perpsim.risk.liqprice import LiquidationModel
from perpsim.risk.margin import inverse_k
from perpsim.risk.preview import preview_position
from perpsim.risk.units import RATE_SCALE, rate

MARKETS = default_markets()
U = 10**8  # money units per USDT / BTC
BINANCE, BYBIT = LiquidationModel.BINANCE, LiquidationModel.BYBIT


def contract(symbol: str) -> dict:
    """The integer contract terms of a default market, as the engine holds them."""
    spec = MARKETS[symbol]
    inverse = spec.kind is MarketKind.INVERSE
    return {"K": 0 if inverse else spec.notional_per_tick_lot, "inverse": inverse,
            "k_inv": inverse_k(spec.contract_size * spec.lot_size, spec.tick_size, 10**spec.settle_decimals)
            if inverse else 0, "brackets": market_brackets(spec), "fee_rate": rate(spec.liquidation_fee)}


def calculator_band(symbol: str, lots: int, cost: int, wallet: int, model: LiquidationModel, isolated: bool,
                    other_mm: int = 0, other_upnl: int = 0, lev: int = 10) -> Band:
    """The band `perpsim calc` shows for the same position (its decimal inputs built as the order
    preview built them before the band moved into risk/), back on the tick grid."""
    spec, c = MARKETS[symbol], contract(symbol)
    scale = Decimal(10) ** spec.settle_decimals
    entry = (Fraction(lots) * c["k_inv"] / cost if c["inverse"] else Fraction(cost, lots)) * Fraction(spec.tick_size)
    try:
        pv = preview_position(
            side="long" if lots > 0 else "short", size=spec.lots_to_qty(abs(lots)),
            entry=Decimal(entry.numerator) / Decimal(entry.denominator), leverage=lev,
            wallet=Decimal(wallet) / scale, mark=spec.ticks_to_price(round(entry / Fraction(spec.tick_size))),
            margin_mode="isolated" if isolated else "cross", other_mm=Decimal(other_mm) / scale,
            other_upnl=Decimal(other_upnl) / scale, market=spec, liquidation_fee=spec.liquidation_fee,
            brackets=[(Decimal(b.cap) / scale, b.max_leverage, Decimal(b.mmr) / RATE_SCALE) for b in c["brackets"]],
            profile=model)
    except ValueError:
        return NO_BAND

    def ticks(price: Decimal | None) -> int | None:
        return None if price is None else int(price / spec.tick_size)

    return Band(ticks(pv.partial_liquidation_price), ticks(pv.full_liquidation_price))


def test_a_long_in_bracket_2_is_cut_to_bracket_1_then_liquidated_lower_by_hand():
    """One bracket-2 table (MMR 1 % to 100 USDT notional, 2 % above, cum 1): a 2-lot long at 100
    (K = 1 USDT per lot·tick, so 200 of notional, money in whole units) with 30 of margin, no fee.

    Stage 1: MM in bracket 2 at P is 2P·0.02 − 1, the balance 30 + 2(P − 100); equal at
    P = 169/1.96 = 86.22 (notional 172.4 > 100: bracket 2 holds). The cut keeps floor(100 / P) =
    1 lot; the lot closed realizes floor(P − 100) = −14: wallet 16. The rest (1 lot at 100) at P:
    MM 0.01·P = 0.86 < balance 16 + P − 100 = 2.22: compliant. Stage 2: 16 + P − 100 = 0.01·P at
    P = 84/0.99 = 84.85, bracket 1: the full liquidation. A long's prices round up."""
    table = Brackets.from_rows([(100, 50, 1_000_000), (10_000, 25, 2_000_000)])
    band = liquidation_band(2, 200, 30, K=1, k_inv=0, inverse=False, brackets=table, fee_rate=0)
    assert band == Band(87, 85)


def test_the_fee_can_leave_the_rest_liquidatable_so_it_all_goes_at_the_first_price():
    table = Brackets.from_rows([(100, 50, 1_000_000), (10_000, 25, 2_000_000)])
    # a 50 % clearance fee on the 87 of notional closed (44, rounded up) leaves the wallet at
    # 30 − 14 − 44 < 0: the rest is under water at once
    band = liquidation_band(2, 200, 30, K=1, k_inv=0, inverse=False, brackets=table, fee_rate=RATE_SCALE // 2)
    assert band == Band(87, 87)


def test_a_short_rounds_down_and_a_safe_position_has_no_band():
    table = Brackets.from_rows([(100, 50, 1_000_000), (10_000, 25, 2_000_000)])
    # a 1-lot short at 100 with 10 of margin: 10 − (P − 100) = 0.01 P at P = 110/1.01 = 108.91
    assert liquidation_band(-1, -100, 10, K=1, k_inv=0, inverse=False, brackets=table, fee_rate=0) == Band(108, 108)
    # a long with more margin than its notional is never liquidated
    assert liquidation_band(1, 100, 101, K=1, k_inv=0, inverse=False, brackets=table, fee_rate=0) == NO_BAND
    assert liquidation_band(1, 100, -1, K=1, k_inv=0, inverse=False, brackets=table, fee_rate=0) == NO_BAND


def test_the_bybit_model_has_no_inverse_band():
    assert liquidation_band(1000, 5 * U, U, model=BYBIT, **contract("BTCUSD")) == NO_BAND


GRID_LINEAR = [  # (symbol, lots, average entry in ticks as cost / lots)
    ("BTCUSDT", lots, entry) for lots in (1, 7, 1_000, 30_000, 99_999, 250_000)
    for entry in (200_000, 650_003)
] + [("ETHUSDT", lots, 300_017) for lots in (3, 50_000, 400_000)] + [("SOLUSDT", lots, 15_031) for lots in (9, 2_500)]


@pytest.mark.parametrize("model", [BINANCE, BYBIT])
@pytest.mark.parametrize(("symbol", "lots", "entry"), GRID_LINEAR)
def test_the_band_is_the_calculators_on_a_grid_of_linear_positions(symbol, lots, entry, model):
    c = contract(symbol)
    for sign, lev, isolated in itertools.product((1, -1), (3, 10, 50), (True, False)):
        signed, cost = sign * lots, sign * lots * entry
        notional = lots * entry * c["K"]
        wallet = notional // lev
        others = [(0, 0)] if isolated else [(0, 0), (notional // 200, -notional // 300), (0, notional // 50)]
        for other_mm, other_upnl in others:
            mine = liquidation_band(signed, cost, wallet, model=model, other_mm=other_mm, other_upnl=other_upnl,
                                    **c)
            assert mine == calculator_band(symbol, signed, cost, wallet, model, isolated, other_mm, other_upnl), \
                (signed, lev, isolated, other_mm, other_upnl)


@pytest.mark.parametrize("lots", [1, 13, 2_000, 40_000, 300_000])
def test_the_band_is_the_calculators_on_a_grid_of_inverse_positions(lots):
    """Entries whose coin value per contract is whole (the harmonic mean then is the tick itself)."""
    c = contract("BTCUSD")
    for sign, entry, lev in itertools.product((1, -1), (200_000, 400_000, 625_000), (2, 10, 40)):
        cost = sign * lots * (c["k_inv"] // entry)
        wallet = abs(cost) // lev
        mine = liquidation_band(sign * lots, cost, wallet, **c)
        assert mine == calculator_band("BTCUSD", sign * lots, cost, wallet, BINANCE, True), (sign * lots, lev)


def test_an_exact_price_on_a_tick_stays_on_it():
    """A 1-contract BTCUSD short opened at 65,000 (coin basis floor(1e11 / 650,000) = 153,846
    units, so its entry is 1e11 / 153,846 ticks, a decimal that does not end) at 40x is liquidated
    exactly at 66,400.0 (664,000 ticks): the band says so. The calculator, fed the entry cut to 28
    digits, lands a hair below and shows 66,399.9."""
    c = contract("BTCUSD")
    band = liquidation_band(-1, -153_846, 153_846 // 40, **c)
    assert band == Band(664_000, 664_000)
    assert calculator_band("BTCUSD", -1, -153_846, 153_846 // 40, BINANCE, True) == Band(663_999, 663_999)


def test_an_entry_between_ticks_gives_the_calculators_band():
    """Positions built over several fills: cost / lots is not a tick (a terminating decimal here, so
    the calculator's decimal entry is exact too)."""
    c = contract("BTCUSDT")
    for lots, cost in ((8, 8 * 200_000 + 3), (40_000, 40_000 * 650_000 + 7), (-16_000, -(16_000 * 400_000 + 9))):
        for lev in (5, 20, 100):
            wallet = abs(cost) * c["K"] // lev
            assert liquidation_band(lots, cost, wallet, **c) == \
                calculator_band("BTCUSDT", lots, cost, wallet, BINANCE, True)
