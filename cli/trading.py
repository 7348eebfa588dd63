"""Market data and plain orders: `perpsim markets | book | mark | preview`,
`perpsim order place|amend|cancel|cancel-all|list`."""

from __future__ import annotations

import argparse
from decimal import ROUND_CEILING, ROUND_FLOOR
from typing import Any

from perpsim.cli.common import POSITION_SIDES, SIDES, TIFS, group, leaf, lower
from perpsim.cli.format import Out, format_time, text
from perpsim.cli.risk import sigma_text, warning_lines
from perpsim.cli.times import good_till, good_till_flags
from perpsim.cli.units import Amount, MarketUnits

ORDER_TYPES = ("limit", "market")
STP_MODES = ("none", "expire_taker", "expire_maker", "expire_both")


def _order_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("symbol", metavar="SYMBOL")
    p.add_argument("side", metavar="SIDE", type=lower, choices=SIDES, help="buy or sell")
    p.add_argument("quantity", metavar="QTY", help="exact decimal, in base units (linear) or contracts (inverse)")
    p.add_argument("price", metavar="PRICE", nargs="?", help="limit price; none: a market order")
    p.add_argument("--type", type=lower, choices=ORDER_TYPES, help="default: limit with a price, else market")
    p.add_argument("--tif", type=lower, choices=TIFS, help="time in force (default gtc; market orders: ioc)")
    p.add_argument("--post-only", action="store_true", help="post-only (time in force GTX)")
    p.add_argument("--reduce-only", action="store_true", help="only reduce the position")
    p.add_argument("--position-side", type=lower, choices=POSITION_SIDES, help="hedge mode: long or short")
    p.add_argument("--client-id", help="client order id (PlaceOrder is idempotent on it and then retried)")
    p.add_argument("--stp", type=lower, choices=STP_MODES, help="self-trade prevention")
    good_till_flags(p, "GTD expiry (implies --tif gtd)")




