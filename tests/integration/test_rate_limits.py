"""Per-key rate limits count orders, not calls: a batch weighs its orders, and every order on
an order-entry stream is charged as it arrives (a refused one is answered alone)."""

from __future__ import annotations

from pathlib import Path

import pytest

from perpsim.clients import errors as E
from perpsim.clients.client import Client
from perpsim.venue import sequencer

from .conftest import own_venue


@pytest.fixture
def trader(tmp_path: Path):
    # a burst of 6 requests that hardly refills; the deposit of own_venue takes one
    with own_venue(tmp_path, rate_limit_per_s=0.01, rate_limit_burst=6) as (_, _, trader):
        yield trader


def order(price: int) -> dict:
    return {"symbol": "BTCUSDT", "side": "buy", "quantity": "0.001", "price": str(price)}


def test_a_batch_weighs_its_orders_and_a_stream_charges_each(trader: Client) -> None:
    with pytest.raises(E.RateLimited):  # 6 orders: more than the 5 requests left
        trader.place_orders([order(60_000 + i) for i in range(6)])
    results = list(trader.stream_orders(order(60_000 + i) for i in range(7)))
    # the stream call itself is one request; four orders fit, the rest are refused one by one
    assert [type(r).__name__ for r in results] == ["Order"] * 4 + ["RateLimited"] * 3
    assert results[-1].retry_after is not None


def test_a_shed_unit_answers_each_of_its_orders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Overload sheds a whole unit; a batch or a stream still answers every order, with the
    retryable RATE_LIMITED, and nothing is placed."""
    with own_venue(tmp_path) as (_, _, trader):
        monkeypatch.setattr(sequencer, "QUEUE_LIMIT", 1)  # a unit of two orders cannot be queued
        results = trader.place_orders([order(60_000), order(60_001)])
        assert [type(r).__name__ for r in results] == ["RateLimited", "RateLimited"]
        monkeypatch.undo()
        assert trader.open_orders("BTCUSDT") == []
        (placed,) = trader.place_orders([order(60_000)])
        assert type(placed).__name__ == "Order"
