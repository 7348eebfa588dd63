"""ETHUSDT's and SOLUSDT's default brackets are Binance's, as its API returned them on 2024-08-01.

Source: Binance USDⓈ-M GET /fapi/v1/leverageBracket (through ccxt fetch_leverage_tiers), as
stored by freqtrade's weekly update workflow (build_helpers/binance_update_lev_tiers.py) in
freqtrade/freqtrade freqtrade/exchange/binance_leverage_tiers.json at commit
af554fc3f770915133793a218938ba436c0efe16 (2024-08-01 03:15 UTC). Each row below is the file's
`info` object of that date: notionalCap, initialLeverage, maintMarginRatio and the published
maintenance amount `cum`, which the markets file does not hold (risk/brackets.py derives it).
ETHUSDT's rows are the same in every weekly snapshot from 2024-05-30 to 2024-10-24; SOLUSDT's
from 2024-02-03 to 2024-08-01. Binance changes tiers over time: these are figures of that date.

The worked figures apply Binance's published rules (venue-mechanics §3.1): MM = notional × MMR −
cum in the position's bracket; the isolated long's liquidation price solves
wallet + size × (P − entry) = size × P × MMR − cum.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import market_brackets
from perpsim.risk.compare import venue_figures
from perpsim.risk.profiles import BINANCE
from perpsim.risk.units import RATE_SCALE

U = 10**8  # USDT money units

#: (notionalCap, initialLeverage, maintMarginRatio, cum) as the source file lists them
PUBLISHED = {
    "ETHUSDT": [
        ("50000", 125, "0.004", "0.0"), ("600000", 100, "0.005", "50.0"), ("3000000", 75, "0.0065", "950.0"),
        ("12000000", 50, "0.01", "11450.0"), ("50000000", 25, "0.02", "131450.0"),
        ("65000000", 20, "0.025", "381450.0"), ("150000000", 10, "0.05", "2006450.0"),
        ("320000000", 5, "0.1", "9506450.0"), ("400000000", 4, "0.125", "17506450.0"),
        ("530000000", 3, "0.15", "27506450.0"), ("800000000", 2, "0.25", "80506450.0"),
        ("1200000000", 1, "0.5", "280506450.0"),
    ],
    "SOLUSDT": [
        ("10000", 100, "0.005", "0.0"), ("50000", 75, "0.0065", "15.0"), ("200000", 50, "0.01", "190.0"),
        ("500000", 40, "0.012", "590.0"), ("1000000", 25, "0.02", "4590.0"), ("2000000", 20, "0.025", "9590.0"),
        ("5000000", 10, "0.05", "59590.0"), ("15000000", 5, "0.1", "309590.0"),
        ("20000000", 4, "0.125", "684590.0"), ("50000000", 2, "0.25", "3184590.0"),
        ("100000000", 1, "0.5", "15684590.0"),
    ],
}


@pytest.mark.parametrize("symbol", sorted(PUBLISHED))
def test_the_default_table_is_the_published_one_with_its_maintenance_amounts(symbol: str) -> None:
    table = market_brackets(default_markets()[symbol])
    ours = [(D(b.cap) / U, b.max_leverage, D(b.mmr) / RATE_SCALE, D(b.cum) / U) for b in table]
    assert ours == [(D(cap), lev, D(mmr), D(cum)) for cap, lev, mmr, cum in PUBLISHED[symbol]]


def test_eth_worked_margin_in_the_second_bracket() -> None:
    """100 ETH long at 3,000 (300,000 USDT, bracket 2), 20x isolated: IM 15,000, MM 300,000 ×
    0.5 % − 50 = 1,450; liquidation (15,000 + 50 − 300,000) / (100 × 0.005 − 100) = 2,863.819…"""
    v = venue_figures(BINANCE, side="long", size="100", entry="3000", leverage=20, market="ETHUSDT")
    assert (v.initial_margin, v.maintenance_margin, v.maintenance_rate) == (D("15000.00"), D("1450.00"), D("0.005"))
    assert v.liquidation_price == D("2863.82") and v.max_leverage == 100


def test_sol_worked_margin_in_the_third_bracket() -> None:
    """1,000 SOL long at 150 (150,000 USDT, bracket 3: 1 %, cum 190): MM 1,500 − 190 = 1,310;
    at 20x the bracket's cap of 50x leaves the leverage as asked."""
    v = venue_figures(BINANCE, side="long", size="1000", entry="150", leverage=20, market="SOLUSDT")
    assert (v.maintenance_margin, v.maintenance_rate, v.max_leverage) == (D("1310.00"), D("0.01"), 50)