def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register `perpsim markets`, `book`, `mark`, `preview` and `perpsim order place / cancel / amend`."""
    leaf(sub, "markets", _markets, "list the markets and their rules")
    p = leaf(sub, "book", _book, "the order book of a market")
    p.add_argument("symbol", metavar="SYMBOL")
    p.add_argument("--depth", type=int, default=10, help="levels per side (default 10)")
    p = leaf(sub, "mark", _mark, "mark, index and last price, predicted and last funding rate")
    p.add_argument("symbol", metavar="SYMBOL")
    _order_flags(leaf(sub, "preview", _preview, "cost, liquidation price and price band of an order, before placing"))

    order = group(sub, "order", "place, cancel and list orders")
    _order_flags(leaf(order, "place", _order_place, "place an order"))
    p = leaf(order, "cancel", _order_cancel, "cancel an order (by id or --client-id)")
    p.add_argument("symbol", metavar="SYMBOL")
    p.add_argument("order_id", metavar="ORDER_ID", type=int, nargs="?")
    p.add_argument("--client-id", help="cancel by client order id instead")
    p = leaf(order, "amend", _order_amend, "change a resting order's price and remaining quantity")
    p.add_argument("symbol", metavar="SYMBOL")
    p.add_argument("order_id", metavar="ORDER_ID", type=int, nargs="?")
    p.add_argument("--client-id", help="amend by client order id instead")
    p.add_argument("--price", required=True, help="the new limit price")
    p.add_argument("--quantity", required=True, help="the new remaining quantity")
    p = leaf(order, "cancel-all", _order_cancel_all, "cancel every open order of a market")
    p.add_argument("symbol", metavar="SYMBOL")
    p = leaf(order, "list", _order_list, "open orders")
    p.add_argument("symbol", metavar="SYMBOL", nargs="?", default="")


def _markets(c, a, out: Out) -> int:
    markets = c.markets()
    if out.json:
        out.data(markets)
        return 0
    u = MarketUnits(markets)
    out.table(["symbol", "kind", "settle", "tick", "lot", "min qty", "min notional", "maker", "taker", "band",
               "liquidated at", "conditional triggers (default)"],
              [(m.symbol, m.kind, m.settle_asset, u.price(m.symbol, m.tick_size), u.qty(m.symbol, m.lot_size),
                u.qty(m.symbol, m.min_quantity), Amount(m.min_notional, m.quote_asset), m.maker_fee_rate,
                m.taker_fee_rate, f"{text(m.price_band_down)}-{text(m.price_band_up)}", m.liquidation_trigger or None,
                f"{', '.join(m.conditional_trigger_sources)} ({m.default_conditional_trigger_source})"
                if m.conditional_trigger_sources else None)
               for m in markets])
    return 0


def _book(c, a, out: Out) -> int:
    book = c.book(a.symbol, a.depth)
    if out.json:
        out.data(book)
        return 0
    u = MarketUnits.of(c)
    rows = [("ask", lv.price, lv.quantity, lv.order_count) for lv in reversed(book.asks)]
    rows += [("bid", lv.price, lv.quantity, lv.order_count) for lv in book.bids]
    out.table(["side", f"price ({u.price_unit(a.symbol)})", f"quantity ({u.qty_unit(a.symbol)})", "orders"], rows,
              title=f"{book.symbol} (sequence {book.sequence})")
    return 0


def _mark(c, a, out: Out) -> int:
    """Prices, the predicted funding rate (what the next settlement would apply now: what traders
    watch) and the last settled one, the next funding time in venue time."""
    m = c.mark(a.symbol)
    now = m.time_ns or None
    if out.json:
        out.data({"symbol": m.symbol, "mark_price": m.mark_price, "index_price": m.index_price,
                  "last_price": m.last_price, "predicted_funding_rate": m.predicted_funding_rate,
                  "last_funding_rate": m.funding_rate, "next_funding_time": format_time(m.next_funding_time_ns),
                  "next_funding_time_ns": m.next_funding_time_ns, "time_ns": m.time_ns})
        return 0
    u = MarketUnits.of(c)
    out.fields([("symbol", m.symbol), ("mark_price", u.price(m.symbol, m.mark_price)),
                ("index_price", u.price(m.symbol, m.index_price)), ("last_price", u.price(m.symbol, m.last_price)),
                ("predicted_funding_rate", m.predicted_funding_rate), ("last_funding_rate", m.funding_rate),
                ("next_funding_time", format_time(m.next_funding_time_ns, now))])
    return 0


def _order_kwargs(a: argparse.Namespace, c) -> dict[str, Any]:
    tif = a.tif
    if a.post_only:
        if tif not in (None, "gtx"):
            raise ValueError(f"--post-only contradicts --tif {tif}")
        tif = "gtx"
    return {"type": a.type, "time_in_force": tif, "reduce_only": a.reduce_only, "position_side": a.position_side,
            "stp": a.stp, "client_order_id": a.client_id, "good_till_ns": good_till(a, c, a.symbol)}


_ORDER_COLUMNS = ["order_id", "symbol", "side", "type", "tif", "price", "quantity", "filled", "status", "client_id"]


def _order_row(o, u: MarketUnits) -> list[Any]:
    return [o.order_id, o.symbol, o.side, o.type, o.time_in_force, u.price(o.symbol, o.price),
            u.qty(o.symbol, o.quantity), u.qty(o.symbol, o.filled_quantity), o.status, o.client_order_id or None]


def show_order(c, o, out: Out) -> None:
    """One order as fields (with its fills), or as JSON."""
    if out.json:
        out.data(o)
        return
    u = MarketUnits.of(c)
    out.fields([("order_id", o.order_id), ("client_order_id", o.client_order_id or None), ("symbol", o.symbol),
                ("side", o.side), ("type", o.type), ("time_in_force", o.time_in_force), ("status", o.status),
                ("price", u.price(o.symbol, o.price)), ("quantity", u.qty(o.symbol, o.quantity)),
                ("filled_quantity", u.qty(o.symbol, o.filled_quantity)),
                ("reduce_only", o.reduce_only), ("position_side", o.position_side)])
    if o.fills:
        out.table([f"price ({u.price_unit(o.symbol)})", f"quantity ({u.qty_unit(o.symbol)})", "liquidity",
                   "slippage vs mid (bps)", "vs mark (bps)"],
                  [(f.price, f.quantity, f.liquidity, f.slippage_mid_bps, f.slippage_mark_bps) for f in o.fills],
                  title="fills")
    for line in warning_lines(o.warnings):
        out.line(line)


def _order_place(c, a, out: Out) -> int:
    show_order(c, c.place_order(a.symbol, a.side, a.quantity, a.price, **_order_kwargs(a, c)), out)
    return 0


def _order_cancel(c, a, out: Out) -> int:
    if not a.order_id and not a.client_id:
        raise ValueError("give ORDER_ID or --client-id")
    show_order(c, c.cancel_order(a.symbol, a.order_id, a.client_id), out)
    return 0


def _order_amend(c, a, out: Out) -> int:
    if not a.order_id and not a.client_id:
        raise ValueError("give ORDER_ID or --client-id")
    show_order(c, c.amend_order(a.symbol, a.order_id, a.client_id, price=a.price, quantity=a.quantity), out)
    return 0


def _order_cancel_all(c, a, out: Out) -> int:
    n = c.cancel_all(a.symbol)
    if out.json:
        out.data({"symbol": a.symbol, "canceled": n})
    else:
        out.line(f"canceled {n} order{'s' if n != 1 else ''} in {a.symbol}")
    return 0


def _order_list(c, a, out: Out) -> int:
    orders = c.open_orders(a.symbol)
    if out.json:
        out.data(orders)
    else:
        u = MarketUnits.of(c)
        out.table(_ORDER_COLUMNS, [_order_row(o, u) for o in orders])
    return 0



def _preview(c, a, out: Out) -> int:
    """The venue's risk preview, plus the price band a limit price must lie in (mark x band)."""
    kwargs = _order_kwargs(a, c)
    p = c.preview_order(a.symbol, a.side, a.quantity, a.price, **kwargs)
    market = next((m for m in c.markets() if m.symbol == a.symbol), None)
    mark = c.mark(a.symbol).mark_price
    band = None
    if market is not None and mark is not None:
        # the venue's band check works in ticks; shown here to the tick, inward (a price inside is accepted)
        tick = market.tick_size
        low = (mark * market.price_band_down / tick).to_integral_value(rounding=ROUND_CEILING) * tick
        high = (mark * market.price_band_up / tick).to_integral_value(rounding=ROUND_FLOOR) * tick
        band = {"mark_price": mark, "min_price": low, "max_price": high}
    if out.json:
        out.data({**p.to_dict(), "price_band": band})
        return 0
    u = MarketUnits([market] if market else [])
    s = a.symbol

    def money(v):
        return None if v is None else Amount(v, p.asset)

    out.fields([("cost", money(p.cost)), ("available", money(p.available)), ("affordable", p.affordable),
                ("resulting_quantity", u.qty(s, p.resulting_quantity)),
                ("liquidation_price", u.price(s, p.liquidation_price)),
                ("bankruptcy_price", u.price(s, p.bankruptcy_price)),
                ("liquidation_distance_percent", p.liquidation_distance_percent),
                ("liquidation_band", None if p.partial_liquidation_price is None else
                 f"partial {u.price(s, p.partial_liquidation_price)}, full {u.price(s, p.full_liquidation_price)}"),
                ("maintenance_margin", money(p.maintenance_margin)),
                ("predicted_funding_rate", p.funding_rate), ("next_funding_payment", money(p.funding_payment)),
                ("mark_price", u.price(s, band["mark_price"]) if band else None),
                ("price_band", f"{text(band['min_price'])} .. {text(band['max_price'])} {u.price_unit(s)}"
                 if band else None),
                ("liquidation_distance_sigma", sigma_text(p.liquidation_distance_sigma)),
                ("max_quantity_within_k_sigma", u.qty(s, p.max_quantity_within_k_sigma))])
    for line in warning_lines(p.warnings):
        out.line(line)
    return 0


