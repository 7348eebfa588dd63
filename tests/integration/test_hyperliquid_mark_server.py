"""`perpsim serve --profile hyperliquid` marks at Hyperliquid's rule, through the real server and client.

Rule (https://hyperliquid.gitbook.io/hyperliquid-docs/trading/robust-price-indices; no CEX perp mids
here): mark = median((1) oracle + 150-s EMA of (mid − oracle), (2) median(bid, ask, last), (4) the 30-s
EMA of (2)); (1) alone when (2) is absent. After an hour of one book the EMAs hold that book's values
(older samples keep a weight of e^−24 of the 150-s one), so the expected marks are exact to the tick.
"""

from __future__ import annotations

from decimal import Decimal

from perpsim.clients.client import Client
from tests.integration.conftest import own_venue

SYMBOL = "BTCUSDT"
HOUR_NS = 3_600 * 10**9


def test_the_hyperliquid_venue_marks_by_its_median_rule(tmp_path) -> None:
    with own_venue(tmp_path, profile="hyperliquid") as (running, _cfg, trader), \
            Client(running.address, admin_key=(tmp_path / "admin.key").read_text().strip()) as admin:
        assert trader.venue_profile() == "hyperliquid"
        maker = admin.with_key(admin.create_account().api_key)
        maker.deposit("USDT", "100000")
        assert admin.set_index_price(SYMBOL, "65000").mark_price == Decimal("65000")
        maker.place_order(SYMBOL, "buy", "0.1", "65100")
        ask = maker.place_order(SYMBOL, "sell", "0.1", "65700")
        trader.place_order(SYMBOL, "sell", "0.01", "65200")
        assert maker.place_order(SYMBOL, "buy", "0.01", "65200").filled_quantity == Decimal("0.01")
        maker.place_order(SYMBOL, "buy", "0.1", "65500")  # the book: 65,500 / 65,700, last 65,200

        admin.advance_clock(HOUR_NS)
        update = admin.set_index_price(SYMBOL, "65000")
        # (1) = 65,000 + (65,600 − 65,000) = 65,600; (2) = median(65,500, 65,700, 65,200) = 65,500;
        # (4) = 65,500: the mark is 65,500 (Binance's median(65,000, 65,600, last 65,200) would be 65,200)
        assert update.mark_price == Decimal("65500")
        m = trader.mark(SYMBOL)
        assert (m.mark_price, m.index_price, m.last_price) == (Decimal("65500"), Decimal("65000"), Decimal("65200"))

        maker.cancel_order(SYMBOL, ask.order_id)  # a one-sided book: (2) is absent, (1) alone marks
        assert admin.set_index_price(SYMBOL, "64800").mark_price == Decimal("65400")  # 64,800 + 600
        admin.advance_clock(60 * 10**9)  # no EMA sample without an ask: the 600 holds
        assert admin.set_index_price(SYMBOL, "64900").mark_price == Decimal("65500")
