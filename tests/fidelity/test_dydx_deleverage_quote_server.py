"""dYdX v4's deleveraging of a multi-market account at each offset's bankruptcy quote, the offsetting
account's orders left standing, through the real server (`perpsim serve --profile dydx`;
tests/fidelity/test_dydx_deleverage_quote.py for the formula and its sources:
deleveraging.go `OffsetSubaccountPerpetualPosition`, `ProcessDeleveraging`, liquidations.go
`GetBankruptcyPriceInQuoteQuantums`, dydxprotocol/v4-chain @ 84d4664b).

The trader holds 1 BTC from 65,000 (sold by maker A, who also rests an ask of 0.1 BTC at 70,000)
and 10 ETH from 3,000 (sold by maker B), both at 20x, on one wallet of 4,750 USDT. A −10 % BTC
shock puts the oracle at 58,500: TNC 4,750 − 6,500 = −1,750, TMMR 1,755 + 900 = 2,655; nothing
bids, so BTC is deleveraged against A: the share −1,750 × 1,755 / 2,655 = −1,156.779661016… →
−1,156.77966102, the quote 58,500 + 1,156.77966102 = 59,656.77966102 (59,656.7 and 0.07966102
beside it). TNC is then −593.22033898 (the same ratio on ETH's 900), so ETH goes to B for 30,000 +
593.22033898 = 30,593.22033898 (3,059.32 and 0.02033898). The trader ends at 0; the fund is
untouched; A's ask still rests.
"""

from __future__ import annotations

from decimal import Decimal

from perpsim.clients.client import Client
from tests.integration.conftest import own_venue

BTC, ETH = "BTCUSDT", "ETHUSDT"


def test_each_market_goes_at_its_share_and_the_offsetting_orders_stay(tmp_path) -> None:
    with own_venue(tmp_path, profile="dydx") as (running, _cfg, trader):
        with Client(running.address, admin_key=(tmp_path / "admin.key").read_text().strip()) as admin:
            admin.set_index_price(BTC, "65000")
            admin.set_index_price(ETH, "3000")
            makers = [admin.with_key(admin.create_account().api_key) for _ in range(2)]
            for maker in makers:
                maker.deposit("USDT", "1000000")
            makers[0].place_order(BTC, "sell", "1", "65000")
            makers[1].place_order(ETH, "sell", "10", "3000")
            trader.deposit("USDT", "3797.5")  # with the fixture's 1,000: 4,750 + the 47.5 opening fees
            for symbol, qty, price in ((BTC, "1", "65000"), (ETH, "10", "3000")):
                assert trader.set_leverage(symbol, 20) == 20
                trader.place_order(symbol, "buy", qty, price)
            makers[0].place_order(BTC, "sell", "0.1", "70000")
            fund = admin.insurance_fund("USDT")["USDT"]
            before = [m.account().balance("USDT").wallet for m in makers]

            result = admin.shock_price(BTC, "-10")
            assert result.index_price == Decimal("58500.0")
            assert not [p for p in trader.positions() if p.quantity]
            assert trader.account().balance("USDT").wallet == 0
            gained = [m.account().balance("USDT").wallet - was for m, was in zip(makers, before, strict=True)]
            assert gained == [Decimal("5343.3") - Decimal("0.07966102"), Decimal("-593.2") - Decimal("0.02033898")]
            assert admin.insurance_fund("USDT")["USDT"] == fund
            assert [(o.price, o.quantity) for o in makers[0].open_orders(BTC)] == [(Decimal("70000.0"),
                                                                                   Decimal("0.1"))]
