"""Placements' answers as wire bytes (venue.services.placed_wire): each PlaceOrderResult parsed
from them is the message protobuf builds from `wire.placed_fields` (the unary answer's fields),
for the real orders and fills of a run through the real exchange and for edge values (negative
and 64-bit amounts, empty, long and non-ASCII client order ids, every enum value, fills of other
orders, slippage unknown or off); the batch and stream responses made of them too."""

from __future__ import annotations

import itertools
import random
from types import SimpleNamespace

import pytest
from google.rpc import status_pb2

from perpsim.engine.events import BookEvent, OrderEvent
from perpsim.model.enums import EventKind
from perpsim.v1 import trading_pb2
from perpsim.venue import convert as cv
from perpsim.venue.services import placed_wire
from perpsim.venue.services.placed_wire import error_result, message_of, placed_result, varint
from perpsim.venue.services.wire import placed_fields
from perpsim.venue.signals.slippage import SlippageTracker

from .test_signals_slippage_arrivals import MARKETS, SYMBOLS, _state, _tracked


def built(spec, o, fills, bps) -> trading_pb2.PlaceOrderResult:
    return trading_pb2.PlaceOrderResult(placed=placed_fields(SimpleNamespace(markets={spec.symbol: spec}), o, fills,
                                                             bps))


def parsed(spec, o, fills, bps) -> trading_pb2.PlaceOrderResult:
    return trading_pb2.PlaceOrderResult.FromString(placed_result(spec, o, fills, bps))


def test_varint_matches_protobuf() -> None:
    for n in [0, 1, 127, 128, 300, 2**31, 2**63 - 1, -1, -2**63]:
        assert trading_pb2.Order.FromString(b"\x40" + varint(n)).price_ticks == n  # field 8, int64


def test_real_orders_and_fills_parse_to_the_built_answer() -> None:
    rng = random.Random(4)
    state = _state()
    tracker = SlippageTracker()
    fills_of: dict[int, list] = {}
    for _, events in _tracked(rng, state, tracker, 400):
        for e in events:
            if type(e) is OrderEvent and e.event.kind == EventKind.FILL:
                fills_of.setdefault(e.event.order_id, []).append(e.event)
    assert sum(map(len, fills_of.values())) > 50  # the run traded
    for o in list(state.orders.values()):
        spec = MARKETS[o.symbol]
        fills = fills_of.get(o.order_id, [])
        others = fills + [f._replace(order_id=f.order_id + 1) for f in fills]  # not this order's: left out
        for bps in (tracker.bps_texts, None):
            assert parsed(spec, o, others, bps) == built(spec, o, others, bps)


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_edge_values_parse_to_the_built_answer(symbol: str) -> None:
    spec = MARKETS[symbol]
    rng = random.Random(symbol)
    ids = [1, 127, 128, 2**40, 2**63 - 1, 0]
    cids = ["", "c-1", "ü-ß-€", "x" * 200]
    amounts = [0, 1, 7, 10**6, 2**62, -1, -(2**40)]
    for side, kind, tif, pside, status in itertools.product(cv.SIDE_OUT, cv.KIND_OUT, cv.TIF_OUT, cv.PSIDE_OUT,
                                                            cv.STATUS_OUT):
        o = SimpleNamespace(order_id=rng.choice(ids), client_order_id=rng.choice(cids), symbol=symbol,
                            side=int(side), kind=int(kind), tif=int(tif), price=rng.choice(amounts),
                            qty=rng.choice(amounts), reduce_only=rng.random() < 0.5,
                            position_side=int(pside), filled=rng.choice(amounts), status=status)
        fills = [BookEvent(int(EventKind.FILL), o.order_id, 1, rng.choice((0, 1)), rng.choice(amounts),
                           rng.choice(amounts), 0, 9, 2, 0, 0) for _ in range(rng.choice((0, 1, 3)))]
        texts = rng.choice([("", ""), ("1.25", "-0.50"), ("", "3.00")])
        assert parsed(spec, o, fills, lambda *_, t=texts: t) == built(spec, o, fills, lambda *_, t=texts: t)


def test_kept_bytes_stay_right_once_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(placed_wire, "KEPT", 2)
    spec = MARKETS["BTCUSDT"]
    for i in range(50):
        o = SimpleNamespace(order_id=i + 1, client_order_id=f"c{i}", symbol=spec.symbol, side=i % 2, kind=0, tif=0,
                            price=650_000 + i % 7, qty=1 + i % 5, reduce_only=False, position_side=0,
                            filled=i % 3, status="NEW")
        assert parsed(spec, o, [], None) == built(spec, o, [], None)


def test_responses_of_results_and_errors() -> None:
    spec = MARKETS["BTCUSDT"]
    o = SimpleNamespace(order_id=5, client_order_id="a", symbol=spec.symbol, side=0, kind=0, tif=0, price=650_000,
                        qty=2, reduce_only=True, position_side=0, filled=1, status="PARTIALLY_FILLED")
    error = status_pb2.Status(code=3, message="no")
    results = [placed_result(spec, o, [], None), error_result(error)]
    want = [{"placed": placed_fields(SimpleNamespace(markets={spec.symbol: spec}), o, [], None)}, {"error": error}]
    assert message_of(trading_pb2.PlaceOrdersResponse, "results", results) == \
        trading_pb2.PlaceOrdersResponse(results=want)
    assert message_of(trading_pb2.StreamOrdersResponse, "results", iter(results)) == \
        trading_pb2.StreamOrdersResponse(results=want)
    assert message_of(trading_pb2.StreamOrdersResponse, "result", results[1:]) == \
        trading_pb2.StreamOrdersResponse(result=want[1])
    assert message_of(trading_pb2.PlaceOrdersResponse, "results", []) == trading_pb2.PlaceOrdersResponse()
