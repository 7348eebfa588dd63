"""Fill slippage against the mid and the mark at the order's arrival, through the real exchange."""

from __future__ import annotations

import pytest

from perpsim.engine import commands as C
from perpsim.engine.exchange import Exchange
from perpsim.model.enums import OrderKind, Side, TimeInForce
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import default_brackets
from perpsim.venue.signals.slippage import SlippageTracker, slippage_bps
from perpsim.venue.state import VenueState

SPEC = default_markets()["BTCUSDT"]
U = 10**SPEC.settle_decimals


def test_slippage_sign_is_worse_for_the_owner():
    # a buy at 65,050 against a mid of 64,995: (65,050 − 64,995) / 64,995 × 10⁴ = 8.462 bps worse
    assert slippage_bps(Side.BUY, 65_050, 64_995) == pytest.approx(8.4622, abs=1e-4)
    # a sell at the same price is 8.462 bps better
    assert slippage_bps(Side.SELL, 65_050, 64_995) == pytest.approx(-8.4622, abs=1e-4)
    assert slippage_bps(Side.BUY, 65_050, None) is None


def _place(state: VenueState, tracker: SlippageTracker, account: int, side: Side, qty: str, price: str | None):
    kind = OrderKind.MARKET if price is None else OrderKind.LIMIT
    cmd = C.PlaceOrder(state.exchange.ts, account, "BTCUSDT", side, SPEC.qty_to_lots(qty),
                       0 if price is None else SPEC.price_to_ticks(price), kind,
                       TimeInForce.IOC if price is None else TimeInForce.GTC)
    tracker.before(state, cmd)
    return tracker.observe(cmd, state.apply(cmd), state.exchange.ts)


def test_a_sweep_is_measured_against_the_prices_at_its_arrival():
    state = VenueState(Exchange({"BTCUSDT": SPEC}, {"BTCUSDT": default_brackets(False, U)}, book_impl="ref",
                                start_ts=1))
    state.apply(C.SetIndexPrice(2, "BTCUSDT", SPEC.price_to_ticks("65000")))
    for a in (1, 2):
        state.apply(C.Deposit(3, a, "USDT", 10_000_000 * U))
    t = SlippageTracker()
    _place(state, t, 2, Side.BUY, "0.1", "64990")
    for price in ("65000", "65010", "65050"):
        _place(state, t, 2, Side.SELL, "0.1", price)
    tick = float(SPEC.tick_size)
    fills = _place(state, t, 1, Side.BUY, "0.3", None)
    taker = [f for f in fills if not f.maker]
    mid = (64_990 + 65_000) / 2 / tick  # in ticks, as the book quotes
    assert [f.arrival.mid for f in taker] == [mid] * 3
    assert [f.mid_bps for f in taker] == pytest.approx([(p - 64_995) / 64_995 * 1e4 for p in (65_000, 65_010, 65_050)])
    # the maker sold each level above the mid it quoted into (the 64,990 bid was there first)
    maker = [f for f in fills if f.maker]
    assert all(f.side == Side.SELL and f.mid_bps < 0 for f in maker[1:])
    assert [f.order_id for f in t.recent(1)] == [taker[0].order_id] * 3
