"""Pruning renames segments out under the commit lock and frees them after it: commits never
wait for the freeing, and a crash in between leaves only `.seg.pruned` files, which opening
ignores and the next prune removes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from perpsim.venue import journal_segments
from perpsim.venue.journal import Journal
from perpsim.venue.journal_segments import PRUNED_SUFFIX


def payload(seq: int) -> bytes:
    return b"%d:" % seq * 20


def fill(path: Path, n: int) -> None:
    with Journal(path, segment_bytes=800) as j:
        for s in range(1, n + 1):
            j.append(payload(s))
            if s % 5 == 0:
                j.commit()
        j.commit()


def leftovers(path: Path) -> list[Path]:
    return sorted(path.glob("*" + PRUNED_SUFFIX))


def test_prune_frees_the_segments_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "j"
    fill(path, 300)
    with Journal(path, segment_bytes=800) as j:
        removed = j.prune(150)
        assert removed and not any(p.exists() for p in removed)
        assert leftovers(path) == []
        first = j.first_seq
        assert [s for s, _ in j.replay(first)] == list(range(first, 301))


def test_commits_go_on_while_pruned_segments_are_freed(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "j"
    fill(path, 300)
    freeing, release = threading.Event(), threading.Event()
    real = journal_segments.remove_gradually

    def slow_disk(p: Path, step: int) -> None:  # the freeing of a 64 MB segment takes a while
        freeing.set()
        release.wait(10)
        real(p, step)

    monkeypatch.setattr(journal_segments, "remove_gradually", slow_disk)
    with Journal(path, segment_bytes=800) as j:
        pruner = threading.Thread(target=j.prune, args=(150,))
        pruner.start()
        try:
            assert freeing.wait(10)
            committed: list[int] = []
            writer = threading.Thread(target=lambda: (j.append(b"during"), committed.append(j.commit())))
            writer.start()
            writer.join(5)
            assert committed == [301], "a commit waited for the pruned segments to be freed"
            assert leftovers(path)  # still being freed
        finally:
            release.set()
            pruner.join(10)
        assert leftovers(path) == []
    assert [s for s, _ in Journal(path, readonly=True).replay(j.first_seq)][-1] == 301


def test_a_crash_before_the_freeing_leaves_files_that_are_ignored_then_removed(tmp_path: Path) -> None:
    path = tmp_path / "j"
    fill(path, 300)
    with Journal(path, readonly=True) as j:
        before = [(s, p) for s, p in j.replay(1)]
        segments = j.segment_paths()
    # a venue process killed (SIGKILL) right after the renames, before anything was freed
    child = textwrap.dedent(f"""
        import os, signal
        from perpsim.venue import journal, journal_segments
        journal_segments.remove_gradually = lambda p, step: os.kill(os.getpid(), signal.SIGKILL)
        j = journal.Journal({str(path)!r}, segment_bytes=800)
        j.prune(150)
    """)
    died = subprocess.run([sys.executable, "-c", child], capture_output=True, timeout=60)
    assert died.returncode == -9, died.stderr.decode()
    left = leftovers(path)
    assert left and all(p.stat().st_size > 0 for p in left)
    with Journal(path, segment_bytes=800) as j:
        assert j.open_report.segments == len(segments) - len(left)
        first = j.first_seq
        assert first > 1 and list(j.replay(first)) == before[first - 1:]
        assert j.append(b"after") == 301
        j.commit()
        assert leftovers(path) == left  # opening only ignores them
        j.prune(first)  # nothing more to prune: the leftovers are freed all the same
        assert leftovers(path) == []
        assert [s for s, _ in j.replay(first)] == list(range(first, 302))
