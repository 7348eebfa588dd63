"""What the venue benches share of the server's side: `perpsim serve` in a subprocess on a fresh
data directory (no feed, no liquidity, no rate limit, no metrics endpoint), funded accounts on it,
its durable journal sequence, and its CPU read from /proc (whole process, per thread, children).

bench/ is a directory of scripts, not a package: a script beside this file imports it by name.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from perpsim.v1 import account_pb2, account_pb2_grpc, sandbox_pb2, sandbox_pb2_grpc

ADMIN_KEY = "venue-load-admin-key"
ADMIN_MD = (("authorization", f"Bearer {ADMIN_KEY}"),)
DEPOSIT = "100000000"
CALL_TIMEOUT = 30.0
#: py-spy samples per second of the server (--profile): native stacks cost the paused server more
#: than Python ones, so fewer
PROFILE_RATE = 50


def perpsim_command() -> list[str]:
    script = Path(sys.executable).with_name("perpsim")
    return [str(script)] if script.exists() else [sys.executable, "-m", "perpsim.cli"]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc); 0.0 where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def thread_cpu(pid: int) -> tuple[float, float]:
    """(the main thread's CPU seconds, every other thread's) of a process: the server's event
    loop runs on its main thread; the journal's fsyncs and gRPC's pollers on the others."""
    main = other = 0.0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0, 0.0
    for tid in tids:
        try:
            fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        if int(tid) == pid:
            main += cpu
        else:
            other += cpu
    return main, other


def children_cpu(pid: int) -> float:
    """CPU seconds of a process's live child processes and theirs (the snapshot follower)."""
    total = 0.0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0
    for tid in tids:
        try:
            kids = Path(f"/proc/{pid}/task/{tid}/children").read_text().split()
        except OSError:
            continue
        for kid in kids:
            total += cpu_seconds(int(kid)) + children_cpu(int(kid))
    return total


class Server:
    """`perpsim serve` in a subprocess on its own data directory."""

    def __init__(self, root: Path, snapshot_every: int, rest_listen: str = "off") -> None:
        """rest_listen: the Binance-compatible gateway's address ("off": none)."""
        self.data = root / "data"
        self.config = root / "venue.toml"
        self.config.write_text(f'metrics_listen = ""\nrest_listen = "{rest_listen}"\nrate_limit_per_s = 0\n'
                               f'snapshot_every = {snapshot_every}\n')
        self.log = root / "serve.log"
        self.proc: subprocess.Popen | None = None
        self.address = ""

    def __enter__(self) -> Server:
        argv = [*perpsim_command(), "serve", "--config", str(self.config), "--data-dir", str(self.data),
                "--listen", "127.0.0.1:0", "--admin-key", ADMIN_KEY, "--no-feed", "--no-liquidity"]
        env = {k: v for k, v in os.environ.items() if k != "PERPSIM_ADMIN_KEY"}
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                                         env=env, text=True, start_new_session=True)
        line = self.proc.stdout.readline()  # the banner's first line, once the venue is ready
        found = re.match(r"perpsim venue listening on (\S+:\d+)", line)
        if not found:
            self.__exit__()
            raise RuntimeError(f"perpsim serve did not start: {line!r}\n{self.log.read_text(errors='replace')}")
        self.address = found.group(1)
        threading.Thread(target=self._drain, daemon=True).start()
        with grpc.insecure_channel(self.address) as ch:
            health = health_pb2_grpc.HealthStub(ch)
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(grpc.RpcError):
                    if health.Check(health_pb2.HealthCheckRequest(), timeout=1).status == \
                            health_pb2.HealthCheckResponse.SERVING:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("the venue never reported SERVING")
                time.sleep(0.02)
        return self

    def _drain(self) -> None:
        for _ in self.proc.stdout:
            pass

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is not None:  # it died under load: say why
            print(f"perpsim serve exited with {self.proc.returncode}; its log ends:\n"
                  + "\n".join(self.log.read_text(errors="replace").splitlines()[-20:]), file=sys.stderr)
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
            self.proc = None

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid) if self.proc is not None else 0.0


def setup_accounts(address: str, n: int) -> list[str]:
    with grpc.insecure_channel(address) as ch:
        sandbox = sandbox_pb2_grpc.SandboxServiceStub(ch)
        accounts = account_pb2_grpc.AccountServiceStub(ch)
        keys = []
        for _ in range(n):
            key = sandbox.CreateAccount(sandbox_pb2.CreateAccountRequest(), metadata=ADMIN_MD).api_key
            accounts.Deposit(account_pb2.DepositRequest(asset="USDT", amount=DEPOSIT),
                             metadata=(("authorization", f"Bearer {key}"),))
            keys.append(key)
        return keys


def journal_seq(address: str) -> int:
    with grpc.insecure_channel(address) as ch:
        return sandbox_pb2_grpc.SandboxServiceStub(ch).GetVenueState(
            sandbox_pb2.GetVenueStateRequest(), metadata=ADMIN_MD, timeout=CALL_TIMEOUT).journal_sequence
