"""The trading and sandbox commands of `perpsim` (cli.py dispatches here).

  perpsim markets | book SYMBOL [--depth N] | mark SYMBOL
  perpsim order place SYMBOL SIDE QTY [PRICE] [--type --tif --reduce-only --post-only --position-side
                                               --client-id --stp --good-till-ns]
  perpsim order cancel SYMBOL [ORDER_ID] [--client-id ID] | order cancel-all SYMBOL | order list [SYMBOL]
  perpsim order amend SYMBOL [ORDER_ID] [--client-id ID] --price P --quantity Q
  perpsim order conditional SYMBOL SIDE [QTY] --type ... --trigger P [--source mark|last|index] ...
  perpsim order conditionals [SYMBOL] | order cancel-conditional SYMBOL ID
  perpsim order bracket SYMBOL SIDE QTY [PRICE] --take-profit P | --take-profit-limit L
                        --stop-loss P | --trailing-stop RATE [--stop-loss ACTIVATION] ...
  perpsim order oco SYMBOL SIDE QTY --take-profit P | --take-profit-limit L  --stop-loss P [--reduce-only] ...
  perpsim order oto SYMBOL SIDE QTY [PRICE] (--take-profit ... | --stop-loss ...) [--reduce-only] ...
  perpsim order lists [SYMBOL] | order cancel-list SYMBOL ID
  perpsim positions [SYMBOL] | balance | preview SYMBOL SIDE QTY [PRICE] [order flags]
  perpsim deposit ASSET AMOUNT | withdraw ASSET AMOUNT | transfer TO_ACCOUNT ASSET AMOUNT
  perpsim watch trades|book|mark|liquidations|alerts SYMBOL [--depth N] [--count N]
  perpsim sandbox create-account [--label] | set-index SYMBOL PRICE | shock SYMBOL PERCENT | state
                  | advance-clock NS | fund-insurance ASSET AMOUNT

Every command takes --address (default $PERPSIM_ADDRESS or 127.0.0.1:50051), --key (default
$PERPSIM_API_KEY), --admin-key (default $PERPSIM_ADMIN_KEY, else ./perpsim-data/admin.key if
present), --timeout SECONDS and --json. Output: a table (rich when stdout is a terminal and rich is
installed, else aligned plain text), or with --json one JSON document (watch: one per line) with
decimals as exact strings. Errors: one line `error: <reason> (<binance code>): <message>` on
stderr and exit code 1; bad arguments exit with 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

DEFAULT_ADDRESS = "127.0.0.1:50051"
ADMIN_KEY_FILE = Path("perpsim-data") / "admin.key"

SIDES = ("buy", "sell")
ORDER_TYPES = ("limit", "market")
TIFS = ("gtc", "ioc", "fok", "gtx", "gtd")
POSITION_SIDES = ("both", "long", "short")
STP_MODES = ("none", "expire_taker", "expire_maker", "expire_both")


# ---------------------------------------------------------------- parsers


def _lower(text: str) -> str:
    return text.strip().lower().replace("-", "_")


def _common() -> argparse.ArgumentParser:
    """The flags every client command takes (SUPPRESS: absent unless given, resolved in _settings)."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("venue")
    g.add_argument("--address", default=argparse.SUPPRESS,
                   help=f"venue address (default $PERPSIM_ADDRESS or {DEFAULT_ADDRESS})")
    g.add_argument("--key", default=argparse.SUPPRESS,
                   help="API key of the account (default $PERPSIM_API_KEY); write --key=KEY if KEY starts with -")
    g.add_argument("--admin-key", default=argparse.SUPPRESS,
                   help=f"sandbox admin key (default $PERPSIM_ADMIN_KEY, else ./{ADMIN_KEY_FILE} if present)")
    g.add_argument("--timeout", type=float, default=argparse.SUPPRESS, help="deadline of a call in seconds (5)")
    g.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable JSON output")
    return p


