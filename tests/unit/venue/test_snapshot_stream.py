"""A snapshot's pickle streamed into its file (venue/snapshot_stream.py): the CRC combined from
its parts, the file the bytes of the one-shot format, written out in chunks, paced, and nothing
left behind when the state does not pickle."""

from __future__ import annotations

import dataclasses
import os
import pickle
import struct
import time
import zlib

import pytest

from perpsim.venue import files, snapshot, snapshot_stream
from perpsim.venue.snapshot_stream import crc32_combine, write_pickled

from .conftest import written_out_ranges


@pytest.mark.parametrize(("n1", "n2"), [(0, 0), (0, 7), (7, 0), (1, 1), (13, 255), (4096, 65_537), (3, 1 << 20)])
def test_crc32_combine_is_the_crc_of_the_concatenation(n1, n2):
    a, b = os.urandom(n1), os.urandom(n2)
    assert crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


def test_the_streamed_file_is_head_pickle_crc_with_the_length_filled_in(tmp_path):
    obj = {"orders": [(i, str(i) * 3, i * 7) for i in range(20_000)], "blob": os.urandom(100_000)}
    head = b"HEAD" + struct.pack("<Q", 0) + b"tail-of-head"
    path = tmp_path / "x.bin"
    tmp = write_pickled(path, head, 4, obj, sync_every=4096)
    data = path.read_bytes()
    body_len = struct.unpack_from("<Q", data, 4)[0]
    final_head = b"HEAD" + struct.pack("<Q", body_len) + b"tail-of-head"
    body = data[len(head):-4]
    assert data[:len(head)] == final_head and len(body) == body_len
    assert struct.unpack("<I", data[-4:])[0] == zlib.crc32(data[:-4])
    assert pickle.loads(body) == obj
    assert not tmp.exists() and [p.name for p in tmp_path.iterdir()] == ["x.bin"]


def test_the_stream_is_written_out_chunk_by_chunk(tmp_path, monkeypatch):
    ranges = written_out_ranges(monkeypatch, snapshot_stream)
    write_pickled(tmp_path / "x.bin", b"H" * 20 + bytes(8), 20, os.urandom(300_000), sync_every=64 << 10)
    # contiguous from the end of the head, each at least sync_every long
    assert ranges and ranges[0][0] == 28
    assert all(o == ranges[i - 1][0] + ranges[i - 1][1] for i, (o, _) in enumerate(ranges) if i)
    assert all(n >= 64 << 10 for _, n in ranges)


def test_a_paced_stream_sleeps_its_share(tmp_path):
    """At duty d the writer is off the CPU (1 - d) / d of the CPU time it spent writing."""
    fd = os.open(tmp_path / "paced.bin", os.O_WRONLY | os.O_CREAT)
    try:
        body = snapshot_stream._Body(fd, 0, 0, 0.25)
        cpu0, wall0 = time.thread_time(), time.monotonic()
        for _ in range(20):
            end = time.thread_time() + 0.002
            while time.thread_time() < end:  # 2 ms of CPU between two frames
                pass
            body.write(b"x" * 1000)
        cpu, wall = time.thread_time() - cpu0, time.monotonic() - wall0
    finally:
        os.close(fd)
    assert body.length == 20_000
    # off the CPU 3x the CPU time it paced (40 ms); the test's own CPU count also holds the
    # sleeps' system calls, which are not paced: 2.5x is the bound that cannot fail by accident
    assert wall - cpu >= 2.5 * cpu


def test_a_state_that_fails_midway_leaves_no_file(tmp_path):
    class Refuses:
        def __reduce__(self):
            raise TypeError("no")

    with pytest.raises(TypeError):
        write_pickled(tmp_path / "x.bin", bytes(8), 0, [os.urandom(200_000), Refuses()], sync_every=4096)
    assert list(tmp_path.iterdir()) == []


def test_a_bad_duty_is_refused(tmp_path):
    for duty in (0.0, -1.0, 1.5):
        with pytest.raises(ValueError, match="duty"):
            write_pickled(tmp_path / "x.bin", bytes(8), 0, 1, duty=duty)
    assert list(tmp_path.iterdir()) == []


class _Book:
    """A picklable stand-in for a state: its hash names its contents."""

    def __init__(self, blob: bytes) -> None:
        self.blob = blob

    def state_hash(self) -> str:
        return f"{len(self.blob):x}"


def test_a_streamed_paced_snapshot_has_the_bytes_of_one_pickled_at_once(tmp_path):
    """Same format as before streaming: head, body_len, the pickle of the state, the CRC of it all."""
    state = _Book(os.urandom(50_000))
    path = snapshot.write_snapshot(tmp_path, 7, state, sync_every=4096, duty=0.5)
    hash_, build = state.state_hash().encode(), snapshot.build_id().encode()
    body = pickle.dumps(state, protocol=5)
    head = snapshot.MAGIC + struct.pack("<QH", 7, len(hash_)) + hash_ + struct.pack("<H", len(build)) + build \
        + struct.pack("<Q", len(body))
    assert path.read_bytes() == head + body + struct.pack("<I", zlib.crc32(head + body))
    seq, loaded = snapshot.read_snapshot(path, check_integrity=False)
    assert seq == 7 and loaded.blob == state.blob


def test_files_write_out_is_what_the_stream_uses():
    """One way to push a range to the device (files._write_out), shared with write_atomic."""
    assert snapshot_stream._write_out is files._write_out


def test_an_order_record_pickles_as_its_fields_and_comes_back_whole():
    """The registry's OrderInfo pickles by position (one attrgetter, not a field lookup per
    object): every field back, those the history writes onto it too."""
    from perpsim.venue.state import OrderInfo

    o = OrderInfo(7, 3, "BTCUSDT", "cid-7", 1, 0, 1, 650_000, 12, False, 0, filled=5, status="PARTIALLY_FILLED",
                  cum_quote=3_250_000, time_ns=11, update_ns=22, placed_by=("STOP", 640_000), placement=("cmd", 1))
    back = pickle.loads(pickle.dumps(o, protocol=5))
    assert type(back) is OrderInfo
    names = [f.name for f in dataclasses.fields(OrderInfo)]
    assert [getattr(back, f) for f in names] == [getattr(o, f) for f in names]
