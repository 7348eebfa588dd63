"""The wallet rails ccxt reaches through /sapi: coin configuration and margin pairs (the two
look-ups `load_markets` makes when a key is set), deposit address and history, withdraw apply
and history, and transfers between the "spot" wallet and the futures account.

The venue has no spot wallet: money moved from spot into futures is a venue Deposit, money
moved out (a transfer to spot or a withdrawal) a venue Withdraw. Histories are read from the
account's income (TRANSFER rows)."""

from __future__ import annotations

import time

from aiohttp import web

from perpsim.engine import commands as C
from perpsim.model.reasons import RejectReason as R
from perpsim.venue import convert as cv
from perpsim.venue.errors import VenueError
from perpsim.venue.gateway import params as P
from perpsim.venue.gateway import shapes as S
from perpsim.venue.gateway.edge import SIGNED
from perpsim.venue.gateway.market import linear_specs

NETWORK = "PERPSIM"
#: sapi/v1/asset/transfer types and futures/transfer types: True moves money into the venue.
TRANSFER_IN = {"MAIN_UMFUTURE": True, "UMFUTURE_MAIN": False, "FUNDING_UMFUTURE": True,
               "UMFUTURE_FUNDING": False}
FUTURES_TRANSFER_IN = {"1": True, "2": False}


def _utc(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000))


