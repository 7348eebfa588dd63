"""The Prometheus endpoint of a real venue: human units, open interest and funding per market,
every rejection counted once, by reason and by stage."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import ccxt
import pytest
from prometheus_client.parser import text_string_to_metric_families

from perpsim.clients import errors as E
from perpsim.clients.client import Client
from perpsim.venue.app import RunningVenue
from perpsim.venue.config import VenueConfig
from tests.integration.gateway_kit import BTC, credentials, sync_exchange


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningVenue, Client]]:
    data = tmp_path_factory.mktemp("metrics")
    venue = RunningVenue(VenueConfig(listen="127.0.0.1:0", data_dir=data, feed=False, liquidity=False,
                                     metrics_listen="127.0.0.1:0", rest_listen="127.0.0.1:0"))
    venue.start_in_thread()
    try:
        with Client(venue.address, admin_key=(Path(data) / "admin.key").read_text().strip()) as admin:
            admin.wait_ready()
            yield venue, admin
    finally:
        venue.stop()


def scrape(venue: RunningVenue) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of one scrape."""
    with urllib.request.urlopen(f"http://127.0.0.1:{venue.metrics_port}/metrics", timeout=10) as r:
        text = r.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(venue: RunningVenue, name: str, **labels: str) -> float:
    return scrape(venue).get((name, tuple(sorted(labels.items()))), 0.0)


def eventually(venue: RunningVenue, name: str, want: float, **labels: str) -> float:
    """A scrape refreshes the gauges on the venue's loop first (Metrics.before_read); a loop busier
    than Metrics.refresh_wait_s serves the last values: poll a little."""
    deadline = time.monotonic() + 5
    got = value(venue, name, **labels)
    while got != pytest.approx(want) and time.monotonic() < deadline:
        time.sleep(0.1)
        got = value(venue, name, **labels)
    return got


def rejections_since(venue: RunningVenue):
    """counted(reason, stage): the rejections counted since this call, by reason and stage."""
    start = scrape(venue)

    def counted(reason: str, stage: str) -> float:
        key = ("perpsim_rejections_total", (("reason", reason), ("stage", stage)))
        return scrape(venue).get(key, 0.0) - start.get(key, 0.0)

    return counted


def test_prices_fund_and_open_interest_in_human_units(served) -> None:
    venue, admin = served
    admin.set_index_price("BTCUSDT", "64250.5")
    assert value(venue, "perpsim_mark_price", symbol="BTCUSDT") == 64250.5
    assert eventually(venue, "perpsim_index_price", 64250.5, symbol="BTCUSDT") == 64250.5
    before = value(venue, "perpsim_insurance_fund_balance", asset="USDT")
    admin.fund_insurance("USDT", "123.45")
    assert value(venue, "perpsim_insurance_fund_balance", asset="USDT") == pytest.approx(before + 123.45)
    assert before + 123.45 == pytest.approx(float(admin.venue_state().insurance_funds["USDT"]))
    a, b = (admin.with_key(admin.create_account().api_key) for _ in range(2))
    a.deposit("USDT", "10000")
    b.deposit("USDT", "10000")
    a.place_order("BTCUSDT", "sell", "0.025", "64250.5")
    b.place_order("BTCUSDT", "buy", "0.025", "64250.5")
    assert eventually(venue, "perpsim_open_interest", 0.025, symbol="BTCUSDT", unit="BTC") == pytest.approx(0.025)
    assert value(venue, "perpsim_open_interest", symbol="BTCUSD", unit="contracts") == 0
    mark = admin.mark("BTCUSDT")
    assert eventually(venue, "perpsim_funding_rate_predicted", float(mark.predicted_funding_rate),
                      symbol="BTCUSDT") == pytest.approx(float(mark.predicted_funding_rate))
    assert value(venue, "perpsim_next_funding_timestamp_seconds", symbol="BTCUSDT") == mark.next_funding_time_ns / 1e9


def test_every_rejection_is_counted_once_by_reason_and_stage(served) -> None:
    venue, admin = served
    me = admin.with_key(admin.create_account().api_key)
    me.deposit("USDT", "10")
    counted = rejections_since(venue)

    with pytest.raises(E.PerpsimError):
        me.book("NOPE")
    with pytest.raises(E.PerpsimError):
        me.place_order("BTCUSDT", "buy", "0", "60000")
    with pytest.raises(E.PerpsimError):
        me.with_key("not-a-key").account()
    with pytest.raises(E.PerpsimError):  # refused by the exchange: counted from its events, not twice
        me.place_order("BTCUSDT", "buy", "1", "60000")
    results = me.place_orders([{"symbol": "NOPE", "side": "buy", "quantity": "1", "price": "1"}])
    assert isinstance(results[0], E.PerpsimError)
    assert counted("unknown_symbol", "request") == 2
    assert counted("invalid_quantity", "request") == 1
    assert counted("unauthenticated", "request") == 1
    assert counted("margin_insufficient", "engine") == 1
    assert counted("margin_insufficient", "request") == 0
    assert Decimal(me.account().balances[-1].wallet) >= 0  # nothing changed hands


def test_a_rest_order_the_book_refuses_is_counted_once_as_the_engines(served) -> None:
    """Through the Binance-compatible gateway too: a refusal by the exchange (its pre-trade
    check) or by the book (a post-only order that would take) is counted from its event, not
    again as a request refused."""
    venue, admin = served
    maker, taker = (sync_exchange(venue, credentials(admin, deposit)) for deposit in ("10000", "10"))
    admin.set_index_price("BTCUSDT", "64000")
    maker.create_order(BTC, "limit", "sell", 0.01, 64000)
    counted = rejections_since(venue)

    with pytest.raises(ccxt.InsufficientFunds):
        taker.create_order(BTC, "limit", "buy", 1, 60000)
    with pytest.raises(ccxt.BaseError):  # at the resting sell's price: it would take
        taker.create_order(BTC, "limit", "buy", 0.001, 64000, {"timeInForce": "GTX"})
    assert (counted("margin_insufficient", "engine"), counted("margin_insufficient", "request")) == (1, 0)
    assert (counted("post_only_would_take", "engine"), counted("post_only_would_take", "request")) == (1, 0)


def test_the_venue_clock_held_and_its_lease_left(served) -> None:
    venue, admin = served
    assert (value(venue, "perpsim_clock_held"), value(venue, "perpsim_clock_lease_remaining_seconds")) == (0, 0)
    try:
        admin.set_clock_mode(True, lease_ms=60_000)
        assert value(venue, "perpsim_clock_held") == 1
        assert 59 < value(venue, "perpsim_clock_lease_remaining_seconds") <= 60
        admin.set_clock_mode(True)  # held for good: no lease
        assert (value(venue, "perpsim_clock_held"), value(venue, "perpsim_clock_lease_remaining_seconds")) == (1, 0)
    finally:
        admin.set_clock_mode(False)
    assert value(venue, "perpsim_clock_held") == 0
