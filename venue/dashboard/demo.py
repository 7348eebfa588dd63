"""A small world to look at: resting liquidity around the mark and traders at 3–50× leverage on
both sides, through a venue's public gRPC API (a sandbox admin client). Used to make the
dashboard's screenshots (docs/make_screenshots.py) and by its browser tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

SYMBOL = "BTCUSDT"

# (side, quantity BTC, leverage, isolated): longs and shorts spread over leverage, so the
# liquidation map has buckets on both sides of the mark
POSITIONS = [("buy", "0.05", 3, False), ("buy", "0.12", 10, True), ("buy", "0.2", 20, False),
             ("buy", "0.3", 25, True), ("buy", "0.1", 50, True), ("sell", "0.08", 5, False),
             ("sell", "0.15", 15, True), ("sell", "0.25", 20, False), ("sell", "0.1", 40, True)]


@dataclass
class World:
    """The demo's clients: the liquidity maker, the leveraged traders, and the account the account view shows."""

    maker: object
    traders: list = field(default_factory=list)
    trader: object = None  # the account the account view shows (a 10× long, a loss limit)


def book(maker, mid: int = 65_000, levels: int = 40, step: int = 10, qty: str = "2") -> None:
    """Resting orders every `step` USDT on both sides of `mid`."""
    maker.place_orders([{"symbol": SYMBOL, "side": side, "quantity": qty, "price": str(mid + sign * step * i)}
                        for i in range(1, levels + 1) for side, sign in (("sell", 1), ("buy", -1))])


def build(admin, mid: int = 65_000) -> World:
    """The world on a venue with the feed and the built-in liquidity provider off."""
    maker = admin.with_key(admin.create_account().api_key)
    maker.deposit("USDT", "50000000")
    book(maker, mid)
    world = World(maker)
    for side, qty, leverage, isolated in POSITIONS:
        c = admin.with_key(admin.create_account().api_key)
        c.deposit("USDT", str(round(Decimal(qty) * mid / leverage * Decimal("1.25"), 2)))
        if isolated:
            c.set_margin_mode(SYMBOL, "isolated")
        c.set_leverage(SYMBOL, leverage)
        c.place_order(SYMBOL, side, qty)
        world.traders.append(c)
    trader = admin.with_key(admin.create_account().api_key)
    trader.deposit("USDT", "1500")
    trader.set_leverage(SYMBOL, 10)
    trader.place_order(SYMBOL, "buy", "0.15")
    trader.set_daily_loss_limit("USDT", "200")
    world.trader = trader
    return world
