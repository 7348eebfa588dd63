"""Snapshots: which kernels pickle, exact round trips of an exchange, atomic files, checks."""

from __future__ import annotations

import pickle
import re
import struct
import zlib

import pytest

from perpsim.engine.book_types import make_book
from perpsim.risk.liqindex import LONG, SHORT, LiquidationIndex
from perpsim.venue import snapshot as S
from perpsim.venue.snapshot import SnapshotError, list_snapshots, load_latest, read_snapshot, write_snapshot


def cython_book_pickles() -> bool:
    try:
        pickle.dumps(make_book("cython"))
    except TypeError:
        return False
    return True


def test_liquidation_index_pickles():
    li = LiquidationIndex()
    for k in range(200):
        li.upsert(k, LONG if k % 3 else SHORT, 10_000 + (k * 7919) % 1_000)
    li.remove(17)
    back = pickle.loads(pickle.dumps(li))
    back.check_integrity()
    assert back.state_hash() == li.state_hash() and back.entries() == li.entries()
    assert back.triggered(10_500) == li.triggered(10_500) and back.nearest(10_400) == li.nearest(10_400)


def test_reference_book_pickles(session, exchange_factory):
    ex = exchange_factory("ref")
    for cmd in session(2, 300):
        ex.apply(cmd)
    book = ex.markets["BTCUSDT"].book
    back = pickle.loads(pickle.dumps(book))
    assert back.state_hash() == book.state_hash() and back.orders() == book.orders()


def test_cython_book_pickles(session, exchange_factory):
    """The Cython book pickles through its __reduce__ (rebuilt from its resting orders)."""
    if not cython_book_pickles():
        pytest.skip("the Cython book has no __reduce__ in this build")
    ex = exchange_factory("cython")
    for cmd in session(3, 400):
        ex.apply(cmd)
    book = ex.markets["BTCUSDT"].book
    back = pickle.loads(pickle.dumps(book))
    back.check_integrity()
    assert back.state_hash() == book.state_hash() and back.orders() == book.orders()


def test_an_unpicklable_state_is_refused_and_nothing_written(tmp_path):
    class State:  # a local class does not pickle
        def state_hash(self):
            return "0"

    with pytest.raises(SnapshotError, match="does not pickle"):
        write_snapshot(tmp_path, 1, State())
    assert not list(tmp_path.iterdir())


def test_the_ledger_pickles_plainly(exchange_factory):
    """The ledger's balances are plain dicts: no special pickling, and a loaded ledger keeps
    booking new holders."""
    ex = exchange_factory("ref")
    assert pickle.loads(pickle.dumps(ex)).state_hash() == ex.state_hash()
    back = pickle.loads(S.dumps(ex))
    assert back.state_hash() == ex.state_hash()
    back.ledger.move("USDT", ("outside", 0), ("wallet", 99), 5)
    assert back.ledger.wallet(99, "USDT") == 5
    assert back.ledger.deposited["USDT"] == ex.ledger.deposited.get("USDT", 0) + 5


@pytest.mark.parametrize("impl", ["ref", "cython"])
def test_snapshot_round_trip(tmp_path, session, exchange_factory, impl):
    """A snapshot restores the exact state: same hash, and the same events for every later command."""
    if impl == "cython" and not cython_book_pickles():
        ex = exchange_factory(impl)
        with pytest.raises(SnapshotError, match="Cython"):
            write_snapshot(tmp_path, 0, ex)
        assert not list(tmp_path.iterdir())  # nothing written, no temporary file left
        return
    cmds = list(session(5, 900))
    ex = exchange_factory(impl)
    for cmd in cmds[:600]:
        ex.apply(cmd)
    path = write_snapshot(tmp_path, 600, ex)
    assert path.name == f"{600:020d}.snap"
    seq, back = read_snapshot(path)
    assert seq == 600 and back.state_hash() == ex.state_hash()
    for cmd in cmds[600:]:
        assert back.apply(cmd) == ex.apply(cmd)
    assert back.state_hash() == ex.state_hash()
    back.check_integrity()


def test_keep_last_n_and_load_latest(tmp_path, session, exchange_factory):
    ex = exchange_factory()
    hashes = {}
    for i, cmd in enumerate(list(session(6, 100))[:100], start=1):
        ex.apply(cmd)
        if i % 10 == 0:
            write_snapshot(tmp_path, i, ex, keep=3)
            hashes[i] = ex.state_hash()
    assert [s for s, _ in list_snapshots(tmp_path)] == [80, 90, 100]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{s:020d}.snap" for s in (80, 90, 100)]
    seq, state = load_latest(tmp_path)
    assert seq == 100 and state.state_hash() == hashes[100]
    assert load_latest(tmp_path / "none") is None


