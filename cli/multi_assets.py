"""`perpsim account multi-assets on|off|show`: Binance's Multi-Assets mode, in which the USDT,
USDC and BTC wallets are one cross collateral for USDⓈ-margined markets (BTC at its index less
its haircut; USDT and USDC at par). Switching is refused while the account has positions or
open orders, or an isolated market; in the mode coin-margined markets are closed to it.
"""

from __future__ import annotations

import argparse

from perpsim.cli.common import group, leaf
from perpsim.cli.format import Out
from perpsim.cli.units import Amount


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register `perpsim account multi-assets on / off / show`."""
    account = group(sub, "account", "account settings")
    mode = group(account, "multi-assets", "USDT, USDC and BTC as one cross collateral for USDⓈ-margined markets")
    leaf(mode, "on", _on, "switch to Multi-Assets mode (no position or open order)")
    leaf(mode, "off", _off, "switch back to Single-Asset mode (no position or open order, no negative wallet)")
    leaf(mode, "show", _show, "the mode and what each margin asset counts for as collateral")


def _set(c, on: bool, out: Out) -> int:
    now = c.set_multi_assets_mode(on)
    if out.json:
        out.data({"multi_assets": now})
    else:
        out.line(f"asset mode {'multi-assets' if now else 'single-asset'}")
    return 0


def _on(c, a, out: Out) -> int:
    return _set(c, True, out)


def _off(c, a, out: Out) -> int:
    return _set(c, False, out)


def _show(c, a, out: Out) -> int:
    acct = c.account()
    rows = [b for b in acct.balances if b.collateral_value is not None]
    if out.json:
        out.data({"multi_assets": acct.multi_assets,
                  "collateral": [{"asset": b.asset, "wallet": b.wallet, "collateral_value": b.collateral_value}
                                 for b in rows]})
        return 0
    mode = "multi-assets" if acct.multi_assets else "single-asset (values shown for the mode)"
    out.table(["asset", "wallet", "collateral value", "available"],
              [(b.asset, Amount(b.wallet, b.asset), Amount(b.collateral_value, "USD"), Amount(b.available, b.asset))
               for b in rows],
              title=f"account {acct.account_id}: {mode}")
    return 0
