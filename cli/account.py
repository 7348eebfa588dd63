"""The account: `perpsim positions | balance | deposit | withdraw | transfer`."""

from __future__ import annotations

import argparse
from decimal import Decimal

from perpsim.cli.common import leaf
from perpsim.cli.format import Out, text


def add_parsers(sub: argparse._SubParsersAction) -> None:
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


def _positions(c, a, out: Out) -> int:
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


def _balance(c, a, out: Out) -> int:
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



def _wallet_result(asset: str, wallet: Decimal, out: Out) -> int:
    if out.json:
        out.data({"asset": asset, "wallet": wallet})
    else:
        print(f"wallet {asset} {text(wallet)}")
    return 0


def _deposit(c, a, out: Out) -> int:
    return _wallet_result(a.asset, c.deposit(a.asset, a.amount), out)


def _withdraw(c, a, out: Out) -> int:
    return _wallet_result(a.asset, c.withdraw(a.asset, a.amount), out)


def _transfer(c, a, out: Out) -> int:
    return _wallet_result(a.asset, c.transfer(a.to_account, a.asset, a.amount), out)


