"""The sandbox's held clock (SetClockMode, `perpsim serve --held-clock`) on a real venue: held,
every command carries the venue's time, moved only by AdvanceClock; released, wall-clock time
resumes, never behind the venue's; admin only; a restart keeps time monotonic and a configured
hold, from the journal's last time."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest

from perpsim.clients.client import Client
from perpsim.clients.errors import PerpsimError, from_rpc_error
from perpsim.model.reasons import RejectReason
from perpsim.v1 import sandbox_pb2, sandbox_pb2_grpc
from perpsim.venue import datadir
from perpsim.venue.config import VenueConfig
from tests.integration.conftest import own_venue

HELD, WALL = sandbox_pb2.CLOCK_MODE_HELD, sandbox_pb2.CLOCK_MODE_WALL
HOUR = 3_600 * 10**9
DAY = 24 * HOUR


@contextlib.contextmanager
def _sandbox(address: str, key: str | None):
    """A SandboxService call maker with `key` (None: no key at all); its channel closed on exit."""
    channel = grpc.insecure_channel(address)
    stub = sandbox_pb2_grpc.SandboxServiceStub(channel)
    metadata = (("authorization", f"Bearer {key}"),) if key is not None else ()

    def call(rpc: str, request):
        try:
            return getattr(stub, rpc)(request, timeout=10, metadata=metadata)
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None

    with channel:
        yield call


@contextlib.contextmanager
def _admin_venue(data_dir: Path, held_clock: bool = False):
    """own_venue(data_dir) (started again from its journal if there is one) and the admin's
    SandboxService call maker on it: (the running venue, call, the funded trader)."""
    with own_venue(data_dir, held_clock=held_clock) as (running, _, trader):
        with _sandbox(running.address, (data_dir / "admin.key").read_text().strip()) as call:
            yield running, call, trader


def _set_mode(call, mode: int):
    return call("SetClockMode", sandbox_pb2.SetClockModeRequest(mode=mode))


def _state(call):
    return call("GetVenueState", sandbox_pb2.GetVenueStateRequest())


def _order_ts(trader: Client, price: str = "50000") -> int:
    """The venue time a new resting bid was accepted at (its history's time_ns)."""
    placed = trader.place_order("BTCUSDT", "buy", "0.001", price)
    return trader.order(placed.order_id).time_ns


def test_held_orders_share_the_venue_time_advance_moves_it_exactly_release_resumes_wall_time(tmp_path):
    with _admin_venue(tmp_path) as (_, call, trader):
        assert _state(call).clock_mode == WALL
        held = _set_mode(call, HELD)
        assert (held.mode, held.previous_mode) == (HELD, WALL)
        now = held.now_ns
        assert _state(call).clock_mode == HELD and _state(call).now_ns == now
        first = _order_ts(trader)
        time.sleep(0.05)
        second = _order_ts(trader)
        assert first == second == now  # 50 ms of wall time apart, one venue time
        # holding again changes nothing and says it was held
        again = _set_mode(call, HELD)
        assert (again.mode, again.previous_mode, again.now_ns) == (HELD, HELD, now)

        assert call("AdvanceClock", sandbox_pb2.AdvanceClockRequest(advance_ns=HOUR)).now_ns == now + HOUR
        time.sleep(0.05)
        assert _order_ts(trader) == now + HOUR  # exactly the advance, none of the sleep
        assert _state(call).now_ns == now + HOUR

        released = _set_mode(call, WALL)
        assert (released.mode, released.previous_mode, released.now_ns) == (WALL, HELD, now + HOUR)
        assert _state(call).clock_mode == WALL
        after = _order_ts(trader)
        time.sleep(0.05)
        later = _order_ts(trader)
        assert now + HOUR <= after  # never behind the held time (the advance kept)
        assert later - after >= 50 * 10**6  # wall-clock time runs again


@pytest.mark.parametrize("mode", [sandbox_pb2.CLOCK_MODE_UNSPECIFIED, 7])
def test_a_mode_neither_held_nor_wall_is_refused_and_changes_nothing(tmp_path, mode):
    with _admin_venue(tmp_path) as (_, call, trader):
        _set_mode(call, HELD)
        before = _state(call)
        with pytest.raises(PerpsimError) as refused:
            _set_mode(call, mode)
        e = refused.value
        assert e.status == grpc.StatusCode.INVALID_ARGUMENT and e.reason == RejectReason.INVALID_VALUE
        assert e.field == "mode" and e.metadata["mode"] == str(mode)
        assert "CLOCK_MODE_HELD or CLOCK_MODE_WALL" in str(e)
        after = _state(call)
        assert after.clock_mode == HELD and after.now_ns == before.now_ns
        assert after.state_hash == before.state_hash and after.journal_sequence == before.journal_sequence
        time.sleep(0.02)
        assert _order_ts(trader) == before.now_ns  # still held


def test_only_the_admin_sets_the_clock_mode(tmp_path):
    with (_admin_venue(tmp_path) as (running, admin, trader),
          _sandbox(running.address, trader.api_key) as user,
          _sandbox(running.address, None) as nobody):
        with pytest.raises(PerpsimError) as refused:
            _set_mode(user, HELD)
        assert refused.value.status == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(PerpsimError) as refused:
            _set_mode(nobody, HELD)
        assert refused.value.status == grpc.StatusCode.UNAUTHENTICATED
        assert _state(admin).clock_mode == WALL
        first = _order_ts(trader)
        time.sleep(0.02)
        assert _order_ts(trader) > first  # still on the wall clock


def test_restarts_keep_time_monotonic_and_a_configured_hold(tmp_path):
    # held by the sandbox on a wall-clock venue, moved a day past the wall clock
    with _admin_venue(tmp_path) as (_, call, trader):
        _set_mode(call, HELD)
        ahead = call("AdvanceClock", sandbox_pb2.AdvanceClockRequest(advance_ns=DAY)).now_ns
        assert _order_ts(trader) == ahead
        last = _state(call).now_ns
    # restarted as configured (the wall clock): time goes on from the journal's, never behind it
    with _admin_venue(tmp_path) as (_, call, trader):
        assert _state(call).clock_mode == WALL
        first = _order_ts(trader)
        time.sleep(0.02)
        second = _order_ts(trader)
        assert last < first < second and first > time.time_ns() + DAY // 2  # a day ahead still
        last = _state(call).now_ns
    # restarted held (`perpsim serve --held-clock`): held again, from the journal's last time
    with _admin_venue(tmp_path, held_clock=True) as (_, call, trader):
        state = _state(call)
        assert state.clock_mode == HELD and state.now_ns == last
        time.sleep(0.05)
        assert _order_ts(trader) == last
        assert call("AdvanceClock", sandbox_pb2.AdvanceClockRequest(advance_ns=HOUR)).now_ns == last + HOUR
        last = _state(call).now_ns
    # and once more: the held time is where the journal left it, not the wall clock's
    with _admin_venue(tmp_path, held_clock=True) as (_, call, trader):
        assert _state(call).now_ns == last
        assert _order_ts(trader) == last


def test_perpsim_serve_held_clock_starts_held(tmp_path):
    """`perpsim serve --held-clock`: the process's venue answers CLOCK_MODE_HELD and its seed
    commands all carry its creation time."""
    config = tmp_path / "venue.toml"
    config.write_text('metrics_listen = ""\nrest_listen = "off"\n')
    script = Path(sys.executable).with_name("perpsim")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "perpsim.cli"]
    env = {k: v for k, v in os.environ.items() if k != "PERPSIM_ADMIN_KEY"}
    proc = subprocess.Popen([*command, "serve", "--config", str(config), "--data-dir", str(tmp_path / "data"),
                             "--listen", "127.0.0.1:0", "--admin-key", "held-admin", "--no-feed", "--no-liquidity",
                             "--held-clock"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, env=env, text=True, start_new_session=True)
    try:
        banner = proc.stdout.readline() if proc.stdout is not None else ""
        found = re.match(r"perpsim venue listening on (\S+:\d+)", banner)
        assert found, banner
        with Client(found.group(1), admin_key="held-admin") as admin:
            admin.wait_ready(30)
            with _sandbox(found.group(1), "held-admin") as call:
                state = _state(call)
            created = int((tmp_path / "data" / datadir.CREATED).read_text())
            assert state.clock_mode == HELD and state.now_ns == created
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        if proc.stdout is not None:
            proc.stdout.close()


def test_held_clock_is_a_config_setting(tmp_path):
    path = tmp_path / "venue.toml"
    path.write_text("held_clock = true\n")
    assert VenueConfig.from_toml(path).held_clock is True
    assert VenueConfig().held_clock is False
