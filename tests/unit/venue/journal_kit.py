"""What the journal tests share: records framed by hand, journals filled in committed batches, and
a real writer process killed with SIGKILL (mid-batch when asked)."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
import zlib
from collections.abc import Callable
from pathlib import Path

from perpsim.venue.journal import Journal


def payload(seq: int) -> bytes:
    """A deterministic payload of varying length for record `seq`."""
    return (b"%d:" % seq) * (1 + seq % 7)


def frame(seq: int, body: bytes) -> bytes:
    """Record `seq` as the journal writes it: length, CRC-32 of seq and body, seq, body."""
    sb = struct.pack("<Q", seq)
    return struct.pack("<II", 8 + len(body), zlib.crc32(body, zlib.crc32(sb))) + sb + body


def the_segment(path: Path) -> Path:
    """The journal directory's only segment."""
    (seg,) = sorted(path.glob("*.seg"))
    return seg


def append_upto(journal: Journal, upto: int, make: Callable[[int], bytes] = payload, every: int = 5) -> None:
    """Appends make(seq) for every seq after journal.last_seq up to `upto`, committing each `every`
    seqs and at the end."""
    for seq in range(journal.last_seq + 1, upto + 1):
        journal.append(make(seq))
        if seq % every == 0:
            journal.commit()
    journal.commit()


def crash_payload(seq: int) -> bytes:
    """The payload CRASH_WRITER appends as record `seq`."""
    return (b"%d:" % seq) * (1 + seq % 97)


#: argv: journal path, tear_after, the Journal's keyword arguments as JSON. Prints "open <last_seq>",
#: then each acknowledged seq; with tear_after > 0, after that many commits it writes half a batch
#: (never exactly up to a record's end), prints "torn" and waits to be killed.
CRASH_WRITER = textwrap.dedent("""
    import json, os, sys, time
    from perpsim.venue.journal import Journal

    def payload(seq):
        return (b"%d:" % seq) * (1 + seq % 97)

    j = Journal(sys.argv[1], **json.loads(sys.argv[3]))
    tear_after = int(sys.argv[2])
    print("open", j.last_seq, j.open_report.truncated_bytes, flush=True)
    batch, commits = 1, 0
    while True:
        for _ in range(batch):
            seq = j.last_seq + 1
            assert j.append(payload(seq)) == seq
        if commits == tear_after > 0:  # what a power cut in the middle of the write leaves
            data = b"".join(j._buf)
            ends, total = set(), 0
            for i in range(0, len(j._buf), 2):
                total += len(j._buf[i]) + len(j._buf[i + 1])
                ends.add(total)
            cut = len(data) // 2 + (len(data) // 2 in ends)  # never exactly between two records
            os.write(j._fd, data[:cut])
            print("torn", flush=True)
            time.sleep(60)
        print(j.commit(), flush=True)  # acknowledged only once durable
        commits += 1
        batch = batch % 37 + 1
""")


def kill_a_writer(path: Path, commits: int, tear: int, acked: int, **journal_kw) -> int:
    """Runs CRASH_WRITER on `path` until it has acknowledged `commits` commits (and, with `tear`,
    torn the batch after that many), then SIGKILLs it. Checks the writer opened at or past `acked`;
    returns the highest seq acknowledged so far."""
    child = subprocess.Popen([sys.executable, "-c", CRASH_WRITER, str(path), str(tear), json.dumps(journal_kw)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stderr is not None
    try:
        first = child.stdout.readline().split()
        assert first[:1] == ["open"] and int(first[1]) >= acked, (first, child.stderr.read())
        for _ in range(commits):
            line = child.stdout.readline()
            assert line, child.stderr.read()
            acked = max(acked, int(line))
        if tear:
            assert child.stdout.readline() == "torn\n"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    return acked
