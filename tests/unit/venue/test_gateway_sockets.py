"""The gateway's WebSockets on the venue's side. A connection's outbox (venue/gateway/sockets.py):
a reader that falls OUTBOX messages behind is closed with 1008 "slow consumer", whether the
overflow comes from an event or from the venue closing the connection; otherwise what is queued
is sent, then the close. The market streams' clock: one failing stream stops no other."""

from __future__ import annotations

import asyncio

import pytest

from perpsim.venue.gateway import sockets


class FakeWs:
    """What Socket.write uses of an aiohttp WebSocketResponse: what was sent and how it closed."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed_with: tuple[int, bytes] | None = None

    async def send_str(self, text: str) -> None:
        self.sent.append(text)

    async def close(self, code: int, message: bytes) -> None:
        self.closed_with = (code, message)


def _written(sock: sockets.Socket) -> None:
    asyncio.run(asyncio.wait_for(sock.write(), 5))


@pytest.fixture
def small_outbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sockets, "OUTBOX", 3)


@pytest.mark.usefixtures("small_outbox")
def test_a_close_behind_a_full_outbox_drops_the_reader() -> None:
    ws = FakeWs()
    sock = sockets.Socket(ws, combined=False)  # type: ignore[arg-type]
    for i in range(3):
        sock.send(b"%d" % i)
    sock.close()
    _written(sock)
    assert ws.sent == [] and ws.closed_with == (1008, b"slow consumer")


@pytest.mark.usefixtures("small_outbox")
def test_a_close_with_room_sends_what_is_queued_first() -> None:
    ws = FakeWs()
    sock = sockets.Socket(ws, combined=True)  # type: ignore[arg-type]
    sock.send(b"1", "btcusdt@trade")
    sock.reply({"result": None, "id": 7})
    sock.close()
    _written(sock)
    assert ws.sent == ['{"stream":"btcusdt@trade","data":1}', '{"result":null,"id":7}']
    assert ws.closed_with == (1000, b"")


@pytest.mark.usefixtures("small_outbox")
def test_an_event_past_a_full_outbox_drops_the_reader_and_nothing_follows() -> None:
    ws = FakeWs()
    sock = sockets.Socket(ws, combined=False)  # type: ignore[arg-type]
    for i in range(4):
        sock.send(b"%d" % i)
    sock.send(b"late")
    _written(sock)
    assert ws.sent == [] and ws.closed_with == (1008, b"slow consumer")


def test_a_failing_timed_stream_is_logged_once_and_the_others_go_on(caplog: pytest.LogCaptureFixture) -> None:
    """The market streams' clock runs each timed stream on its own (MarketStreams._guarded): one
    that raises is logged once per kind of failure, and a later flush still runs."""
    from types import SimpleNamespace

    from perpsim.venue.gateway.marketstream import MarketStreams

    streams = MarketStreams(SimpleNamespace(venue=SimpleNamespace(), books=None))
    ran: list[int] = []

    def _flush_depth(speed: int) -> None:
        raise RuntimeError(f"depth {speed}")

    for speed in (100, 250, 100):
        streams._guarded(_flush_depth, speed)
        streams._guarded(ran.append, speed)
    assert ran == [100, 250, 100]
    failures = [r for r in caplog.records if "market stream _flush_depth failed" in r.getMessage()]
    assert len(failures) == 1
