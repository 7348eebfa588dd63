"""The decimal edge of the API: wire enums and decimal strings <-> engine integers.

Input is refused, never rounded: an UNSPECIFIED enum, a price off the tick or a size off the
lot raises VenueError(INVALID_ARGUMENT) naming the field.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from perpsim.model.enums import (
    ConditionalKind,
    LegType,
    ListKind,
    OrderKind,
    PositionSide,
    Side,
    StpMode,
    TimeInForce,
    TriggerSource,
)
from perpsim.model.markets import MarketSpec
from perpsim.model.reasons import Rejected
from perpsim.model.reasons import RejectReason as R
from perpsim.v1 import common_pb2 as pb
from perpsim.v1 import market_pb2
from perpsim.venue.errors import VenueError

SIDE_IN = {pb.SIDE_BUY: Side.BUY, pb.SIDE_SELL: Side.SELL}
SIDE_OUT: dict[int, pb.Side] = {v: k for k, v in SIDE_IN.items()}
KIND_IN = {pb.ORDER_TYPE_LIMIT: OrderKind.LIMIT, pb.ORDER_TYPE_MARKET: OrderKind.MARKET}
KIND_OUT: dict[int, pb.OrderType] = {v: k for k, v in KIND_IN.items()}
TIF_IN = {pb.TIME_IN_FORCE_GTC: TimeInForce.GTC, pb.TIME_IN_FORCE_IOC: TimeInForce.IOC,
          pb.TIME_IN_FORCE_FOK: TimeInForce.FOK, pb.TIME_IN_FORCE_GTX: TimeInForce.GTX,
          pb.TIME_IN_FORCE_GTD: TimeInForce.GTD}
TIF_OUT: dict[int, pb.TimeInForce] = {v: k for k, v in TIF_IN.items()}
STP_IN = {pb.SELF_TRADE_PREVENTION_UNSPECIFIED: StpMode.NONE, pb.SELF_TRADE_PREVENTION_NONE: StpMode.NONE,
          pb.SELF_TRADE_PREVENTION_EXPIRE_TAKER: StpMode.EXPIRE_TAKER,
          pb.SELF_TRADE_PREVENTION_EXPIRE_MAKER: StpMode.EXPIRE_MAKER,
          pb.SELF_TRADE_PREVENTION_EXPIRE_BOTH: StpMode.EXPIRE_BOTH}
PSIDE_IN = {pb.POSITION_SIDE_UNSPECIFIED: PositionSide.BOTH, pb.POSITION_SIDE_BOTH: PositionSide.BOTH,
            pb.POSITION_SIDE_LONG: PositionSide.LONG, pb.POSITION_SIDE_SHORT: PositionSide.SHORT}
PSIDE_OUT: dict[int, pb.PositionSide] = {PositionSide.BOTH: pb.POSITION_SIDE_BOTH,
                                         PositionSide.LONG: pb.POSITION_SIDE_LONG,
                                         PositionSide.SHORT: pb.POSITION_SIDE_SHORT}
COND_IN = {pb.CONDITIONAL_TYPE_STOP_MARKET: ConditionalKind.STOP_MARKET,
           pb.CONDITIONAL_TYPE_STOP_LIMIT: ConditionalKind.STOP_LIMIT,
           pb.CONDITIONAL_TYPE_TAKE_PROFIT_MARKET: ConditionalKind.TAKE_PROFIT_MARKET,
           pb.CONDITIONAL_TYPE_TAKE_PROFIT_LIMIT: ConditionalKind.TAKE_PROFIT_LIMIT,
           pb.CONDITIONAL_TYPE_TRAILING_STOP_MARKET: ConditionalKind.TRAILING_STOP_MARKET}
COND_OUT: dict[int, pb.ConditionalType] = {v: k for k, v in COND_IN.items()}
SOURCE_IN = {pb.TRIGGER_SOURCE_UNSPECIFIED: TriggerSource.LAST, pb.TRIGGER_SOURCE_MARK: TriggerSource.MARK,
             pb.TRIGGER_SOURCE_LAST: TriggerSource.LAST, pb.TRIGGER_SOURCE_INDEX: TriggerSource.INDEX}
SOURCE_OUT: dict[int, pb.TriggerSource] = {TriggerSource.MARK: pb.TRIGGER_SOURCE_MARK,
                                           TriggerSource.LAST: pb.TRIGGER_SOURCE_LAST,
                                           TriggerSource.INDEX: pb.TRIGGER_SOURCE_INDEX}
#: The venue profile's liquidation trigger ("mark" or "last") as a trigger source.
LIQUIDATION_TRIGGER_OUT = {"mark": pb.TRIGGER_SOURCE_MARK, "last": pb.TRIGGER_SOURCE_LAST,
                           "index": pb.TRIGGER_SOURCE_INDEX}
LIST_IN = {pb.ORDER_LIST_TYPE_OCO: ListKind.OCO, pb.ORDER_LIST_TYPE_OTO: ListKind.OTO,
           pb.ORDER_LIST_TYPE_BRACKET: ListKind.BRACKET}
LIST_OUT: dict[int, pb.OrderListType] = {v: k for k, v in LIST_IN.items()}
LEG_IN = {pb.LEG_TYPE_UNSPECIFIED: LegType.NONE, pb.LEG_TYPE_LIMIT: LegType.LIMIT,
          pb.LEG_TYPE_STOP_MARKET: LegType.STOP_MARKET, pb.LEG_TYPE_STOP_LIMIT: LegType.STOP_LIMIT,
          pb.LEG_TYPE_TAKE_PROFIT_MARKET: LegType.TAKE_PROFIT_MARKET,
          pb.LEG_TYPE_TAKE_PROFIT_LIMIT: LegType.TAKE_PROFIT_LIMIT,
          pb.LEG_TYPE_TRAILING_STOP_MARKET: LegType.TRAILING_STOP_MARKET}
LEG_OUT: dict[int, pb.LegType] = {v: k for k, v in LEG_IN.items()}
STATUS_OUT = {"NEW": pb.ORDER_STATUS_NEW, "PARTIALLY_FILLED": pb.ORDER_STATUS_PARTIALLY_FILLED,
              "FILLED": pb.ORDER_STATUS_FILLED, "CANCELED": pb.ORDER_STATUS_CANCELED,
              "EXPIRED": pb.ORDER_STATUS_EXPIRED, "REJECTED": pb.ORDER_STATUS_REJECTED}


def enum_in(table: dict, value: int, field: str, reason: R):
    """A wire enum value mapped to the engine's, or INVALID_ARGUMENT (UNSPECIFIED included)."""
    if value not in table:
        raise VenueError(reason, field=field, value=value)
    return table[value]


