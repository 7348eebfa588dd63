"""Each default market uses its own venue's bracket table (issue 19 item 1).

Sources (also beside each table in model/markets.toml):
- BTCUSDT: Binance, "Updates to Leverage and Margin Tiers of Binance Futures Contracts
  (2021-03-18)", https://www.binance.com/en/support/announcement/86cf9aa472574b8cb2e05bb751c2a9a6
  (venue-mechanics §3.1: maintenance amounts 0, 50, 1,300, 16,300, 266,300, …, 100,016,300);
- CYBERUSDT, the thin alt with an 11x cap: Binance Futures, CYBERUSDT tiers from 2023-08-31,
  https://www.binance.com/en/feed/post/2023-08-31-binance-futures-adjusts-leverage-and-margin-tiers-for-usd-m-cyberusdt-perpetual-contract-1060786;
- ETHUSDT and SOLUSDT: Binance's GET /fapi/v1/leverageBracket rows of 2024-08-01 as stored in
  freqtrade/freqtrade freqtrade/exchange/binance_leverage_tiers.json @ af554fc3 (pinned row by
  row, with the published maintenance amounts, in test_published_brackets.py).
"""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from perpsim.cli import main as cli
from perpsim.engine import commands as C
from perpsim.engine.events import CommandRejected
from perpsim.model.market_files import default_markets, load_markets
from perpsim.model.reasons import Rejected
from perpsim.model.reasons import RejectReason as R
from perpsim.risk.brackets import market_brackets
from perpsim.risk.units import RATE_SCALE
from perpsim.venue.config import VenueConfig
from perpsim.venue.initial_state import make_exchange

U = 10**8
MARKETS = default_markets()


def rows(symbol: str) -> list[tuple[D, int, D, D]]:
    """(cap, max leverage, mmr, cum) in USDT of a default market's table."""
    table = market_brackets(MARKETS[symbol])
    return [(D(b.cap) / U, b.max_leverage, D(b.mmr) / RATE_SCALE, D(b.cum) / U) for b in table]


def test_btcusdt_is_binances_2021_table_with_its_maintenance_amounts() -> None:
    table = rows("BTCUSDT")
    assert [(cap, lev, mmr) for cap, lev, mmr, _ in table[:4]] == [
        (50_000, 125, D("0.004")), (250_000, 100, D("0.005")), (1_000_000, 50, D("0.01")), (10_000_000, 20, D("0.025"))]
    assert [cum for *_, cum in table] == [0, 50, 1_300, 16_300, 266_300, 1_266_300, 2_516_300, 5_016_300,
                                          25_016_300, 100_016_300]


def test_solusdt_maintenance_amounts_are_the_published_column() -> None:
    assert [cum for *_, cum in rows("SOLUSDT")] == [0, 15, 190, 590, 4_590, 9_590, 59_590, 309_590, 684_590,
                                                    3_184_590, 15_684_590]
    assert rows("SOLUSDT")[0][:3] == (10_000, 100, D("0.005"))


def test_the_thin_alt_caps_leverage_at_11x() -> None:
    table = rows("CYBERUSDT")
    assert [(cap, lev, mmr) for cap, lev, mmr, _ in table] == [
        (25_000, 11, D("0.025")), (200_000, 10, D("0.05")), (500_000, 5, D("0.10")), (1_000_000, 4, D("0.125")),
        (3_000_000, 2, D("0.25")), (3_500_000, 1, D("0.50"))]


def test_the_venue_builds_one_table_per_market(tmp_path) -> None:
    """make_exchange used to give every linear market BTCUSDT's table."""
    ex = make_exchange(VenueConfig(data_dir=tmp_path / "none"))
    for symbol, spec in MARKETS.items():
        assert ex.markets[symbol].brackets == market_brackets(spec), symbol
    assert ex.markets["ETHUSDT"].brackets != ex.markets["BTCUSDT"].brackets
    # a position of 300,000 USDT is in ETH's second bracket (0.5 %, to 600,000) and in the 2021
    # BTCUSDT table's third (1 %, 250,000 to 1,000,000)
    assert ex.markets["ETHUSDT"].brackets.for_notional(300_000 * U).mmr == 500_000
    assert ex.markets["BTCUSDT"].brackets.for_notional(300_000 * U).mmr == 1_000_000


