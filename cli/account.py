"""The account: `perpsim positions | balance | deposit | withdraw | transfer`, and its settings:
`perpsim leverage | margin-mode | position-mode | margin add|remove`."""

from __future__ import annotations

import argparse
from decimal import Decimal, InvalidOperation

from perpsim.cli.common import POSITION_SIDES, leaf, lower
from perpsim.cli.format import Out, text
from perpsim.cli.units import Amount, MarketUnits


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register `perpsim positions`, `balance`, `transfer`, `leverage`, `margin-mode`, `position-mode`, `margin`."""
    p = leaf(sub, "positions", _positions, "open positions")
    p.add_argument("symbol", metavar="SYMBOL", nargs="?", default="")
    leaf(sub, "balance", _balance, "balances of the account")
    for name, fn, what in (("deposit", _deposit, "credit"), ("withdraw", _withdraw, "debit")):
        p = leaf(sub, name, fn, f"{name}: {what} the wallet")
        p.add_argument("asset", metavar="ASSET")
        p.add_argument("amount", metavar="AMOUNT")
    p = leaf(sub, "transfer", _transfer, "move free collateral to another account")
    p.add_argument("to_account", metavar="TO_ACCOUNT", type=int)
    p.add_argument("asset", metavar="ASSET")
    p.add_argument("amount", metavar="AMOUNT")

    p = leaf(sub, "leverage", _leverage, "set the leverage of a market (the brackets cap it)")
    p.add_argument("symbol", metavar="SYMBOL")
    p.add_argument("leverage", metavar="LEVERAGE", type=_positive_int, help="a whole number, e.g. 20")
    p = leaf(sub, "margin-mode", _margin_mode, "cross or isolated margin for a market (no position or order there)")
    p.add_argument("symbol", metavar="SYMBOL")
    p.add_argument("mode", metavar="MODE", type=lower, choices=("cross", "isolated"))
    p = leaf(sub, "position-mode", _position_mode, "one-way (one position per market) or hedge (a long and a short)")
    p.add_argument("mode", metavar="MODE", type=lower, choices=("one_way", "hedge"), help="one-way or hedge")
    margin = sub.add_parser("margin", help="add or remove margin of an isolated position",
                            description="add or remove margin of an isolated position")
    margin_sub = margin.add_subparsers(dest="margin_command", required=True, metavar="MARGIN_COMMAND")
    for name, help in (("add", "move money from the wallet into the position's margin"),
                       ("remove", "move margin back to the wallet (at most what keeps the position safe)")):
        p = leaf(margin_sub, name, _adjust_margin, help)
        p.add_argument("symbol", metavar="SYMBOL")
        p.add_argument("amount", metavar="AMOUNT", type=_positive_decimal, help="in the settlement asset, > 0")
        p.add_argument("--position-side", type=lower, choices=POSITION_SIDES, help="hedge mode: long or short")


def _positive_int(s: str) -> int:
    n = int(s)
    if n <= 0:
        raise ValueError(s)
    return n


_positive_int.__name__ = "positive integer"


def _positive_decimal(s: str) -> Decimal:
    try:
        d = Decimal(s)
    except InvalidOperation:
        raise ValueError(s) from None
    if not d.is_finite() or d <= 0:
        raise ValueError(s)
    return d


_positive_decimal.__name__ = "positive decimal"


def _positions(c, a, out: Out) -> int:
    positions = c.positions(a.symbol)
    if out.json:
        out.data(positions)
        return 0
    u = MarketUnits.of(c)
    out.table(["symbol", "side", "quantity", "entry", "mark", "upnl", "liq price", "margin", "lev", "maint",
               "next funding", "adl"],
              [(p.symbol, p.position_side, u.qty(p.symbol, p.quantity), u.price(p.symbol, p.entry_price),
                u.price(p.symbol, p.mark_price), u.money(p.symbol, p.unrealized_pnl),
                u.price(p.symbol, p.liquidation_price),
                p.margin_mode if p.margin_mode != "isolated" else f"isolated {u.money(p.symbol, p.isolated_margin)}",
                p.leverage, u.money(p.symbol, p.maintenance_margin), u.money(p.symbol, p.next_funding_payment),
                p.adl_quantile) for p in positions])
    return 0


def _balance(c, a, out: Out) -> int:
    acct = c.account()
    if out.json:
        out.data(acct)
        return 0
    mode = "hedge" if acct.hedge_mode else "one-way"
    multi = acct.multi_assets  # then each margin asset's collateral value too (USD)
    out.table(["asset", "wallet", "available", "withdrawable", "margin balance", "upnl", "initial", "maint",
               *(["collateral"] if multi else [])],
              [(b.asset, *(Amount(v, b.asset) for v in (b.wallet, b.available, b.withdrawable, b.margin_balance,
                                                        b.unrealized_pnl, b.initial_margin, b.maintenance_margin)),
                *([Amount(b.collateral_value, "USD") if b.collateral_value is not None else ""] if multi else []))
               for b in acct.balances],
              title=f"account {acct.account_id} ({mode} mode{', multi-assets' if multi else ''})")
    return 0


def _wallet_result(asset: str, wallet: Decimal, out: Out) -> int:
    if out.json:
        out.data({"asset": asset, "wallet": wallet})
    else:
        out.line(f"wallet {text(wallet)} {asset}")
    return 0


def _deposit(c, a, out: Out) -> int:
    return _wallet_result(a.asset, c.deposit(a.asset, a.amount), out)


def _withdraw(c, a, out: Out) -> int:
    return _wallet_result(a.asset, c.withdraw(a.asset, a.amount), out)


def _transfer(c, a, out: Out) -> int:
    return _wallet_result(a.asset, c.transfer(a.to_account, a.asset, a.amount), out)


def _leverage(c, a, out: Out) -> int:
    lev = c.set_leverage(a.symbol, a.leverage)
    if out.json:
        out.data({"symbol": a.symbol, "leverage": lev})
    else:
        out.line(f"{a.symbol} leverage {lev}x")
    return 0


def _margin_mode(c, a, out: Out) -> int:
    c.set_margin_mode(a.symbol, a.mode)
    if out.json:
        out.data({"symbol": a.symbol, "margin_mode": a.mode})
    else:
        out.line(f"{a.symbol} margin mode {a.mode}")
    return 0


def _position_mode(c, a, out: Out) -> int:
    c.set_position_mode(a.mode == "hedge")
    mode = a.mode.replace("_", "-")
    if out.json:
        out.data({"position_mode": mode})
    else:
        out.line(f"position mode {mode}")
    return 0


def _adjust_margin(c, a, out: Out) -> int:
    amount = a.amount if a.margin_command == "add" else -a.amount
    margin = c.adjust_isolated_margin(a.symbol, amount, a.position_side)
    u = MarketUnits.of(c)
    if out.json:
        out.data({"symbol": a.symbol, "position_side": a.position_side or "both", "isolated_margin": margin,
                  "asset": u.money_unit(a.symbol)})
    else:
        out.line(f"{a.symbol} isolated margin {u.money(a.symbol, margin)}")
    return 0
