"""Group commit through the real server: a command applied but not yet fsynced is never
acknowledged, and reads never see it; a batch is acknowledged only after its own fsync.

The journal's fsync is held by a gate (the real journal, its real fdatasync once released).
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.integration.conftest import own_venue

HELD = 0.5  # seconds a call is watched while the fsync is held


@contextmanager
def fsync_held(running) -> Iterator[tuple[threading.Event, threading.Event]]:
    """Hold every journal fsync of `running` until the yielded `release` is set; `entered` is
    set once a commit has written its records and waits at the fsync."""
    journal = running.venue.seq.journal
    real = journal._sync
    entered, release = threading.Event(), threading.Event()

    def held(fd: int) -> None:
        entered.set()
        release.wait(30)
        real(fd)

    journal._sync = held
    try:
        yield entered, release
    finally:
        release.set()
        journal._sync = real


def test_applied_but_not_fsynced_is_neither_acknowledged_nor_read(tmp_path: Path) -> None:
    with own_venue(tmp_path) as (running, _cfg, trader), \
            concurrent.futures.ThreadPoolExecutor(3) as pool:
        reader = trader.with_key(trader.api_key)
        state = running.venue.seq
        first_id = state.state.exchange.next_order_id
        with fsync_held(running) as (entered, release):
            placing = pool.submit(trader.place_order, "BTCUSDT", "buy", "0.001", "60000")
            assert entered.wait(10), "the order's commit never reached its fsync"
            # applied (its order id taken) and written, its fsync pending: not acknowledged
            assert state.state.exchange.next_order_id == first_id + 1
            assert state.journal.durable_seq < state.journal.last_seq
            reading = pool.submit(reader.open_orders, "BTCUSDT")
            time.sleep(HELD)
            assert not placing.done(), "acknowledged before its record was fsynced"
            assert not reading.done(), "a read ran on state that was not durable"
            release.set()
            order = placing.result(10)
            assert order.order_id == first_id
            assert [o.order_id for o in reading.result(10)] == [first_id]
        assert state.journal.durable_seq == state.journal.last_seq


def test_batch_entry_waits_for_its_own_fsync(tmp_path: Path) -> None:
    with own_venue(tmp_path) as (running, _cfg, trader), \
            concurrent.futures.ThreadPoolExecutor(1) as pool:
        state = running.venue.seq
        first_id = state.state.exchange.next_order_id
        orders = [{"symbol": "BTCUSDT", "side": "sell", "quantity": "0.001", "price": str(70000 + i)}
                  for i in range(3)]
        with fsync_held(running) as (entered, release):
            placing = pool.submit(trader.place_orders, orders)
            assert entered.wait(10)
            assert state.state.exchange.next_order_id == first_id + 3  # all three applied
            time.sleep(HELD)
            assert not placing.done(), "a batch acknowledged before its records were fsynced"
            release.set()
            assert [o.order_id for o in placing.result(10)] == [first_id, first_id + 1, first_id + 2]
