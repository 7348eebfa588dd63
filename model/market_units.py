"""The exact decimal <-> integer edge of a market: `MarketUnits`, the conversions `MarketSpec`
(model/markets.py) inherits, and the input guards they and the spec's validation parse with.

Inside engine/ and risk/ a price is an integer number of ticks, a quantity an integer number
of lots and an amount of money an integer number of settlement units (10**-settle_decimals of
the settlement asset). The conversions here, on model/decimals.py (the one exact edge, which
risk/preview.py uses too), are where a decimal becomes such an integer or back. They never
round: a value off the grid is rejected with a `Rejected` that names the reason and the
offending field (DESIGN.md "Numbers" and "Errors").

No float ever takes part. Inputs are `str`, `int` or `Decimal`; a float is refused with
TypeError because its decimal value is not what the caller wrote. Exactness is decided with
integer arithmetic on the decimal's digits and exponent, so no Decimal context precision
(and no rounding) is involved anywhere.
"""

from __future__ import annotations

import functools
import operator
import re
from decimal import Decimal, InvalidOperation

from perpsim.model.decimals import is_multiple, refuse_inexact, scaled, steps
from perpsim.model.reasons import Rejected, RejectReason

__all__ = ["MarketUnits"]

# Input guards. A plain decimal literal only (no whitespace, underscores, non-ASCII digits,
# NaN or infinity, all of which Decimal() itself would accept); bounded length and digit
# count, so that no input can make the exact integer arithmetic below expensive.
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_MAX_TEXT = 64
_MAX_DIGITS = 64


# --- exact decimal helpers (integer arithmetic only) ----------------------------------------


def _show(value: object) -> str:
    """The offending input as text for a reject's fields, bounded in length."""
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "…"


def _parse(value: object, field: str) -> Decimal:
    """Parse `value` (str, int or Decimal) into a finite Decimal, exactly.

    TypeError for a float (inexact by nature), a bool or any other type; `Rejected`
    BAD_PRECISION for text that is not a plain decimal literal, NaN, infinity, or a value
    with more than 64 characters / significant digits.
    """
    refuse_inexact(value, field)
    if isinstance(value, str):
        if len(value) > _MAX_TEXT or not _DECIMAL_TEXT.fullmatch(value):
            raise Rejected(RejectReason.BAD_PRECISION, field=field, value=_show(value))
        try:
            number = Decimal(value)
        except InvalidOperation:  # exponent beyond what Decimal can represent
            raise Rejected(RejectReason.BAD_PRECISION, field=field, value=_show(value)) from None
    elif isinstance(value, int):
        if abs(value) >= 10**_MAX_DIGITS:
            raise Rejected(RejectReason.BAD_PRECISION, field=field, value=_show(value))
        number = Decimal(value)
    else:
        assert isinstance(value, Decimal)  # refuse_inexact lets only str, int and Decimal through
        number = value
    if not number.is_finite() or len(number.as_tuple().digits) > _MAX_DIGITS:
        raise Rejected(RejectReason.BAD_PRECISION, field=field, value=_show(value))
    return number


@functools.lru_cache(maxsize=1 << 16)
def _format_scaled(n: int, exp: int) -> str:
    """n * 10**exp as a plain decimal string with exactly -exp fractional digits (the venue
    answers with the same few prices and sizes over and over: each is formatted once)."""
    return format(scaled(n, exp), "f")


def _index(value: object, name: str) -> int:
    """An integer (int or an integer type such as numpy.int64), never a bool or float."""
    if isinstance(value, bool):
        raise TypeError(f"{name}: expected an integer, got bool")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{name}: expected an integer, got {type(value).__name__}") from None


# --- the conversions -------------------------------------------------------------------------


