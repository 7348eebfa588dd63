"""Batched order entry applies exactly what the journal holds: the commands the venue applied
(kept with the orders that carry a client order id) equal their journal records field by field,
with the same field types, and a replay of the journal lands on the live state."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from perpsim.clients.errors import PerpsimError
from perpsim.engine import commands as C
from perpsim.venue import codec
from perpsim.venue.initial_state import make_state
from perpsim.venue.journal import Journal
from perpsim.venue.recovery import JOURNAL_DIR, recover

from .conftest import own_venue


def _orders() -> list[dict]:
    """Resting sells, buys that take them, a market sweep, an FOK that cannot fill, a refused one."""
    out: list[dict] = []
    for i in range(6):
        out.append({"symbol": "BTCUSDT", "side": "sell", "quantity": "0.001", "price": str(65_000 + 10 * i),
                    "client_order_id": f"s{i}"})
    out.append({"symbol": "BTCUSDT", "side": "buy", "quantity": "0.002", "price": "65010", "client_order_id": "b0"})
    out.append({"symbol": "BTCUSDT", "side": "buy", "quantity": "0.001", "client_order_id": "m0"})  # market
    out.append({"symbol": "BTCUSDT", "side": "buy", "quantity": "5", "time_in_force": "FOK", "client_order_id": "f0"})
    out.append({"symbol": "BTCUSDT", "side": "sell", "quantity": "0.001", "price": "65000.05"})  # off the tick
    out.append({"symbol": "BTCUSDT", "side": "sell", "quantity": "0.001", "price": "65100", "reduce_only": True,
                "client_order_id": "r0"})
    return out


def _types(cmd) -> dict[str, type]:
    return {f.name: type(getattr(cmd, f.name)) for f in dataclasses.fields(cmd)}


def test_batched_orders_apply_what_the_journal_holds(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with own_venue(data, snapshot_every=0, rest_listen="off") as (running, cfg, trader):
        results = trader.place_orders(_orders())
        assert isinstance(results[9], PerpsimError) and sum(isinstance(r, PerpsimError) for r in results) >= 1
        admin = trader.with_key((data / "admin.key").read_text().strip())
        live = admin.venue_state()
        state = running.venue.state
        applied = {info.client_order_id: info.placement for info in state.orders.values()
                   if info.placement is not None}
        assert {"s0", "b0", "m0"} <= set(applied)
        with Journal(cfg.data_dir / JOURNAL_DIR, readonly=True) as journal:
            journaled = {cmd.client_order_id: cmd for _, payload in journal.replay(1)
                         if isinstance(cmd := codec.decode(payload), C.PlaceOrder) and cmd.client_order_id}
        for cid, cmd in applied.items():
            assert cmd == journaled[cid]
            assert _types(cmd) == _types(journaled[cid])
        copy = tmp_path / "copy"  # what a restart would find (the venue keeps its journal locked)
        shutil.copytree(data, copy)
    rebuilt, last, _ = recover(copy, lambda: make_state(cfg))
    assert (rebuilt.state_hash(), last) == (live.state_hash, live.journal_sequence)
