"""An exchange under test in which TRADER trades against MAKER, every command followed by the
state's integrity check (the Multi-Assets tests: tests/unit/engine/test_multi_assets_engine.py,
tests/fidelity/test_stablecoin_index.py)."""

from __future__ import annotations

from perpsim.engine import commands as C
from perpsim.engine.events import CommandRejected
from perpsim.engine.exchange import Exchange
from perpsim.model.enums import OrderKind, Side, TimeInForce
from perpsim.model.markets import MarketSpec
from perpsim.model.reasons import RejectReason as R
from perpsim.risk.brackets import market_brackets
from perpsim.risk.units import rate

U = 10**8  # money units per USDT (and satoshis per BTC)
TRADER, MAKER = 1, 2


class MakerTaker:
    """`markets` (each on its own published brackets) at the first index `prices` given, in
    order, one ns apart; MAKER funded with 10,000,000 USDT. `cls`: the compiled `Exchange` or
    its plain-Python twin; `exchange_kw` goes to it (e.g. book_impl)."""

    def __init__(self, markets: dict[str, MarketSpec], prices: dict[str, str], cls=Exchange,
                 **exchange_kw) -> None:
        self.markets = markets
        self.ex = cls(markets, {s: market_brackets(markets[s]) for s in markets}, start_ts=1, **exchange_kw)
        self.ts = 1
        for symbol, price in prices.items():
            self.index(symbol, price)
        self.do(C.Deposit(self.ts, MAKER, "USDT", 10_000_000 * U))

    def do(self, cmd) -> list:
        events = self.ex.apply(cmd)
        self.ex.check_integrity()
        return events

    def index(self, symbol: str, price: str) -> list:
        """SetIndexPrice 1 ns later: a market's in its ticks, a stablecoin's USD index ("USDTUSD",
        "USDCUSD") as a RATE_SCALE-scaled figure."""
        self.ts += 1
        if symbol.endswith("USD") and symbol[:-3] in ("USDT", "USDC"):
            return self.do(C.SetIndexPrice(self.ts, symbol, rate(price)))
        return self.do(C.SetIndexPrice(self.ts, symbol, self.markets[symbol].price_to_ticks(price)))

    def trade(self, symbol: str, size: str, price: str, lev: int = 20) -> list:
        """TRADER buys `size` (sells if negative) from MAKER at `price`: the IOC's events."""
        spec = self.markets[symbol]
        lots, ticks = spec.qty_to_lots(size.lstrip("-")), spec.price_to_ticks(price)
        buy = not size.startswith("-")
        self.do(C.SetLeverage(self.ts, TRADER, symbol, lev))
        self.do(C.PlaceOrder(self.ts, MAKER, symbol, Side.SELL if buy else Side.BUY, lots, ticks,
                             OrderKind.LIMIT, TimeInForce.GTC))
        return self.do(C.PlaceOrder(self.ts, TRADER, symbol, Side.BUY if buy else Side.SELL, lots, ticks,
                                    OrderKind.LIMIT, TimeInForce.IOC))


def rejected(events) -> list[R]:
    """The reasons of the CommandRejected events among `events`."""
    return [R(e.reason) for e in events if isinstance(e, CommandRejected)]