class MarketUnits:
    """A market's conversions between decimals and its integer units (ticks, lots, settlement
    units). `MarketSpec` inherits them and supplies the grid they read (the attributes below,
    validated and derived in its __post_init__)."""

    # prices: price_to_ticks, ticks_to_price, format_price
    tick_size: Decimal
    min_price: Decimal
    max_price: Decimal
    _tick_ne: tuple[int, int]
    # quantities: qty_to_lots, lots_to_qty, format_qty
    lot_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    _lot_ne: tuple[int, int]
    # money: money_to_units, units_to_money, format_money
    settle_decimals: int
    _settle_unit: Decimal
    _max_money: Decimal

    # --- decimal -> integer (input edge) ---------------------------------------------------

    def price_to_ticks(self, value: str | int | Decimal) -> int:
        """A price in quote per base unit -> integer ticks. Never rounds; rejects.

        Checks in order, each raising `Rejected` with field="price" and value=<input>:
        not a plain finite decimal -> BAD_PRECISION; <= 0 -> INVALID_PRICE; not a multiple of
        tick_size -> PRICE_OFF_TICK (+tick_size); below min_price -> PRICE_TOO_LOW
        (+min_price); above max_price -> PRICE_TOO_HIGH (+max_price). TypeError for a float.
        """
        number = _parse(value, "price")
        if number <= 0:
            raise Rejected(RejectReason.INVALID_PRICE, field="price", value=_show(value))
        if not is_multiple(number, self.tick_size):
            raise Rejected(
                RejectReason.PRICE_OFF_TICK, field="price", value=_show(value), tick_size=str(self.tick_size)
            )
        if number < self.min_price:
            raise Rejected(
                RejectReason.PRICE_TOO_LOW, field="price", value=_show(value), min_price=str(self.min_price)
            )
        if number > self.max_price:
            raise Rejected(
                RejectReason.PRICE_TOO_HIGH, field="price", value=_show(value), max_price=str(self.max_price)
            )
        return steps(number, self.tick_size)

    def qty_to_lots(self, value: str | int | Decimal) -> int:
        """A quantity (base units for linear, contracts for inverse) -> integer lots. Never
        rounds; rejects.

        Checks in order, each raising `Rejected` with field="quantity" and value=<input>:
        BAD_PRECISION; <= 0 -> INVALID_QUANTITY; not a multiple of lot_size ->
        QUANTITY_OFF_STEP (+lot_size); below min_qty -> QUANTITY_TOO_SMALL (+min_qty); above
        max_qty -> QUANTITY_TOO_LARGE (+max_qty). TypeError for a float.
        """
        number = _parse(value, "quantity")
        if number <= 0:
            raise Rejected(RejectReason.INVALID_QUANTITY, field="quantity", value=_show(value))
        if not is_multiple(number, self.lot_size):
            raise Rejected(
                RejectReason.QUANTITY_OFF_STEP,
                field="quantity",
                value=_show(value),
                lot_size=str(self.lot_size),
            )
        if number < self.min_qty:
            raise Rejected(
                RejectReason.QUANTITY_TOO_SMALL,
                field="quantity",
                value=_show(value),
                min_qty=str(self.min_qty),
            )
        if number > self.max_qty:
            raise Rejected(
                RejectReason.QUANTITY_TOO_LARGE,
                field="quantity",
                value=_show(value),
                max_qty=str(self.max_qty),
            )
        return steps(number, self.lot_size)

    def money_to_units(self, value: str | int | Decimal) -> int:
        """An amount of the settlement asset -> integer units of 10**-settle_decimals. Signed
        (a sign check is the caller's business rule). Never rounds; rejects.

        `Rejected` BAD_PRECISION with field="amount", value=<input> for a non-decimal input,
        for a sub-unit amount (+settle_decimals) and for |amount| beyond MAX_MONEY_UNITS units
        (+max_amount). TypeError for a float.
        """
        number = _parse(value, "amount")
        if not is_multiple(number, self._settle_unit):
            raise Rejected(
                RejectReason.BAD_PRECISION,
                field="amount",
                value=_show(value),
                settle_decimals=self.settle_decimals,
            )
        if number.copy_abs() > self._max_money:
            raise Rejected(
                RejectReason.BAD_PRECISION,
                field="amount",
                value=_show(value),
                max_amount=str(self._max_money),
            )
        return steps(number, self._settle_unit)

    # --- integer -> decimal (output edge) --------------------------------------------------

    def ticks_to_price(self, ticks: int) -> Decimal:
        """Integer ticks -> the exact price, with exactly price_decimals fractional digits
        (200001 ticks of 0.1 -> Decimal("20000.1")). Any int, including <= 0 (price
        differences); TypeError for a non-integer."""
        n, exp = self._tick_ne
        return scaled(_index(ticks, "ticks") * n, exp)

    def lots_to_qty(self, lots: int) -> Decimal:
        """Integer lots -> the exact quantity with exactly qty_decimals fractional digits.
        Signed lots (positions) are allowed; TypeError for a non-integer."""
        n, exp = self._lot_ne
        return scaled(_index(lots, "lots") * n, exp)

    def units_to_money(self, units: int) -> Decimal:
        """Integer settlement units -> the exact amount with settle_decimals fractional digits.
        Negative allowed; TypeError for a non-integer."""
        return scaled(_index(units, "units"), -self.settle_decimals)

    def format_price(self, ticks: int) -> str:
        """Ticks as a plain decimal string with exactly price_decimals fractional digits."""
        n, exp = self._tick_ne
        return _format_scaled(_index(ticks, "ticks") * n, exp)

    def format_qty(self, lots: int) -> str:
        """Lots as a plain decimal string with exactly qty_decimals fractional digits."""
        n, exp = self._lot_ne
        return _format_scaled(_index(lots, "lots") * n, exp)

    def format_money(self, units: int) -> str:
        """Units as a plain decimal string with exactly settle_decimals fractional digits."""
        return format(self.units_to_money(units), "f")
