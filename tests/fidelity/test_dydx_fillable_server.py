"""dYdX v4's forced order at the fillable price, through the real server (`perpsim serve
--profile dydx`; risk.dydx_fillable, tests/fidelity/test_dydx_fillable.py for the formula).

Source: dydxprotocol/v4-chain @ 84d4664bae71e3a077adaac67fb77ad19cd28d30,
protocol/x/clob/keeper/liquidations.go `GetFillablePrice`, `ConvertFillablePriceToSubticks`;
mainnet genesis fillable_price_config (BA 1, SMMR 1.5); dydxprotocol/v4-documentation @ 3e475b73,
docs/pages/concepts/trading/liquidations.mdx ("Fillable Price").

A long of 1 BTC from 65,000 at 20x on 3,250 USDT (bankruptcy price 61,750). A −2.5 % shock puts
the oracle at 63,375: TNC 3,250 − 1,625 = 1,625 ≤ TMMR 0.03 × 63,375 = 1,901.25, ABR =
276.25 / 1,901.25, fillable price 63,375 × (1 − 1.5 × 0.03 × ABR) = 63,375 − 1.5 × 276.25 =
62,960.625, a sell's limit rounded up to the tick: 62,960.7. The block's order is 10 % of the
position (6,337.5 USDT ≥ 1,000): 0.1 BTC.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from perpsim.clients.client import Client
from tests.integration.conftest import own_venue

BTC = "BTCUSDT"


def long_1_btc(admin: Client, trader: Client) -> Client:
    """The trader long 1 BTC at 65,000 and 20x (its wallet 3,250 after the 32.5 opening fee),
    bought from a maker funded with 1,000,000 USDT: the maker's client."""
    admin.set_index_price(BTC, "65000")
    maker = admin.with_key(admin.create_account().api_key)
    maker.deposit("USDT", "1000000")
    trader.deposit("USDT", "2282.5")  # with the fixture's 1,000: 3,250 + the 32.5 opening fee
    assert trader.set_leverage(BTC, 20) == 20
    maker.place_order(BTC, "sell", "1", "65000")
    trader.place_order(BTC, "buy", "1", "65000")
    return maker


def test_the_forced_sell_fills_at_the_fillable_price_and_no_lower(tmp_path) -> None:
    exact = Decimal(63_375) * (1 - Decimal("1.5") * Decimal("0.03") * (Decimal("276.25") / Decimal("1901.25")))
    fillable = exact.quantize(Decimal("0.1"), rounding=ROUND_CEILING)
    assert fillable == Decimal("62960.7")
    with own_venue(tmp_path, profile="dydx") as (running, _cfg, trader):
        with Client(running.address, admin_key=(tmp_path / "admin.key").read_text().strip()) as admin:
            maker = long_1_btc(admin, trader)
            maker.place_order(BTC, "buy", "0.04", str(fillable))  # at the fillable price
            maker.place_order(BTC, "buy", "1", str(fillable - Decimal("0.1")))  # one tick beyond it

            result = admin.shock_price(BTC, "-2.5")
            assert result.index_price == Decimal("63375.0") and result.liquidations == 1
            (forced,) = result.forced_orders
            assert (forced.side, forced.quantity, forced.filled_quantity) == ("sell", Decimal("0.1"), Decimal("0.04"))
            assert forced.fill_price == fillable and forced.bankruptcy_price == Decimal("61750.0")
            # the rest stays with the account for the next block (TNC still positive), the bid
            # one tick below untouched; at the bankruptcy price the order would have taken it
            assert sum(p.quantity for p in trader.positions(BTC)) == Decimal("0.96")
            top = admin.book(BTC).bids[0]
            assert (top.price, top.quantity) == (fillable - Decimal("0.1"), Decimal("1"))