def _order_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("symbol", metavar="SYMBOL")
    p.add_argument("side", metavar="SIDE", type=_lower, choices=SIDES, help="buy or sell")
    p.add_argument("quantity", metavar="QTY", help="exact decimal, in base units (linear) or contracts (inverse)")
    p.add_argument("price", metavar="PRICE", nargs="?", help="limit price; none: a market order")
    p.add_argument("--type", type=_lower, choices=ORDER_TYPES, help="default: limit with a price, else market")
    p.add_argument("--tif", type=_lower, choices=TIFS, help="time in force (default gtc; market orders: ioc)")
    p.add_argument("--post-only", action="store_true", help="post-only (time in force GTX)")
    p.add_argument("--reduce-only", action="store_true", help="only reduce the position")
    p.add_argument("--position-side", type=_lower, choices=POSITION_SIDES, help="hedge mode: long or short")
    p.add_argument("--client-id", help="client order id (PlaceOrder is idempotent on it and then retried)")
    p.add_argument("--stp", type=_lower, choices=STP_MODES, help="self-trade prevention")
    p.add_argument("--good-till-ns", type=int, default=0, help="GTD expiry, ns since the epoch (implies --tif gtd)")


def _list_flags(p: argparse.ArgumentParser, entry: bool) -> None:
    p.add_argument("symbol", metavar="SYMBOL")
    p.add_argument("side", metavar="SIDE", type=_lower, choices=SIDES,
                   help="the entry's side (the exits trade the other)" if entry else "the legs' side")
    p.add_argument("quantity", metavar="QTY")
    if entry:
        p.add_argument("price", metavar="PRICE", nargs="?", help="the entry's limit price; none: a market entry")
        p.add_argument("--tif", type=_lower, choices=TIFS, help="the entry's time in force (default gtc)")
    p.add_argument("--take-profit", help="take-profit trigger price")
    p.add_argument("--take-profit-limit", help="its limit price; alone: a resting limit order as the leg")
    p.add_argument("--stop-loss", help="stop-loss trigger price")
    p.add_argument("--stop-loss-limit", help="its limit price (a stop limit)")
    p.add_argument("--trailing-stop", metavar="RATE",
                   help="a trailing stop-loss with this callback rate (e.g. 0.01); --stop-loss is then its activation")
    p.add_argument("--source", type=_lower, default="last", choices=("mark", "last", "index"),
                   help="trigger source of the conditional legs")
    if p.prog.split()[-1] != "bracket":  # a bracket's exits always are
        p.add_argument("--reduce-only", action="store_true", help="the exits only reduce the position")
    p.add_argument("--position-side", type=_lower, choices=POSITION_SIDES, help="hedge mode: long or short")
    p.add_argument("--client-id", help="client id of the list")
    p.add_argument("--good-till-ns", type=int, default=0, help="GTD: the whole list expires then (ns, venue time)")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add the client commands to the `perpsim` sub-command parser."""
    common = _common()

    def leaf(parent, name: str, run: Callable[..., int], help: str) -> argparse.ArgumentParser:
        p = parent.add_parser(name, help=help, description=help, parents=[common])
        p.set_defaults(run=run)
        return p

    leaf(sub, "markets", _markets, "list the markets and their rules")
    p = leaf(sub, "book", _book, "the order book of a market")
    p.add_argument("symbol", metavar="SYMBOL")
    p.add_argument("--depth", type=int, default=10, help="levels per side (default 10)")
    p = leaf(sub, "mark", _mark, "mark, index and last price, funding rate")
    p.add_argument("symbol", metavar="SYMBOL")

    order = sub.add_parser("order", help="place, cancel and list orders")
    order_sub = order.add_subparsers(dest="order_command", required=True, metavar="ORDER_COMMAND")
    _order_flags(leaf(order_sub, "place", _order_place, "place an order"))
    p = leaf(order_sub, "cancel", _order_cancel, "cancel an order (by id or --client-id)")
    p.add_argument("symbol", metavar="SYMBOL")
    p.add_argument("order_id", metavar="ORDER_ID", type=int, nargs="?")
    p.add_argument("--client-id", help="cancel by client order id instead")
    p = leaf(order_sub, "amend", _order_amend, "change a resting order's price and remaining quantity")
    p.add_argument("symbol", metavar="SYMBOL")
    p.add_argument("order_id", metavar="ORDER_ID", type=int, nargs="?")
    p.add_argument("--client-id", help="amend by client order id instead")
    p.add_argument("--price", required=True, help="the new limit price")
    p.add_argument("--quantity", required=True, help="the new remaining quantity")
    p = leaf(order_sub, "cancel-all", _order_cancel_all, "cancel every open order of a market")
    p.add_argument("symbol", metavar="SYMBOL")
    p = leaf(order_sub, "list", _order_list, "open orders")
    p.add_argument("symbol", metavar="SYMBOL", nargs="?", default="")
    p = leaf(order_sub, "conditional", _order_conditional,
             "rest a stop, take-profit or trailing stop (fires on its trigger source)")
    p.add_argument("symbol", metavar="SYMBOL")
    p.add_argument("side", metavar="SIDE", type=_lower, choices=("buy", "sell"))
    p.add_argument("quantity", metavar="QTY", nargs="?", help="omit with --close-position")
    p.add_argument("--type", dest="cond_type", type=_lower, default="stop_market",
                   choices=("stop_market", "stop_limit", "take_profit_market", "take_profit_limit",
                            "trailing_stop_market"))
    p.add_argument("--trigger", help="trigger price (not for trailing stops)")
    p.add_argument("--limit", help="limit price of *_limit types")
    p.add_argument("--source", type=_lower, default="last", choices=("mark", "last", "index"))
    p.add_argument("--reduce-only", action="store_true")
    p.add_argument("--close-position", action="store_true")
    p.add_argument("--price-protect", action="store_true")
    p.add_argument("--callback", help="trailing callback rate as a fraction, e.g. 0.01")
    p.add_argument("--activation", help="trailing activation price")
    p.add_argument("--good-till-ns", type=int, default=0, help="GTD expiry, ns since the epoch (venue time)")
    for name, help in (("bracket", "an entry whose fills arm a take-profit and a stop-loss (one cancels the other)"),
                       ("oco", "two legs at once, one cancels the other"),
                       ("oto", "an entry whose fills arm one exit leg")):
        _list_flags(leaf(order_sub, name, _order_list_place, help), entry=name != "oco")
    p = leaf(order_sub, "lists", _order_lists, "working order lists (OCO, OTO, brackets)")
    p.add_argument("symbol", metavar="SYMBOL", nargs="?", default="")
    p = leaf(order_sub, "cancel-list", _order_cancel_list, "cancel an order list")
    p.add_argument("symbol", metavar="SYMBOL")
    p.add_argument("list_id", metavar="ID", type=int)
    p = leaf(order_sub, "conditionals", _order_conditionals, "resting conditional orders")
    p.add_argument("symbol", metavar="SYMBOL", nargs="?", default="")
    p = leaf(order_sub, "cancel-conditional", _order_cancel_conditional, "cancel a conditional order")
    p.add_argument("symbol", metavar="SYMBOL")
    p.add_argument("conditional_id", metavar="ID", type=int)

    p = leaf(sub, "positions", _positions, "open positions")
    p.add_argument("symbol", metavar="SYMBOL", nargs="?", default="")
    leaf(sub, "balance", _balance, "balances of the account")
    _order_flags(leaf(sub, "preview", _preview, "cost, liquidation price and price band of an order, before placing"))
    for name, fn, what in (("deposit", _deposit, "credit"), ("withdraw", _withdraw, "debit")):
        p = leaf(sub, name, fn, f"{name}: {what} the wallet")
        p.add_argument("asset", metavar="ASSET")
        p.add_argument("amount", metavar="AMOUNT")
    p = leaf(sub, "transfer", _transfer, "move free collateral to another account")
    p.add_argument("to_account", metavar="TO_ACCOUNT", type=int)
    p.add_argument("asset", metavar="ASSET")
    p.add_argument("amount", metavar="AMOUNT")

    watch = sub.add_parser("watch", help="follow a public stream (Ctrl-C stops)")
    watch_sub = watch.add_subparsers(dest="watch_command", required=True, metavar="STREAM")
    for name, help in (("trades", "public trades"), ("book", "book snapshot, then changed levels"),
                       ("mark", "mark price updates"), ("liquidations", "liquidation orders"),
                       ("alerts", "wide spread with extreme funding: raised / cleared")):
        p = leaf(watch_sub, name, _watch, help)
        p.add_argument("symbol", metavar="SYMBOL")
        p.add_argument("--count", type=int, help="stop after this many messages")
        if name == "book":
            p.add_argument("--depth", type=int, default=10, help="levels per side (default 10)")

    sandbox = sub.add_parser("sandbox", help="control the simulated world (admin key)")
    sb = sandbox.add_subparsers(dest="sandbox_command", required=True, metavar="SANDBOX_COMMAND")
    p = leaf(sb, "create-account", _create_account, "a new account and its API key")
    p.add_argument("--label", default="")
    p = leaf(sb, "set-index", _set_index, "set the index price (liquidations run)")
    p.add_argument("symbol", metavar="SYMBOL")
    p.add_argument("price", metavar="PRICE")
    p = leaf(sb, "shock", _shock, "move the index by a percentage in one step")
    p.add_argument("symbol", metavar="SYMBOL")
    p.add_argument("percent", metavar="PERCENT", help="e.g. -8 for an 8 %% drop")
    leaf(sb, "state", _state, "venue time, state hash, journal sequence, insurance funds")
    p = leaf(sb, "advance-clock", _advance_clock, "move the venue clock forward")
    p.add_argument("ns", metavar="NS", type=int, help="nanoseconds")
    p = leaf(sb, "fund-insurance", _fund_insurance, "add money to the insurance fund")
    p.add_argument("asset", metavar="ASSET")
    p.add_argument("amount", metavar="AMOUNT")


# ---------------------------------------------------------------- running


def _settings(a: argparse.Namespace) -> dict[str, Any]:
    address = getattr(a, "address", None) or os.environ.get("PERPSIM_ADDRESS") or DEFAULT_ADDRESS
    key = getattr(a, "key", None) or os.environ.get("PERPSIM_API_KEY") or None
    admin = getattr(a, "admin_key", None) or os.environ.get("PERPSIM_ADMIN_KEY") or None
    if admin is None and ADMIN_KEY_FILE.is_file():
        try:
            admin = ADMIN_KEY_FILE.read_text().strip() or None
        except OSError:
            admin = None
    return {"address": address, "api_key": key, "admin_key": admin, "timeout": getattr(a, "timeout", None) or 5.0}


def run(a: argparse.Namespace) -> int:
    """Run a parsed client command: exit code 0, 1 on a venue error, 2 on bad arguments."""
    from perpsim.clients.client import Client
    from perpsim.clients.errors import PerpsimError

    s = _settings(a)
    try:
        with Client(s["address"], s["api_key"], s["timeout"], admin_key=s["admin_key"]) as client:
            return a.run(client, a, _Out(getattr(a, "json", False)))
    except PerpsimError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except (TypeError, ValueError) as e:
        print(f"perpsim: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `perpsim watch trades BTCUSDT | head`
        sys.stderr.close()
        return 0


# ---------------------------------------------------------------- output


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _numeric(value: Any) -> bool:
    return isinstance(value, Decimal | int) and not isinstance(value, bool)


def _rich_console():
    if not sys.stdout.isatty():
        return None
    try:
        from rich.console import Console
    except ImportError:
        return None
    return Console()


class _Out:
    """Tables or JSON on stdout."""

    def __init__(self, as_json: bool) -> None:
        self.json = as_json

    def data(self, value: Any) -> None:
        from perpsim.clients.models import to_jsonable

        print(json.dumps(to_jsonable(value)), flush=True)

    def table(self, columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> None:
        rows = [list(r) for r in rows]
        console = _rich_console()
        if console is not None:
            from rich.table import Table
            from rich.text import Text

            t = Table(title=title)
            for i, c in enumerate(columns):
                t.add_column(c, justify="right" if rows and all(_numeric(r[i]) or r[i] is None for r in rows)
                             and any(_numeric(r[i]) for r in rows) else "left")
            for r in rows:
                t.add_row(*(Text(_text(v)) for v in r))  # Text: values are never read as markup
            console.print(t)
            return
        if title:
            print(title)
        cells = [[_text(v) for v in r] for r in rows]
        widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
        right = [bool(rows) and all(_numeric(r[i]) or r[i] is None for r in rows) for i in range(len(columns))]

        def line(values: Sequence[str]) -> str:
            return "  ".join(v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right, strict=True))

        print(line(list(columns)).rstrip())
        for r in cells:
            print(line(r).rstrip())
        if not rows:
            print("(none)")

    def fields(self, pairs: Sequence[tuple[str, Any]], title: str | None = None) -> None:
        console = _rich_console()
        if console is not None:
            from rich.table import Table
            from rich.text import Text

            t = Table(title=title, show_header=False)
            t.add_column("field", style="bold")
            t.add_column("value")
            for k, v in pairs:
                t.add_row(Text(k), Text(_text(v)))
            console.print(t)
            return
        if title:
            print(title)
        width = max((len(k) for k, _ in pairs), default=0)
        for k, v in pairs:
            print(f"{k.ljust(width)}  {_text(v)}")


# ---------------------------------------------------------------- commands


def _markets(c, a, out: _Out) -> int:
    markets = c.markets()
    if out.json:
        out.data(markets)
        return 0
    out.table(["symbol", "kind", "settle", "tick", "lot", "min qty", "min notional", "maker", "taker", "band"],
              [(m.symbol, m.kind, m.settle_asset, m.tick_size, m.lot_size, m.min_quantity, m.min_notional,
                m.maker_fee_rate, m.taker_fee_rate, f"{_text(m.price_band_down)}-{_text(m.price_band_up)}")
               for m in markets])
    return 0


def _book(c, a, out: _Out) -> int:
    book = c.book(a.symbol, a.depth)
    if out.json:
        out.data(book)
        return 0
    rows = [("ask", lv.price, lv.quantity, lv.order_count) for lv in reversed(book.asks)]
    rows += [("bid", lv.price, lv.quantity, lv.order_count) for lv in book.bids]
    out.table(["side", "price", "quantity", "orders"], rows, title=f"{book.symbol} (sequence {book.sequence})")
    return 0


def _mark(c, a, out: _Out) -> int:
    m = c.mark(a.symbol)
    if out.json:
        out.data(m)
        return 0
    out.fields([("symbol", m.symbol), ("mark_price", m.mark_price), ("index_price", m.index_price),
                ("last_price", m.last_price), ("funding_rate", m.funding_rate),
                ("next_funding_time_ns", m.next_funding_time_ns)])
    return 0


def _order_kwargs(a: argparse.Namespace) -> dict[str, Any]:
    tif = a.tif
    if a.post_only:
        if tif not in (None, "gtx"):
            raise ValueError(f"--post-only contradicts --tif {tif}")
        tif = "gtx"
    return {"type": a.type, "time_in_force": tif, "reduce_only": a.reduce_only, "position_side": a.position_side,
            "stp": a.stp, "client_order_id": a.client_id, "good_till_ns": a.good_till_ns}


_ORDER_COLUMNS = ["order_id", "symbol", "side", "type", "tif", "price", "quantity", "filled", "status", "client_id"]


def _order_row(o) -> list[Any]:
    return [o.order_id, o.symbol, o.side, o.type, o.time_in_force, o.price, o.quantity, o.filled_quantity, o.status,
            o.client_order_id or None]


def _show_order(o, out: _Out) -> None:
    if out.json:
        out.data(o)
        return
    out.fields([("order_id", o.order_id), ("client_order_id", o.client_order_id or None), ("symbol", o.symbol),
                ("side", o.side), ("type", o.type), ("time_in_force", o.time_in_force), ("status", o.status),
                ("price", o.price), ("quantity", o.quantity), ("filled_quantity", o.filled_quantity),
                ("reduce_only", o.reduce_only), ("position_side", o.position_side)])
    if o.fills:
        out.table(["price", "quantity", "liquidity"], [(f.price, f.quantity, f.liquidity) for f in o.fills],
                  title="fills")


def _order_place(c, a, out: _Out) -> int:
    _show_order(c.place_order(a.symbol, a.side, a.quantity, a.price, **_order_kwargs(a)), out)
    return 0


def _order_cancel(c, a, out: _Out) -> int:
    if not a.order_id and not a.client_id:
        raise ValueError("give ORDER_ID or --client-id")
    _show_order(c.cancel_order(a.symbol, a.order_id, a.client_id), out)
    return 0


def _order_amend(c, a, out: _Out) -> int:
    if not a.order_id and not a.client_id:
        raise ValueError("give ORDER_ID or --client-id")
    _show_order(c.amend_order(a.symbol, a.order_id, a.client_id, price=a.price, quantity=a.quantity), out)
    return 0


def _order_cancel_all(c, a, out: _Out) -> int:
    n = c.cancel_all(a.symbol)
    if out.json:
        out.data({"symbol": a.symbol, "canceled": n})
    else:
        print(f"canceled {n} order{'s' if n != 1 else ''} in {a.symbol}")
    return 0


def _listing(out: _Out, items: list, columns: list[str], row: Callable[[Any], list]) -> int:
    """Items as JSON, or as a table of their rows."""
    if out.json:
        out.data(items)
    else:
        out.table(columns, [row(o) for o in items])
    return 0


def _order_list(c, a, out: _Out) -> int:
    return _listing(out, c.open_orders(a.symbol), _ORDER_COLUMNS, _order_row)


_COND_COLUMNS = ["id", "symbol", "side", "type", "quantity", "trigger", "limit", "source", "callback"]


def _cond_row(o) -> list:
    from perpsim.v1 import common_pb2

    return [o.conditional_id, o.symbol, common_pb2.Side.Name(o.side)[5:].lower(),
            common_pb2.ConditionalType.Name(o.type)[17:].lower(), o.quantity or "close", o.trigger_price or "-",
            o.price or "-", common_pb2.TriggerSource.Name(o.trigger_source)[15:].lower(), o.callback_rate or "-"]


def _order_conditional(c, a, out: _Out) -> int:
    cid = c.place_conditional(a.symbol, a.side, a.quantity, type=a.cond_type, trigger_price=a.trigger,
                              price=a.limit, source=a.source, reduce_only=a.reduce_only,
                              close_position=a.close_position, price_protect=a.price_protect,
                              callback_rate=a.callback, activation_price=a.activation, good_till_ns=a.good_till_ns)
    if out.json:
        out.data({"conditional_id": cid})
    else:
        print(f"conditional order {cid} resting")
    return 0


def _order_conditionals(c, a, out: _Out) -> int:
    rows = [_cond_row(o) for o in c.conditional_orders(a.symbol)]
    if out.json:
        out.data([dict(zip(_COND_COLUMNS, r, strict=True)) for r in rows])
    else:
        out.table(_COND_COLUMNS, rows)
    return 0


def _canceled(out: _Out, key: str, ident: int, what: str) -> int:
    if out.json:
        out.data({key: ident, "canceled": True})
    else:
        print(f"canceled {what} {ident}")
    return 0


def _order_cancel_conditional(c, a, out: _Out) -> int:
    c.cancel_conditional(a.symbol, a.conditional_id)
    return _canceled(out, "conditional_id", a.conditional_id, "conditional order")


def _leg_text(leg) -> str | None:
    if leg is None:
        return None
    prices = " ".join(f"{k} {_text(v)}" for k, v in (("at", leg.trigger_price), ("limit", leg.price),
                                                     ("callback", leg.callback_rate)) if v is not None)
    return f"{leg.type} {prices}"


_LIST_COLUMNS = ["id", "symbol", "type", "side", "quantity", "entry", "take_profit", "stop_loss", "covered", "status"]


def _list_row(o) -> list:
    return [o.list_id, o.symbol, o.type, o.side, o.quantity, o.entry_price or ("-" if o.type == "oco" else "market"),
            _leg_text(o.take_profit), _leg_text(o.stop_loss), o.covered_quantity, o.status]


def _order_list_place(c, a, out: _Out) -> int:
    kind = a.order_command
    o = c.place_order_list(a.symbol, kind, a.side, a.quantity, getattr(a, "price", None),
                           take_profit=a.take_profit, take_profit_limit=a.take_profit_limit, stop_loss=a.stop_loss,
                           stop_loss_limit=a.stop_loss_limit, trailing_stop=a.trailing_stop, source=a.source,
                           reduce_only=getattr(a, "reduce_only", False), time_in_force=getattr(a, "tif", None),
                           position_side=a.position_side, good_till_ns=a.good_till_ns, client_order_id=a.client_id)
    if out.json:
        out.data(o)
    else:
        out.fields([*zip(_LIST_COLUMNS, _list_row(o), strict=True), ("entry_order_id", o.entry_order_id or None),
                    ("take_profit_id", o.take_profit_id or None), ("stop_loss_id", o.stop_loss_id or None)])
    return 0


def _order_lists(c, a, out: _Out) -> int:
    return _listing(out, c.order_lists(a.symbol), _LIST_COLUMNS, _list_row)


def _order_cancel_list(c, a, out: _Out) -> int:
    c.cancel_order_list(a.symbol, a.list_id)
    return _canceled(out, "list_id", a.list_id, "order list")


def _positions(c, a, out: _Out) -> int:
    positions = c.positions(a.symbol)
    if out.json:
        out.data(positions)
        return 0
    out.table(["symbol", "side", "quantity", "entry", "mark", "upnl", "liq price", "margin", "lev", "maint",
               "next funding", "adl"],
              [(p.symbol, p.position_side, p.quantity, p.entry_price, p.mark_price, p.unrealized_pnl,
                p.liquidation_price, p.margin_mode if p.margin_mode != "isolated" else f"isolated {p.isolated_margin}",
                p.leverage, p.maintenance_margin, p.next_funding_payment, p.adl_quantile) for p in positions])
    return 0


def _balance(c, a, out: _Out) -> int:
    acct = c.account()
    if out.json:
        out.data(acct)
        return 0
    mode = "hedge" if acct.hedge_mode else "one-way"
    out.table(["asset", "wallet", "available", "withdrawable", "margin balance", "upnl", "initial", "maint"],
              [(b.asset, b.wallet, b.available, b.withdrawable, b.margin_balance, b.unrealized_pnl, b.initial_margin,
                b.maintenance_margin) for b in acct.balances],
              title=f"account {acct.account_id} ({mode} mode)")
    return 0


def _preview(c, a, out: _Out) -> int:
    """The venue's risk preview, plus the price band a limit price must lie in (mark x band)."""
    kwargs = _order_kwargs(a)
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
    out.fields([("cost", p.cost), ("available", p.available), ("affordable", p.affordable),
                ("resulting_quantity", p.resulting_quantity), ("liquidation_price", p.liquidation_price),
                ("bankruptcy_price", p.bankruptcy_price),
                ("liquidation_distance_percent", p.liquidation_distance_percent),
                ("liquidation_band", None if p.partial_liquidation_price is None else
                 f"partial {_text(p.partial_liquidation_price)}, full {_text(p.full_liquidation_price)}"),
                ("maintenance_margin", p.maintenance_margin),
                ("funding_rate", p.funding_rate), ("next_funding_payment", p.funding_payment), ("asset", p.asset),
                ("mark_price", band["mark_price"] if band else None),
                ("price_band", f"{_text(band['min_price'])} .. {_text(band['max_price'])}" if band else None)])
    return 0