def tif_in(value: int, field: str) -> int:
    """A time in force where UNSPECIFIED means GTC (conditional orders, order-list entries)."""
    return TimeInForce.GTC if value == pb.TIME_IN_FORCE_UNSPECIFIED else enum_in(TIF_IN, value, field,
                                                                                  R.INVALID_TIME_IN_FORCE)


# Clients resend the same few prices and sizes: each distinct text is parsed once per market.
# The caches are found by the spec's identity (a MarketSpec hashes every one of its fields: that
# costs more than the lookup saves); each entry holds its spec, so an id is never reused while in
# here. Refused texts are not cached (they raise).
_PARSED: dict[int, tuple[MarketSpec, dict[str, int], dict[str, int]]] = {}
_MAX_TEXTS = 1 << 16  # per market and kind; beyond it, new texts are parsed every time
_MAX_SPECS = 256


def _parsed(spec: MarketSpec) -> tuple[MarketSpec, dict[str, int], dict[str, int]]:
    entry = _PARSED.get(id(spec))
    if entry is None or entry[0] is not spec:
        if len(_PARSED) >= _MAX_SPECS:  # specs replaced many times over (profile switches)
            _PARSED.clear()
        entry = _PARSED[id(spec)] = (spec, {}, {})
    return entry


def _cached(spec: MarketSpec, text: str, prices: bool, parse) -> int:
    """parse(text) (a spec's bound parser), remembered per spec: its prices' or its quantities'."""
    entry = _parsed(spec)
    cache = entry[1] if prices else entry[2]
    value = cache.get(text)
    if value is None:
        value = parse(text)
        if len(cache) < _MAX_TEXTS:
            cache[text] = value
    return value


def _ticks(spec: MarketSpec, text: str) -> int:
    return _cached(spec, text, True, spec.price_to_ticks)


def _lots(spec: MarketSpec, text: str) -> int:
    return _cached(spec, text, False, spec.qty_to_lots)


def _edge(fn, value, field: str, spec: MarketSpec | None = None):
    """fn(value) (fn(spec, value) with a spec); a Rejected becomes a VenueError naming the field."""
    try:
        return fn(value) if spec is None else fn(spec, value)
    except Rejected as e:
        raise VenueError(e.reason, field=field, **{k: v for k, v in e.reject.fields.items() if k != "field"}) from e


def price_in(spec: MarketSpec, text: str, ticks: int, field: str = "price", required: bool = True) -> int:
    """Exactly one of a decimal price or an integer tick count (validated against the market)."""
    if text and ticks:
        raise VenueError(R.INVALID_PRICE, field=field, problem="give price or price_ticks, not both")
    if text:
        return _edge(_ticks, text, field, spec)
    if ticks:
        lo, hi, _, _ = spec.book_limits()
        if not lo <= ticks <= hi:  # (the limits are whole ticks) the decimal check names the breach
            _edge(spec.price_to_ticks, spec.ticks_to_price(ticks), field + "_ticks")
        return ticks
    if required:
        raise VenueError(R.INVALID_PRICE, field=field, problem="missing")
    return 0


