"""Index feeds: seeded, shaped as documented, shocks where scheduled."""

from __future__ import annotations

import numpy as np
import pytest

from perpsim.sim.feeds import (
    ConstantFeed,
    GBMFeed,
    ImpactCoupling,
    JumpDiffusionFeed,
    PiecewiseFeed,
    ReplayFeed,
    Shock,
    feed_from_table,
)


def rng(seed: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(seed))


@pytest.mark.parametrize("feed", [GBMFeed(100.0, sigma=0.8), JumpDiffusionFeed(100.0, sigma=0.5, jumps_per_day=500)])
def test_random_feeds_are_functions_of_the_seed(feed):
    a, b, c = feed.path(500, 1.0, rng(1)), feed.path(500, 1.0, rng(1)), feed.path(500, 1.0, rng(2))
    assert a.shape == (501,) and a[0] == 100.0
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.all(a > 0)


def test_gbm_volatility_matches_sigma():
    path = GBMFeed(100.0, sigma=0.6).path(200_000, 60.0, rng(3))
    r = np.diff(np.log(path))
    annualised = r.std() * np.sqrt(365 * 24 * 60)
    assert annualised == pytest.approx(0.6, rel=0.02)


def test_shock_ramps_over_its_window():
    path = ConstantFeed(200.0, shocks=(Shock(at_s=10, pct=-10, over_s=4),)).path(20, 1.0, rng(0))
    assert path[10] == 200.0 and path[12] == pytest.approx(190.0) and path[14] == pytest.approx(180.0)
    assert path[20] == pytest.approx(180.0)


def test_piecewise_interpolates_and_holds():
    path = PiecewiseFeed(50.0, points=((0, 50.0), (10, 60.0))).path(15, 1.0, rng(0))
    assert path[5] == pytest.approx(55.0) and path[15] == 60.0


def test_replay_holds_the_last_observation(tmp_path):
    csv = tmp_path / "p.csv"
    csv.write_text("t_s,price\n100,10\n102.5,12\n105,11\n")
    feed = ReplayFeed.from_csv(csv)
    assert list(feed.path(6, 1.0, rng(0))) == [10, 10, 10, 12, 12, 11, 11]
    table = feed_from_table({"kind": "replay", "csv": "p.csv"}, tmp_path)
    assert np.array_equal(table.path(6, 1.0, rng(0)), feed.path(6, 1.0, rng(0)))


def test_impact_coupling_follows_the_last_price_and_decays():
    c = ImpactCoupling(coupling=0.5, decay=0.1)
    assert c.update(98.0, 100.0) == pytest.approx(0.99)
    assert c.update(100.0, 100.0) == pytest.approx(1 - 0.01 * 0.9)
    assert ImpactCoupling().update(50.0, 100.0) == 1.0
