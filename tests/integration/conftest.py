"""A real venue for the integration tests: gRPC on 127.0.0.1, port 0, feed and liquidity off.

One venue per test module. Markets start at their default index prices (BTCUSDT 65000,
ETHUSDT 3500, BTCUSD 65000); accounts are created through the sandbox with the admin key.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from perpsim.clients.client import Client
from perpsim.v1 import account_pb2, account_pb2_grpc, batch_pb2_grpc
from perpsim.venue.app import RunningVenue
from perpsim.venue.config import VenueConfig

from .cli_kit import Run, clean_cli_env, cli_runner


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("venue")


@pytest.fixture(scope="module")
def venue(data_dir: Path) -> Iterator[RunningVenue]:
    # no Prometheus endpoint on a fixed port in tests; the REST gateway on a free port
    extra = {"metrics_listen": "", "rest_listen": "127.0.0.1:0"}
    running = RunningVenue(VenueConfig(listen="127.0.0.1:0", data_dir=data_dir, feed=False, liquidity=False,
                                       **extra))
    running.start_in_thread()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def admin_key(venue: RunningVenue, data_dir: Path) -> str:
    return (data_dir / "admin.key").read_text().strip()


@pytest.fixture(scope="module")
def admin(venue: RunningVenue, admin_key: str) -> Iterator[Client]:
    """A client holding only the admin key (sandbox calls)."""
    with Client(venue.address, admin_key=admin_key) as c:
        c.wait_ready()
        yield c


@pytest.fixture
def clean_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The CLI tests' environment (cli_kit.clean_cli_env): a module of them asks for it with
    `pytestmark = pytest.mark.usefixtures("clean_cli")`."""
    clean_cli_env(monkeypatch, tmp_path)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], venue: RunningVenue) -> Run:
    """`perpsim ARGS` against this module's venue (cli_kit.cli_runner)."""
    return cli_runner(capsys, venue.address)


@pytest.fixture
def wall(admin: Client) -> Iterator[None]:
    """The venue clock on wall time with no lease, before the test and after it."""
    admin.set_clock_mode(False)
    yield
    admin.set_clock_mode(False)


@pytest.fixture(scope="module")
def make_account(admin: Client) -> Callable[..., Client]:
    """make_account(deposit="1000", asset="USDT") -> a Client of a new account (user key only)."""

    def make(deposit: str | None = "1000", asset: str = "USDT") -> Client:
        key = admin.create_account().api_key
        c = admin.with_key(key)  # same channel, user key only
        if deposit is not None:
            c.deposit(asset, deposit)
        return c

    return make


@pytest.fixture(scope="module")
def batch(venue: RunningVenue, admin_key: str) -> Iterator[Callable[..., Any]]:
    """batch(method, request, key=admin_key) -> the BatchService's answer to `method` (raw stub:
    grpc.RpcError on a refusal)."""
    channel = grpc.insecure_channel(venue.address)
    stub = batch_pb2_grpc.BatchServiceStub(channel)

    def call(method: str, request, key: str = admin_key):
        return getattr(stub, method)(request, metadata=(("authorization", f"Bearer {key}"),), timeout=30)

    yield call
    channel.close()


@contextlib.contextmanager
def admin_venue(data_dir: Path, **settings) -> Iterator[tuple[RunningVenue, VenueConfig, Client]]:
    """A venue of a test's own (feed, liquidity and metrics off, the REST gateway on a free port;
    `settings` on top): (the running venue, its config, a ready admin client), stopped on exit."""
    cfg = VenueConfig(listen="127.0.0.1:0", data_dir=data_dir, feed=False, liquidity=False, metrics_listen="",
                      rest_listen=settings.pop("rest_listen", "127.0.0.1:0"), **settings)
    running = RunningVenue(cfg).start_in_thread()
    try:
        with Client(running.address, admin_key=(data_dir / "admin.key").read_text().strip()) as admin:
            admin.wait_ready()
            yield running, cfg, admin
    finally:
        running.stop()


@contextlib.contextmanager
def own_venue(data_dir: Path, **settings) -> Iterator[tuple[RunningVenue, VenueConfig, Client]]:
    """`admin_venue` with a funded trader (1,000 USDT): (the running venue, its config, the
    trader's client)."""
    with admin_venue(data_dir, **settings) as (running, cfg, admin):
        trader = admin.with_key(admin.create_account().api_key)
        trader.deposit("USDT", "1000")
        yield running, cfg, trader


def account_updates(venue: RunningVenue, client: Client, into: queue.Queue, *,
                    with_end: bool = False) -> grpc.Channel:
    """Follow the account stream of `client` into a queue (a raw stub: the SDK has no such call),
    with `with_end` its end (the RpcError) too; the caller closes the returned channel."""
    channel = grpc.insecure_channel(venue.address)
    stream = account_pb2_grpc.AccountServiceStub(channel).StreamAccount(
        account_pb2.StreamAccountRequest(), metadata=(("authorization", f"Bearer {client.api_key}"),))

    def run() -> None:
        try:
            for msg in stream:
                into.put(msg)
        except grpc.RpcError as e:
            if with_end:
                into.put(e)

    threading.Thread(target=run, daemon=True).start()
    return channel


def fault_once_in_book(running, symbol: str = "BTCUSDT") -> None:
    """Make the market's book fail once, right after it took an order in: a fault in the core
    midway through a command (the order is in the book, then the core raises)."""
    market = running.venue.state.exchange.markets[symbol]
    book = market.book

    class FaultyBook:
        def __getattr__(self, name):
            return getattr(book, name)

        def place(self, *args):
            book.place(*args)  # the order is in the book ...
            market.book = book
            raise RuntimeError("injected fault")  # ... and then the core fails

    market.book = FaultyBook()
