"""dYdX v4's deleveraging through the real server (`perpsim serve --profile dydx`; risk.dydx_deleveraging,
tests/fidelity/test_dydx_deleveraging.py for the walk and its numbers).

Source: dydxprotocol/v4-chain @ 84d4664bae71e3a077adaac67fb77ad19cd28d30,
protocol/x/clob/keeper/deleveraging.go `MaybeDeleverageSubaccount` ("Note that the full position
size will get deleveraged."), `ProcessDeleveraging` ("at the bankruptcy price of the _liquidated_
position"); liquidations.go `LiquidateSubaccountsAgainstOrderbook` (an order that fills nothing
goes to deleveraging); the insurance fund takes no position.

A long of 1 BTC from 65,000 at 20x on 3,250 USDT (bankruptcy price 61,750), bought from two makers
(0.6 and 0.4 BTC). A −10 % shock puts the oracle at 58,500: TNC 3,250 − 6,500 = −3,250, the
fillable price 58,500 × (1 − 1.5 × 0.03) = 55,867.5. Nothing bids (the band kept bids above 61,750
before the shock, and none rests), so the block's 0.1 BTC order fills nothing and the whole 1 BTC
goes at 61,750 against both makers' shorts: the trader's wallet ends at 0, each maker realizes
3,250 a BTC, and the insurance fund is unchanged.
"""

from __future__ import annotations

from decimal import Decimal

from perpsim.clients.client import Client
from tests.integration.conftest import own_venue

BTC = "BTCUSDT"


def test_a_bankrupt_long_is_deleveraged_whole_and_the_fund_takes_nothing(tmp_path) -> None:
    with own_venue(tmp_path, profile="dydx") as (running, _cfg, trader):
        with Client(running.address, admin_key=(tmp_path / "admin.key").read_text().strip()) as admin:
            admin.set_index_price(BTC, "65000")
            makers = [admin.with_key(admin.create_account().api_key) for _ in range(2)]
            for maker, qty in zip(makers, ("0.6", "0.4"), strict=True):
                maker.deposit("USDT", "1000000")
                maker.place_order(BTC, "sell", qty, "65000")
            trader.deposit("USDT", "2282.5")  # with the fixture's 1,000: 3,250 + the 32.5 opening fee
            assert trader.set_leverage(BTC, 20) == 20
            trader.place_order(BTC, "buy", "1", "65000")
            fund = admin.insurance_fund("USDT")["USDT"]
            before = [m.account().balance("USDT").wallet for m in makers]

            result = admin.shock_price(BTC, "-10")
            assert result.index_price == Decimal("58500.0") and result.liquidations == 1
            (forced,) = result.forced_orders
            assert (forced.side, forced.filled_quantity, forced.taken_by_insurance, forced.deleveraged) == \
                ("sell", Decimal(0), Decimal(0), Decimal("1"))
            assert forced.bankruptcy_price == Decimal("61750.0")
            assert not [p for p in trader.positions(BTC) if p.quantity]
            assert trader.account().balance("USDT").wallet == 0
            for maker, was, qty in zip(makers, before, (Decimal("0.6"), Decimal("0.4")), strict=True):
                assert not [p for p in maker.positions(BTC) if p.quantity]
                assert maker.account().balance("USDT").wallet - was == qty * 3_250
            assert admin.insurance_fund("USDT")["USDT"] == fund
