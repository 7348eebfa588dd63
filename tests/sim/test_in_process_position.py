"""The in-process venue's position read (SimVenue.position) of a hedge-mode account: its LONG
and SHORT legs summed, as the gRPC venue's reads sum them (perpsim.sim.grpc_apply.Positions)."""

from __future__ import annotations

from decimal import Decimal

from perpsim.engine import commands as C
from perpsim.model.enums import PositionSide, Side
from perpsim.sim import runner, scenario
from perpsim.sim.venues import InProcessVenue

from .test_grpc_mode import SCENARIO


def test_a_hedge_mode_account_reads_its_legs_summed() -> None:
    local = InProcessVenue(runner.build_exchange(scenario.loads(SCENARIO)))
    spec = local.markets["BTCUSDT"]
    price = spec.price_to_ticks("65000")
    local.submit(C.SetPositionMode(0, 1, True))
    local.submit(C.SetIndexPrice(0, "BTCUSDT", price))
    for a in (1, 2):
        local.submit(C.Deposit(0, a, "USDT", spec.money_to_units(Decimal("100000"))))
    long_lots, short_lots = spec.qty_to_lots("0.05"), spec.qty_to_lots("0.02")
    for side, other, lots, pside in ((Side.BUY, Side.SELL, long_lots, PositionSide.LONG),
                                     (Side.SELL, Side.BUY, short_lots, PositionSide.SHORT)):
        local.submit(C.PlaceOrder(1, 2, "BTCUSDT", other, lots, price))  # rests; account 1 takes it
        local.submit(C.PlaceOrder(1, 1, "BTCUSDT", side, lots, price, position_side=pside))
    view = local.view
    assert view.position_lots(1, "BTCUSDT", PositionSide.LONG) == long_lots
    assert view.position_lots(1, "BTCUSDT", PositionSide.SHORT) == -short_lots
    assert local.position(1, "BTCUSDT") == long_lots - short_lots
    assert local.position(2, "BTCUSDT") == short_lots - long_lots  # one-way: its BOTH position
