"""`keep_journal`: checkpoints of a venue so configured delete no journal segment, so that a
later build (which refuses this build's snapshots) can still replay everything."""

from __future__ import annotations

from pathlib import Path

import pytest

from perpsim.venue import app
from perpsim.venue.follower_checkpoint import FollowerCheckpoint

from .conftest import own_venue


@pytest.mark.parametrize("keep", [True, False])
def test_checkpoints_prune_unless_keep_journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keep: bool) -> None:
    asked: list[bool] = []

    class Spy(FollowerCheckpoint):
        def __call__(self, seq: int) -> int:
            asked.append(self.prune)
            return super().__call__(seq)

    monkeypatch.setattr(app, "FollowerCheckpoint", Spy)
    with own_venue(tmp_path, snapshot_every=3, keep_journal=keep) as (_, _, trader):
        for i in range(8):
            trader.place_order("BTCUSDT", "buy", "0.001", str(60_000 + i))
    assert asked and set(asked) == {not keep}  # what pruning does: tests/unit/venue/test_recovery.py