def test_the_leverage_cap_and_default_follow_the_market(tmp_path) -> None:
    """CYBERUSDT allows 11x at most: 20x is refused, and an account that never set a leverage
    trades at 11x (Binance's default of 20x, capped by the market)."""
    ex = make_exchange(VenueConfig(data_dir=tmp_path / "none"))
    spec = MARKETS["CYBERUSDT"]
    ex.apply(C.SetIndexPrice(1, "CYBERUSDT", spec.price_to_ticks("2.5")))
    (rej,) = ex.apply(C.SetLeverage(1, 7, "CYBERUSDT", 20))
    assert isinstance(rej, CommandRejected) and rej.reason == R.INVALID_LEVERAGE
    assert dict(rej.fields)["max_leverage"] == 11
    assert ex._lev(7, ex.markets["CYBERUSDT"]) == 11 and ex._lev(7, ex.markets["BTCUSDT"]) == 20
    # 1,000 CYBER at 2.5 = 2,500 USDT at 11x: initial margin 227.28 (rounded up), fee reserve 1.25
    ex.apply(C.Deposit(1, 7, "USDT", 230 * U))
    ex.apply(C.Deposit(1, 8, "USDT", 10_000 * U))
    ex.apply(C.PlaceOrder(1, 8, "CYBERUSDT", 1, spec.qty_to_lots("1000"), spec.price_to_ticks("2.5")))
    events = ex.apply(C.PlaceOrder(1, 7, "CYBERUSDT", 0, spec.qty_to_lots("1000"), spec.price_to_ticks("2.5")))
    assert not any(isinstance(e, CommandRejected) for e in events)
    assert ex.position(7, "CYBERUSDT").lots == spec.qty_to_lots("1000")


def test_the_calculator_uses_the_markets_own_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["calc", "brackets", "--symbol", "ETHUSDT", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)["brackets"][0]
    assert (first["cap"], first["max_leverage"], first["mmr"]) == ("50000", 125, "0.004")
    assert cli.main(["calc", "brackets", "--symbol", "CYBERUSDT", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["brackets"][0]["max_leverage"] == 11


BASE = """
[markets.XYZUSDT]
kind = "linear"
base = "XYZ"
quote = "USDT"
settle_decimals = 8
tick_size = "0.01"
lot_size = "1"
min_qty = "1"
max_qty = "1000"
min_price = "0.01"
max_price = "1000"
"""


def test_a_markets_file_takes_brackets() -> None:
    spec = load_markets(BASE + 'brackets = [["5000", 20, "0.02"], ["20000", 10, "0.05"]]\n')["XYZUSDT"]
    table = market_brackets(spec)
    assert [(b.cap, b.max_leverage, b.mmr, b.cum) for b in table] == [
        (5_000 * U, 20, 2_000_000, 0), (20_000 * U, 10, 5_000_000, 150 * U)]


@pytest.mark.parametrize(("rows_text", "problem"), [
    ('[["5000", 20, 0.02]]', "TOML float"),
    ('[["5000", 20, "0.06"]]', "below 1 / max_leverage"),
    ('[["5000", 20, "0.02"], ["4000", 10, "0.05"]]', "must exceed the previous"),
    ('[["5000", 10, "0.02"], ["8000", 20, "0.03"]]', "may not rise"),
    ('[["5000.000000001", 20, "0.02"]]', "multiple of"),
    ('"5000"', "array"),
])
def test_bad_brackets_are_refused_with_the_reason(rows_text: str, problem: str) -> None:
    with pytest.raises(Rejected) as info:
        load_markets(BASE + f"brackets = {rows_text}\n")
    assert info.value.reason == R.INVALID_MARKET_SPEC
    assert info.value.reject.fields["field"] == "brackets" and problem in str(info.value)