def flip(path, at):
    data = bytearray(path.read_bytes())
    data[at] ^= 0x10
    path.write_bytes(data)


def test_corrupt_snapshot_is_refused_and_load_latest_falls_back(tmp_path, exchange_factory, session):
    ex = exchange_factory()
    cmds = list(session(7, 40))
    for cmd in cmds[:20]:
        ex.apply(cmd)
    write_snapshot(tmp_path, 20, ex)
    h20 = ex.state_hash()
    for cmd in cmds[20:]:
        ex.apply(cmd)
    newest = write_snapshot(tmp_path, 40, ex)
    flip(newest, newest.stat().st_size // 2)
    with pytest.raises(SnapshotError, match="CRC mismatch"):
        read_snapshot(newest)
    errors = []
    seq, state = load_latest(tmp_path, errors=errors)
    assert seq == 20 and state.state_hash() == h20
    assert len(errors) == 1 and str(newest) in errors[0]


def test_state_hash_recorded_at_write_is_checked(tmp_path, exchange_factory):
    path = write_snapshot(tmp_path, 1, exchange_factory())
    data = bytearray(path.read_bytes())
    assert struct.unpack_from("<H", data, 16) == (32,)  # a 32-hex-digit blake2b-128 hash at offset 18
    data[18] = ord("0") if data[18] != ord("0") else ord("1")  # a different recorded hash...
    data[-4:] = struct.pack("<I", zlib.crc32(bytes(data[:-4])))  # ...with a valid CRC
    path.write_bytes(data)
    with pytest.raises(SnapshotError, match="state hash"):
        read_snapshot(path)


def test_not_a_snapshot(tmp_path):
    p = tmp_path / f"{5:020d}.snap"
    p.write_bytes(b"garbage")
    with pytest.raises(SnapshotError, match="not a perpsim snapshot"):
        read_snapshot(p)
    assert load_latest(tmp_path) is None


def test_a_snapshot_of_another_build_is_refused(tmp_path, exchange_factory, session, monkeypatch):
    """A pickle is only as good as the classes it loads into: another build's snapshot is
    refused by name, and load_latest falls back past it."""
    ex = exchange_factory()
    for cmd in session(9, 30):
        ex.apply(cmd)
    ours = write_snapshot(tmp_path, 10, ex)
    monkeypatch.setattr(S, "build_id", lambda: "0.0.1+0123456789abcdef")
    theirs = write_snapshot(tmp_path, 30, ex)
    monkeypatch.undo()
    assert S.build_id() != "0.0.1+0123456789abcdef"
    with pytest.raises(SnapshotError, match=r"written by perpsim build 0\.0\.1\+0123456789abcdef, this is "):
        read_snapshot(theirs)
    errors = []
    seq, state = load_latest(tmp_path, errors=errors)
    assert seq == 10 and state.state_hash() == ex.state_hash() and str(theirs) in errors[0]
    assert read_snapshot(ours)[0] == 10


def test_a_snapshot_of_the_format_before_build_ids_is_refused(tmp_path, exchange_factory):
    path = write_snapshot(tmp_path, 1, exchange_factory())
    data = bytearray(path.read_bytes())
    data[:8] = b"PSSNAP\x00\x01"
    data[-4:] = struct.pack("<I", zlib.crc32(bytes(data[:-4])))
    path.write_bytes(data)
    with pytest.raises(SnapshotError, match="older perpsim"):
        read_snapshot(path)


def test_the_build_id_names_the_version_and_digests_the_state_code():
    import importlib
    from pathlib import Path

    version, _, digest = S.build_id().partition("+")
    assert version and re.fullmatch(r"[0-9a-f]{16}", digest)
    # it digests source, not binaries (a rebuild of the same source keeps the id), so the
    # installed package must ship the source of its compiled kernels
    for package, kernels in (("perpsim.engine", ["book"]), ("perpsim.risk", ["liqindex", "margin_kernel"])):
        folder = Path(importlib.import_module(package).__file__).parent
        assert all((folder / f"{k}.pyx").is_file() for k in kernels), package