class Rails:
    """The /sapi/v1 wallet routes: coin config, margin pairs, deposit address and history, withdraw
    apply and history, and spot <-> futures transfers (venue Deposit / Withdraw)."""

    def __init__(self, gw) -> None:
        self.gw, self.venue = gw, gw.venue

    def _assets(self) -> list[str]:
        return sorted({s.settle for s in linear_specs(self.venue)})

    def _spec(self, p: dict[str, str], name: str = "coin"):
        asset = P.text(p, name)
        if asset not in self._assets():
            raise VenueError(R.UNKNOWN_SYMBOL, field=name, asset=asset)
        return asset, self.venue.asset_spec(asset)

    async def coins(self, call) -> list:
        """GET /sapi/v1/capital/config/getall: each settlement asset as a coin on one network, `free` = withdrawable."""
        out = []
        for asset in self._assets():
            spec = self.venue.asset_spec(asset)
            free = spec.format_money(self.venue.view.withdrawable(call.account, asset))
            step = spec.format_money(1)
            out.append({"coin": asset, "name": asset, "depositAllEnable": True, "withdrawAllEnable": True,
                        "free": free, "locked": "0", "freeze": "0", "withdrawing": "0", "ipoing": "0",
                        "ipoable": "0", "storage": "0", "isLegalMoney": False, "trading": True,
                        "networkList": [{"network": NETWORK, "coin": asset, "name": "perpsim", "isDefault": True,
                                         "depositEnable": True, "withdrawEnable": True, "withdrawFee": "0",
                                         "withdrawMin": step, "withdrawMax": "9999999999",
                                         "withdrawIntegerMultiple": step, "minConfirm": 0, "unLockConfirm": 0,
                                         "depositDesc": "", "withdrawDesc": "", "specialTips": "",
                                         "resetAddressStatus": False, "sameAddress": False, "busy": False,
                                         "addressRegex": "", "memoRegex": ""}]})
        return out

    async def margin_pairs(self, call) -> list:
        """GET /sapi/v1/margin/allPairs: an empty list (the venue has no spot margin)."""
        return []  # the venue has no spot margin

    async def deposit_address(self, call) -> dict:
        """GET /sapi/v1/capital/deposit/address: the account's deposit address of a coin."""
        asset, _ = self._spec(call.params)
        return {"address": f"perpsim-account-{call.account}", "coin": asset, "tag": "", "url": ""}

    def _transfers(self, call, info: str) -> list:
        p = call.params
        start, end = P.span(p)
        rows = self.gw.history.income(call.account, kind="TRANSFER", start_ns=start, end_ns=end,
                                      limit=P.window(p, 1000, 1000))
        coin = p.get("coin")
        return [r for r in rows if r.info == info and (not coin or r.asset == coin)]

    async def deposits(self, call) -> list:
        """GET /sapi/v1/capital/deposit/hisrec: the account's deposits (income TRANSFER rows), each complete."""
        out = []
        for r in self._transfers(call, "deposit"):
            spec = self.venue.asset_spec(r.asset)
            out.append({"id": str(r.id), "amount": spec.format_money(r.amount), "coin": r.asset,
                        "network": NETWORK, "status": 1, "address": f"perpsim-account-{call.account}",
                        "addressTag": "", "txId": f"perpsim-{r.id}", "insertTime": S.ms(r.time_ns),
                        "completeTime": S.ms(r.time_ns), "transferType": 0, "confirmTimes": "1/1",
                        "unlockConfirm": 0, "walletType": 0})
        return out

    async def withdrawals(self, call) -> list:
        """GET /sapi/v1/capital/withdraw/history: the account's withdrawals (income TRANSFER rows), each complete."""
        out = []
        for r in self._transfers(call, "withdraw"):
            spec = self.venue.asset_spec(r.asset)
            out.append({"id": str(r.id), "amount": spec.format_money(-r.amount), "transactionFee": "0",
                        "coin": r.asset, "status": 6, "address": "external", "txId": f"perpsim-{r.id}",
                        "applyTime": _utc(S.ms(r.time_ns)), "completeTime": _utc(S.ms(r.time_ns)),
                        "network": NETWORK, "transferType": 0, "info": "", "confirmNo": 1, "walletType": 1})
        return out

    async def _move(self, call, asset: str, spec, into: bool, amount_param: str = "amount") -> int:
        """Deposit into (or withdraw from) the account; the income id of the movement."""
        amount = cv.money_in(spec, P.text(call.params, amount_param), field=amount_param)
        make = C.Deposit if into else C.Withdraw
        await self.gw.run(lambda ts: make(ts, call.account, asset, amount))
        rows = self.gw.history.income(call.account, kind="TRANSFER", limit=1)
        return rows[-1].id if rows else 0

    async def withdraw(self, call) -> dict:
        """POST /sapi/v1/capital/withdraw/apply: a venue Withdraw of `amount`, answered with its id; `address` is
        required, and ignored."""
        asset, spec = self._spec(call.params)
        P.text(call.params, "address")
        return {"id": str(await self._move(call, asset, spec, False))}

    async def asset_transfer(self, call) -> dict:
        """POST /sapi/v1/asset/transfer: MAIN_UMFUTURE or FUNDING_UMFUTURE deposits into the account, the reverse types
        withdraw; answers the tranId."""
        asset, spec = self._spec(call.params, "asset")
        into = P.choice(call.params, "type", TRANSFER_IN, R.INVALID_VALUE)
        return {"tranId": await self._move(call, asset, spec, into)}

    async def futures_transfer(self, call) -> dict:
        """POST /sapi/v1/futures/transfer: type 1 deposits into the account, type 2 withdraws; answers the tranId."""
        asset, spec = self._spec(call.params, "asset")
        into = P.choice(call.params, "type", FUTURES_TRANSFER_IN, R.INVALID_VALUE)
        return {"tranId": await self._move(call, asset, spec, into)}

    def routes(self) -> list:
        """The /sapi/v1 wallet routes, all SIGNED."""
        ep = self.gw.edge.endpoint
        s = "/sapi/v1/"
        return [
            web.get(s + "capital/config/getall", ep(self.coins, SIGNED)),
            web.get(s + "margin/allPairs", ep(self.margin_pairs, SIGNED)),
            web.get(s + "capital/deposit/address", ep(self.deposit_address, SIGNED)),
            web.get(s + "capital/deposit/hisrec", ep(self.deposits, SIGNED)),
            web.get(s + "capital/withdraw/history", ep(self.withdrawals, SIGNED)),
            web.post(s + "capital/withdraw/apply", ep(self.withdraw, SIGNED)),
            web.post(s + "asset/transfer", ep(self.asset_transfer, SIGNED)),
            web.post(s + "futures/transfer", ep(self.futures_transfer, SIGNED)),
        ]
