"""The held clock's lease (SetClockMode lease_ms, venue.clock_lease) on a real venue on
127.0.0.1: an unrenewed hold lapses to wall-clock time, AdvanceClock (its own call or an Apply's)
renews it, holding again replaces it (0: for good), a bad lease is refused with nothing changed,
a restart starts with none, and a scenario process killed while holding frees the venue within
its lease. The scenario client's and the CLI's side: test_clock_lease_client.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import grpc
import pytest

from perpsim.clients.client import Client
from perpsim.clients.errors import PerpsimError
from perpsim.model.reasons import RejectReason
from perpsim.sim.grpc_venue_clock import LEASE_MS
from perpsim.v1 import batch_pb2, sandbox_pb2
from perpsim.venue.app import RunningVenue
from tests.integration.conftest import own_venue

HOUR_NS = 3_600 * 10**9
DAY_MS = 24 * 3_600 * 1_000
#: how late a lapse may come on a loaded machine (the venue's loop and this test's polling share 2 cores)
SLACK_S = 2.0


def _order_ts(trader: Client) -> int:
    """The venue time a new resting bid was accepted at."""
    placed = trader.place_order("BTCUSDT", "buy", "0.001", "50000")
    return trader.order(placed.order_id).time_ns


def _until_wall(admin: Client, within_s: float) -> float:
    """time.monotonic() when the venue reports its clock on wall time (polled every 20 ms)."""
    start = time.monotonic()
    while admin.venue_state().clock_mode != "wall":
        assert time.monotonic() - start < within_s, "the hold did not lapse"
        time.sleep(0.02)
    return time.monotonic()


def _runs_on_wall_time(trader: Client, after_ns: int) -> None:
    first = _order_ts(trader)
    time.sleep(0.05)
    second = _order_ts(trader)
    assert after_ns <= first and second - first >= 50 * 10**6  # never behind, and running again


def test_a_hold_left_unrenewed_lapses_to_wall_time(wall, admin: Client, make_account) -> None:
    trader = make_account()
    asked = time.monotonic()
    held = admin.set_clock_mode(True, lease_ms=300)
    assert (held.mode, held.previous_mode, held.lease_ms, held.previous_lease_ms) == ("held", "wall", 300, 0)
    state = admin.venue_state()
    assert state.clock_mode == "held" and 0 < state.clock_lease_remaining_ms <= 300
    assert _order_ts(trader) == held.now_ns
    ahead = admin.advance_clock(HOUR_NS)  # moved an hour past the wall clock: the release keeps it
    lapsed = _until_wall(admin, 5.0)
    assert 0.3 <= lapsed - asked < 0.3 + SLACK_S  # not before the lease, soon after
    assert admin.venue_state().clock_lease_remaining_ms == 0
    _runs_on_wall_time(trader, ahead)


def test_advance_clock_renews_the_lease_its_own_call_and_an_applys(wall, admin: Client, batch) -> None:
    admin.set_clock_mode(True, lease_ms=300)
    apply = batch_pb2.ApplyRequest(commands=[batch_pb2.BatchCommand(
        advance_clock=sandbox_pb2.AdvanceClockRequest(advance_ns=10**6))])
    start = time.monotonic()
    steps = 0
    while time.monotonic() - start < 1.2:  # four leases long, one advance every 100 ms
        time.sleep(0.1)
        renewed = time.monotonic()  # before the renewal's call: the venue renews no earlier
        if steps % 2:
            admin.advance_clock(10**6)
        else:
            assert not batch("Apply", apply).results[0].HasField("error")
        steps += 1
        state = admin.venue_state()
        assert state.clock_mode == "held", f"lapsed after {steps} renewals"
        assert 0 < state.clock_lease_remaining_ms <= 300
    assert 0.3 <= _until_wall(admin, 5.0) - renewed < 0.3 + SLACK_S  # unrenewed: it lapses


def test_holding_again_replaces_the_lease_and_zero_holds_for_good(wall, admin: Client, make_account) -> None:
    trader = make_account()
    admin.set_clock_mode(True, lease_ms=300)
    longer = admin.set_clock_mode(True, lease_ms=60_000)
    assert (longer.previous_mode, longer.previous_lease_ms, longer.lease_ms) == ("held", 300, 60_000)
    time.sleep(0.5)
    assert admin.venue_state().clock_lease_remaining_ms > 59_000  # the short lease is gone
    shorter = admin.set_clock_mode(True, lease_ms=200)
    assert (shorter.previous_lease_ms, shorter.lease_ms) == (60_000, 200)
    assert _until_wall(admin, 5.0)  # the long lease did not outlive its replacement

    admin.set_clock_mode(True, lease_ms=200)
    permanent = admin.set_clock_mode(True)
    assert (permanent.mode, permanent.previous_lease_ms, permanent.lease_ms) == ("held", 200, 0)
    time.sleep(0.6)  # three of the old lease
    state = admin.venue_state()
    assert (state.clock_mode, state.clock_lease_remaining_ms) == ("held", 0)
    assert _order_ts(trader) == state.now_ns  # still the venue's time, not the wall clock's
    # released, a lease asked for is ignored; held again with none, none runs
    released = admin.set_clock_mode(False, lease_ms=300)
    assert (released.mode, released.lease_ms, released.previous_lease_ms) == ("wall", 0, 0)
    assert admin.venue_state().clock_lease_remaining_ms == 0


@pytest.mark.parametrize("lease_ms", [DAY_MS + 1, 2**63 - 1, 2**64 - 1])
def test_a_lease_over_a_day_is_refused_and_changes_nothing(wall, admin: Client, make_account, lease_ms) -> None:
    trader = make_account()
    admin.set_clock_mode(True, lease_ms=5_000)
    before = admin.venue_state()
    with pytest.raises(PerpsimError) as refused:
        admin.set_clock_mode(True, lease_ms=lease_ms)
    e = refused.value
    assert e.status == grpc.StatusCode.INVALID_ARGUMENT and e.reason == RejectReason.INVALID_VALUE
    assert e.field == "lease_ms" and str(lease_ms) in e.metadata.values()
    if lease_ms < 2**63:  # beyond int64 the venue's generic range check answers first, for the same field
        assert e.metadata["lease_ms"] == str(lease_ms) and "at most 1d" in str(e)
    after = admin.venue_state()
    assert (after.clock_mode, after.now_ns, after.state_hash, after.journal_sequence) == (
        "held", before.now_ns, before.state_hash, before.journal_sequence)
    # the lease runs on from before, not set anew
    assert 0 < after.clock_lease_remaining_ms <= before.clock_lease_remaining_ms
    assert _order_ts(trader) == before.now_ns
    # from wall time: refused, still wall, no lease
    admin.set_clock_mode(False)
    with pytest.raises(PerpsimError) as refused:
        admin.set_clock_mode(True, lease_ms=lease_ms)
    assert refused.value.field == "lease_ms"
    state = admin.venue_state()
    assert (state.clock_mode, state.clock_lease_remaining_ms) == ("wall", 0)
    # the largest lease is taken
    assert admin.set_clock_mode(True, lease_ms=DAY_MS).lease_ms == DAY_MS


@pytest.mark.parametrize(("bad", "error"), [(-1, ValueError), (True, TypeError), (0.5, TypeError), ("300", TypeError)])
def test_the_sdk_refuses_a_lease_that_is_not_a_whole_number_of_ms(wall, admin: Client, bad, error) -> None:
    with pytest.raises(error, match="lease_ms"):
        admin.set_clock_mode(True, lease_ms=bad)
    assert admin.venue_state().clock_mode == "wall"


def test_a_restart_comes_back_as_configured_with_no_lease(tmp_path) -> None:
    with own_venue(tmp_path) as (running, _, _):
        with Client(running.address, admin_key=(tmp_path / "admin.key").read_text().strip()) as admin:
            assert admin.set_clock_mode(True, lease_ms=DAY_MS).lease_ms == DAY_MS
    with own_venue(tmp_path, held_clock=True) as (running, _, trader):  # `perpsim serve --held-clock`
        with Client(running.address, admin_key=(tmp_path / "admin.key").read_text().strip()) as admin:
            state = admin.venue_state()
            assert (state.clock_mode, state.clock_lease_remaining_ms) == ("held", 0)
            time.sleep(0.05)
            assert _order_ts(trader) == state.now_ns
    with own_venue(tmp_path) as (running, _, _):
        with Client(running.address, admin_key=(tmp_path / "admin.key").read_text().strip()) as admin:
            state = admin.venue_state()
            assert (state.clock_mode, state.clock_lease_remaining_ms) == ("wall", 0)


#: a scenario's client: GrpcVenue holds the clock with its lease (LEASE_MS, or the one given) and
#: steps one second of scenario time every 20 ms, each step's Apply advancing the venue's clock
_SCENARIO = textwrap.dedent("""
    import sys, time
    from perpsim.engine import commands as C
    from perpsim.model.market_files import default_markets
    from perpsim.sim import grpc_venue_clock
    from perpsim.sim.venues import GrpcVenue

    address, admin_key, lease_ms = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if lease_ms:
        grpc_venue_clock.LEASE_MS = lease_ms
    spec = default_markets()["BTCUSDT"]
    remote = GrpcVenue(address, admin_key, {"BTCUSDT": spec}, signals=False)
    ts = 0
    while True:
        remote.submit(C.SetIndexPrice(ts, "BTCUSDT", spec.price_to_ticks("50000")))
        if ts == 0:
            print("held", flush=True)
        ts += 10**9
        time.sleep(0.02)
