"""Engine views and commands as the services' response messages (orders, conditional orders,
order lists, loss limits, liquidation prices, forced orders): prices on the tick grid, sizes in
lots, money in the asset's units.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from perpsim.engine import commands as C
from perpsim.engine.liquidations import ForcedOrder
from perpsim.model.enums import (
    ConditionalKind,
    LegType,
    ListKind,
    Side,
    TriggerSource,
)
from perpsim.v1 import (
    account_pb2,
    common_pb2,
    sandbox_pb2,
    trading_pb2,
)
from perpsim.venue import convert as cv
from perpsim.venue.services.common import Venue
from perpsim.venue.state import OrderInfo

#: per market, the distinct prices (and quantities) whose strings `formats` keeps
FORMATS_KEPT = 4_096
_FORMATS: dict[str, tuple] = {}  # symbol -> (its spec, its prices' strings, its quantities' strings)
# the *_OUT tables are keyed by IntEnum members, which hash and compare as their ints: looked up
# with the raw values (no enum constructed per order on the response path)
_SIDE_OUT, _KIND_OUT, _STATUS_OUT, _TIF_OUT, _PSIDE_OUT = cv.SIDE_OUT, cv.KIND_OUT, cv.STATUS_OUT, cv.TIF_OUT, \
    cv.PSIDE_OUT
_TAKER = common_pb2.LIQUIDITY_TAKER


class Formatted(dict):
    """A market's strings of integer amounts (ticks or lots), made by `format` on first use
    and kept (up to FORMATS_KEPT, then all forgotten at once): ``formatted[ticks]``. A look-up
    costs a dict's; only the first use of an amount checks it is an int (the engine's amounts
    are)."""

    def __init__(self, format: Callable[[int], str]) -> None:
        super().__init__()
        self.format = format

    def __missing__(self, amount: int) -> str:
        if amount.__class__ is not int:  # (a bool or a float would share an int's key)
            return self.format(amount)
        if len(self) >= FORMATS_KEPT:
            self.clear()
        text = self[amount] = self.format(amount)
        return text


def formats(spec) -> tuple[Formatted, Formatted]:
    """The market's prices and quantities as strings (`format_price`, `format_qty`), kept: the
    response path formats the same few over and over."""
    got = _FORMATS.get(spec.symbol)
    if got is None or got[0] is not spec:
        got = _FORMATS[spec.symbol] = (spec, Formatted(spec.format_price), Formatted(spec.format_qty))
    return got[1], got[2]


def order_out(venue: Venue, o: OrderInfo) -> trading_pb2.Order:
    """An order as a trading_pb2.Order (see `order_fields`)."""
    return trading_pb2.Order(**order_fields(venue, o))


def order_fields(venue: Venue, o: OrderInfo) -> dict:
    """An order's trading_pb2.Order fields as a dict. The response path builds whole responses
    from nested dicts: protobuf makes the nested messages in one constructor call, in half the
    time of building each message and copying it into its parent."""
    price, qty = formats(venue.markets[o.symbol])
    return {"order_id": o.order_id, "client_order_id": o.client_order_id, "symbol": o.symbol,
            "side": _SIDE_OUT[o.side], "type": _KIND_OUT[o.kind], "status": _STATUS_OUT[o.status],
            "price": price[o.price], "price_ticks": o.price, "quantity": qty[o.qty], "quantity_lots": o.qty,
            "filled_quantity": qty[o.filled], "filled_quantity_lots": o.filled, "time_in_force": _TIF_OUT[o.tif],
            "reduce_only": o.reduce_only, "position_side": _PSIDE_OUT[o.position_side]}


def placed_fields(venue: Venue, o: OrderInfo, fills: list, bps: Callable[[int, int, int], tuple[str, str]] | None
                  ) -> dict:
    """A PlaceOrderResponse's fields (order, fills) as a dict: the order `o` as it stands (as
    `order_fields`) and its own taker fills among `fills` (engine BookEvents), each with its
    slippage strings `bps(order_id, side, price)` (SlippageTracker.bps_texts; None: none)."""
    spec = venue.markets[o.symbol]
    got = _FORMATS.get(spec.symbol)
    price, qty = (got[1], got[2]) if got is not None and got[0] is spec else formats(spec)
    ticks, lots, filled = o.price, o.qty, o.filled
    out: dict[str, object] = {"order": {
        "order_id": o.order_id, "client_order_id": o.client_order_id, "symbol": o.symbol,
        "side": _SIDE_OUT[o.side], "type": _KIND_OUT[o.kind], "status": _STATUS_OUT[o.status],
        "price": price[ticks], "price_ticks": ticks, "quantity": qty[lots], "quantity_lots": lots,
        "filled_quantity": qty[filled], "filled_quantity_lots": filled, "time_in_force": _TIF_OUT[o.tif],
        "reduce_only": o.reduce_only, "position_side": _PSIDE_OUT[o.position_side]}}
    if fills:
        mine = o.order_id
        taken = []
        for b in fills:
            if b.order_id != mine:
                continue
            ticks, lots = b.price, b.qty
            fill = {"order_id": mine, "price": price[ticks], "price_ticks": ticks, "quantity": qty[lots],
                    "quantity_lots": lots, "liquidity": _TAKER}
            if bps is not None:
                fill["slippage_mid_bps"], fill["slippage_mark_bps"] = bps(mine, b.side, ticks)
            taken.append(fill)
        out["fills"] = taken
    return out


def conditional_out(spec, cid: int, c: C.PlaceConditional) -> trading_pb2.ConditionalOrder:
    """A placed conditional order as a ConditionalOrder: ticks and lots as decimal strings ("" for
    0), the callback rate as a decimal fraction, the expiry in ns."""
    return trading_pb2.ConditionalOrder(
        conditional_id=cid, symbol=c.symbol, side=cv.SIDE_OUT[Side(c.side)], type=cv.COND_OUT[ConditionalKind(c.kind)],
        quantity=spec.format_qty(c.qty) if c.qty else "", trigger_price=spec.format_price(c.trigger_price)
        if c.trigger_price else "", price=spec.format_price(c.price) if c.price else "",
        trigger_source=cv.SOURCE_OUT[TriggerSource(c.source)], reduce_only=c.reduce_only,
        close_position=c.close_position, callback_rate=cv.rate_out(c.callback_rate) if c.callback_rate else "",
        activation_price=spec.format_price(c.activation_price) if c.activation_price else "",
        client_order_id=c.client_order_id, good_till_time_ns=c.expire_ts)


def order_list_out(spec, gid: int, c: C.PlaceOrderList, live=None, status: str = "WORKING") -> trading_pb2.OrderList:
    """An order list as placed, with its live state (engine.views.OrderListView) while it works."""
    def price(ticks: int) -> str:
        return spec.format_price(ticks) if ticks else ""

    def leg(t: int, trigger: int, limit: int, callback: int = 0) -> trading_pb2.OrderListLeg:
        return trading_pb2.OrderListLeg(type=cv.LEG_OUT[LegType(t)], trigger_price=price(trigger), price=price(limit),
                                        callback_rate=cv.rate_out(callback) if callback else "")

    out = trading_pb2.OrderList(
        list_id=gid, symbol=c.symbol, type=cv.LIST_OUT[ListKind(c.kind)], side=cv.SIDE_OUT[Side(c.side)],
        quantity=spec.format_qty(c.qty), entry_price=price(c.entry_price),
        take_profit=leg(c.tp_type, c.tp_trigger, c.tp_price),
        stop_loss=leg(c.sl_type, c.sl_trigger, c.sl_price, c.sl_callback_rate),
        trigger_source=cv.SOURCE_OUT[TriggerSource(c.source)], reduce_only=c.reduce_only,
        good_till_time_ns=c.expire_ts, client_order_id=c.client_order_id, status=status)
    if live is not None:
        out.entry_order_id, out.take_profit_id, out.stop_loss_id = live.entry_order_id, live.take_profit_id, \
            live.stop_loss_id
        out.covered_quantity = spec.format_qty(live.covered)
    return out


def loss_limit_out(spec, d: dict) -> account_pb2.DailyLossLimit:
    """Exchange.daily_loss_limit's figures on the wire (money in the asset of `spec`)."""
    return account_pb2.DailyLossLimit(
        limit=cv.money_out(spec, d["limit"]), include_unrealized=d["include_unrealized"], flatten=d["flatten"],
        loss=cv.money_out(spec, d["loss"]), hit=d["hit"], resets_at_ns=d["resets_at"],
        change_pending=d["pending_from"] != 0, pending_limit=cv.money_out(spec, d["pending"]),
        pending_from_ns=d["pending_from"])


def on_tick(spec, ticks: int | None) -> str:
    """A liquidation or bankruptcy price as the venue displays it: on the market's tick grid,
    already rounded against the account (a long's up, a short's down); "" for none."""
    return "" if ticks is None else spec.format_price(ticks)


def forced_order_out(spec, f: ForcedOrder) -> sandbox_pb2.ForcedOrder:
    """A forced order on the wire: quantities in the market's lots, the average fill price
    rounded half-even onto the tick grid, the improvement in bps to 2 decimals."""
    bps = f.improvement_bps
    return sandbox_pb2.ForcedOrder(
        symbol=f.symbol, account_id=f.account, side=cv.SIDE_OUT[Side(f.side)], quantity=spec.format_qty(f.qty),
        bankruptcy_price=spec.format_price(f.bankruptcy_price), filled_quantity=spec.format_qty(f.filled),
        fill_price="" if f.fill_price is None else spec.format_price(round(f.fill_price)),
        improvement_bps="" if bps is None else f"{Decimal(bps.numerator) / bps.denominator:.2f}",
        taken_by_insurance=spec.format_qty(f.taken_by_insurance), deleveraged=spec.format_qty(f.deleveraged))
