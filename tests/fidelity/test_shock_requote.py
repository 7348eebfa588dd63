"""Shocks move the market (issue 19 item 4).

On a real venue market makers quote around the index and follow it; a liquidation's forced
order (Binance: a LIMIT IOC at the bankruptcy price, "Binance Futures Liquidation Protocols",
https://www.binance.com/en-NZ/support/faq/binance-futures-liquidation-protocols-360033525271)
then meets those quotes. perpsim's built-in liquidity provider used to requote only in later
commands, so a shock liquidated into its quotes from before the shock: after the README's
−16 % shock the forced sell of a 0.05 BTC long traded at 64,902.5 with the mark at 54,600, and
the liquidated trader kept 456.78 of 500 USDT. The index change now carries the requote: the
ladder moves to the new index after the mark and before the sweep, in the same command.

The README's position: 500 USDT, a market buy of 0.05 BTC against the liquidity provider's asks
(65,032.5 / 65,065 / 65,097.5: entry 65,071.5, bankruptcy 55,104.1). A −15 % shock puts the
index at 55,250, past the liquidation price (55,325.3) and above the bankruptcy price: the
forced sell fills into the new bids 55,222.4 (0.01), 55,194.8 (0.02) and 55,167.2 (0.02), on
average 55,189.28 — 15.46 bps better than the bankruptcy price, not 1,780 and more.
"""

from __future__ import annotations

import time
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from perpsim.clients.client import Client
from perpsim.engine import commands as C
from perpsim.engine.exchange import Exchange
from perpsim.engine.liquidations import forced_orders
from perpsim.engine.views import ExchangeView
from perpsim.model.enums import OrderKind, Side, TimeInForce
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import market_brackets
from perpsim.venue.app import RunningVenue
from perpsim.venue.config import VenueConfig

U = 10**8
SYMBOL = "BTCUSDT"
SPEC = default_markets()[SYMBOL]
LP, TRADER = 1, 2
# the venue's defaults: 10 levels a side 5 bp of the index apart, level × 10 lots (0.01 BTC)
LEVELS, BP, LOTS = 10, 5, 10


def quote(index: int) -> dict:
    return dict(quote_account=LP, quote_levels=LEVELS, quote_step=max(1, index * BP // 10_000), quote_lots=LOTS)


def world() -> Exchange:
    ex = Exchange({SYMBOL: SPEC}, {SYMBOL: market_brackets(SPEC)}, start_ts=1)
    ex.apply(C.Deposit(1, LP, "USDT", 10**7 * U))
    ex.apply(C.FundInsurance(1, "USDT", 10**5 * U))
    index = SPEC.price_to_ticks("65000")
    ex.apply(C.SetIndexPrice(1, SYMBOL, index, **quote(index)))
    ex.apply(C.Deposit(1, TRADER, "USDT", 500 * U))
    ex.apply(C.PlaceOrder(1, TRADER, SYMBOL, Side.BUY, SPEC.qty_to_lots("0.05"), 0, OrderKind.MARKET, TimeInForce.IOC))
    return ex


def test_the_readme_position_and_its_bankruptcy_price() -> None:
    ex = world()
    p = ExchangeView(ex).position(TRADER, SYMBOL)
    assert (p.lots, p.entry) == (50, SPEC.price_to_ticks("65071.5"))
    assert ex.bankruptcy_price(TRADER, SYMBOL).tick == SPEC.price_to_ticks("55104.1")


def test_the_forced_order_meets_quotes_around_the_new_index() -> None:
    ex = world()
    shocked = SPEC.price_to_ticks("55250")
    events = ex.apply(C.SetIndexPrice(1, SYMBOL, shocked, **quote(shocked)))
    (forced,) = forced_orders(events)
    assert (forced.account, forced.filled, forced.bankruptcy_price) == (TRADER, 50, SPEC.price_to_ticks("55104.1"))
    fills = [552_224] * 10 + [551_948] * 20 + [551_672] * 20  # ticks of 0.1, a lot each
    assert forced.fill_price == Fraction(sum(fills), 50) == Fraction(27_594_640, 50)  # 55,189.28
    assert forced.improvement_bps == (forced.fill_price - forced.bankruptcy_price) / forced.bankruptcy_price * 10_000
    assert 15 < forced.improvement_bps < 16
    assert ex.position(TRADER, SYMBOL).lots == 0
    ex.check_integrity()


def test_without_the_requote_it_trades_at_the_stale_bids() -> None:
    """The same shock as a bare index change (what every sandbox move did): the forced sell
    takes the ladder left around 65,000, 1,780+ bps above the bankruptcy price."""
    ex = world()
    (forced,) = forced_orders(ex.apply(C.SetIndexPrice(1, SYMBOL, SPEC.price_to_ticks("55250"))))
    assert forced.fill_price > SPEC.price_to_ticks("64900") and forced.improvement_bps > 1_780


def test_a_bad_quote_is_refused_and_changes_nothing() -> None:
    ex = world()
    before = ex.state_hash()
    (rej,) = ex.apply(C.SetIndexPrice(1, SYMBOL, 552_500, quote_account=LP, quote_levels=10, quote_step=0,
                                      quote_lots=10))
    assert type(rej).__name__ == "CommandRejected" and ex.state_hash() == before


def test_the_shock_through_the_server_shows_each_forced_order(tmp_path: Path) -> None:
    """The README's session against a venue with its liquidity provider on (the feed off, so
    the index only moves when shocked): the shock's answer lists the forced sell with its
    average fill price on the tick and its improvement over the bankruptcy price."""
    cfg = VenueConfig(listen="127.0.0.1:0", data_dir=tmp_path, feed=False, liquidity=True, admin_key="adm",
                      metrics_listen="", rest_listen="off", feed_interval_s=3_600.0)
    venue = RunningVenue(cfg).start_in_thread()
    try:
        admin = Client(venue.address, admin_key="adm")
        admin.wait_ready()
        me = Client(venue.address, api_key=admin.create_account().api_key)
        me.deposit("USDT", "500")
        deadline = time.monotonic() + 10
        while len(admin.book(SYMBOL).asks) < 3:  # the liquidity provider's first quotes
            assert time.monotonic() < deadline, "the liquidity provider never quoted"
            time.sleep(0.05)
        me.place_order(SYMBOL, "buy", "0.05")
        assert me.positions()[0].entry_price == Decimal("65071.5")
        result = admin.shock_price(SYMBOL, "-15")
        assert result.index_price == Decimal("55250.0") and result.liquidations == 1
        (forced,) = result.forced_orders
        assert (forced.side, forced.quantity, forced.filled_quantity) == ("sell", Decimal("0.05"), Decimal("0.05"))
        assert forced.bankruptcy_price == Decimal("55104.1")
        assert forced.fill_price == Decimal("55189.3") and forced.improvement_bps == Decimal("15.46")
        assert me.account().balances[-1].wallet < Decimal("5")  # not 456.78: the stale bids are gone
    finally:
        venue.stop()
