"""Shared pieces of the simulation tests: a small, fast version of a built-in scenario."""

from __future__ import annotations

import pytest

from perpsim.sim import scenario


@pytest.fixture(scope="session")
def small() -> scenario.Scenario:
    """long-squeeze cut down to 60 steps and 150 leveraged accounts, the shock at 20 s."""
    return scenario.load("long-squeeze").with_params({
        "duration_s": 60, "agents.crowd.count": 150, "feed.BTCUSDT.shocks.0.at_s": 20,
        "feed.BTCUSDT.shocks.0.over_s": 4, "agents.mm.levels": 6})
