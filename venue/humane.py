"""Figures in error messages as a person reads them: money in the asset ("9128.0575 USDT"),
prices and quantities in the market's decimals, rates as fractions, times as UTC timestamps and
durations as "8h" / "30m".

The engine rejects with integer fields (money units, ticks, lots, ns). `in_units` turns the ones
it knows into text for the message; the ErrorInfo metadata keeps the integers, exact, for programs.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from perpsim.model.enums import PositionSide, Side, TimeInForce, TriggerSource
from perpsim.model.markets import MarketSpec
from perpsim.model.reasons import RejectReason as R

_MONEY = frozenset({"required", "available", "amount", "notional", "min_notional", "max_notional", "loss"})
_PRICES = frozenset({"price", "trigger_price", "activation_price", "entry_price", "min_price", "max_price",
                     "trigger"})
_QUANTITIES = frozenset({"qty", "position", "room", "resting_reduce_only"})
_RATES = frozenset({"callback_rate"})
_TIMES = frozenset({"expire_ts", "ts", "resets_at"})
_ENUMS = {"side": Side, "source": TriggerSource, "tif": TimeInForce, "entry_tif": TimeInForce,
          "position_side": PositionSide}

_UNITS = (("d", 86_400 * 10**9), ("h", 3_600 * 10**9), ("m", 60 * 10**9), ("s", 10**9), ("ms", 10**6))


def duration(ns: int) -> str:
    """A duration as its largest whole units: 8h, 30m, 1h30m, 1d, 250ms, 1500ns (exact; the
    smallest unit shown is the coarsest one that leaves no remainder, down to ns)."""
    if ns == 0:
        return "0s"
    sign, rest, parts = "-" if ns < 0 else "", abs(ns), []
    for name, size in _UNITS:
        if rest >= size:
            parts.append(f"{rest // size}{name}")  # whole units, the remainder shown below
            rest %= size
    if rest:
        parts.append(f"{rest}ns")
    return sign + "".join(parts)


def timestamp(ns: int) -> str:
    """A venue time (ns since the epoch) as UTC, milliseconds shown (rounded down)."""
    try:
        moment = datetime.datetime.fromtimestamp(ns // 10**6 / 1000, tz=datetime.UTC)
    except (OverflowError, OSError, ValueError):  # beyond what a calendar shows: the number itself
        return f"{ns}ns"
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def plain(d: Decimal | str) -> str:
    """A decimal without trailing zeros or an exponent ("9128.05750000" -> "9128.0575")."""
    d = Decimal(d)
    text = f"{d:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def in_units(reason: R, fields: dict, spec: MarketSpec | None) -> dict:
    """The fields as a message shows them. Without a spec only times, rates and enums are
    converted (money, prices and sizes need the market's decimals)."""
    shown = {}
    target = str(fields.get("field", ""))
    for name, value in fields.items():
        text = None
        if isinstance(value, int) and not isinstance(value, bool):
            text = _convert(reason, name if name != "value" else _value_kind(target), value, spec)
        shown[name] = value if text is None else text
    return shown


def _value_kind(target: str) -> str:
    """What a generic `value` field holds, from the field it names (e.g. stop_loss_trigger)."""
    if target.endswith(("_trigger", "_price")):
        return "price"
    if target.endswith("callback_rate"):
        return "callback_rate"
    return ""


def _kind_class(reason: R, name: str) -> str:
    if name in _MONEY or (name == "limit" and reason == R.DAILY_LOSS_LIMIT):
        return "money"
    if name in _PRICES:
        return "price"
    if name in _QUANTITIES:
        return "qty"
    if name in _RATES:
        return "rate"
    if name in _TIMES:
        return "time"
    if name in _ENUMS:
        return "enum"
    return ""


def _convert(reason: R, name: str, value: int, spec: MarketSpec | None) -> str | None:
    kind = _kind_class(reason, name)
    if kind == "time":
        return timestamp(value)
    if kind == "enum":
        try:
            return _ENUMS[name](value).name.lower()
        except ValueError:
            return None
    if kind == "rate":
        return plain(Decimal(value) / 10**8)
    if spec is None or not kind:
        return None
    if kind == "money":
        return f"{plain(spec.format_money(value))} {spec.settle}"
    if kind == "price":
        return spec.format_price(value)
    return spec.format_qty(value)
