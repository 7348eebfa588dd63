"""Conditional orders and order lists: `perpsim order conditional|conditionals|cancel-conditional`,
`perpsim order bracket|oco|oto|lists|cancel-list`."""

from __future__ import annotations

import argparse

from perpsim.cli.common import POSITION_SIDES, SIDES, TIFS, group, leaf, lower
from perpsim.cli.format import Out, text
from perpsim.cli.times import good_till, good_till_flags
from perpsim.cli.units import MarketUnits


def _list_flags(p: argparse.ArgumentParser, entry: bool) -> None:
    p.add_argument("symbol", metavar="SYMBOL")
    p.add_argument("side", metavar="SIDE", type=lower, choices=SIDES,
                   help="the entry's side (the exits trade the other)" if entry else "the legs' side")
    p.add_argument("quantity", metavar="QTY")
    if entry:
        p.add_argument("price", metavar="PRICE", nargs="?", help="the entry's limit price; none: a market entry")
        p.add_argument("--tif", type=lower, choices=TIFS, help="the entry's time in force (default gtc)")
    p.add_argument("--take-profit", help="take-profit trigger price")
    p.add_argument("--take-profit-limit", help="its limit price; alone: a resting limit order as the leg")
    p.add_argument("--stop-loss", help="stop-loss trigger price")
    p.add_argument("--stop-loss-limit", help="its limit price (a stop limit)")
    p.add_argument("--trailing-stop", metavar="RATE",
                   help="a trailing stop-loss with this callback rate (e.g. 0.01); --stop-loss is then its activation")
    p.add_argument("--source", type=lower, default="last", choices=("mark", "last", "index"),
                   help="trigger source of the conditional legs")
    if p.prog.split()[-1] != "bracket":  # a bracket's exits always are
        p.add_argument("--reduce-only", action="store_true", help="the exits only reduce the position")
    p.add_argument("--position-side", type=lower, choices=POSITION_SIDES, help="hedge mode: long or short")
    p.add_argument("--client-id", help="client id of the list")
    good_till_flags(p, "GTD: the whole list expires then")




def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register the conditional-order and order-list commands under `perpsim order`."""
    order = group(sub, "order", "place, cancel and list orders")
    p = leaf(order, "conditional", _order_conditional,
             "rest a stop, take-profit or trailing stop (fires on its trigger source)")
    p.add_argument("symbol", metavar="SYMBOL")
    p.add_argument("side", metavar="SIDE", type=lower, choices=SIDES)
    p.add_argument("quantity", metavar="QTY", nargs="?", help="omit with --close-position")
    p.add_argument("--type", dest="cond_type", type=lower, default="stop_market",
                   choices=("stop_market", "stop_limit", "take_profit_market", "take_profit_limit",
                            "trailing_stop_market"))
    p.add_argument("--trigger", help="trigger price (not for trailing stops)")
    p.add_argument("--limit", help="limit price of *_limit types")
    p.add_argument("--source", type=lower, default="last", choices=("mark", "last", "index"))
    p.add_argument("--reduce-only", action="store_true")
    p.add_argument("--close-position", action="store_true")
    p.add_argument("--price-protect", action="store_true")
    p.add_argument("--callback", help="trailing callback rate as a fraction, e.g. 0.01")
    p.add_argument("--activation", help="trailing activation price")
    good_till_flags(p, "GTD expiry")
    p = leaf(order, "conditionals", _order_conditionals, "resting conditional orders")
    p.add_argument("symbol", metavar="SYMBOL", nargs="?", default="")
    p = leaf(order, "cancel-conditional", _order_cancel_conditional, "cancel a conditional order")
    p.add_argument("symbol", metavar="SYMBOL")
    p.add_argument("conditional_id", metavar="ID", type=int)
    for name, help in (("bracket", "an entry whose fills arm a take-profit and a stop-loss (one cancels the other)"),
                       ("oco", "two legs at once, one cancels the other"),
                       ("oto", "an entry whose fills arm one exit leg")):
        _list_flags(leaf(order, name, _order_list_place, help), entry=name != "oco")
    p = leaf(order, "lists", _order_lists, "working order lists (OCO, OTO, brackets)")
    p.add_argument("symbol", metavar="SYMBOL", nargs="?", default="")
    p = leaf(order, "cancel-list", _order_cancel_list, "cancel an order list")
    p.add_argument("symbol", metavar="SYMBOL")
    p.add_argument("list_id", metavar="ID", type=int)



_COND_COLUMNS = ["id", "symbol", "side", "type", "quantity", "trigger", "limit", "source", "callback"]


def _cond_row(o, u: MarketUnits | None = None) -> list:
    """A resting conditional order's cells: wire strings (JSON), or with units given `u` (tables)."""
    from perpsim.v1 import common_pb2

    def unit(value: str, of: str) -> str:
        return f"{value} {of}" if u is not None and value else value or "-"

    quantity = unit(o.quantity, u.qty_unit(o.symbol) if u else "") if o.quantity else "close"
    return [o.conditional_id, o.symbol, common_pb2.Side.Name(o.side)[5:].lower(),
            common_pb2.ConditionalType.Name(o.type)[17:].lower(), quantity,
            unit(o.trigger_price, u.price_unit(o.symbol) if u else ""),
            unit(o.price, u.price_unit(o.symbol) if u else ""),
            common_pb2.TriggerSource.Name(o.trigger_source)[15:].lower(), o.callback_rate or "-"]


