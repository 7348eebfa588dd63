"""The snapshot follower under a stream of every kind of command, with checkpoints every few
dozen commands, requested ones between them and a follower killed midway: the real sequencer,
journal and follower process (no gRPC in front). Every snapshot on disk must hold exactly the
state, registry and history the journal replays to at its seq."""

from __future__ import annotations

import asyncio
import functools
import os
import random
import signal
from pathlib import Path

import pytest

from perpsim.venue import codec, snapshot
from perpsim.venue.checkpoint import CheckpointFailed
from perpsim.venue.config import VenueConfig
from perpsim.venue.follower_checkpoint import FollowerCheckpoint
from perpsim.venue.initial_state import make_state
from perpsim.venue.journal import Journal
from perpsim.venue.recovery import JOURNAL_DIR, SNAPSHOT_DIR
from perpsim.venue.sequencer import Clock, Sequencer
from perpsim.venue.snapshot_follower import FollowerSpec
from perpsim.venue.state import stamped
from tests.unit.venue.conftest import random_session

COMMANDS = 6_000
CHECKPOINT_EVERY = 37


async def drive(sequencer: Sequencer, ck: FollowerCheckpoint, cmds: list, rng: random.Random) -> list[int]:
    """Clients submitting units of 1-20 commands concurrently, a checkpoint asked for now and
    then, and the follower SIGKILLed once; the seqs of the checkpoints answered."""
    answered: list[int] = []
    units = []
    i = 0
    while i < len(cmds):
        n = rng.randint(1, 20)
        units.append(cmds[i:i + n])
        i += n

    async def client(mine: list) -> None:
        for unit in mine:
            await sequencer.submit_many([functools.partial(stamped, c) for c in unit])
            if rng.random() < 0.05:
                try:
                    answered.append(await sequencer.request_checkpoint())
                except CheckpointFailed:  # the one the killed follower was writing
                    pass

    async def killer() -> None:
        while ck.ready_seq is None or ck.written < 3:
            await asyncio.sleep(0.01)
        os.kill(ck.follower_pid, signal.SIGKILL)

    killing = asyncio.create_task(killer())
    # (units stay in order within a client; clients interleave: the journal says the order)
    await asyncio.gather(*(client(units[k::4]) for k in range(4)))
    await killing
    answered.append(await sequencer.request_checkpoint())
    return answered


@pytest.mark.slow
def test_every_follower_snapshot_is_the_state_its_seq_replays_to(tmp_path: Path) -> None:
    cfg = VenueConfig(data_dir=tmp_path, feed=False, liquidity=False, metrics_listen="", rest_listen="off")
    journal = Journal(tmp_path / JOURNAL_DIR)
    ck = FollowerCheckpoint(tmp_path, lambda: sequencer.state, lambda: sequencer.journal, keep=10_000,
                            follower=FollowerSpec(tmp_path, functools.partial(make_state, cfg)))
    sequencer = Sequencer(make_state(cfg), Clock(), journal, codec, ck, CHECKPOINT_EVERY)
    sequencer.batch_listeners.append(ck.observe_batch)
    cmds = list(random_session(20261207, COMMANDS))

    async def main() -> list[int]:
        sequencer.start()
        try:
            return await drive(sequencer, ck, cmds, random.Random(7))
        finally:
            await sequencer.stop()

    try:
        answered = asyncio.run(main())
        ck.wait_idle(60)
        live = sequencer.state
        assert answered[-1] == journal.durable_seq
    finally:
        ck.close()
        journal.close()
    assert ck.followers >= 2 and not ck.forking, "the killed follower was not replaced"
    written = dict(snapshot.list_snapshots(tmp_path / SNAPSHOT_DIR))
    assert set(answered) <= set(written) and len(written) >= 10, (answered, sorted(written))
    replayed = make_state(cfg)
    with Journal(tmp_path / JOURNAL_DIR, readonly=True) as j:
        for seq, payload in j.replay(1):
            replayed.apply(codec.decode(payload))
            if seq in written:
                _, state = snapshot.read_snapshot(written[seq])
                assert state.state_hash() == replayed.state_hash(), f"snapshot at seq {seq}"
                assert state.history.digest() == replayed.history.digest(), f"history of the snapshot at seq {seq}"
    assert replayed.state_hash() == live.state_hash() and replayed.history.digest() == live.history.digest()
