"""What the signals read from the engine, in one place: the engine's read API
(`perpsim.engine.views.ExchangeView`), its cheap scalars where a whole view would cost more than
the signals need (`ExchangeView.position` also ranks ADL and estimates funding: the stress needs
only a bankruptcy price, the leverage only a margin)."""

from __future__ import annotations

from operator import itemgetter

from perpsim.engine.views import ExchangeView
from perpsim.model.enums import PositionSide, Side

_PRICE_LOTS = itemgetter(0, 1)  # a book level's (price ticks, lots)


class EngineReader:
    """The engine reads of the signals, over one `ExchangeView` of `exchange`: prices in ticks,
    sizes in lots, money in the asset's integer units, funding rates scaled by RATE_SCALE."""

    __slots__ = ("hedge", "view")

    def __init__(self, exchange) -> None:
        self.view = ExchangeView(exchange)
        self.hedge = self.view.hedge_mode  # (account) -> bool; bound once: asked per position change

    @property
    def ts(self) -> int:
        """Venue time of the last command applied (ns)."""
        return self.view.ts

    def symbols(self) -> tuple[str, ...]:
        """The listed markets, in listing order."""
        return self.view.symbols()

    def spec(self, symbol: str):
        """The market's spec."""
        return self.view.spec(symbol)

    def mark(self, symbol: str) -> int | None:
        """The market's mark (ticks); None before the first."""
        return self.view.mark(symbol)

    def depth(self, symbol: str, side: int, levels: int) -> list[tuple[int, int]]:
        """(price ticks, lots) of the best `levels` levels of one side, best first."""
        return list(map(_PRICE_LOTS, self.view.depth(symbol, side, levels)))

    def book(self, symbol: str, levels: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(bids, asks): (price ticks, lots) of the best `levels` levels a side, best first."""
        return self.depth(symbol, Side.BUY, levels), self.depth(symbol, Side.SELL, levels)

    def predicted_funding(self, symbol: str) -> int:
        """Scaled by RATE_SCALE."""
        return self.view.predicted_funding_rate(symbol)

    def insurance(self, asset: str) -> int:
        """The insurance fund of `asset` (integer money units)."""
        return self.view.insurance(asset)

    def isolated(self, account: int, symbol: str) -> bool:
        """Whether the account's margin mode in the market is isolated."""
        return self.view.isolated(account, symbol)

    def lots(self, account: int, symbol: str, pside: int = PositionSide.BOTH) -> int:
        """Signed lots of one position (0: none)."""
        return self.view.position_lots(account, symbol, pside)

    def liquidation(self, account: int, symbol: str, pside: int) -> tuple[int, int] | None:
        """(the tick the venue's liquidation index triggers at, +1 if at or below it else −1),
        or None: the index's own entry, O(1)."""
        entry = self.view.liquidation_trigger(account, symbol, pside)
        return None if entry is None else (entry[1], entry[0])

    def bankruptcy(self, account: int, symbol: str, pside: int) -> float:
        """The exact bankruptcy price in ticks (as a float), 0.0 when none."""
        bp = self.view.bankruptcy_price(account, symbol, pside)
        return 0.0 if bp is None else float(bp)

    def isolated_margin(self, account: int, symbol: str, pside: int) -> int:
        """The margin held by an isolated position (integer money units; 0 for none)."""
        return self.view.isolated_margin(account, symbol, pside)

    def margin_balance(self, account: int, asset: str) -> int:
        """The account's cross margin balance in `asset`: wallet + uPnL of its cross positions (integer money units)."""
        return self.view.margin_balance(account, asset)

    def holders(self, symbol: str) -> list[int]:
        """Every account holding a position in the market, sorted (one walk: for a fresh start)."""
        return sorted({h.account for h in self.view.all_positions(symbol)})
