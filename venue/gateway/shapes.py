"""Engine values in Binance's JSON: decimal strings, millisecond times, status strings.

Display values only (outside the core): exact integers are formatted with the market's
decimals; an average price, a ratio of integers, is shown rounded half-even.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

from perpsim.model.enums import ConditionalKind, OrderKind
from perpsim.venue.gateway.params import PSIDE_OUT, SIDE_OUT, TIF_OUT, WORKING_OUT

#: Binance's names of the conditional kinds (the limit kinds are STOP and TAKE_PROFIT).
COND_OUT: dict[int, str] = {ConditionalKind.STOP_MARKET: "STOP_MARKET", ConditionalKind.STOP_LIMIT: "STOP",
            ConditionalKind.TAKE_PROFIT_MARKET: "TAKE_PROFIT_MARKET",
            ConditionalKind.TAKE_PROFIT_LIMIT: "TAKE_PROFIT",
            ConditionalKind.TRAILING_STOP_MARKET: "TRAILING_STOP_MARKET"}
COND_IN = {v: k for k, v in COND_OUT.items()}
KIND_OUT: dict[int, str] = {OrderKind.LIMIT: "LIMIT", OrderKind.MARKET: "MARKET"}
#: Extra digits an average price shows beyond the tick's.
AVG_EXTRA_DECIMALS = 3


def ms(ns: int) -> int:
    """Nanoseconds -> whole milliseconds (rounded down)."""
    return ns // 1_000_000


def ratio(x: Fraction | int | None, decimals: int) -> str:
    """A display decimal of an exact ratio, `decimals` digits, rounded half-even; "0" for None."""
    if x is None:
        return "0"
    x = Fraction(x)
    q = Decimal(1).scaleb(-decimals)
    return str((Decimal(x.numerator) / Decimal(x.denominator)).quantize(q, rounding=ROUND_HALF_EVEN))


def price_of(spec, ticks: Fraction | int | None) -> str:
    """An exact price in ticks (possibly fractional: an average or an entry) as a decimal."""
    if ticks is None:
        return "0"
    if isinstance(ticks, int):
        return spec.format_price(ticks)
    return ratio(Fraction(ticks) * Fraction(spec.tick_size), spec.price_decimals + AVG_EXTRA_DECIMALS)


def quote_of(spec, tick_lots: int) -> str:
    """A quote amount kept as price × quantity in tick-lots, exact, as a decimal."""
    return format(Decimal(tick_lots) * spec.tick_size * spec.lot_size * spec.contract_size, "f")


def signed_qty(spec, lots: int) -> str:
    """A position's lots as a decimal quantity string, "-" in front for a short."""
    return ("-" if lots < 0 else "") + spec.format_qty(abs(lots))


def rate(r: int) -> str:
    """A rate scaled by 1e8 as a decimal fraction with 8 digits."""
    return f"{Decimal(r) / 10**8:.8f}"


def order(spec, r) -> dict:
    """An OrderRecord (open or completed) as Binance's order object."""
    kind = COND_OUT.get(r.orig_type) if r.orig_type else None
    return {
        "orderId": r.order_id, "symbol": r.symbol, "status": r.status, "clientOrderId": r.client_order_id,
        "price": spec.format_price(r.price) if r.price and r.type == OrderKind.LIMIT else "0",
        "avgPrice": price_of(spec, r.avg_price) if r.executed_qty else "0",
        "origQty": spec.format_qty(r.orig_qty), "executedQty": spec.format_qty(r.executed_qty),
        "cumQty": spec.format_qty(r.executed_qty), "cumQuote": quote_of(spec, r.cum_quote),
        "timeInForce": TIF_OUT[r.tif], "type": KIND_OUT[r.type], "reduceOnly": r.reduce_only,
        "closePosition": False, "side": SIDE_OUT[r.side], "positionSide": PSIDE_OUT[r.position_side],
        "stopPrice": spec.format_price(r.stop_price) if r.stop_price else "0",
        "workingType": "CONTRACT_PRICE", "priceProtect": False, "origType": kind or KIND_OUT[r.type],
        "priceMatch": "NONE", "selfTradePreventionMode": "NONE", "goodTillDate": 0,
        "time": ms(r.time_ns), "updateTime": ms(r.update_ns),
    }


def algo(spec, cid: int, c, status: str, create_ns: int, update_ns: int, order_id: int = 0,
         actual_price: str = "") -> dict:
    """A conditional order (its PlaceConditional command) as Binance's algo order object."""
    def p(ticks: int) -> str:
        return spec.format_price(ticks) if ticks else "0"

    return {
        "algoId": cid, "clientAlgoId": c.client_order_id, "algoType": "CONDITIONAL",
        "orderType": COND_OUT[c.kind], "symbol": c.symbol, "side": SIDE_OUT[c.side],
        "positionSide": PSIDE_OUT[c.position_side], "timeInForce": TIF_OUT[c.tif],
        "quantity": spec.format_qty(c.qty) if c.qty else "0", "algoStatus": status,
        "actualOrderId": str(order_id) if order_id else "", "actualPrice": actual_price or "0",
        "triggerPrice": p(c.trigger_price), "price": p(c.price), "icebergQuantity": None, "tpTriggerPrice": "0",
        "tpPrice": "0", "slTriggerPrice": "0", "slPrice": "0", "tpOrderType": "", "selfTradePreventionMode": "NONE",
        "workingType": WORKING_OUT[c.source], "priceMatch": "NONE", "closePosition": c.close_position,
        "priceProtect": c.price_protect, "reduceOnly": c.reduce_only,
        "activatePrice": p(c.activation_price) if c.activation_price else "",
        "callbackRate": f"{Decimal(c.callback_rate) / 10**6:f}" if c.callback_rate else "",
        "createTime": ms(create_ns), "updateTime": ms(update_ns), "triggerTime": 0,
        "goodTillDate": ms(c.expire_ts),
    }
