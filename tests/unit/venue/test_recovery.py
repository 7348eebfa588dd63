"""Recovery: snapshot + journal tail reproduces the state hash of an exchange fed the same
commands; snapshots and the journal that do not fit together are refused."""

from __future__ import annotations

import dataclasses
import shutil

import pytest

from perpsim.venue.codec import canonical, decode, encode
from perpsim.venue.journal import Journal
from perpsim.venue.journal_format import JournalCorrupt
from perpsim.venue.recovery import JOURNAL_DIR, SNAPSHOT_DIR, RecoveryError, checkpoint, recover
from perpsim.venue.snapshot import list_snapshots


def run_venue(data_dir, cmds, make_exchange, *, batch=16, checkpoint_every=None, keep=3, prune=True,
              segment_bytes=1 << 20):
    """What the sequencer does: journal each command, apply what was journaled, commit per batch;
    optionally checkpoint. Returns the live exchange (the oracle) and the last seq."""
    ex = make_exchange()
    with Journal(data_dir / JOURNAL_DIR, segment_bytes=segment_bytes) as j:
        for i, cmd in enumerate(cmds, start=1):
            data = encode(cmd)
            seq = j.append(data)
            assert seq == i
            ex.apply(decode(data))
            if i % batch == 0:
                j.commit()
            if checkpoint_every and i % checkpoint_every == 0:
                j.commit()
                checkpoint(data_dir, j, ex, i, keep=keep, prune=prune)
        last = j.commit()
    return ex, last


@pytest.mark.parametrize("impl", ["ref", "cython"])
def test_recovery_reproduces_state_hash(tmp_path, session, exchange_factory, impl):
    cmds = list(session(21, 700))
    live, last = run_venue(tmp_path, cmds, lambda: exchange_factory(impl))
    ex, seq, report = recover(tmp_path, lambda: exchange_factory(impl))
    assert seq == last == len(cmds)
    assert ex.state_hash() == live.state_hash()
    ex.check_integrity()
    assert (report.snapshot_seq, report.replayed, report.last_seq, report.truncated_bytes) == (None, len(cmds), seq, 0)
    assert report.duration_s >= report.replay_s > 0


def test_decoded_commands_behave_like_the_originals(session, exchange_factory):
    """Decoded commands carry plain ints where the originals had IntEnums: the same events."""
    a, b = exchange_factory(), exchange_factory()
    for cmd in session(22, 300):
        assert a.apply(cmd) == b.apply(canonical(cmd))
    a.check_integrity()
    b.check_integrity()


def test_state_hash_does_not_depend_on_intenum_vs_int(session, exchange_factory):
    a, b = exchange_factory(), exchange_factory()
    for cmd in session(22, 300):
        a.apply(cmd)
        b.apply(canonical(cmd))
    assert a.state_hash() == b.state_hash()


def test_snapshot_plus_tail_equals_full_replay(tmp_path, session, exchange_factory):
    cmds = list(session(23, 800))
    live, last = run_venue(tmp_path, cmds, exchange_factory, checkpoint_every=250, prune=False)
    assert [s for s, _ in list_snapshots(tmp_path / SNAPSHOT_DIR)] == [250, 500, 750]
    ex, seq, report = recover(tmp_path, exchange_factory)
    assert report.snapshot_seq == 750 and report.replayed == last - 750 and seq == last
    assert ex.state_hash() == live.state_hash()
    # the same journal without snapshots: a full replay lands on the same state
    full = tmp_path / "full"
    shutil.copytree(tmp_path / JOURNAL_DIR, full / JOURNAL_DIR)
    ex_full, seq_full, report_full = recover(full, exchange_factory)
    assert report_full.snapshot_seq is None and report_full.replayed == last
    assert ex_full.state_hash() == ex.state_hash() and seq_full == seq
    # and the restored state keeps evolving identically
    for cmd in session(24, 100):
        cmd = canonical(dataclasses.replace(cmd, ts=cmd.ts + live.ts))
        assert ex.apply(cmd) == live.apply(cmd) == ex_full.apply(cmd)
    assert ex.state_hash() == live.state_hash() == ex_full.state_hash()


def test_checkpoint_prunes_what_no_kept_snapshot_needs(tmp_path, session, exchange_factory):
    cmds = list(session(25, 900))
    live, last = run_venue(tmp_path, cmds, exchange_factory, checkpoint_every=200, keep=2, segment_bytes=4_000)
    with Journal(tmp_path / JOURNAL_DIR, readonly=True) as j:
        assert 1 < j.first_seq <= 601  # the oldest kept snapshot is at 600
    ex, seq, report = recover(tmp_path, exchange_factory)
    assert report.snapshot_seq == 800 and ex.state_hash() == live.state_hash()
    # the newest snapshot broken: falls back to the older one, whose tail is still there
    newest = list_snapshots(tmp_path / SNAPSHOT_DIR)[-1][1]
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 1
    newest.write_bytes(data)
    ex, seq, report = recover(tmp_path, exchange_factory)
    assert report.snapshot_seq == 600 and len(report.skipped_snapshots) == 1 and report.notes
    assert ex.state_hash() == live.state_hash() and seq == last
    # both broken: a full replay is needed but the start of the journal was pruned
    oldest = list_snapshots(tmp_path / SNAPSHOT_DIR)[0][1]
    oldest.write_bytes(b"nothing")
    with pytest.raises(RecoveryError, match="pruned"):
        recover(tmp_path, exchange_factory)


