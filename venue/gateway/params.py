"""Binance request parameters -> engine values (exact; refused, never rounded)."""

from __future__ import annotations

from perpsim.model.enums import PositionSide, Side, StpMode, TimeInForce, TriggerSource
from perpsim.model.reasons import RejectReason as R
from perpsim.venue import convert as cv
from perpsim.venue.errors import VenueError
from perpsim.venue.gateway import errors as E

SIDE = {"BUY": Side.BUY, "SELL": Side.SELL}
SIDE_OUT: dict[int, str] = {v: k for k, v in SIDE.items()}
TIF = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK, "GTX": TimeInForce.GTX,
       "GTD": TimeInForce.GTD}
TIF_OUT: dict[int, str] = {v: k for k, v in TIF.items()}
PSIDE = {"BOTH": PositionSide.BOTH, "LONG": PositionSide.LONG, "SHORT": PositionSide.SHORT}
PSIDE_OUT: dict[int, str] = {v: k for k, v in PSIDE.items()}
STP = {"NONE": StpMode.NONE, "EXPIRE_TAKER": StpMode.EXPIRE_TAKER, "EXPIRE_MAKER": StpMode.EXPIRE_MAKER,
       "EXPIRE_BOTH": StpMode.EXPIRE_BOTH}
STP_OUT: dict[int, str] = {v: k for k, v in STP.items()}
WORKING = {"CONTRACT_PRICE": TriggerSource.LAST, "MARK_PRICE": TriggerSource.MARK}
WORKING_OUT: dict[int, str] = {TriggerSource.LAST: "CONTRACT_PRICE", TriggerSource.MARK: "MARK_PRICE",
               TriggerSource.INDEX: "INDEX_PRICE"}


def text(p: dict[str, str], name: str, default: str | None = None) -> str:
    """A parameter as sent; a missing mandatory one is Binance -1102."""
    value = p.get(name)
    if value is None or value == "":
        if default is None:
            raise E.missing(name)
        return default
    return value


def integer(p: dict[str, str], name: str, default: int | None = None, lo: int | None = None,
            hi: int | None = None) -> int:
    """An integer parameter: missing (without default) or not an integer is Binance -1102; outside
    [lo, hi] INVALID_VALUE naming it."""
    raw = p.get(name)
    if raw is None or raw == "":
        if default is None:
            raise E.missing(name)
        return default
    try:
        value = int(raw)
    except ValueError:
        raise E.malformed(name, raw) from None
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise VenueError(R.INVALID_VALUE, field=name, value=raw, problem=f"must be in [{lo}, {hi}]")
    return value


def boolean(p: dict[str, str], name: str, default: bool = False) -> bool:
    """A "true" / "false" parameter (any case); missing: `default`; anything else Binance -1102."""
    raw = p.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() not in ("true", "false"):
        raise E.malformed(name, raw)
    return raw.lower() == "true"


def choice(p: dict[str, str], name: str, table: dict, reason: R, default: str | None = None):
    """The `table` value of an enum parameter (e.g. SIDE, TIF); missing is -1102, a value not in the
    table the rejection `reason` naming it."""
    value = text(p, name, default)
    if value not in table:
        raise VenueError(reason, field=name, value=value)
    return table[value]


def spec(venue, p: dict[str, str], name: str = "symbol"):
    """The linear market named by the parameter (USDⓈ-M serves linear markets only)."""
    symbol = text(p, name)
    s = venue.markets.get(symbol)
    if s is None or s.kind.value != "linear":
        raise VenueError(R.UNKNOWN_SYMBOL, field=name, symbol=symbol)
    return s


def price(s, p: dict[str, str], name: str = "price", required: bool = True) -> int:
    """A decimal price parameter as exact ticks (off the grid or the market's range: refused, never
    rounded); missing: INVALID_PRICE, or 0 when not `required`."""
    raw = p.get(name, "")
    if not raw and not required:
        return 0
    return cv.price_in(s, raw, 0, field=name)


def qty(s, p: dict[str, str], name: str = "quantity") -> int:
    """A decimal quantity parameter as exact lots (off the lot grid or the market's range: refused);
    missing: Binance -1102."""
    return cv.qty_in(s, text(p, name), 0, field=name)


def window(p: dict[str, str], default: int, most: int) -> int:
    """`limit`: how many rows, default `default`, at most `most`."""
    return integer(p, "limit", default, 1, most)


def span(p: dict[str, str]) -> tuple[int | None, int | None]:
    """startTime / endTime (ms, inclusive) as ns bounds; None where not given."""
    start = integer(p, "startTime", -1)
    end = integer(p, "endTime", -1)
    return (start * 1_000_000 if start >= 0 else None, end * 1_000_000 + 999_999 if end >= 0 else None)
