"""The units a market's figures are in, for tables: prices in the quote asset, quantities in the
base asset (linear) or contracts (inverse), money in the settlement asset."""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple


class Amount(NamedTuple):
    """A figure with its unit (`65000.5 USDT`, `0.010 BTC`, `3 cont`); tables right-align these."""

    value: Decimal
    unit: str

    def __str__(self) -> str:
        return f"{format(self.value, 'f')} {self.unit}"


class MarketUnits:
    """Units of every market of a venue, read once per command (one ListMarkets call)."""

    def __init__(self, markets) -> None:
        self._m = {m.symbol: m for m in markets}

    @classmethod
    def of(cls, client) -> MarketUnits:
        """The units of the markets `client.markets()` lists (one ListMarkets call)."""
        return cls(client.markets())

    def market(self, symbol: str):
        """The venue's Market `symbol` (perpsim.clients.market_models.Market); None if unknown."""
        return self._m.get(symbol)

    def price_unit(self, symbol: str) -> str:
        """The unit of `symbol`'s prices: its quote asset ("" for an unknown market)."""
        m = self._m.get(symbol)
        return m.quote_asset if m else ""

    def qty_unit(self, symbol: str) -> str:
        """The unit of `symbol`'s quantities: its base asset, or "cont" on an inverse market ("" if unknown)."""
        m = self._m.get(symbol)
        if m is None:
            return ""
        return "cont" if m.kind == "inverse" else m.base_asset

    def money_unit(self, symbol: str) -> str:
        """The unit of `symbol`'s money: its settlement asset ("" for an unknown market)."""
        m = self._m.get(symbol)
        return m.settle_asset if m else ""

    def price(self, symbol: str, value: Decimal | None) -> Amount | None:
        """`value` as an Amount in `symbol`'s price unit; None for None."""
        return None if value is None else Amount(value, self.price_unit(symbol))

    def qty(self, symbol: str, value: Decimal | None) -> Amount | None:
        """`value` as an Amount in `symbol`'s quantity unit; None for None."""
        return None if value is None else Amount(value, self.qty_unit(symbol))

    def money(self, symbol: str, value: Decimal | None) -> Amount | None:
        """`value` as an Amount in `symbol`'s settlement asset; None for None."""
        return None if value is None else Amount(value, self.money_unit(symbol))
