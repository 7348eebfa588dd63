"""OKX's forced partial liquidation through the real server (`perpsim serve --profile okx`):
a tier-3 position whose step fills nothing (its order rests at the mark × 0.999, over the bid:
risk/okx_orders.py) waits for the re-check "About a minute later" (a deeper fall inside the minute
liquidates nothing more), then is cut down to tier 1's size by a new order at 61,500 × 0.999 =
61,438.5, which the bid at 61,450 fills
(OKX help 360020411711, venue-mechanics §4.5; tests/fidelity/test_okx_partial_steps.py has the
15,000 → 13,000 example itself).

The okx profile's BTC tiers (risk/venue_tables.py, illustrative): tier 1 to 1,000,000 USDT at
0.4 %, tier 2 to 5,000,000 at 1 %, tier 3 to 20,000,000 at 2 %, each plus the 0.05 % taker fee;
cum 0, 6,000, 56,000. 100 BTC from 65,000 at 20x on 371,000 USDT: at 62,000 equity 71,000 ≤ MM
127,100 − 56,000 = 71,100 (tier 3: 6.2 M); bankruptcy price 65,000 − 3,710 = 61,290.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from perpsim.clients.client import Client
from tests.integration.conftest import own_venue

BTC = "BTCUSDT"
SEC = 10**9


def held(trader: Client) -> Decimal:
    return sum((p.quantity for p in trader.positions(BTC)), Decimal(0))


def long_100_btc(admin: Client, trader: Client) -> Client:
    """The trader long 100 BTC at 65,000 and 20x (its wallet 371,000 after the 3,250 opening
    fee), bought from a maker funded with 20,000,000 USDT: the maker's client."""
    admin.set_index_price(BTC, "65000")
    maker = admin.with_key(admin.create_account().api_key)
    maker.deposit("USDT", "20000000")
    trader.deposit("USDT", "373250")  # with the fixture's 1,000: 371,000 + the 3,250 opening fee
    assert trader.set_leverage(BTC, 20) == 20
    maker.place_order(BTC, "sell", "100", "65000")
    trader.place_order(BTC, "buy", "100")
    return maker


def test_okx_waits_a_minute_after_a_step_then_cuts_to_tier_1(tmp_path) -> None:
    with own_venue(tmp_path, profile="okx") as (running, _cfg, trader):
        [okx] = [p for p in trader.profiles() if p.active]
        assert okx.name == "okx" and "tier 1" in okx.partial_liquidation and "60 s" in okx.partial_liquidation
        with Client(running.address, admin_key=(tmp_path / "admin.key").read_text().strip()) as admin:
            maker = long_100_btc(admin, trader)
            assert held(trader) == Decimal("100")
            maker.place_order(BTC, "buy", "100", "61000")  # below the bankruptcy price: the step cannot fill

            admin.set_index_price(BTC, "61900")  # under water in tier 3: the step, unfilled
            assert trader.mark(BTC).mark_price == Decimal("61900")
            assert held(trader) == Decimal("100")
            admin.advance_clock(30 * SEC)
            admin.set_index_price(BTC, "61500")  # deeper inside the minute: it waits
            assert held(trader) == Decimal("100")

            maker.place_order(BTC, "buy", "100", "61450")  # under the step's resting order (61,838.1)
            admin.advance_clock(31 * SEC)  # past the minute: the re-check, a step to tier 1 again
            mark = trader.mark(BTC).mark_price
            keep = (Decimal(1_000_000) / mark).quantize(Decimal("0.001"), rounding=ROUND_FLOOR)
            assert mark == Decimal("61500") and keep == Decimal("16.260")
            assert held(trader) == keep