def qty_in(spec: MarketSpec, text: str, lots: int, field: str = "quantity") -> int:
    """Exactly one of a decimal quantity or an integer lot count (validated against the market)."""
    if text and lots:
        raise VenueError(R.INVALID_QUANTITY, field=field, problem="give quantity or quantity_lots, not both")
    if text:
        return _edge(_lots, text, field, spec)
    if lots > 0:
        _, _, lo, hi = spec.book_limits()
        if not lo <= lots <= hi:  # (the limits are whole lots) the decimal check names the breach
            _edge(spec.qty_to_lots, spec.lots_to_qty(lots), field + "_lots")
        return lots
    raise VenueError(R.INVALID_QUANTITY, field=field, problem="missing or not positive")


#: Binance's longest client order id (newClientOrderId / clientAlgoId).
MAX_CLIENT_ORDER_ID = 36


def client_order_id_in(text: str, field: str = "client_order_id") -> str:
    """A client order id as given (empty: none), or INVALID_ARGUMENT when it is too long."""
    if len(text) > MAX_CLIENT_ORDER_ID:
        raise VenueError(R.INVALID_CLIENT_ORDER_ID, field=field, length=len(text), max_length=MAX_CLIENT_ORDER_ID)
    return text


def money_in(spec: MarketSpec, text: str, field: str = "amount", allow_negative: bool = False) -> int:
    """A decimal amount of the market's settlement asset in integer units (exact)."""
    try:
        if not text or (Decimal(text) <= 0 and not allow_negative) or Decimal(text) == 0:
            raise VenueError(R.INVALID_QUANTITY, field=field, value=text, problem="must be a positive decimal")
    except InvalidOperation as e:
        raise VenueError(R.BAD_PRECISION, field=field, value=text) from e
    return _edge(spec.money_to_units, text, field)


def money_out(spec: MarketSpec, units: int) -> pb.Money:
    """Integer money units of the market's settlement asset as a Money message: the exact decimal
    amount and the units."""
    return pb.Money(asset=spec.settle, amount=spec.format_money(units), amount_units=units)


def level_out(spec: MarketSpec, price: int, lots: int, count: int) -> pb.PriceLevel:
    """One book level as a PriceLevel: price as decimal string and ticks, quantity as decimal string
    and lots, and its order count."""
    return pb.PriceLevel(price=spec.format_price(price), price_ticks=price, quantity=spec.format_qty(lots),
                         quantity_lots=lots, order_count=count)


def mark_out(spec, prices, funding=None, ts: int = 0) -> market_pb2.GetMarkPriceResponse:
    """Mark, index and last price of a market (an engine.views.PriceView), with the last settled
    funding rate and, given the market's FundingView, the predicted one (decimals); `ts` the
    venue time of these prices."""
    def p(ticks):
        return (spec.format_price(ticks), ticks) if ticks else ("", 0)

    (mark, mark_t), (idx, idx_t), (last, last_t) = p(prices.mark), p(prices.index), p(prices.last)
    return market_pb2.GetMarkPriceResponse(
        symbol=spec.symbol, mark_price=mark, mark_price_ticks=mark_t, index_price=idx, index_price_ticks=idx_t,
        last_price=last, last_price_ticks=last_t, funding_rate=rate_out(prices.funding_rate),
        next_funding_time_ns=prices.next_funding_ts, time_ns=ts,
        predicted_funding_rate="" if funding is None else rate_out(funding.predicted_rate))


def fraction_out(x) -> str:
    """An exact Fraction shown with 8 decimals (a display value, rounded half-even); "" for None."""
    return "" if x is None else f"{Decimal(x.numerator) / Decimal(x.denominator):.8f}"


def decimal_out(x: Decimal | None) -> str:
    """A Decimal as it is (already rounded for display); "" for None."""
    return "" if x is None else str(x)


def rate_out(rate: int) -> str:
    """A rate scaled by 1e8 as a decimal fraction ("0.01" for 1e6), exact."""
    return str(Decimal(rate) / 10**8)


#: The largest rate `rate_in` takes, as written (100 = 10,000 %: a percentage field fits too).
MAX_RATE_TEXT = Decimal(100)


def rate_in(text: str, field: str) -> int:
    """A decimal fraction (e.g. "0.01" for 1 %) as a rate scaled by 1e8, exact or refused; its
    magnitude at most MAX_RATE_TEXT (beyond it INVALID_VALUE naming the field)."""
    try:
        value = Decimal(text) * 10**8
    except InvalidOperation as e:
        raise VenueError(R.BAD_PRECISION, field=field, value=text) from e
    if not value.is_finite() or value != value.to_integral_value():
        raise VenueError(R.BAD_PRECISION, field=field, value=text)
    if abs(value) > MAX_RATE_TEXT * 10**8:  # checked before int(): "1e999999" must not become an int
        raise VenueError(R.INVALID_VALUE, field=field, value=text, max_value=MAX_RATE_TEXT, problem="out of range")
    return int(value)
