"""Market specifications: `MarketSpec` (one market's rules, validated), `MarketKind` and the book's integer bounds.

A `MarketSpec` is one instrument's rules as data: its grid (tick, lot), its limits, its fees.
Its conversions between decimals and integer units (ticks, lots, settlement units), the exact
decimal <-> integer edge of the venue, are `MarketUnits` in model/market_units.py, which it
inherits.

Markets files (TOML, model/markets.toml) are read by model/market_files.py.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Final

from perpsim.model.bracket_rows import BracketRow, bracket_rows
from perpsim.model.decimals import canonical, int_exp, is_multiple, places, scaled, steps
from perpsim.model.market_units import MarketUnits, _parse, _show
from perpsim.model.reasons import Rejected, RejectReason

__all__ = [
    "MAX_MONEY_UNITS",
    "MAX_PRICE_TICKS",
    "MAX_QTY_LOTS",
    "MarketKind",
    "MarketSpec",
]

#: Largest quantity (lots) an order book accepts. The book stores prices and quantities as
#: int64; with at most MAX_PRICE_TICKS x MAX_QTY_LOTS = 2**62 no price x quantity product,
#: and no level total of up to 2**22 such orders, overflows. engine/book_types.py enforces the
#: same bounds (BookLimits); they live here because model/ is the bottom layer.
MAX_QTY_LOTS: Final = 1 << 40
#: Largest price (ticks) an order book accepts: 2**22 = 4_194_304 ticks.
MAX_PRICE_TICKS: Final = (1 << 62) // MAX_QTY_LOTS
#: Largest absolute amount of money (settlement units) the edge accepts: int64.
MAX_MONEY_UNITS: Final = (1 << 63) - 1

# A spec value must lie within 1e-40 .. 1e40 (or be zero): far beyond any real market, and
# it keeps every derived integer small.
_SPEC_EXP_RANGE = 40
_MAX_SETTLE_DECIMALS = 18

_SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9_]{0,31}")
_ASSET = re.compile(r"[A-Z0-9]{1,16}")


class MarketKind(StrEnum):
    """How a market is margined and its quantities counted."""

    #: Quantity in base units, margin and PnL in the quote asset (Binance USDⓈ-M).
    LINEAR = "linear"
    #: Quantity in contracts of `contract_size` quote (USD) face value, margin and PnL in the
    #: base coin (Binance COIN-M).
    INVERSE = "inverse"


# --- the market spec -------------------------------------------------------------------------

DECIMAL_FIELDS: Final = (
    "tick_size",
    "lot_size",
    "min_qty",
    "max_qty",
    "min_price",
    "max_price",
    "min_notional",
    "price_band_up",
    "price_band_down",
    "contract_size",
    "maker_fee",
    "taker_fee",
    "liquidation_fee",
)
INT_FIELDS: Final = ("settle_decimals", "max_open_orders", "max_algo_orders")


@dataclass(frozen=True, kw_only=True)
class MarketSpec(MarketUnits):
    """One market's rules. Immutable; validated on construction.

    Decimal fields also accept str or int (converted exactly, floats refused) and are stored
    canonical ("0.10" is stored as Decimal("0.1")). Any inconsistency raises
    `Rejected(INVALID_MARKET_SPEC, symbol=..., field=..., value=..., problem=...)`.

    symbol           e.g. "BTCUSDT"
    kind             MarketKind (or its value, "linear" / "inverse")
    base, quote      assets, e.g. "BTC", "USDT"
    settle           settlement (margin) asset: the quote for linear, the base for inverse;
                     "" (the default) derives it
    tick_size        price step (quote per base unit), > 0
    lot_size         quantity step (base units for linear, contracts for inverse), > 0
    min_qty, max_qty inclusive quantity limits, multiples of lot_size, at most MAX_QTY_LOTS lots
    min_price, max_price
                     inclusive price limits, multiples of tick_size, at most MAX_PRICE_TICKS
    min_notional     minimum order notional in the quote asset (linear: price x qty; a multiple
                     of the settlement unit), >= 0
    price_band_up, price_band_down
                     limit-price band as multipliers of the mark price (Binance PERCENT_PRICE:
                     1.05 / 0.95)
    contract_size    linear: 1 (one base unit per unit of quantity); inverse: the quote (USD)
                     face value of one contract, e.g. 100
    settle_decimals  money is integer units of 10**-settle_decimals settlement asset (0..18)
    max_open_orders  per account and market, open and conditional orders together (Binance
                     MAX_NUM_ORDERS, -2025)
    max_algo_orders  conditional (algo) orders per account and market, counting the legs an
                     order list will arm (Binance MAX_NUM_ALGO_ORDERS, -4045)
    maker_fee, taker_fee
                     fee rates; a negative maker fee is a rebate, never more than the taker fee
    liquidation_fee  rate charged on liquidated notional (to the insurance fund)
    brackets         the venue's leverage and margin brackets of this market as rows
                     (cap in the settlement asset, max leverage, mmr) (model.bracket_rows);
                     () = the venue's default table (risk.brackets.market_brackets)
    """

    symbol: str
    kind: MarketKind
    base: str
    quote: str
    settle: str = ""
    tick_size: Decimal
    lot_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_price: Decimal
    max_price: Decimal
    min_notional: Decimal = Decimal(0)
    price_band_up: Decimal = Decimal("1.05")
    price_band_down: Decimal = Decimal("0.95")
    contract_size: Decimal = Decimal(1)
    settle_decimals: int
    max_open_orders: int = 200
    max_algo_orders: int = 100
    maker_fee: Decimal = Decimal("0.0002")
    taker_fee: Decimal = Decimal("0.0005")
    liquidation_fee: Decimal = Decimal("0.0125")
    brackets: tuple[BracketRow, ...] = ()

    # Derived integers, computed once in __post_init__.
    _limits: tuple[int, int, int, int] = dataclasses.field(init=False, repr=False, compare=False)
    # tick_size and lot_size as (n, e) with size == n * 10**e (what every conversion scales by)
    _tick_ne: tuple[int, int] = dataclasses.field(init=False, repr=False, compare=False)
    _lot_ne: tuple[int, int] = dataclasses.field(init=False, repr=False, compare=False)
    _notional_per_tick_lot: int = dataclasses.field(init=False, repr=False, compare=False)
    _settle_unit: Decimal = dataclasses.field(init=False, repr=False, compare=False)
    _max_money: Decimal = dataclasses.field(init=False, repr=False, compare=False)

    def _bad(self, field: str, problem: str, value: object = None) -> Rejected:
        shown = _show(getattr(self, field, None) if value is None else value)
        return Rejected(
            RejectReason.INVALID_MARKET_SPEC, symbol=self.symbol, field=field, value=shown, problem=problem
        )

    def _set(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)  # frozen: only __post_init__ normalizes

    def __post_init__(self) -> None:
        # Identity.
        if not isinstance(self.symbol, str) or not _SYMBOL.fullmatch(self.symbol):
            raise self._bad("symbol", "must be 1-32 of A-Z, 0-9, _ (starting with A-Z or 0-9)")
        try:
            self._set("kind", MarketKind(self.kind))
        except ValueError:
            raise self._bad("kind", "must be 'linear' or 'inverse'") from None
        for name in ("base", "quote"):
            if not isinstance(getattr(self, name), str) or not _ASSET.fullmatch(getattr(self, name)):
                raise self._bad(name, "must be 1-16 of A-Z, 0-9")
        if self.base == self.quote:
            raise self._bad("quote", "must differ from base")
        expected_settle = self.quote if self.kind is MarketKind.LINEAR else self.base
        if self.settle == "":
            self._set("settle", expected_settle)
        elif self.settle != expected_settle:
            raise self._bad("settle", f"a {self.kind.value} market settles in {expected_settle}")

        # Integers.
        for name, low, high in (
            ("settle_decimals", 0, _MAX_SETTLE_DECIMALS),
            ("max_open_orders", 1, None),
            ("max_algo_orders", 1, None),
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise self._bad(name, "must be an integer")
            if v < low or (high is not None and v > high):
                raise self._bad(name, f"must be in {low}..{high if high is not None else ''}")

        # Decimals: exact, finite, within a sane magnitude, stored canonical.
        for name in DECIMAL_FIELDS:
            raw = getattr(self, name)
            try:
                number = _parse(raw, name)
            except TypeError as exc:
                raise self._bad(name, str(exc), raw) from None
            except Rejected:
                raise self._bad(name, "not an exact decimal number", raw) from None
            if number != 0 and not -_SPEC_EXP_RANGE <= number.adjusted() <= _SPEC_EXP_RANGE:
                raise self._bad(name, f"magnitude outside 1e-{_SPEC_EXP_RANGE}..1e{_SPEC_EXP_RANGE}")
            self._set(name, canonical(number))

        # The grid and its limits.
        for name in ("tick_size", "lot_size", "contract_size", "min_price", "min_qty"):
            if getattr(self, name) <= 0:
                raise self._bad(name, "must be positive")
        if self.kind is MarketKind.LINEAR and self.contract_size != 1:
            raise self._bad("contract_size", "must be 1 for a linear market (quantity is in base units)")
        for lowest, highest, step in (
            ("min_price", "max_price", "tick_size"),
            ("min_qty", "max_qty", "lot_size"),
        ):
            for limit in (lowest, highest):
                if not is_multiple(getattr(self, limit), getattr(self, step)):
                    raise self._bad(limit, f"must be a multiple of {step} {getattr(self, step)}")
            if getattr(self, lowest) > getattr(self, highest):
                raise self._bad(highest, f"must be >= {lowest} {getattr(self, lowest)}")
        limits = (
            steps(self.min_price, self.tick_size),
            steps(self.max_price, self.tick_size),
            steps(self.min_qty, self.lot_size),
            steps(self.max_qty, self.lot_size),
        )
        if limits[1] > MAX_PRICE_TICKS:
            raise self._bad(
                "max_price",
                f"{limits[1]} ticks exceed MAX_PRICE_TICKS {MAX_PRICE_TICKS} (int64 book bound)",
            )
        if limits[3] > MAX_QTY_LOTS:
            raise self._bad(
                "max_qty", f"{limits[3]} lots exceed MAX_QTY_LOTS {MAX_QTY_LOTS} (int64 book bound)"
            )
        self._set("_limits", limits)
        self._set("_tick_ne", int_exp(self.tick_size))
        self._set("_lot_ne", int_exp(self.lot_size))

        # Money.
        unit = scaled(1, -self.settle_decimals)
        self._set("_settle_unit", unit)
        self._set("_max_money", scaled(MAX_MONEY_UNITS, -self.settle_decimals))
        if self.min_notional < 0:
            raise self._bad("min_notional", "must be >= 0")
        npl = 0
        if self.kind is MarketKind.LINEAR:
            # notional units = price_ticks * qty_lots * npl, exactly, needs npl to be an integer.
            num, den = 10**self.settle_decimals, 1
            for name in ("tick_size", "lot_size", "contract_size"):
                n, d = getattr(self, name).as_integer_ratio()
                num, den = num * n, den * d
            if num % den:
                raise self._bad(
                    "settle_decimals",
                    "tick_size x lot_size x 10**settle_decimals must be an integer number of "
                    "settlement units, so that notionals are exact",
                )
            npl = num // den
            if not is_multiple(self.min_notional, unit):
                raise self._bad("min_notional", f"must be a multiple of the settlement unit {unit}")
        self._set("_notional_per_tick_lot", npl)

        # Bands and fees.
        if not 0 < self.price_band_down <= 1:
            raise self._bad("price_band_down", "must be in (0, 1]")
        if self.price_band_up < 1:
            raise self._bad("price_band_up", "must be >= 1")
        if not -1 < self.maker_fee < 1:
            raise self._bad("maker_fee", "must be in (-1, 1)")
        if not 0 <= self.taker_fee < 1:
            raise self._bad("taker_fee", "must be in [0, 1)")
        if self.maker_fee < self.taker_fee.copy_negate():  # copy_negate: exact, no context
            raise self._bad("maker_fee", "a maker rebate must not exceed the taker fee")
        if not 0 <= self.liquidation_fee < 1:
            raise self._bad("liquidation_fee", "must be in [0, 1)")
        if self.brackets != ():
            try:
                self._set("brackets", bracket_rows(self.brackets, unit))
            except ValueError as exc:
                raise self._bad("brackets", str(exc), "[...]") from None

    # --- derived values ------------------------------------------------------------------

    @property
    def price_decimals(self) -> int:
        """Fractional digits of a price on this market's grid (tick 0.1 -> 1, 0.5 -> 1)."""
        return places(self.tick_size)

    @property
    def qty_decimals(self) -> int:
        """Fractional digits of a quantity on this market's grid (lot 0.001 -> 3, 1 -> 0)."""
        return places(self.lot_size)

    @property
    def notional_per_tick_lot(self) -> int:
        """Linear only: settlement units of one tick x one lot, so that a notional is exactly
        price_ticks * qty_lots * notional_per_tick_lot units (BTCUSDT: 0.1 x 0.001 x 1e8 =
        10000). ValueError for an inverse market, whose notional is not linear in price."""
        if self.kind is not MarketKind.LINEAR:
            raise ValueError(f"{self.symbol}: notional_per_tick_lot is defined for linear markets only")
        return self._notional_per_tick_lot

    def book_limits(self) -> tuple[int, int, int, int]:
        """(min_price_ticks, max_price_ticks, min_qty_lots, max_qty_lots), inclusive; the
        argument order of engine's BookLimits. Always within MAX_PRICE_TICKS / MAX_QTY_LOTS."""
        return self._limits
