"""The daily loss limit through the real server, journal and client: hit, refused with its
fields, reduce-only still allowed, not raisable the same day, the same after a restart (real
data dir), reset at 00:00 UTC of venue time (sandbox AdvanceClock), and the CLI.

BTCUSDT at its default index 65,000 (taker 0.05 %). The trader buys 0.02 BTC at 65,000 (fee
0.65) and sells 0.01 reduce-only into a bid at 63,000: realized 0.01 × −2,000 = −20, fee
0.315. Loss 20.965 ≥ the limit of 20.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from perpsim.cli.main import main as cli
from perpsim.clients.client import Client
from perpsim.clients.errors import PerpsimError
from perpsim.model.reasons import RejectReason as R
from perpsim.risk.losslimit import DAY_NS
from perpsim.venue.app import RunningVenue
from perpsim.venue.config import VenueConfig

SYMBOL = "BTCUSDT"


def _config(data_dir: Path) -> VenueConfig:
    return VenueConfig(listen="127.0.0.1:0", data_dir=data_dir, feed=False, liquidity=False, admin_key="adm",
                       metrics_listen="", rest_listen="off")


def _refusal(call) -> PerpsimError:
    with pytest.raises(PerpsimError) as info:
        call()
    assert info.value.reason == R.DAILY_LOSS_LIMIT
    return info.value


def test_the_limit_through_the_server_and_a_restart(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    venue = RunningVenue(_config(tmp_path)).start_in_thread()
    try:
        admin = Client(venue.address, admin_key="adm")
        admin.wait_ready()
        maker = Client(venue.address, api_key=admin.create_account().api_key)
        key = admin.create_account().api_key
        me = Client(venue.address, api_key=key)
        maker.deposit("USDT", "100000")
        me.deposit("USDT", "1000")

        set_now = me.set_daily_loss_limit("USDT", "20")
        assert (set_now.limit, set_now.loss, set_now.hit, set_now.change_pending) == (Decimal(20), 0, False, False)
        maker.place_order(SYMBOL, "sell", "0.02", "65000")
        me.place_order(SYMBOL, "buy", "0.02")
        maker.place_order(SYMBOL, "buy", "0.01", "63000")
        me.place_order(SYMBOL, "sell", "0.01", reduce_only=True)
        state = me.daily_loss_limit("USDT")
        assert (state.loss, state.hit) == (Decimal("20.965"), True)
        resets_at = state.resets_at_ns
        now = admin.venue_state().now_ns
        assert resets_at % DAY_NS == 0 and 0 < resets_at - now <= DAY_NS

        # refused with its fields; both sides, and a stop that could open
        e = _refusal(lambda: me.place_order(SYMBOL, "buy", "0.001", "60000"))
        assert e.metadata["limit"] == str(20 * 10**8) and e.metadata["loss"] == str(2_096_500_000)
        assert e.metadata["resets_at"] == str(resets_at) and e.metadata["asset"] == "USDT"
        _refusal(lambda: me.place_order(SYMBOL, "sell", "0.001", "70000"))
        # reduce-only still works, and so does cancelling it
        exit_order = me.place_order(SYMBOL, "sell", "0.005", "66000", reduce_only=True)
        me.cancel_order(SYMBOL, exit_order.order_id)

        # not raisable the same day: the raise waits for 00:00 UTC
        raised = me.set_daily_loss_limit("USDT", "50")
        assert (raised.limit, raised.change_pending, raised.pending_limit, raised.pending_from_ns) == (
            Decimal(20), True, Decimal(50), resets_at)
        _refusal(lambda: me.place_order(SYMBOL, "buy", "0.001", "60000"))
        before = admin.venue_state().state_hash
    finally:
        venue.stop()

    venue = RunningVenue(_config(tmp_path)).start_in_thread()
    try:
        admin = Client(venue.address, admin_key="adm")
        admin.wait_ready()
        assert admin.venue_state().state_hash == before
        me = Client(venue.address, api_key=key)
        again = me.daily_loss_limit("USDT")
        assert (again.limit, again.loss, again.hit, again.pending_limit) == (Decimal(20), Decimal("20.965"), True,
                                                                            Decimal(50))
        _refusal(lambda: me.place_order(SYMBOL, "buy", "0.001", "60000"))

        # one second before 00:00 UTC nothing has changed; at 00:00 the day resets
        now = admin.advance_clock(resets_at - 10**9 - admin.venue_state().now_ns)
        assert me.daily_loss_limit("USDT").hit
        admin.advance_clock(resets_at - now)
        fresh = me.daily_loss_limit("USDT")
        assert (fresh.limit, fresh.hit, fresh.change_pending, fresh.resets_at_ns) == (
            Decimal(50), False, False, resets_at + DAY_NS)
        assert me.place_order(SYMBOL, "buy", "0.001", "60000").order_id

        # the CLI shows the same
        assert cli(["account", "loss-limit", "show", "USDT", "--json", "--address", venue.address, "--key", key]) == 0
        shown = json.loads(capsys.readouterr().out)
        assert Decimal(shown[0]["limit"]) == 50 and shown[0]["hit"] is False
        assert cli(["account", "loss-limit", "set", "USDT", "30", "--address", venue.address, "--key", key]) == 0
        assert "daily loss limit 30.00000000 USDT in force" in capsys.readouterr().out
        assert cli(["account", "loss-limit", "show", "--address", venue.address, "--key", key]) == 0
        assert "USDT" in capsys.readouterr().out
    finally:
        venue.stop()