""")


def _killed_scenario_frees_the_venue(venue: RunningVenue, admin: Client, admin_key: str, trader: Client,
                                     lease_ms: int, runs_s: float) -> None:
    proc = subprocess.Popen([sys.executable, "-c", _SCENARIO, venue.address, admin_key, str(lease_ms)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                            env={k: v for k, v in os.environ.items() if not k.startswith("PERPSIM_")})
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line == "held\n", (line, proc.stderr.read() if proc.poll() is not None and proc.stderr else "")
        time.sleep(runs_s)  # several leases: the steps' AdvanceClock renewed it all along
        state = admin.venue_state()
        assert proc.poll() is None and state.clock_mode == "held"
        assert 0 < state.clock_lease_remaining_ms <= lease_ms
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        killed = time.monotonic()
        lapsed = _until_wall(admin, lease_ms / 1000 + 10)
        assert lapsed - killed < lease_ms / 1000 + SLACK_S  # freed within the lease
        _runs_on_wall_time(trader, admin.venue_state().now_ns)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_a_scenario_killed_while_holding_frees_the_venue_within_its_lease(
        wall, venue: RunningVenue, admin: Client, admin_key: str, make_account) -> None:
    _killed_scenario_frees_the_venue(venue, admin, admin_key, make_account(), lease_ms=400, runs_s=1.5)


@pytest.mark.slow
def test_a_scenario_killed_with_its_own_lease_frees_the_venue_within_it(
        wall, venue: RunningVenue, admin: Client, admin_key: str, make_account) -> None:
    _killed_scenario_frees_the_venue(venue, admin, admin_key, make_account(), lease_ms=LEASE_MS, runs_s=1.0)
