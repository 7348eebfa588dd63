"""Crash safety of `perpsim serve`: SIGKILL mid-load, restart on the same data directory, check.

The venue runs as a real subprocess (the `perpsim serve` CLI) on a fresh data directory, with no
feed and no liquidity provider, no rate limit and frequent snapshots (so that recovery goes
through snapshot + journal tail, not only through a full replay). Client threads place a stream
of limit orders with unique client order ids, about half of them crossing, through the raw
generated stubs. Every order whose response was received is *acknowledged*; the server is
SIGKILLed at random points of the load, three times, and restarted each time. After every
restart:

* every acknowledged order is still there: the identical PlaceOrderRequest (same
  client_order_id) returns the same order_id and terms, and places nothing (the retry is
  journaled as a no-op record; the exchange's state hash, which covers the next order id, stays);
* the open orders of each account are exactly the acknowledged (or in-flight) orders that the
  registry says are open, and positions net to zero per market across accounts;
* in-flight orders (sent, no response) are either fully there or not at all: their retry finds
  the order (the exchange hash does not move) or places it anew (one journal record either way).

At the end the live, idle server's GetVenueState.state_hash must equal the hash of a fresh
in-process recovery of a copy of its data directory — both from snapshot + tail and from the
journal alone — and the recovered state must pass the exchange's integrity checks.

A second test flips one byte in the middle of a journal segment: `perpsim serve` must refuse to
start, exit non-zero and say why.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from perpsim.v1 import (
    account_pb2,
    account_pb2_grpc,
    common_pb2,
    sandbox_pb2,
    sandbox_pb2_grpc,
    trading_pb2,
    trading_pb2_grpc,
)
from perpsim.venue.config import VenueConfig
from perpsim.venue.initial_state import make_exchange
from perpsim.venue.recovery import JOURNAL_DIR, SNAPSHOT_DIR, recover
from perpsim.venue.snapshot import list_snapshots
from perpsim.venue.state import VenueState

ADMIN_KEY = "crash-test-admin-key"
ACCOUNTS = 4  # one client thread per account
ROUNDS = 3  # SIGKILLs
SNAPSHOT_EVERY = 100
DEPOSIT = "1000000"
CALL_TIMEOUT = 10.0
START_TIMEOUT = 60.0
# an RPC that fails with one of these after the SIGKILL has an unknown outcome (it may be durable)
TRANSPORT_CODES = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED,
                   grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
OPEN = {common_pb2.ORDER_STATUS_NEW, common_pb2.ORDER_STATUS_PARTIALLY_FILLED}


# ---------------------------------------------------------------------------- the server process


def perpsim_command() -> list[str]:
    """`perpsim` as installed next to this interpreter, else the CLI module."""
    script = Path(sys.executable).with_name("perpsim")
    return [str(script)] if script.exists() else [sys.executable, "-m", "perpsim.cli"]


class Server:
    """One `perpsim serve` process at a time on `data_dir`; logs go to numbered files."""

    def __init__(self, data_dir: Path, logs: Path, config: Path) -> None:
        self.data_dir, self.logs, self.config = data_dir, logs, config
        self.proc: subprocess.Popen | None = None
        self.address = ""
        self.starts = 0
        self._files: list = []

    def argv(self) -> list[str]:
        return [*perpsim_command(), "serve", "--config", str(self.config), "--data-dir", str(self.data_dir),
                "--listen", "127.0.0.1:0", "--admin-key", ADMIN_KEY, "--no-feed", "--no-liquidity"]

    def spawn(self) -> tuple[subprocess.Popen, Path, Path]:
        self.starts += 1
        out_path, err_path = self.logs / f"serve-{self.starts}.out", self.logs / f"serve-{self.starts}.err"
        out, err = open(out_path, "wb"), open(err_path, "wb")
        self._files += [out, err]
        env = {k: v for k, v in os.environ.items() if k != "PERPSIM_ADMIN_KEY"}
        proc = subprocess.Popen(self.argv(), stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)
        return proc, out_path, err_path

    def start(self) -> str:
        """Start, wait for the banner and for health SERVING; the address."""
        assert self.proc is None
        proc, out_path, err_path = self.spawn()
        self.proc = proc
        deadline = time.monotonic() + START_TIMEOUT
        banner = re.compile(r"^perpsim venue listening on (\S+:\d+)$", re.M)
        while True:
            found = banner.search(out_path.read_text(errors="replace"))
            if found:
                self.address = found.group(1)
                break
            if proc.poll() is not None:
                raise AssertionError(f"perpsim serve exited with {proc.returncode} before listening:\n"
                                     f"{err_path.read_text(errors='replace')}")
            if time.monotonic() > deadline:
                raise AssertionError(f"perpsim serve did not start within {START_TIMEOUT} s")
            time.sleep(0.02)
        wait_serving(self.address, deadline)
        return self.address

    def recovery_log(self) -> str:
        """The 'recovered to journal seq' line of the current process's log."""
        text = (self.logs / f"serve-{self.starts}.err").read_text(errors="replace")
        found = re.search(r"recovered to journal seq \d+: .*", text)
        return found.group(0) if found else ""

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        assert self.proc.returncode == -signal.SIGKILL
        self.proc = None

    def stop(self) -> int:
        """Graceful stop (SIGTERM); the exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=30)
        finally:
            self.proc = None
        return code

    def close(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            self.proc.wait(timeout=30)
            self.proc = None
        for f in self._files:
            f.close()
        self._files = []


def wait_serving(address: str, deadline: float) -> None:
    with grpc.insecure_channel(address) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        while True:
            try:
                status = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1).status
                if status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{address} never reported SERVING")
            time.sleep(0.02)


def write_config(path: Path) -> Path:
    path.write_text(f'metrics_listen = ""\nrest_listen = "off"\nrate_limit_per_s = 0\n'
                    f'snapshot_every = {SNAPSHOT_EVERY}\n')
    return path


def md(key: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {key}")]


ADMIN_MD = md(ADMIN_KEY)


@dataclass
class Stubs:
    channel: grpc.Channel
    trading: trading_pb2_grpc.TradingServiceStub = field(init=False)
    accounts: account_pb2_grpc.AccountServiceStub = field(init=False)
    sandbox: sandbox_pb2_grpc.SandboxServiceStub = field(init=False)

    def __post_init__(self) -> None:
        self.trading = trading_pb2_grpc.TradingServiceStub(self.channel)
        self.accounts = account_pb2_grpc.AccountServiceStub(self.channel)
        self.sandbox = sandbox_pb2_grpc.SandboxServiceStub(self.channel)

    def venue_state(self) -> sandbox_pb2.GetVenueStateResponse:
        return self.sandbox.GetVenueState(sandbox_pb2.GetVenueStateRequest(), metadata=ADMIN_MD,
                                          timeout=CALL_TIMEOUT)


# ---------------------------------------------------------------------------- the load


@dataclass
class Sent:
    account: int  # index into the keys
    request: trading_pb2.PlaceOrderRequest
    order: trading_pb2.Order | None = None  # the acknowledged order


@dataclass
class Ledger:
    """What the clients know: acknowledged orders, orders whose outcome is unknown, errors."""

    acked: dict[str, Sent] = field(default_factory=dict)
    unknown: dict[str, Sent] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def order_request(rng: random.Random, coid: str) -> trading_pb2.PlaceOrderRequest:
    """A GTC limit order near the index: buys and sells overlap, so about half of them cross."""
    if rng.random() < 0.7:
        symbol, price, lots = "BTCUSDT", 650_000 + rng.randint(-50, 50), rng.randint(1, 5)  # 65000 ± 5
    else:
        symbol, price, lots = "ETHUSDT", 350_000 + rng.randint(-100, 100), rng.randint(10, 30)  # 3500 ± 1
    side = rng.choice((common_pb2.SIDE_BUY, common_pb2.SIDE_SELL))
    return trading_pb2.PlaceOrderRequest(symbol=symbol, side=side, type=common_pb2.ORDER_TYPE_LIMIT,
                                         quantity_lots=lots, price_ticks=price,
                                         time_in_force=common_pb2.TIME_IN_FORCE_GTC, client_order_id=coid)


def client_loop(address: str, index: int, key: str, tag: str, ledger: Ledger, killed: threading.Event,
                stop: threading.Event, seed: int, hold: threading.Event | None = None) -> None:
    """Place orders until the server dies (or `stop`), none while `hold` is set; each order's
    outcome goes to the ledger."""
    rng = random.Random(seed)
    with grpc.insecure_channel(address) as ch:
        trading = trading_pb2_grpc.TradingServiceStub(ch)
        n = 0
        while not stop.is_set():
            if hold is not None and hold.is_set():
                time.sleep(0.005)
                continue
            n += 1
            coid = f"{tag}-a{index}-{n}"
            sent = Sent(index, order_request(rng, coid))
            try:
                resp = trading.PlaceOrder(sent.request, metadata=md(key), timeout=CALL_TIMEOUT)
            except grpc.RpcError as e:
                with ledger.lock:
                    if killed.is_set() and e.code() in TRANSPORT_CODES:
                        ledger.unknown[coid] = sent
                    else:
                        ledger.errors.append(f"{coid}: {e.code()} {e.details()}")
                return
            sent.order = resp.order
            with ledger.lock:
                ledger.acked[coid] = sent


def funded_accounts(address: str) -> list[str]:
    """ACCOUNTS new accounts, each with DEPOSIT USDT: their API keys."""
    with grpc.insecure_channel(address) as ch:
        stubs = Stubs(ch)
        keys = [stubs.sandbox.CreateAccount(sandbox_pb2.CreateAccountRequest(), metadata=ADMIN_MD,
                                            timeout=CALL_TIMEOUT).api_key for _ in range(ACCOUNTS)]
        for key in keys:
            stubs.accounts.Deposit(account_pb2.DepositRequest(asset="USDT", amount=DEPOSIT), metadata=md(key),
                                   timeout=CALL_TIMEOUT)
    return keys


def run_load_and_kill(server: Server, keys: list[str], ledger: Ledger, tag: str, acks: int, seed: int,
                      snapshots: int = 0) -> None:
    """Client threads place orders; SIGKILL the server once `acks` more orders were acknowledged
    and at least `snapshots` snapshots are on disk (the follower writes them paced, at nice 19:
    on a busy machine one can take seconds). While the snapshot is awaited the clients hold off
    (resting orders would pile up to the venue's open-order limit meanwhile), and go on for a few
    more acknowledgements once it landed, so the kill still comes amid the load."""
    killed, stop, hold = threading.Event(), threading.Event(), threading.Event()
    with ledger.lock:
        target = len(ledger.acked) + acks
    threads = [threading.Thread(target=client_loop, name=f"client-{i}", daemon=True,
                                args=(server.address, i, k, tag, ledger, killed, stop, seed * 100 + i, hold))
               for i, k in enumerate(keys)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    try:
        while True:
            with ledger.lock:
                done = len(ledger.acked) >= target
            if done and snapshots:
                if len(list_snapshots(server.data_dir / SNAPSHOT_DIR)) >= snapshots:
                    snapshots = 0
                    if hold.is_set():  # landed while held: a few more orders, then the kill
                        hold.clear()
                        with ledger.lock:
                            target = len(ledger.acked) + 4 * len(keys)
                        done = False
                else:
                    hold.set()
                    done = False
            if done or ledger.errors:
                break
            assert time.monotonic() < deadline, "the load made no progress (or no snapshot landed)"
            assert any(t.is_alive() for t in threads), f"every client stopped: {ledger.errors}"
            time.sleep(0.001)
        killed.set()
        server.kill()
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert not ledger.errors, ledger.errors[:5]


# ---------------------------------------------------------------------------- the checks


def verify_after_restart(stubs: Stubs, keys: list[str], ledger: Ledger) -> dict[str, int]:
    """Every acknowledged order survived; nothing is half-applied; in-flight orders resolved."""
    before = stubs.venue_state()
    # 1. the identical request returns the very order that was acknowledged and places nothing
    current: dict[str, trading_pb2.Order] = {}
    for coid, s in ledger.acked.items():
        resp = stubs.trading.PlaceOrder(s.request, metadata=md(keys[s.account]), timeout=CALL_TIMEOUT)
        o, acked = resp.order, s.order
        assert o.order_id == acked.order_id, f"{coid}: acknowledged as order {acked.order_id}, now {o.order_id}"
        assert (o.client_order_id, o.symbol, o.side, o.price_ticks, o.quantity_lots) == (
            acked.client_order_id, acked.symbol, acked.side, acked.price_ticks, acked.quantity_lots), coid
        assert o.filled_quantity_lots >= acked.filled_quantity_lots, coid
        assert not resp.fills, f"{coid}: the retry traded again"
        current[coid] = o
    after = stubs.venue_state()
    # retries are decided in sequence (so concurrent ones cannot both place): each is journaled,
    # and none changes the state
    assert after.journal_sequence == before.journal_sequence + len(ledger.acked)
    assert after.state_hash == before.state_hash, "a retry of an acknowledged order changed the state"

    # 2. open orders are exactly the registry's open acknowledged (or in-flight) orders
    sent_coids = set(ledger.acked) | set(ledger.unknown)
    most_open = 0  # the venue allows 200 per account and market: the load must stay well below
    for i, key in enumerate(keys):
        listed = stubs.trading.ListOpenOrders(trading_pb2.ListOpenOrdersRequest(), metadata=md(key),
                                              timeout=CALL_TIMEOUT).orders
        open_coids = {o.client_order_id for o in listed}
        most_open = max([most_open, *Counter(o.symbol for o in listed).values()])
        assert open_coids <= sent_coids, f"account {i} has orders nobody sent: {sorted(open_coids - sent_coids)[:5]}"
        expected = {c for c, o in current.items() if ledger.acked[c].account == i and o.status in OPEN}
        assert open_coids & set(ledger.acked) == expected, f"account {i}: open orders disagree with the registry"
        for o in listed:
            if o.client_order_id in current:
                assert o.order_id == current[o.client_order_id].order_id

    # 3. every fill has both sides: positions net to zero per market across the accounts
    net: dict[str, int] = {}
    for key in keys:
        for p in stubs.accounts.ListPositions(account_pb2.ListPositionsRequest(), metadata=md(key),
                                              timeout=CALL_TIMEOUT).positions:
            net[p.symbol] = net.get(p.symbol, 0) + p.quantity_lots
    assert all(v == 0 for v in net.values()), f"positions do not net to zero: {net}"
    assert net, "no position at all: the load did not trade"

    # 4. an in-flight order is all there (the retry finds it) or not at all (the retry places it)
    outcome = {"durable_unacked": 0, "lost_unacked": 0, "most_open": most_open}
    for coid, s in sorted(ledger.unknown.items()):
        state0 = stubs.venue_state()
        resp = stubs.trading.PlaceOrder(s.request, metadata=md(keys[s.account]), timeout=CALL_TIMEOUT)
        state1 = stubs.venue_state()
        delta = state1.journal_sequence - state0.journal_sequence
        assert delta in (0, 1), f"{coid}: the retry journaled {delta} commands"
        found = state1.state_hash == state0.state_hash  # the hash covers the next order id
        assert found or delta == 1, f"{coid}: the retry changed the exchange without journaling"
        outcome["durable_unacked" if found else "lost_unacked"] += 1
        assert resp.order.client_order_id == coid
        s.order = resp.order
        ledger.acked[coid] = s
    ledger.unknown.clear()
    return outcome


def replay_hashes(data_dir: Path) -> tuple[str, str, int, str | None]:
    """Recover a copy of `data_dir` in-process: (exchange hash, venue-state hash, last seq, snapshot)."""
    cfg = VenueConfig(data_dir=data_dir, feed=False, liquidity=False, metrics_listen="", rest_listen="off")
    state, last_seq, report = recover(data_dir, lambda: VenueState(make_exchange(cfg)))
    state.check_integrity()
    return state.exchange.state_hash(), state.state_hash(), last_seq, report.snapshot_path


# ---------------------------------------------------------------------------- the tests


def test_sigkill_mid_load_loses_no_acknowledged_order(tmp_path: Path) -> None:
    data, logs = tmp_path / "data", tmp_path / "logs"
    logs.mkdir()
    server = Server(data, logs, write_config(tmp_path / "venue.toml"))
    rng = random.Random(20261124)
    ledger = Ledger()
    recoveries: list[str] = []
    try:
        keys = funded_accounts(server.start())

        outcomes = []
        for r in range(ROUNDS):
            # the last round is killed once a snapshot is on disk: recovery must start from one
            run_load_and_kill(server, keys, ledger, f"r{r}", acks=rng.randint(150, 400), seed=r,
                              snapshots=1 if r == ROUNDS - 1 else 0)
            address = server.start()
            recoveries.append(server.recovery_log())
            with grpc.insecure_channel(address) as ch:
                outcomes.append(verify_after_restart(Stubs(ch), keys, ledger))
        assert len(ledger.acked) >= ROUNDS * 150

        # the restarted server, idle: its hash must be what a fresh recovery of its files gives
        with grpc.insecure_channel(address) as ch:
            stubs = Stubs(ch)
            live = stubs.venue_state()
            assert stubs.venue_state() == live, "the server is not idle"
        assert server.stop() == 0
    finally:
        server.close()

    copy = tmp_path / "copy"
    shutil.copytree(data, copy)
    ex_hash, venue_hash, last_seq, snapshot = replay_hashes(copy)
    assert last_seq == live.journal_sequence
    assert snapshot is not None, "recovery did not use a snapshot (snapshot_every not honoured?)"
    # GetVenueState.state_hash covers the exchange and the order registry (VenueState.state_hash)
    assert venue_hash == live.state_hash, f"live {live.state_hash} != replayed {venue_hash}"

    # and the same from the journal alone (every segment is still there: none was pruned)
    journal_only = tmp_path / "journal-only"
    shutil.copytree(data, journal_only)
    shutil.rmtree(journal_only / SNAPSHOT_DIR)
    ex_hash2, venue_hash2, last_seq2, snapshot2 = replay_hashes(journal_only)
    assert (ex_hash2, venue_hash2, last_seq2, snapshot2) == (ex_hash, venue_hash, last_seq, None)

    assert all("records replayed" in line for line in recoveries), recoveries
    print(f"\n{len(ledger.acked)} orders acknowledged, journal seq {live.journal_sequence}; "
          f"in-flight outcomes per round: {outcomes}")
    for line in recoveries:
        print("  " + line[:240])


def test_corrupt_middle_of_journal_refuses_to_start(tmp_path: Path) -> None:
    data, logs = tmp_path / "data", tmp_path / "logs"
    logs.mkdir()
    config = tmp_path / "venue.toml"
    config.write_text('metrics_listen = ""\nrest_listen = "off"\nrate_limit_per_s = 0\n')
    server = Server(data, logs, config)
    try:
        address = server.start()
        with grpc.insecure_channel(address) as ch:
            stubs = Stubs(ch)
            key = stubs.sandbox.CreateAccount(sandbox_pb2.CreateAccountRequest(), metadata=ADMIN_MD).api_key
            stubs.accounts.Deposit(account_pb2.DepositRequest(asset="USDT", amount=DEPOSIT), metadata=md(key))
            for n in range(80):  # resting orders, far from each other: every one is a journal record
                side = common_pb2.SIDE_BUY if n % 2 else common_pb2.SIDE_SELL
                stubs.trading.PlaceOrder(trading_pb2.PlaceOrderRequest(
                    symbol="BTCUSDT", side=side, type=common_pb2.ORDER_TYPE_LIMIT, quantity_lots=1,
                    price_ticks=640_000 - n if n % 2 else 660_000 + n, time_in_force=common_pb2.TIME_IN_FORCE_GTC,
                    client_order_id=f"c{n}"), metadata=md(key))
            seq = stubs.venue_state().journal_sequence
        assert seq >= 80
        assert server.stop() == 0

        [segment] = sorted((data / JOURNAL_DIR).glob("*.seg"))
        raw = bytearray(segment.read_bytes())
        middle = len(raw.rstrip(b"\0")) // 2  # in the records, not the zeros preallocated after them
        raw[middle] ^= 0xFF
        segment.write_bytes(bytes(raw))

        proc, out_path, err_path = server.spawn()
        try:
            code = proc.wait(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail("perpsim serve kept running on a journal corrupted in the middle:\n"
                        + out_path.read_text(errors="replace"))
        out, err = out_path.read_text(errors="replace"), err_path.read_text(errors="replace")
    finally:
        server.close()

    assert "listening on" not in out, f"perpsim serve started on a corrupt journal:\n{out}"
    assert code != 0, f"perpsim serve exited 0 on a corrupt journal:\n{err}"
    assert "journal corrupt" in err and segment.name in err, err
    assert segment.read_bytes() == bytes(raw), "refusing to open must leave the files unchanged"
    assert "Traceback" not in err, f"a traceback instead of an operator's message:\n{err}"
