"""`perpsim serve --profile hyperliquid` marks at Hyperliquid's rule, through the real server and client.

Rule (https://hyperliquid.gitbook.io/hyperliquid-docs/trading/robust-price-indices; no CEX perp mids
here): mark = median((1) oracle + 150-s EMA of (mid − oracle), (2) median(bid, ask, last), (4) the 30-s
EMA of (2)); (1) alone when (2) is absent. "Mark price is updated whenever validators publish new oracle
prices", which they do "every 3 seconds" (hyperliquid-docs hypercore/oracle): the mark is published on
the 3-s grid of venue time from the inputs standing there, and held in between, liquidations included.

The venue clock is the wall clock plus the sandbox's advance, so a test that needs to stay between two
publications first moves the clock just past one (`just_past_a_publication`) and then has nearly 3 s.
"""

from __future__ import annotations

from decimal import Decimal

from perpsim.clients.client import Client
from tests.integration.conftest import own_venue

SYMBOL = "BTCUSDT"
GRID_NS = 3 * 10**9
MINUTE_NS = 60 * 10**9


def just_past_a_publication(admin: Client) -> int:
    """Advance the venue clock to 1 ms past the next 3-s grid point; the venue time after (ns)."""
    now = admin.advance_clock(1)
    after = admin.advance_clock(GRID_NS - now % GRID_NS + 1_000_000)
    assert after % GRID_NS < GRID_NS // 2, "the venue took over 1.5 s to answer"
    return after


def long_at_40x(admin: Client, trader: Client, bid: str, bid_price: str) -> Client:
    """The trader's 1 BTC long from 65,000 at 40x on 2,700 USDT (the fixture's 1,000 + 1,700) less
    the 0.045 % taker fee: wallet 2,670.75. A maker sold it and bids `bid` at `bid_price` below,
    so the book is one-sided (the mark is the oracle at each publication); the maker."""
    maker = admin.with_key(admin.create_account().api_key)
    maker.deposit("USDT", "1000000")
    admin.set_index_price(SYMBOL, "65000")
    trader.deposit("USDT", "1700")
    assert trader.set_leverage(SYMBOL, 40) == 40
    maker.place_order(SYMBOL, "sell", "1", "65000")
    trader.place_order(SYMBOL, "buy", "1")
    maker.place_order(SYMBOL, "buy", bid, bid_price)
    assert trader.account().balance("USDT").wallet == Decimal("2670.75")
    return maker


def held(trader: Client) -> Decimal:
    return sum((p.quantity for p in trader.positions(SYMBOL)), Decimal(0))


def test_the_hyperliquid_venue_marks_by_its_median_rule_on_the_3s_grid(tmp_path) -> None:
    with own_venue(tmp_path, profile="hyperliquid") as (running, _cfg, trader), \
            Client(running.address, admin_key=(tmp_path / "admin.key").read_text().strip()) as admin:
        assert trader.venue_profile() == "hyperliquid"
        maker = admin.with_key(admin.create_account().api_key)
        maker.deposit("USDT", "100000")
        assert admin.set_index_price(SYMBOL, "65000").mark_price == Decimal("65000")  # the first publication
        maker.place_order(SYMBOL, "buy", "0.1", "65100")
        ask = maker.place_order(SYMBOL, "sell", "0.1", "65700")
        trader.place_order(SYMBOL, "sell", "0.01", "65200")
        assert maker.place_order(SYMBOL, "buy", "0.01", "65200").filled_quantity == Decimal("0.01")
        maker.place_order(SYMBOL, "buy", "0.1", "65500")  # the book: 65,500 / 65,700, last 65,200

        for _ in range(16):  # an hour of one book, the oracle kept live (a source goes stale after 5 min)
            admin.advance_clock(4 * MINUTE_NS)
            admin.set_index_price(SYMBOL, "65000")
        # (1) = 65,000 + (65,600 − 65,000) = 65,600; (2) = median(65,500, 65,700, 65,200) = 65,500;
        # (4) = 65,500: the mark is 65,500 (Binance's median(65,000, 65,600, last 65,200) would be 65,200)
        m = trader.mark(SYMBOL)
        assert (m.mark_price, m.index_price, m.last_price) == (Decimal("65500"), Decimal("65000"), Decimal("65200"))

        just_past_a_publication(admin)  # published from index 65,000 and the two-sided book: 65,500
        maker.cancel_order(SYMBOL, ask.order_id)  # a one-sided book: (2) is absent from the next publication
        assert admin.set_index_price(SYMBOL, "64800").mark_price == Decimal("65500")  # held until then
        assert trader.mark(SYMBOL).index_price == Decimal("64800")
        admin.advance_clock(GRID_NS)  # the next publication: (1) alone, 64,800 + 600
        assert trader.mark(SYMBOL).mark_price == Decimal("65400")


def test_a_liquidation_waits_for_the_publication(tmp_path) -> None:
    """1 BTC long from 65,000 at 40x on 2,700 USDT less the 0.045 % taker fee (29.25): wallet 2,670.75;
    MMR 1/80 = 1.25 % (BTC's 40x tier); liquidation price (65,000 − 2,670.75) / 0.9875 = 63,118.23…
    The book stays one-sided (no bid while the ask rests, no ask after), so the mark is the oracle at
    each publication. The oracle falls to 63,000 just after one: the long stays until the next."""
    with own_venue(tmp_path, profile="hyperliquid") as (running, _cfg, trader), \
            Client(running.address, admin_key=(tmp_path / "admin.key").read_text().strip()) as admin:
        # a bid above the bankruptcy price (62,329.25): the liquidation's market order fills there
        # (what it could not fill would stay with the trader, retried: tests/fidelity/test_hyperliquid_retry.py)
        long_at_40x(admin, trader, "1", "62400")
        [p] = trader.positions(SYMBOL)
        assert p.quantity == Decimal("1") and int(p.liquidation_price) == 63_118

        just_past_a_publication(admin)
        update = admin.set_index_price(SYMBOL, "63000")
        assert (update.mark_price, update.liquidations) == (Decimal("65000"), 0)
        assert held(trader) == Decimal("1")
        admin.advance_clock(GRID_NS)  # published: the mark is 63,000, under the liquidation price
        assert trader.mark(SYMBOL).mark_price == Decimal("63000")
        assert held(trader) == 0
