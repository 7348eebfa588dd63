"""A scenario's open interest read over gRPC from a venue whose risk signals it does not read
(GrpcVenue(signals=False): the history service's GetOpenInterest, in lots), against a real
venue on 127.0.0.1: none before any trade, then the lots held long."""

from __future__ import annotations

from perpsim.engine import commands as C
from perpsim.model.enums import OrderKind, Side, TimeInForce
from perpsim.model.market_files import default_markets
from perpsim.sim.venues import GrpcVenue
from perpsim.venue.app import RunningVenue
from perpsim.venue.config import VenueConfig

ADMIN = "sim-admin"
SYMBOL = "BTCUSDT"


def test_open_interest_from_the_history_service_in_lots(tmp_path) -> None:
    spec = default_markets()[SYMBOL]
    venue = RunningVenue(VenueConfig(listen="127.0.0.1:0", data_dir=tmp_path, feed=False, liquidity=False,
                                     metrics_listen="", rest_listen="off", admin_key=ADMIN)).start_in_thread()
    try:
        remote = GrpcVenue(venue.address, ADMIN, {SYMBOL: spec}, signals=False)
        try:
            assert remote.open_interest(SYMBOL) == 0  # nothing held: 0, not a refused quantity
            price, lots = spec.price_to_ticks("65000"), spec.qty_to_lots("0.25")
            remote.reserve(range(1, 3))
            for account in (1, 2):
                remote.submit(C.Deposit(1, account, spec.settle, spec.money_to_units("100000")))
            remote.submit(C.SetIndexPrice(1, SYMBOL, price))
            for account, side in ((1, Side.SELL), (2, Side.BUY)):
                events = remote.submit(C.PlaceOrder(2, account, SYMBOL, side, lots, price, OrderKind.LIMIT,
                                                    TimeInForce.GTC))
                assert not [e for e in events if type(e).__name__ == "CommandRejected"], events
            assert remote.position(2, SYMBOL) == lots
            assert remote.open_interest(SYMBOL) == lots
        finally:
            remote.close()
    finally:
        venue.stop()
