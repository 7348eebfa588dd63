"""The held venue clock from the SDK (`set_clock_mode`, `VenueState.clock_mode`) and the CLI
(`perpsim sandbox clock held|wall`, `perpsim sandbox state`), against a real venue on 127.0.0.1
(this module's own: the mode set here changes no other module's venue). The server's side of
SetClockMode is tested in test_held_clock.py."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest

from perpsim.clients.client import AsyncClient, Client, ClockModeChange
from perpsim.clients.errors import PerpsimError
from perpsim.venue.app import RunningVenue

from .cli_kit import Run, run_json

pytestmark = pytest.mark.usefixtures("clean_cli")

HOUR_NS = 3_600 * 10**9


def _order_ts(trader: Client) -> int:
    """The venue time a new resting bid was accepted at."""
    placed = trader.place_order("BTCUSDT", "buy", "0.001", "50000")
    return trader.order(placed.order_id).time_ns


def test_sdk_holds_advances_and_releases(wall, admin: Client, make_account) -> None:
    trader = make_account()
    assert admin.venue_state().clock_mode == "wall"
    held = admin.set_clock_mode(True)
    assert isinstance(held, ClockModeChange)
    assert (held.mode, held.previous_mode, held.changed) == ("held", "wall", True)
    state = admin.venue_state()
    assert (state.clock_mode, state.now_ns) == ("held", held.now_ns)
    time.sleep(0.03)
    assert _order_ts(trader) == held.now_ns  # the wall-clock gap did not move the venue's time
    again = admin.set_clock_mode(True)
    assert (again.mode, again.previous_mode, again.changed, again.now_ns) == ("held", "held", False, held.now_ns)
    assert admin.advance_clock(HOUR_NS) == held.now_ns + HOUR_NS
    released = admin.set_clock_mode(False)
    assert released.to_dict() == {"mode": "wall", "previous_mode": "held", "now_ns": held.now_ns + HOUR_NS,
                                  "lease_ms": 0, "previous_lease_ms": 0}
    assert admin.venue_state().clock_mode == "wall"
    assert _order_ts(trader) >= held.now_ns + HOUR_NS


def test_async_client_sets_the_mode(wall, venue: RunningVenue, admin_key: str, admin: Client) -> None:
    async def go() -> tuple[ClockModeChange, str, ClockModeChange]:
        async with AsyncClient(venue.address, admin_key=admin_key) as c:
            held = await c.set_clock_mode(True)
            mode = (await c.venue_state()).clock_mode
            return held, mode, await c.set_clock_mode(False)

    held, mode, released = asyncio.run(go())
    assert (held.mode, held.previous_mode, mode) == ("held", "wall", "held")
    assert (released.mode, released.previous_mode) == ("wall", "held")
    assert admin.venue_state().clock_mode == "wall"


@pytest.mark.parametrize("bad", ["held", 1, None])
def test_sdk_refuses_a_mode_that_is_not_a_bool(wall, admin: Client, bad) -> None:
    before = admin.venue_state()
    with pytest.raises(TypeError, match="held: expected a bool"):
        admin.set_clock_mode(bad)
    after = admin.venue_state()
    assert (after.clock_mode, after.journal_sequence, after.state_hash) == (
        "wall", before.journal_sequence, before.state_hash)


def test_cli_clock_and_state_show_the_mode(wall, run: Run, admin: Client, admin_key: str) -> None:
    assert run_json(run, "sandbox", "state", admin=admin_key)["clock_mode"] == "wall"
    held = run_json(run, "sandbox", "clock", "held", admin=admin_key)
    assert (held["mode"], held["previous_mode"]) == ("held", "wall")
    assert admin.venue_state().clock_mode == "held" and admin.venue_state().now_ns == held["now_ns"]
    state = run_json(run, "sandbox", "state", admin=admin_key)
    assert (state["clock_mode"], state["now_ns"]) == ("held", held["now_ns"])
    code, out, _ = run("sandbox", "state", admin=admin_key)
    assert code == 0 and any(line.split() == ["clock", "held"] for line in out.splitlines()), out
    code, out, _ = run("sandbox", "clock", "held", admin=admin_key)
    assert code == 0 and out.startswith("clock held (already), now 20") and out.rstrip().endswith("UTC")
    code, out, _ = run("sandbox", "clock", "wall", admin=admin_key)
    assert code == 0 and out.startswith("clock wall (was held), now 20")
    assert admin.venue_state().clock_mode == "wall"
    code, out, _ = run("sandbox", "state", admin=admin_key)
    assert any(line.split() == ["clock", "wall"] for line in out.splitlines()), out


def test_cli_refuses_a_bad_mode_and_a_user_key(wall, run: Run, admin: Client, make_account,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    user = make_account(deposit=None)
    before = admin.venue_state()
    for bad in ("hold", "HELD", "on"):
        with pytest.raises(SystemExit) as info:
            run("sandbox", "clock", bad, admin=admin.admin_key)
        assert info.value.code == 2, bad
        assert "invalid choice" in capsys.readouterr().err
    # a user's key is not the admin's: one line on stderr, exit 1, the clock not held
    code, out, err = run("sandbox", "clock", "held", key=user.api_key)
    assert (code, out) == (1, "") and err.startswith("error: ") and err.count("\n") == 1, err
    with pytest.raises(PerpsimError) as refused:
        user.set_clock_mode(True)
    assert refused.value.status == grpc.StatusCode.PERMISSION_DENIED
    after = admin.venue_state()
    assert (after.clock_mode, after.journal_sequence) == ("wall", before.journal_sequence)
