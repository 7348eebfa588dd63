"""The held clock's lease from the CLI (`perpsim sandbox clock held --lease SECONDS`, `perpsim
sandbox state`) and from a scenario run over gRPC (perpsim.sim.grpc_venue_clock: the run holds
with its lease, renews it through a long setup, stops on a lapse, and leaves a hold for good as
it was), against a real venue on 127.0.0.1. The server's side: test_clock_lease.py."""

from __future__ import annotations

import time

import pytest

from perpsim.clients.client import Client
from perpsim.model.market_files import default_markets
from perpsim.sim import grpc_venue_clock
from perpsim.sim.grpc_venue_clock import LEASE_MS, RENEW_S, ClockLapsed
from perpsim.sim.venues import GrpcVenue
from perpsim.venue.app import RunningVenue

from .cli_kit import Run, run_json

pytestmark = pytest.mark.usefixtures("clean_cli")


def _wait_wall(admin: Client, within_s: float) -> None:
    start = time.monotonic()
    while admin.venue_state().clock_mode != "wall":
        assert time.monotonic() - start < within_s, "the hold did not lapse"
        time.sleep(0.02)


def test_cli_holds_with_a_lease_shows_it_and_the_hold_lapses(wall, run: Run, admin: Client, admin_key: str) -> None:
    held = run_json(run, "sandbox", "clock", "held", "--lease", "0.4", admin=admin_key)
    assert (held["mode"], held["previous_mode"], held["lease_ms"], held["previous_lease_ms"]) == (
        "held", "wall", 400, 0)
    state = run_json(run, "sandbox", "state", admin=admin_key)
    assert state["clock_mode"] == "held" and 0 < state["clock_lease_remaining_ms"] <= 400
    code, out, _ = run("sandbox", "clock", "held", "--lease", "30s", admin=admin_key)  # renewed, 30 s now
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("clock held (already), now 20") and lines[0].endswith("UTC"), out
    assert lines[1].startswith("lease 30s: back to wall time unless advance-clock"), out
    code, out, _ = run("sandbox", "state", admin=admin_key)
    left = [line.split() for line in out.splitlines() if line.startswith("clock_lease_remaining")]
    assert code == 0 and len(left) == 1 and left[0][1].startswith("2"), out  # 29s…, 2…s: under 30 s
    assert admin.venue_state().clock_lease_remaining_ms > 20_000
    run_json(run, "sandbox", "clock", "held", "--lease", "300ms", admin=admin_key)
    _wait_wall(admin, 5.0)
    code, out, _ = run("sandbox", "state", admin=admin_key)
    assert any(line.split() == ["clock", "wall"] for line in out.splitlines()), out
    assert "clock_lease_remaining" not in out
    # without --lease the hold is for good, and the CLI says nothing of a lease
    code, out, _ = run("sandbox", "clock", "held", admin=admin_key)
    assert code == 0 and len(out.splitlines()) == 1 and "lease" not in out, out
    assert run_json(run, "sandbox", "clock", "held", admin=admin_key)["lease_ms"] == 0


def test_cli_refuses_a_bad_lease(wall, run: Run, admin: Client, admin_key: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    before = admin.venue_state()
    for bad in ("-1", "1us", "0.0005", "soon", "nan"):
        with pytest.raises(SystemExit) as info:
            run("sandbox", "clock", "held", "--lease", bad, admin=admin_key)
        assert info.value.code == 2, bad
        assert "invalid lease (seconds) value" in capsys.readouterr().err, bad
    # over a day: the venue's structured refusal, one line, exit 1
    code, out, err = run("sandbox", "clock", "held", "--lease", "2d", admin=admin_key)
    assert (code, out) == (1, "") and err.startswith("error: invalid_value") and "lease_ms" in err, err
    assert err.count("\n") == 1
    # wall time takes no lease: a usage error, nothing sent
    code, out, err = run("sandbox", "clock", "wall", "--lease", "5", admin=admin_key)
    assert (code, out) == (2, "") and "--lease goes with `clock held`" in err, err
    after = admin.venue_state()
    assert (after.clock_mode, after.clock_lease_remaining_ms, after.journal_sequence) == (
        "wall", 0, before.journal_sequence)


def test_cli_help_documents_the_lease(capsys: pytest.CaptureFixture[str]) -> None:
    from perpsim.cli import main as cli

    with pytest.raises(SystemExit):
        cli.main(["sandbox", "clock", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--lease SECONDS" in text and "held only" in text and "renews it" in text


def _scenario(venue: RunningVenue, admin_key: str) -> GrpcVenue:
    return GrpcVenue(venue.address, admin_key, {"BTCUSDT": default_markets()["BTCUSDT"]}, signals=False)


def test_a_scenario_run_holds_with_its_lease_and_puts_the_clock_back(wall, venue: RunningVenue, admin: Client,
                                                                     admin_key: str) -> None:
    assert 3 * RENEW_S * 1000 <= LEASE_MS  # a live run renews with two thirds of its lease to spare
    remote = _scenario(venue, admin_key)
    try:
        state = admin.venue_state()
        assert state.clock_mode == "held" and LEASE_MS - 5_000 < state.clock_lease_remaining_ms <= LEASE_MS
        assert remote.clock.lease_ms == LEASE_MS
    finally:
        remote.close()
    state = admin.venue_state()
    assert (state.clock_mode, state.clock_lease_remaining_ms) == ("wall", 0)


def test_a_venue_held_for_good_stays_so_through_a_run(wall, venue: RunningVenue, admin: Client,
                                                      admin_key: str) -> None:
    admin.set_clock_mode(True)  # as `perpsim serve --held-clock` leaves it
    remote = _scenario(venue, admin_key)
    try:
        assert remote.clock.lease_ms == 0  # the run took no lease of it
        state = admin.venue_state()
        assert (state.clock_mode, state.clock_lease_remaining_ms) == ("held", 0)
    finally:
        remote.close()
    state = admin.venue_state()
    assert (state.clock_mode, state.clock_lease_remaining_ms) == ("held", 0)


def test_a_long_setup_renews_the_lease_and_a_lapse_stops_the_run(wall, venue: RunningVenue, admin: Client,
                                                                admin_key: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(grpc_venue_clock, "LEASE_MS", 600)
    monkeypatch.setattr(grpc_venue_clock, "RENEW_S", 0.2)
    remote = _scenario(venue, admin_key)
    try:
        # a setup with no AdvanceClock: accounts made a batch every 100 ms, two leases long
        start, renewals, made = time.monotonic(), remote.calls_by_rpc["SetClockMode"], 0
        while time.monotonic() - start < 1.2:
            remote.reserve(range(made, made + 2))
            made += 2
            assert admin.venue_state().clock_mode == "held"
            time.sleep(0.1)
        assert remote.calls_by_rpc["SetClockMode"] - renewals >= 3  # renewed on the way, by the run itself
        # the run stalls past its lease: the venue lets go, and the run's next call says so
        _wait_wall(admin, 5.0)
        with pytest.raises(ClockLapsed, match="released during the run"):
            remote.reserve(range(made, made + 2))
    finally:
        remote.close()
    state = admin.venue_state()
    assert (state.clock_mode, state.clock_lease_remaining_ms) == ("wall", 0)
