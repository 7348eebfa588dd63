"""The calculator's decimal inputs and display rounding: where `risk.preview` meets Decimal.

Each preview function parses its arguments here into exact, bounded decimals (and the few
enums: side, rounding, liquidation model, market), and rounds its exact results here for
display. The exact decimal <-> integer conversions themselves are model/decimals.py.

Units of the inputs
-------------------
* prices in quote per base (USDT per BTC; USD per BTC for COIN-M);
* ``size`` > 0 with ``side`` "long"/"short" (orders: "buy"/"sell"): base units for a linear
  market, contracts for an inverse (COIN-M) one;
* money (wallet, other positions' MM and uPnL, ``cum``, bracket caps) in the settlement asset:
  the quote (USDT) for linear, the coin (BTC) for inverse;
* rates as decimal fractions: ``mmr="0.004"`` is 0.4 %, ``premium="-0.00184"``.

Every input is a ``Decimal``, ``str`` or ``int``; a float is refused with TypeError, bad input
raises ValueError with a message naming the field.

Display rounding (each output states it)
----------------------------------------
``rounding="venue"`` (the default):

* liquidation, bankruptcy and band prices: to ``price_step`` in the conservative direction — up
  for a long, down for a short (`risk.liqprice.round_to_tick`) — so the shown price is reached
  no later than the exact one; the engine's liquidation trigger rounds the same way. Default
  step: the market's tick, otherwise 10**-max(2, decimal places of the entry and mark).
* money (margins, cost, notional, PnL, balances): truncated toward zero to ``money_places``
  decimals (default 2 for a quote asset such as USDT, 8 for a coin). Binance shows the initial
  margin 462.665 as 462.66 (A4): not half-up; truncation fits every published figure.
* margin ratio (%): 2 decimals rounded up (the riskier reading); liquidation distance (%):
  2 decimals rounded down (toward −∞: the smaller margin of safety).
* rates (funding): exact — the rate arithmetic of `risk.funding` has no rounding.

``rounding="nearest"`` rounds every one of those half-to-even at the same precision. The
figures the spec derives itself (A2 "19,698.49", A3 "19,076.3052 / 20,916.3347") are nearest
roundings of the exact value; the venue display of the same long is one step higher.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from fractions import Fraction

from perpsim.model import decimals as dm
from perpsim.model.enums import Side
from perpsim.model.market_files import default_markets
from perpsim.model.markets import MarketSpec
from perpsim.risk import liqprice as _lp
from perpsim.risk.units import rate

Number = Decimal | str | int
RowInput = tuple[Number, Number, Number]

#: Inputs are bounded so that no derived integer is huge: |exponent| <= 30, <= 40 digits.
_MAX_ADJUSTED = 30
_MAX_DIGITS = 40
MAX_LEVERAGE = 1000


class Rounding(StrEnum):
    """How the calculator rounds what it shows."""

    #: The venue's display: conservative prices, truncated money (module docstring).
    VENUE = "venue"
    #: Half-to-even everywhere, at the same precision.
    NEAREST = "nearest"


def parse_decimal(value: object, field: str) -> Decimal:
    """An exact, finite, bounded Decimal from a Decimal, str or int; floats refused."""
    dm.refuse_inexact(value, field)
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{field}: {value!r} is not a decimal number") from None
    if not number.is_finite():
        raise ValueError(f"{field}: {value!r} is not a finite number")
    if len(number.as_tuple().digits) > _MAX_DIGITS or (number and abs(number.adjusted()) > _MAX_ADJUSTED):
        raise ValueError(f"{field}: {value!r} is out of range")
    return number


def parse_positive(value: object, field: str) -> Decimal:
    """`parse_decimal`, and > 0."""
    number = parse_decimal(value, field)
    if number <= 0:
        raise ValueError(f"{field} must be > 0, got {value}")
    return number


def round_money(x: Fraction, places: int, rounding: Rounding) -> Decimal:
    """Money for display: truncated toward zero to ``places`` decimals (venue), or half-to-even."""
    how = dm.Round.DOWN if rounding is Rounding.VENUE else dm.Round.HALF_EVEN
    return dm.round_to_step(x, dm.scaled(1, -places), how)


def round_price(x: Fraction, step: Decimal, trigger: _lp.Trigger, rounding: Rounding) -> Decimal:
    """A liquidation-type price for display: to ``step``, up when it triggers at or below (a long),
    down when at or above (venue); or half-to-even."""
    if rounding is Rounding.NEAREST:
        return dm.round_to_step(x, step, dm.Round.HALF_EVEN)
    sn, se = dm.int_exp(step)
    return dm.scaled(_lp.round_to_tick(x / Fraction(step), trigger) * sn, se)


def round_pct(x: Fraction, how: dm.Round, rounding: Rounding) -> Decimal:
    """A fraction as percent with 2 decimals, rounded ``how`` (venue) or half-to-even."""
    return dm.round_to_step(x * 100, Decimal("0.01"), how if rounding is Rounding.VENUE else dm.Round.HALF_EVEN)


def parse_rounding(value: Rounding | str) -> Rounding:
    """"venue" or "nearest" (the display rounding above)."""
    try:
        return Rounding(value)
    except ValueError:
        raise ValueError(f"rounding must be 'venue' or 'nearest', got {value!r}") from None


def parse_model(profile: _lp.LiquidationModel | str) -> _lp.LiquidationModel:
    """A LiquidationModel, its value ("binance", "bybit"), or anything carrying one as
    ``liquidation_model`` (a venue profile)."""
    profile = getattr(profile, "liquidation_model", profile)
    if isinstance(profile, _lp.LiquidationModel):
        return profile
    try:
        return _lp.LiquidationModel(str(profile).lower())
    except ValueError:
        raise ValueError(f"profile must be 'binance' or 'bybit', got {profile!r}") from None


def parse_direction(side: Side | str) -> int:
    """+1 for long/buy, −1 for short/sell."""
    if isinstance(side, Side):
        return 1 if side is Side.BUY else -1
    name = str(side).lower()
    if name in ("long", "buy"):
        return 1
    if name in ("short", "sell"):
        return -1
    raise ValueError(f"side must be long/short (or buy/sell), got {side!r}")


def parse_leverage(value: object) -> int:
    """A whole leverage in 1..MAX_LEVERAGE."""
    number = parse_decimal(value, "leverage")
    if number != number.to_integral_value() or not 1 <= number <= MAX_LEVERAGE:
        raise ValueError(f"leverage must be a whole number in 1..{MAX_LEVERAGE}, got {value}")
    return int(number)


def parse_rate(value: object, field: str) -> int:
    """A rate as a fraction (at most 8 decimals), scaled to `risk.units.RATE_SCALE`, exact."""
    number = parse_decimal(value, field)
    try:
        return rate(number)
    except ValueError:
        raise ValueError(f"{field}: {value} is finer than 1e-8") from None


def parse_market(market: MarketSpec | str | None) -> MarketSpec | None:
    """A `MarketSpec`, a symbol of `default_markets()` (case-insensitive), or None."""
    if market is None or isinstance(market, MarketSpec):
        return market
    markets = default_markets()
    spec = markets.get(str(market).upper())
    if spec is None:
        raise ValueError(f"unknown market {market!r}; known: {', '.join(sorted(markets))}")
    return spec


def arguments_of(source: Callable[..., object]) -> Callable[[Callable[..., object]], Callable[..., object]]:
    """Give a thin alias the keyword signature of the function it reads one field of (help())."""

    def wrap(fn: Callable[..., object]) -> Callable[..., object]:
        ret = inspect.signature(fn).return_annotation
        fn.__signature__ = inspect.signature(source).replace(return_annotation=ret)  # type: ignore[attr-defined]
        return fn

    return wrap
