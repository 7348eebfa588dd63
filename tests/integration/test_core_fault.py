"""A command that raises inside the core midway (a bug) must leave no trace: it is answered
INTERNAL, never journaled, and the state it half-changed is rebuilt from the journal, while the
commands before and after it stand."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from perpsim.clients.errors import PerpsimError
from perpsim.venue.initial_state import make_exchange
from perpsim.venue.recovery import recover
from perpsim.venue.state import VenueState

from .conftest import fault_once_in_book, own_venue


def test_a_command_that_raises_midway_is_undone(tmp_path: Path) -> None:
    with own_venue(tmp_path) as (running, cfg, trader):
        kept = trader.place_order("BTCUSDT", "buy", "0.001", "60000")

        fault_once_in_book(running)
        with pytest.raises(PerpsimError) as failed:
            trader.place_order("BTCUSDT", "buy", "0.002", "60001")
        assert failed.value.status == grpc.StatusCode.INTERNAL

        after = trader.place_order("BTCUSDT", "buy", "0.003", "60002")
        open_orders = {(o.order_id, str(o.price)) for o in trader.open_orders("BTCUSDT")}
        assert open_orders == {(kept.order_id, "60000.0"), (after.order_id, "60002.0")}
        live_hash = running.venue.state.exchange.state_hash()
    # the journal holds exactly the commands that stood: replay gives the live state
    state, _, _ = recover(tmp_path, lambda: VenueState(make_exchange(cfg)))
    assert state.exchange.state_hash() == live_hash