def _wallet_result(asset: str, wallet: Decimal, out: _Out) -> int:
    if out.json:
        out.data({"asset": asset, "wallet": wallet})
    else:
        print(f"wallet {asset} {_text(wallet)}")
    return 0


def _deposit(c, a, out: _Out) -> int:
    return _wallet_result(a.asset, c.deposit(a.asset, a.amount), out)


def _withdraw(c, a, out: _Out) -> int:
    return _wallet_result(a.asset, c.withdraw(a.asset, a.amount), out)


def _transfer(c, a, out: _Out) -> int:
    return _wallet_result(a.asset, c.transfer(a.to_account, a.asset, a.amount), out)


def _watch_line(kind: str, m) -> str:
    if kind == "trades":
        flag = " (liquidation)" if m.liquidation else ""
        return f"#{m.sequence} {m.symbol} {m.taker_side} {_text(m.quantity)} @ {_text(m.price)}{flag}"
    if kind == "book":
        head = "snapshot" if m.snapshot else "update"
        levels = [f"bid {_text(lv.price)} {_text(lv.quantity)}" for lv in m.bids]
        levels += [f"ask {_text(lv.price)} {_text(lv.quantity)}" for lv in m.asks]
        return f"#{m.sequence} {head}: " + (", ".join(levels) or "(empty)")
    if kind == "mark":
        return (f"#{m.sequence} {m.mark.symbol} mark {_text(m.mark.mark_price)} index {_text(m.mark.index_price)}"
                f" funding {_text(m.mark.funding_rate)}")
    if kind == "alerts":
        return (f"#{m.sequence} {m.symbol} {m.state.upper()}: spread {_text(m.spread_bps)} bps"
                f" (alert at {_text(m.spread_threshold_bps)}), predicted funding {_text(m.predicted_funding_rate)}"
                f" (alert at {_text(m.funding_rate_threshold)})")
    return (f"#{m.sequence} {m.symbol} {m.side} {_text(m.quantity)} bankruptcy {_text(m.bankruptcy_price)}"
            f" filled {_text(m.filled_quantity)} insurance {_text(m.taken_by_insurance)}"
            f" adl {_text(m.auto_deleveraged)}")