def _order_conditional(c, a, out: Out) -> int:
    cid = c.place_conditional(a.symbol, a.side, a.quantity, type=a.cond_type, trigger_price=a.trigger,
                              price=a.limit, source=a.source, reduce_only=a.reduce_only,
                              close_position=a.close_position, price_protect=a.price_protect,
                              callback_rate=a.callback, activation_price=a.activation,
                              good_till_ns=good_till(a, c, a.symbol))
    if out.json:
        out.data({"conditional_id": cid})
    else:
        out.line(f"conditional order {cid} resting")
    return 0


def _order_conditionals(c, a, out: Out) -> int:
    orders = c.conditional_orders(a.symbol)
    if out.json:
        out.data([dict(zip(_COND_COLUMNS, _cond_row(o), strict=True)) for o in orders])
    else:
        u = MarketUnits.of(c)
        out.table(_COND_COLUMNS, [_cond_row(o, u) for o in orders])
    return 0


def _canceled(out: Out, key: str, ident: int, what: str) -> int:
    if out.json:
        out.data({key: ident, "canceled": True})
    else:
        out.line(f"canceled {what} {ident}")
    return 0


def _order_cancel_conditional(c, a, out: Out) -> int:
    c.cancel_conditional(a.symbol, a.conditional_id)
    return _canceled(out, "conditional_id", a.conditional_id, "conditional order")


def _leg_text(leg, unit: str) -> str | None:
    if leg is None:
        return None
    prices = " ".join(f"{k} {text(v)}{'' if k == 'callback' else ' ' + unit}"
                      for k, v in (("at", leg.trigger_price), ("limit", leg.price), ("callback", leg.callback_rate))
                      if v is not None)
    return f"{leg.type} {prices}"


_LIST_COLUMNS = ["id", "symbol", "type", "side", "quantity", "entry", "take_profit", "stop_loss", "covered", "status"]


def _list_row(o, u: MarketUnits) -> list:
    price = u.price_unit(o.symbol)
    return [o.list_id, o.symbol, o.type, o.side, u.qty(o.symbol, o.quantity),
            u.price(o.symbol, o.entry_price) or ("-" if o.type == "oco" else "market"),
            _leg_text(o.take_profit, price), _leg_text(o.stop_loss, price), u.qty(o.symbol, o.covered_quantity),
            o.status]


def _order_list_place(c, a, out: Out) -> int:
    kind = a.order_command
    o = c.place_order_list(a.symbol, kind, a.side, a.quantity, getattr(a, "price", None),
                           take_profit=a.take_profit, take_profit_limit=a.take_profit_limit, stop_loss=a.stop_loss,
                           stop_loss_limit=a.stop_loss_limit, trailing_stop=a.trailing_stop, source=a.source,
                           reduce_only=getattr(a, "reduce_only", False), time_in_force=getattr(a, "tif", None),
                           position_side=a.position_side, good_till_ns=good_till(a, c, a.symbol),
                           client_order_id=a.client_id)
    if out.json:
        out.data(o)
    else:
        out.fields([*zip(_LIST_COLUMNS, _list_row(o, MarketUnits.of(c)), strict=True),
                    ("entry_order_id", o.entry_order_id or None),
                    ("take_profit_id", o.take_profit_id or None), ("stop_loss_id", o.stop_loss_id or None)])
    return 0


def _order_lists(c, a, out: Out) -> int:
    lists = c.order_lists(a.symbol)
    if out.json:
        out.data(lists)
    else:
        u = MarketUnits.of(c)
        out.table(_LIST_COLUMNS, [_list_row(o, u) for o in lists])
    return 0


def _order_cancel_list(c, a, out: Out) -> int:
    c.cancel_order_list(a.symbol, a.list_id)
    return _canceled(out, "list_id", a.list_id, "order list")


