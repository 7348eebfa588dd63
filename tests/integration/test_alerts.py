"""Market-risk alerts through the real server: a wide spread alone or an extreme predicted
funding rate alone raises nothing; both together raise an alert on the market's stream, and
it clears when the spread narrows again."""

from __future__ import annotations

import queue
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

from perpsim.clients import cli
from perpsim.clients.client import Client

from .conftest import own_venue

SYMBOL = "BTCUSDT"


def follow(client: Client, into: queue.Queue):
    stream = client.stream_alerts(SYMBOL)

    def run() -> None:
        for alert in stream:
            into.put(alert)

    threading.Thread(target=run, daemon=True).start()
    return stream


def test_a_wide_spread_with_extreme_funding_raises_then_clears(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    with own_venue(tmp_path, alert_spread_bps=50, alert_funding_bps=5) as (running, _, maker):
        admin = Client(running.address, admin_key=(tmp_path / "admin.key").read_text().strip())
        alerts: queue.Queue = queue.Queue()
        stream = follow(admin, alerts)
        try:
            admin.set_index_price(SYMBOL, "65000")
            maker.deposit("USDT", "1000000")
            # 0. a wide book around the index: spread ~300 bps, funding at the 0.01 % interest
            maker.place_order(SYMBOL, "buy", "1", "64000")
            maker.place_order(SYMBOL, "sell", "1", "66000")
            admin.advance_clock(60 * 10**9)  # a minute of 5-s premium samples at 0
            with pytest.raises(queue.Empty):
                alerts.get(timeout=0.5)
            # 1. a tight book well above the index: funding soars, the spread is 1.5 bps
            maker.cancel_all(SYMBOL)
            maker.place_order(SYMBOL, "buy", "1", "66000")
            maker.place_order(SYMBOL, "sell", "1", "66010")
            admin.advance_clock(60 * 10**9)  # a minute of samples at +1.5 %
            with pytest.raises(queue.Empty):
                alerts.get(timeout=0.5)
            # 2. the ask moves out: the spread is ~150 bps while funding is extreme
            maker.cancel_all(SYMBOL)
            maker.place_order(SYMBOL, "buy", "1", "66000")
            maker.place_order(SYMBOL, "sell", "1", "67000")
            raised = alerts.get(timeout=10)
            assert (raised.symbol, raised.state) == (SYMBOL, "raised")
            assert raised.spread_bps >= 50 and raised.predicted_funding_rate >= Decimal("0.0005")
            assert (raised.spread_threshold_bps, raised.funding_rate_threshold) == (50, Decimal("0.0005"))
            # 3. the spread narrows again: cleared, funding still extreme
            maker.place_order(SYMBOL, "sell", "0.5", "66010")
            cleared = alerts.get(timeout=10)
            assert cleared.state == "cleared" and cleared.spread_bps < 50
            assert cleared.sequence == raised.sequence + 1
            # 4. `perpsim watch alerts` prints the next one: the spread widens again
            codes: list[int] = []
            watcher = threading.Thread(target=lambda: codes.append(cli.main(
                ["watch", "alerts", SYMBOL, "--count", "1", "--address", running.address])))
            watcher.start()
            time.sleep(0.5)  # subscribed
            maker.cancel_all(SYMBOL)
            maker.place_order(SYMBOL, "buy", "1", "66000")
            maker.place_order(SYMBOL, "sell", "1", "67000")
            watcher.join(timeout=10)
            assert codes == [0] and alerts.get(timeout=10).state == "raised"
            line = capsys.readouterr().out.strip().splitlines()[-1]
            assert line.startswith(f"#{cleared.sequence + 1} {SYMBOL} RAISED: spread ")
        finally:
            stream.cancel()
            admin.close()