def test_checkpoint_needs_a_durable_seq(tmp_path, exchange_factory):
    with Journal(tmp_path / JOURNAL_DIR) as j:
        j.append(b"\x0d\x01" + bytes(8))
        with pytest.raises(ValueError, match="not durable"):
            checkpoint(tmp_path, j, exchange_factory(), 1)


def test_recovery_truncates_a_torn_tail(tmp_path, session, exchange_factory):
    cmds = list(session(26, 200))
    run_venue(tmp_path, cmds, exchange_factory)
    (seg,) = (tmp_path / JOURNAL_DIR).glob("*.seg")
    data = seg.read_bytes()
    seg.write_bytes(data[:-5])  # the last record cut short: as if never acknowledged
    oracle = exchange_factory()
    for cmd in cmds[:-1]:
        oracle.apply(canonical(cmd))
    ex, seq, report = recover(tmp_path, exchange_factory)
    assert seq == len(cmds) - 1 and report.truncated_bytes > 0
    assert ex.state_hash() == oracle.state_hash()


def test_recovery_refuses_a_corrupt_journal(tmp_path, session, exchange_factory, dir_digest):
    run_venue(tmp_path, list(session(27, 100)), exchange_factory)
    (seg,) = (tmp_path / JOURNAL_DIR).glob("*.seg")
    data = bytearray(seg.read_bytes())
    data[100] ^= 0xFF
    seg.write_bytes(data)
    before = dir_digest(tmp_path)
    with pytest.raises(JournalCorrupt):
        recover(tmp_path, exchange_factory)
    assert dir_digest(tmp_path) == before


def test_snapshot_without_journal(tmp_path, session, exchange_factory):
    cmds = list(session(28, 100))[:100]
    run_venue(tmp_path, cmds, exchange_factory, checkpoint_every=50, prune=False)
    shutil.rmtree(tmp_path / JOURNAL_DIR)
    with pytest.raises(RecoveryError, match="no segment"):
        recover(tmp_path, exchange_factory)
    assert not (tmp_path / JOURNAL_DIR).exists()  # nothing created by the refusal
    ex, seq, report = recover(tmp_path, exchange_factory, allow_new_journal=True)
    assert seq == report.snapshot_seq == 100 and report.replayed == 0 and ex.ts > 1
    with Journal(tmp_path / JOURNAL_DIR) as j:
        assert j.append(b"x") == 101  # the new journal continues after the snapshot


def test_snapshot_ahead_of_the_journal(tmp_path, session, exchange_factory):
    cmds = list(session(29, 100))[:100]
    run_venue(tmp_path, cmds, exchange_factory, checkpoint_every=100, prune=False)
    (seg,) = (tmp_path / JOURNAL_DIR).glob("*.seg")
    data = seg.read_bytes()
    seg.write_bytes(data[:-1])  # the last (acknowledged!) record lost: snapshot 100, journal 99
    with pytest.raises(RecoveryError, match="snapshot is at seq 100 but the journal ends at 99"):
        recover(tmp_path, exchange_factory)


def test_progress_and_an_open_journal(tmp_path, session, exchange_factory):
    cmds = list(session(30, 300))
    live, last = run_venue(tmp_path, cmds, exchange_factory)
    calls = []
    with Journal(tmp_path / JOURNAL_DIR) as j:
        ex, seq, report = recover(tmp_path, exchange_factory, journal=j, progress=lambda d, t: calls.append((d, t)),
                                  progress_every=100)
        assert ex.state_hash() == live.state_hash() and seq == report.last_seq == last
        assert calls == [(100, last), (200, last), (300, last), (last, last)]
        assert j.append(b"y") == last + 1  # the server keeps appending to the same journal


def test_a_command_that_fails_on_replay_names_its_seq(tmp_path, exchange_factory):
    with Journal(tmp_path / JOURNAL_DIR) as j:
        j.append(b"\xfe\x01")
        j.commit()
    with pytest.raises(RecoveryError, match="seq 1 failed"):
        recover(tmp_path, exchange_factory)


def test_another_builds_snapshots_mean_a_full_replay_or_a_clear_error(tmp_path, session, exchange_factory,
                                                                      monkeypatch):
    """After an upgrade no snapshot loads: the whole journal is replayed when it is all there,
    and when its start was pruned the error says which build wrote the snapshots."""
    from perpsim.venue import snapshot as S

    cmds = list(session(27, 400))
    monkeypatch.setattr(S, "build_id", lambda: "0.0.1+0123456789abcdef")
    live, last = run_venue(tmp_path / "kept", cmds, exchange_factory, checkpoint_every=100, prune=False)
    run_venue(tmp_path / "pruned", cmds, exchange_factory, checkpoint_every=100, keep=1, segment_bytes=4_000)
    monkeypatch.undo()
    ex, seq, report = recover(tmp_path / "kept", exchange_factory)
    assert report.snapshot_seq is None and report.replayed == last == seq and len(report.skipped_snapshots) == 3
    assert ex.state_hash() == live.state_hash()
    with pytest.raises(RecoveryError, match=r"pruned \(no snapshot loaded\); .*written by perpsim build 0\.0\.1"
                       r".*keep_journal = true keeps every segment"):
        recover(tmp_path / "pruned", exchange_factory)
