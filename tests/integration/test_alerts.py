"""Risk notices through the real server: market alerts (a wide spread alone or an extreme
predicted funding rate alone raises nothing; both together raise an alert on the market's
stream, and it clears when the spread narrows again) and margin warnings on the account stream."""

from __future__ import annotations

import queue
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

from perpsim.cli import main as cli
from perpsim.clients.client import Client

from .conftest import account_updates, own_venue

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


def test_a_mark_move_warns_the_account_stream_once_per_crossing(tmp_path: Path) -> None:
    """A long of 0.1 BTC at 65,000 with 996.75 USDT left after the fee: at a mark of 55,300 its
    maintenance margin 22.12 against a margin balance of 26.75 is 82.69 % (rounded down), past
    the 80 % warning and short of liquidation; a further tick there warns no more."""
    with own_venue(tmp_path) as (running, _, trader):
        admin = Client(running.address, admin_key=(tmp_path / "admin.key").read_text().strip())
        try:
            admin.set_index_price(SYMBOL, "65000")
            maker = admin.with_key(admin.create_account().api_key)
            maker.deposit("USDT", "100000")
            maker.place_order(SYMBOL, "sell", "0.1", "65000")
            trader.place_order(SYMBOL, "buy", "0.1")
            updates: queue.Queue = queue.Queue()
            channel = account_updates(running, trader, updates)
            time.sleep(0.3)  # subscribed
            admin.set_index_price(SYMBOL, "55300")
            admin.set_index_price(SYMBOL, "55301")
            warnings = []
            while True:
                try:
                    msg = updates.get(timeout=1.0)
                except queue.Empty:
                    break
                if msg.WhichOneof("update") == "margin_warning":
                    warnings.append((msg.margin_warning.asset, msg.margin_warning.margin_ratio_percent))
            assert warnings == [("USDT", "82.69")]
            assert trader.positions()[0].quantity == Decimal("0.100")  # not liquidated
            channel.close()
        finally:
            admin.close()


def test_a_follower_after_nobody_followed_starts_from_nothing_raised(tmp_path: Path) -> None:
    """While nobody follows a market's alerts the venue keeps nothing of them: a market still
    wide with extreme funding is RAISED anew to the next follower, at its first change."""
    with own_venue(tmp_path, alert_spread_bps=50, alert_funding_bps=5) as (running, _, maker):
        admin = Client(running.address, admin_key=(tmp_path / "admin.key").read_text().strip())
        try:
            admin.set_index_price(SYMBOL, "65000")
            maker.deposit("USDT", "1000000")
            first: queue.Queue = queue.Queue()
            stream = follow(admin, first)
            time.sleep(0.3)  # subscribed
            maker.place_order(SYMBOL, "buy", "1", "66000")  # a tight book well above the index
            maker.place_order(SYMBOL, "sell", "1", "66010")
            admin.advance_clock(60 * 10**9)  # a minute of samples at +1.5 %: funding extreme
            maker.cancel_all(SYMBOL)
            maker.place_order(SYMBOL, "buy", "1", "66000")
            maker.place_order(SYMBOL, "sell", "1", "67000")  # wide: raised
            raised = first.get(timeout=10)
            assert raised.state == "raised"
            stream.cancel()
            time.sleep(0.3)  # unsubscribed
            for _ in range(3):  # commands while nobody follows; the market stays raised-worthy
                maker.place_order(SYMBOL, "buy", "0.1", "60000")
            second: queue.Queue = queue.Queue()
            stream = follow(admin, second)
            time.sleep(0.3)  # subscribed
            with pytest.raises(queue.Empty):  # nothing sent until the market is looked at again
                second.get(timeout=0.3)
            maker.place_order(SYMBOL, "buy", "0.1", "60001")  # a command: the market is looked at
            again = second.get(timeout=10)
            # raised again (the topic numbers on where it was)
            assert (again.symbol, again.state, again.sequence) == (SYMBOL, "raised", raised.sequence + 1)
            assert again.spread_bps >= 50
        finally:
            stream.cancel()
            admin.close()