def _watch(c, a, out: _Out) -> int:
    kind = a.watch_command
    if kind == "book":
        stream = c.stream_book(a.symbol, a.depth)
    else:
        stream = {"trades": c.stream_trades, "mark": c.stream_mark, "liquidations": c.stream_liquidations,
                  "alerts": c.stream_alerts}[kind](a.symbol)
    if a.count is not None and a.count <= 0:
        return 0
    seen = 0
    with stream:
        try:
            for msg in stream:
                if out.json:
                    out.data(msg)
                else:
                    print(_watch_line(kind, msg), flush=True)
                seen += 1
                if a.count is not None and seen >= a.count:
                    break
        except KeyboardInterrupt:
            return 0
    return 0


def _create_account(c, a, out: _Out) -> int:
    acct = c.create_account(a.label)
    if out.json:
        out.data({"account_id": acct.account_id, "api_key": acct.api_key})
    else:
        out.fields([("account_id", acct.account_id), ("api_key", acct.api_key)])
    return 0


def _set_index(c, a, out: _Out) -> int:
    r = c.set_index_price(a.symbol, a.price)
    if out.json:
        out.data({"symbol": a.symbol, **r.to_dict()})
    else:
        out.fields([("symbol", a.symbol), ("mark_price", r.mark_price), ("liquidations", r.liquidations)])
    return 0


def _shock(c, a, out: _Out) -> int:
    r = c.shock_price(a.symbol, a.percent)
    if out.json:
        out.data({"symbol": a.symbol, **r.to_dict()})
    else:
        out.fields([("symbol", a.symbol), ("index_price", r.index_price), ("mark_price", r.mark_price),
                    ("liquidations", r.liquidations)])
    return 0


def _state(c, a, out: _Out) -> int:
    s = c.venue_state()
    if out.json:
        out.data(s)
    else:
        out.fields([("now_ns", s.now_ns), ("state_hash", s.state_hash), ("journal_sequence", s.journal_sequence)]
                   + [(f"insurance_fund {asset}", amount) for asset, amount in s.insurance_funds.items()])
    return 0


def _advance_clock(c, a, out: _Out) -> int:
    now = c.advance_clock(a.ns)
    if out.json:
        out.data({"now_ns": now})
    else:
        print(f"now_ns {now}")
    return 0


def _fund_insurance(c, a, out: _Out) -> int:
    fund = c.fund_insurance(a.asset, a.amount)
    if out.json:
        out.data({"asset": a.asset, "insurance_fund": fund})
    else:
        print(f"insurance fund {a.asset} {_text(fund)}")
    return 0
