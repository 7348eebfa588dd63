"""Commands in flight over gRPC (perpsim.sim.grpc_flights, GrpcVenue._may_fly): in order per
account, refusals reported with a later command, the venue's state that of sending one by one."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from perpsim.engine import commands as C
from perpsim.engine.events import CommandRejected
from perpsim.model.enums import ConditionalKind, Side, TriggerSource
from perpsim.model.markets import default_markets
from perpsim.sim.grpc_flights import Flights
from perpsim.sim.venues import GrpcVenue
from perpsim.venue.app import RunningVenue, VenueConfig


def test_one_keys_calls_run_in_order_other_keys_alongside():
    pool = ThreadPoolExecutor(4)
    flights = Flights(pool)
    log: list[tuple[str, str]] = []
    lock = threading.Lock()
    both = threading.Barrier(2, timeout=5)  # "b" and the first "a" must be in flight at once

    def call(key: str, n: int, wait: float = 0.0, meet: bool = False, fail: bool = False):
        def run():
            if meet:
                both.wait()
            with lock:
                log.append((key, f"start {n}"))
            time.sleep(wait)
            with lock:
                log.append((key, f"end {n}"))
            if fail:
                raise ValueError(f"{key}{n} refused")
            return n
        return run

    try:
        flights.send("a", call("a", 1, wait=0.05, meet=True, fail=True), "a1")
        flights.send("a", call("a", 2), "a2")
        flights.send("b", call("b", 1, meet=True), "b1")
        assert flights
        refused = flights.settle()
        assert not flights
    finally:
        pool.shutdown()
    a = [e for k, e in log if k == "a"]
    assert a == ["start 1", "end 1", "start 2", "end 2"]  # a2 waited for a1, refused or not
    assert [(cmd, str(e)) for cmd, e in refused] == [("a1", "a1 refused")]


def _venue(tmp_path):
    venue = RunningVenue(VenueConfig(listen="127.0.0.1:0", data_dir=tmp_path, feed=False, liquidity=False,
                                     metrics_listen="", rest_listen="off", admin_key="sim-admin"))
    venue.start_in_thread()
    spec = default_markets()["BTCUSDT"]
    return venue, GrpcVenue(venue.address, "sim-admin", {"BTCUSDT": spec}), spec


def test_settings_fly_and_their_refusal_comes_with_the_next_command(tmp_path):
    venue, remote, spec = _venue(tmp_path)
    try:
        remote.submit(C.SetIndexPrice(0, "BTCUSDT", spec.price_to_ticks("65000")))
        money = spec.money_to_units(Decimal("10000"))
        flying = [C.Deposit(0, 1, "USDT", money), C.SetLeverage(0, 1, "BTCUSDT", 1000),  # beyond the bracket
                  C.SetMarginMode(0, 1, "BTCUSDT", True), C.Deposit(0, 2, "USDT", money)]
        calls = remote.calls
        for cmd in flying:
            assert remote.submit(cmd) == []  # answered later
        assert remote.calls - calls <= len(flying) + 2  # (the two accounts' keys)
        # a read waits for them: both deposits are in
        assert remote.available(1, "USDT") == remote.available(2, "USDT") == money
        events = remote.submit(C.SetLeverage(0, 2, "BTCUSDT", 5))
        assert [(e.command, e.account) for e in events if isinstance(e, CommandRejected)] == [("SetLeverage", 1)]
        order = C.PlaceOrder(0, 1, "BTCUSDT", Side.BUY, spec.qty_to_lots("0.01"), spec.price_to_ticks("64000"))
        assert not [e for e in remote.submit(order) if isinstance(e, CommandRejected)]
        # an account with an order: its stop and its cancel fly one after the other
        stop = C.PlaceConditional(0, 1, "BTCUSDT", Side.SELL, spec.qty_to_lots("0.01"), ConditionalKind.STOP_MARKET,
                                  trigger_price=spec.price_to_ticks("60000"), source=TriggerSource.MARK)
        assert remote.submit(stop) == [] and remote.submit(C.CancelAll(0, 1, "BTCUSDT")) == []
        assert remote.top("BTCUSDT") == (None, None)
        late = remote.submit(C.Deposit(0, 2, "USDT", money))
        assert not [e for e in late if isinstance(e, CommandRejected)]
        assert remote.available(2, "USDT") == 2 * money
    finally:
        remote.close()
        venue.stop()
