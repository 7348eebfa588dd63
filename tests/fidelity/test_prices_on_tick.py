"""Prices on the tick (issue 19 item 8): liquidation and bankruptcy prices are shown on the
market's tick grid, rounded against the account — a long's up, a short's down, so the shown
price is reached no later than the exact one — as venue-mechanics §10 (A2, A3) states the
venue display, and as Binance shows them at the symbol's price precision. They used to print
with 8 decimals (55286.24497992) beside a price band on the tick. Through the real server.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from perpsim.clients.client import Client
from perpsim.engine import commands as C
from perpsim.model.enums import Side
from perpsim.model.market_files import default_markets
from perpsim.venue.app import RunningVenue
from perpsim.venue.config import VenueConfig

SPEC = default_markets()["BTCUSDT"]


def test_positions_and_previews_print_prices_on_the_tick(tmp_path: Path) -> None:
    cfg = VenueConfig(listen="127.0.0.1:0", data_dir=tmp_path, feed=False, liquidity=False, admin_key="adm",
                      metrics_listen="", rest_listen="off")
    venue = RunningVenue(cfg).start_in_thread()
    try:
        admin = Client(venue.address, admin_key="adm")
        admin.wait_ready()
        maker = Client(venue.address, api_key=admin.create_account().api_key)
        me = Client(venue.address, api_key=admin.create_account().api_key)
        maker.deposit("USDT", "100000")
        me.deposit("USDT", "500")
        me_id = me.account().account_id
        maker.place_order("BTCUSDT", "sell", "0.05", "65000")
        preview = me.preview_order("BTCUSDT", "buy", "0.05", "65000")
        me.place_order("BTCUSDT", "buy", "0.05", "65000")
        ex = venue.venue.state.exchange
        (position,) = me.positions()
        for shown, exact in ((preview.liquidation_price, ex.liquidation_price(me_id, "BTCUSDT")),
                             (position.liquidation_price, ex.liquidation_price(me_id, "BTCUSDT")),
                             (position.bankruptcy_price, ex.bankruptcy_price(me_id, "BTCUSDT"))):
            ticks = Fraction(str(shown)) / Fraction(SPEC.tick_size)
            assert ticks.denominator == 1, shown  # on the grid: one decimal for BTCUSDT
            assert ticks - 1 < exact.ticks <= ticks  # a long's rounded up
        # a short's rounded down: selling 0.1 turns the long into a 0.05 short
        short = me.preview_order("BTCUSDT", "sell", "0.1", "65000")
        exact = ex.preview_order(C.PlaceOrder(0, me_id, "BTCUSDT", Side.SELL, 100, 650_000))["liquidation_price"]
        ticks = Fraction(str(short.liquidation_price)) / Fraction(SPEC.tick_size)
        assert ticks.denominator == 1 and ticks <= exact / Fraction(SPEC.tick_size) < ticks + 1
    finally:
        venue.stop()
