"""A scenario over gRPC with the venue clock held (GrpcVenue holds it for the run): reproducible
whatever the wall-clock time between its calls, and its liquidations the in-process run's.

Both gRPC runs start from copies of one data directory (one venue epoch and seed, so that the
venue's state hashes can be compared) on real servers (127.0.0.1, port 0, feed and liquidity
off); each sleeps between its calls at different steps, as a loaded machine would.
"""

from __future__ import annotations

import shutil
import time

import pytest

from perpsim.model.market_files import default_markets
from perpsim.sim import runner
from perpsim.sim.grpc_venue_clock import ALIGN_NS, HELD, WALL
from perpsim.sim.venues import GrpcVenue
from perpsim.venue.app import RunningVenue
from perpsim.venue.config import VenueConfig

ADMIN = "sim-admin"
SLEEP_S = 0.3


def _config(data_dir) -> VenueConfig:
    return VenueConfig(listen="127.0.0.1:0", data_dir=data_dir, feed=False, liquidity=False, metrics_listen="",
                       rest_listen="off", admin_key=ADMIN)


def _sleeping_at(run: runner.Run, pauses: set[tuple[int, int]], slept: list[tuple[int, int]]) -> None:
    """Sleep SLEEP_S before agent `i` acts at step `s`, for each (s, i) in `pauses`: wall-clock time
    between the step's index move (its own Apply) and that agent's commands."""
    for i, agent in enumerate(run.agents):
        def step(ctx, act=agent.step, i=i):
            if (ctx.step, i) in pauses:
                slept.append((ctx.step, i))
                time.sleep(SLEEP_S)
            act(ctx)

        agent.step = step  # type: ignore[method-assign]


def _over_grpc(sc, seeded, data_dir, pauses):
    shutil.copytree(seeded, data_dir)
    venue = RunningVenue(_config(data_dir)).start_in_thread()
    try:
        remote = GrpcVenue(venue.address, ADMIN, {s: default_markets()[s] for s in sc.data["venue"]["markets"]})
        try:
            run = runner.Run(sc, venue=remote)
            slept: list[tuple[int, int]] = []
            _sleeping_at(run, pauses, slept)
            result = run.run()
            state = remote.clock.venue_state()
            assert state.clock_mode == HELD
            out = (result, remote.state_hash(), state.now_ns - remote.clock.held_at, sorted(slept))
        finally:
            remote.close()
        return out
    finally:
        venue.stop()


@pytest.mark.slow
def test_held_runs_match_each_other_and_in_process_despite_sleeps(small, tmp_path):
    seeded = tmp_path / "seeded"
    RunningVenue(_config(seeded)).start_in_thread().stop()  # a fresh venue's data: epoch, seed, keys
    # before each agent at two steps of the shock (20 s to 24 s): on the wall clock these sleeps
    # can change a liquidation there (seen: a forced order filled in one, left to the fund a step later)
    first_pauses = {(step, agent) for step in (21, 22) for agent in range(len(small.data["agents"]))}
    second_pauses = {(5, 1), (20, 0), (23, 2)}
    first, hash_1, moved_1, slept_1 = _over_grpc(small, seeded, tmp_path / "first", first_pauses)
    second, hash_2, moved_2, slept_2 = _over_grpc(small, seeded, tmp_path / "second", second_pauses)
    assert slept_1 == sorted(first_pauses) and slept_2 == sorted(second_pauses)  # the sleeps happened
    in_process = runner.run(small)
    assert in_process.liquidations, "the scenario liquidates"
    assert first.liquidations == second.liquidations == in_process.liquidations  # row by row
    # the held time starts on a whole minute, so the runs' steps cross the mark's 5 s sampling grid
    # where the in-process run's do: the same marks, step by step
    marks = [r.series["BTCUSDT"]["mark"] for r in (first, second, in_process)]
    assert marks[0] == marks[1] == marks[2]
    assert hash_1 == hash_2
    # the venue's time moved by the scenario's time alone (its steps), not by the sleeps
    assert moved_1 == moved_2 == small.steps * round(small.step_s * 10**9)
    assert first.report_hash == second.report_hash


def test_the_run_puts_the_clock_mode_back(tmp_path):
    """A venue on the wall clock is held while the run's GrpcVenue is open, from the next whole
    minute, and on the wall clock again after; one started held stays held."""
    for held in (False, True):
        cfg = _config(tmp_path / str(held))
        cfg.held_clock = held
        venue = RunningVenue(cfg).start_in_thread()
        try:
            before = venue.venue.state.exchange.ts
            remote = GrpcVenue(venue.address, ADMIN, {"BTCUSDT": default_markets()["BTCUSDT"]})
            state = remote.clock.venue_state()
            assert state.clock_mode == HELD
            # moved on to the next whole minute of venue time, no further
            assert state.now_ns == remote.clock.held_at and state.now_ns % ALIGN_NS == 0
            assert 0 < state.now_ns - before <= ALIGN_NS
            remote.close()
            probe = GrpcVenue(venue.address, ADMIN, {"BTCUSDT": default_markets()["BTCUSDT"]}, hold_clock=False)
            try:
                assert probe.clock.venue_state().clock_mode == (HELD if held else WALL)
            finally:
                probe.close()
        finally:
            venue.stop()
