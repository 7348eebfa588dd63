"""`perpsim serve --profile NAME` runs the profile's formulas, through the real server:
dYdX's markets liquidate on the oracle (ListMarkets says INDEX); Hyperliquid pays funding every
hour, an eighth of its 8 h rate, on the oracle price."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from perpsim.clients.client import Client
from tests.integration.conftest import own_venue

BTC = "BTCUSDT"
HOUR = 3_600 * 10**9


def test_dydx_markets_liquidate_on_the_index(tmp_path: Path) -> None:
    with own_venue(tmp_path, profile="dydx") as (_running, _cfg, trader):
        assert {m.symbol: m.liquidation_trigger for m in trader.markets()}[BTC] == "index"


def test_hyperliquid_pays_funding_hourly_on_the_oracle(tmp_path: Path) -> None:
    with own_venue(tmp_path, profile="hyperliquid") as (running, _cfg, trader):
        with Client(running.address, admin_key=(tmp_path / "admin.key").read_text().strip()) as admin:
            admin.set_index_price(BTC, "65000")
            maker = admin.with_key(admin.create_account().api_key)
            maker.deposit("USDT", "100000")
            maker.place_order(BTC, "sell", "0.01", "65000")
            trader.place_order(BTC, "buy", "0.01")
            now = admin.advance_clock(1)
            due = trader.mark(BTC).next_funding_time_ns
            assert due % HOUR == 0 and due - now <= HOUR  # hourly payments
            admin.advance_clock(due - now)
            [latest] = trader.funding_rates(BTC, limit=1)
            assert latest.funding_time_ns == due
            # an empty book: premium 0, so F_8h = the 0.01 % interest, paid at an eighth an hour
            assert latest.rate == Decimal("0.0000125")
            [paid] = trader.income("funding_fee")
            assert paid.amount == -Decimal("0.01") * Decimal("65000") * latest.rate  # 0.008125, on the index
