"""OKX's hedged-pair netting and per-position freeze through the real server (`perpsim serve
--profile okx`; OKX help 360020411711, risk/okx_liquidation.py; the worked examples themselves are
in tests/fidelity/test_okx_hedged_pairs.py and test_okx_position_freeze.py).

The okx profile's tiers (risk/venue_tables.py, illustrative): BTC tier 1 to 1,000,000 USDT at 0.4 %,
tier 2 to 5,000,000 at 1 %, tier 3 to 20,000,000 at 2 %, each plus the 0.05 % taker fee (cum 0,
6,000, 56,000); ETH tier 1 to 500,000 at 0.4 % + 0.05 %.
"""

from __future__ import annotations

import queue
import time
from decimal import Decimal

from perpsim.clients.client import Client
from tests.integration.conftest import account_updates, own_venue

BTC, ETH = "BTCUSDT", "ETHUSDT"


def legs(trader: Client, symbol: str) -> dict[str, Decimal]:
    return {p.position_side: p.quantity for p in trader.positions(symbol)}


def test_okx_closes_a_cross_hedged_pair_against_itself(tmp_path) -> None:
    """'In Cross Margin Mode, if there are both long and short positions, the pairs of long/short
    positions will be closed immediately. If Margin Ratio reaches the required Maintenance Margin
    Ratio, liquidation will stop'. 8 BTC long and 7 short from 65,000 at 100x (975,000 together:
    tier 1) on 9,800 USDT (IM 5,200 + 4,550). At 59,000: equity 9,800 − 6,000 = 3,800 ≤ MM 15 ×
    59,000 × 0.45 % = 3,982.5. The 7 BTC pair closes at the mark (realized −42,000 and +42,000: the
    wallet stays 9,800); the 1 BTC long left needs 265.5: compliant, nothing reaches the book. The
    account stream says so (a liquidation update of kind "hedged_pair_closed": 7 BTC at 59,000)."""
    with own_venue(tmp_path, profile="okx") as (running, _cfg, trader), \
            Client(running.address, admin_key=(tmp_path / "admin.key").read_text().strip()) as admin:
        [okx] = [p for p in trader.profiles() if p.active]
        assert "hedged pairs" in okx.partial_liquidation
        admin.set_index_price(BTC, "65000")
        maker = admin.with_key(admin.create_account().api_key)
        maker.deposit("USDT", "10000000")
        trader.deposit("USDT", "9287.5")  # with the fixture's 1,000: 9,800 + the 487.5 opening fees
        trader.set_position_mode(True)
        assert trader.set_leverage(BTC, 100) == 100
        maker.place_order(BTC, "sell", "8", "65000")
        trader.place_order(BTC, "buy", "8", position_side="long")
        maker.place_order(BTC, "buy", "7", "65000")
        trader.place_order(BTC, "sell", "7", position_side="short")
        assert legs(trader, BTC) == {"long": Decimal("8"), "short": Decimal("-7")}
        assert trader.account().balance("USDT").wallet == Decimal("9800")
        bid = maker.place_order(BTC, "buy", "8", "58500")

        assert admin.set_index_price(BTC, "59300").liquidations == 0  # 4,100 > 4,002.75: not yet
        updates: queue.Queue = queue.Queue()
        channel = account_updates(running, trader, updates)
        try:
            time.sleep(0.3)  # the stream is subscribed
            update = admin.set_index_price(BTC, "59000")
            assert update.mark_price == Decimal("59000")
            assert legs(trader, BTC) == {"long": Decimal("1")}
            assert trader.account().balance("USDT").wallet == Decimal("9800")
            seen = None
            deadline = time.monotonic() + 5
            while seen is None and time.monotonic() < deadline:
                msg = updates.get(timeout=5)
                if msg.WhichOneof("update") == "liquidation":
                    seen = msg.liquidation
            assert seen is not None and (seen.symbol, seen.kind) == (BTC, "hedged_pair_closed")
            assert (Decimal(seen.quantity), Decimal(seen.price)) == (Decimal("7"), Decimal("59000"))
        finally:
            channel.close()
        [resting] = [o for o in maker.open_orders(BTC) if o.order_id == bid.order_id]
        assert resting.filled_quantity == 0


def test_okx_freezes_the_stepped_position_not_the_account(tmp_path) -> None:
    """'During the time, the position will be frozen'. Isolated at 20x: 100 BTC from 65,000 on
    325,000 (tier 3 at 62,000: equity 25,000 ≤ MM 127,100 − 56,000 = 71,100; bankruptcy price 61,750,
    the bid at 61,000: the step to tier 1 fills nothing and the BTC position waits its minute) and
    10 ETH from 3,000 on 1,500 (liquidation price 28,500 / 9.955 = 2,862.88…, bankruptcy 2,850).
    ETH at 2,860 inside BTC's minute: the ETH position goes at once (a full liquidation, no order: the
    fund is empty, so the maker's short takes it, risk.okx_takeover)."""
    with own_venue(tmp_path, profile="okx") as (running, _cfg, trader), \
            Client(running.address, admin_key=(tmp_path / "admin.key").read_text().strip()) as admin:
        admin.set_index_price(BTC, "65000")
        admin.set_index_price(ETH, "3000")
        maker = admin.with_key(admin.create_account().api_key)
        maker.deposit("USDT", "20000000")
        trader.deposit("USDT", "328765")  # with the fixture's 1,000: 325,000 + 1,500 + the 3,265 opening fees
        for symbol, qty, price in ((BTC, "100", "65000"), (ETH, "10", "3000")):
            trader.set_margin_mode(symbol, "isolated")
            assert trader.set_leverage(symbol, 20) == 20
            maker.place_order(symbol, "sell", qty, price)
            trader.place_order(symbol, "buy", qty, price)
            assert legs(trader, symbol) == {"both": Decimal(qty)}
        maker.place_order(BTC, "buy", "100", "61000")
        maker.place_order(ETH, "buy", "10", "2855")

        admin.set_index_price(BTC, "62000")  # the BTC step: nothing fills, the position waits
        assert legs(trader, BTC) == {"both": Decimal("100")}
        assert admin.set_index_price(ETH, "2860").liquidations == 1  # ETH is not frozen
        assert legs(trader, ETH) == {}
        admin.set_index_price(BTC, "61800")  # BTC still inside its minute
        assert legs(trader, BTC) == {"both": Decimal("100")}
