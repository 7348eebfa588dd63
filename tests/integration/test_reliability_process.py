"""`perpsim serve` as a real process: it stops on SIGTERM with a health watcher attached, refuses
an address another process holds (gRPC and metrics), and refuses a damaged data directory with
one line naming the path, exit status 2, no traceback and nothing written."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from perpsim.clients.client import Client
from perpsim.venue.config import VenueConfig
from perpsim.venue.initial_state import make_state
from perpsim.venue.recovery import SNAPSHOT_DIR, recover
from perpsim.venue.snapshot import write_snapshot

from .test_crash import perpsim_command, wait_serving

ADMIN_KEY = "reliability-test-admin-key"
START_TIMEOUT = 60.0
EXIT_TIMEOUT = 20.0


class Serve:
    """One `perpsim serve` process; stdout and stderr kept in files."""

    def __init__(self, data_dir: Path, logs: Path, *, listen: str = "127.0.0.1:0", metrics: str = "") -> None:
        logs.mkdir(parents=True, exist_ok=True)
        config = logs / "venue.toml"
        config.write_text(f'metrics_listen = "{metrics}"\nrest_listen = "off"\nrate_limit_per_s = 0\n')
        self.out, self.err = logs / "serve.out", logs / "serve.err"
        env = {k: v for k, v in os.environ.items() if k != "PERPSIM_ADMIN_KEY"}
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(
                [*perpsim_command(), "serve", "--config", str(config), "--data-dir", str(data_dir),
                 "--listen", listen, "--admin-key", ADMIN_KEY, "--no-feed", "--no-liquidity"],
                stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        self.address = ""

    def started(self) -> str:
        """Wait for the banner and health SERVING; the address."""
        deadline = time.monotonic() + START_TIMEOUT
        banner = re.compile(r"^perpsim venue listening on (\S+:\d+)$", re.M)
        while not (found := banner.search(self.out.read_text(errors="replace"))):
            assert self.proc.poll() is None, f"exited {self.proc.returncode}:\n{self.stderr()}"
            assert time.monotonic() < deadline, "no banner"
            time.sleep(0.02)
        self.address = found.group(1)
        wait_serving(self.address, deadline)
        return self.address

    def exited(self) -> int:
        return self.proc.wait(timeout=EXIT_TIMEOUT)

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=EXIT_TIMEOUT)


@pytest.fixture
def processes() -> Iterator[list[Serve]]:
    started: list[Serve] = []
    yield started
    for p in started:
        p.kill()


def refusal(p: Serve) -> str:
    """The refusal of a process that must not start: exit 2 and one error line, no traceback."""
    assert p.exited() == 2, p.stderr()
    err = p.stderr()
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, err
    return errors[0]


@pytest.mark.slow
def test_sigterm_stops_the_venue_with_a_health_watch_open(tmp_path: Path, processes: list[Serve]) -> None:
    venue = Serve(tmp_path / "data", tmp_path / "logs")
    processes.append(venue)
    with grpc.insecure_channel(venue.started()) as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=""))
        assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
        venue.proc.send_signal(signal.SIGTERM)
        assert venue.exited() == 0, venue.stderr()
        assert "Traceback" not in venue.stderr()


@pytest.mark.slow
def test_a_second_venue_on_a_taken_port_refuses_to_start(tmp_path: Path, processes: list[Serve]) -> None:
    first = Serve(tmp_path / "a", tmp_path / "logs-a")
    processes.append(first)
    address = first.started()
    second = Serve(tmp_path / "b", tmp_path / "logs-b", listen=address)
    processes.append(second)
    line = refusal(second)
    assert address in line and "in use" in line, line
    assert not {"journal", "created_ns"} & {p.name for p in (tmp_path / "b").iterdir()}  # no venue written
    with grpc.insecure_channel(address) as channel:  # the first venue still answers alone
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.slow
def test_a_taken_metrics_port_refuses_to_start(tmp_path: Path, processes: list[Serve]) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        address = f"127.0.0.1:{holder.getsockname()[1]}"
        venue = Serve(tmp_path / "data", tmp_path / "logs", metrics=address)
        processes.append(venue)
        line = refusal(venue)
    assert address in line and "metrics" in line, line
    assert not {"journal", "created_ns"} & {p.name for p in (tmp_path / "data").iterdir()}


@pytest.fixture(scope="module")
def used_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory a venue ran in: keys, epoch, a journal and a snapshot; stopped cleanly."""
    base = tmp_path_factory.mktemp("used")
    venue = Serve(base / "data", base / "logs")
    try:
        with Client(venue.started(), admin_key=ADMIN_KEY) as admin:
            admin.with_key(admin.create_account().api_key).deposit("USDT", "100")
        venue.proc.send_signal(signal.SIGTERM)
        assert venue.exited() == 0, venue.stderr()
    finally:
        venue.kill()
    data = base / "data"
    # the snapshot a checkpoint would write, of the state the journal holds
    state, seq, _ = recover(data, lambda: make_state(VenueConfig(data_dir=data)))
    write_snapshot(data / SNAPSHOT_DIR, seq, state)
    return data


def _garbage(path: Path) -> None:
    path.write_text("not a number " * 1_000)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


DAMAGE = {  # what is damaged -> (how, the path the refusal must name)
    "created_ns": (lambda d: _garbage(d / "created_ns"), "created_ns"),
    "liquidity_account": (lambda d: _garbage(d / "liquidity-account"), "liquidity-account"),
    "keys_json": (lambda d: _truncate(d / "keys.json"), "keys.json"),
    "created_ns_missing": (lambda d: (d / "created_ns").unlink(), "created_ns"),
    "journal_deleted": (lambda d: shutil.rmtree(d / "journal"), "journal"),
}


@pytest.mark.slow
@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_data_directory_is_refused_in_one_line(used_data_dir: Path, tmp_path: Path, damage: str,
                                                         processes: list[Serve]) -> None:
    data = tmp_path / "data"
    shutil.copytree(used_data_dir, data)
    spoil, named = DAMAGE[damage]
    spoil(data)
    before = sorted(p.relative_to(data) for p in data.rglob("*") if p.name != "LOCK")
    venue = Serve(data, tmp_path / "logs")
    processes.append(venue)
    line = refusal(venue)
    assert str(data / named) in line, line
    assert len(line) < 600, line  # a damaged file's content is echoed cut to a bound
    after = sorted(p.relative_to(data) for p in data.rglob("*") if p.name != "LOCK")
    assert after == before  # nothing written: no new journal segment, epoch or key file
