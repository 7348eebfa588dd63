"""The streams fed a durable batch at a time, through the real server: a PlaceOrders call's
orders reach the public trades stream and the account stream command by command, in order and
numbered without gaps, each fill with the slippage its PlaceOrders answer carried; batches that
nobody followed leave no trace in a later follower's numbering."""

from __future__ import annotations

import queue
import threading
import time
from decimal import Decimal
from pathlib import Path

from perpsim.clients.client import Client

from .conftest import account_updates, own_venue

SYMBOL = "BTCUSDT"
ASKS = [Decimal("65000") + 10 * i for i in range(6)]


def sells(maker: Client) -> None:
    """One resting sell of 0.001 at each of ASKS, in one call."""
    placed = maker.place_orders([{"symbol": SYMBOL, "side": "sell", "quantity": "0.001", "price": str(p)}
                                 for p in ASKS])
    assert [getattr(o, "status", o) for o in placed] == ["new"] * len(ASKS)


def buys(taker: Client) -> list:
    """A buy at each ask, cheapest first, in one call: each takes the one sell at its price."""
    placed = taker.place_orders([{"symbol": SYMBOL, "side": "buy", "quantity": "0.001", "price": str(p)}
                                 for p in ASKS])
    assert [o.status for o in placed] == ["filled"] * len(ASKS)
    return placed


def collect(stream, into: queue.Queue) -> None:
    def run() -> None:
        for msg in stream:
            into.put(msg)

    threading.Thread(target=run, daemon=True).start()


def drain(q: queue.Queue, n: int, timeout: float = 10.0) -> list:
    out: list = []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        try:
            out.append(q.get(timeout=0.2))
        except queue.Empty:
            pass
    return out


def test_a_batch_reaches_the_streams_command_by_command(tmp_path: Path) -> None:
    with own_venue(tmp_path) as (running, _, taker):
        admin = Client(running.address, admin_key=(tmp_path / "admin.key").read_text().strip())
        admin.set_index_price(SYMBOL, "65000")
        maker = admin.with_key(admin.create_account().api_key)
        maker.deposit("USDT", "10000")
        maker.place_order(SYMBOL, "buy", "0.001", "64000")  # a bid under it all: every arrival has a mid
        # batches with nobody following: nothing is numbered for anyone
        sells(maker)
        buys(taker)
        trades: queue.Queue = queue.Queue()
        updates: queue.Queue = queue.Queue()
        trade_stream = maker.stream_trades(SYMBOL)
        collect(trade_stream, trades)
        channel = account_updates(running, taker, updates)
        try:
            time.sleep(0.5)  # both streams are subscribed
            sells(maker)
            placed = buys(taker)
            got = drain(trades, len(ASKS))
            assert [t.sequence for t in got] == list(range(1, len(ASKS) + 1))
            assert [t.price for t in got] == ASKS  # one trade a command, in the batch's order
            # the taker's stream: per buy its acceptance, then its fill, then the next buy's
            # (positions and balances between them), numbered 1, 2, 3, ... without gaps
            msgs = drain(updates, 1_000, timeout=3)
            assert [m.sequence for m in msgs] == list(range(1, len(msgs) + 1))
            orders = [m.order for m in msgs if m.WhichOneof("update") == "order"]
            assert [(o.order_id, o.event) for o in orders] == \
                [(o.order_id, event) for o in placed for event in ("ACCEPTED", "FILL")]
            fills = [o for o in orders if o.event == "FILL"]
            assert [(f.slippage_mid_bps, f.slippage_mark_bps) for f in fills] == \
                [(str(o.fills[0].slippage_mid_bps), str(o.fills[0].slippage_mark_bps)) for o in placed]
            assert all(f.slippage_mid_bps and f.slippage_mark_bps for f in fills)  # both known
        finally:
            trade_stream.cancel()
            channel.close()
            admin.close()
