"""Accounts: money in and out, and the settings an account trades under.

Deposits, withdrawals and transfers between accounts (what may leave is the withdrawable
balance: the wallet less the margin in use, never unrealized profit), the insurance fund's
top-ups, leverage per market (within the brackets of the position it holds; lowered only if
what is available stays positive), margin mode (cross or isolated), position mode (one-way or
hedge), Multi-Assets mode (engine.multi_assets), and adding or removing an isolated position's
margin. Each changes only the shared state (engine/state.py) and the ledger through `_move`.
"""

from __future__ import annotations

from perpsim.engine import commands as C
from perpsim.engine import multi_assets as MA
from perpsim.engine.market import position_key
from perpsim.engine.state import State
from perpsim.model.causes import LedgerCause
from perpsim.model.reasons import RejectReason as R
from perpsim.risk.ledger import INSURANCE, OUTSIDE
from perpsim.risk.margin import initial_margin

# Members bound once as module names (reading one off its Enum class costs about ten times more).
_LEDGER_DEPOSIT = LedgerCause.DEPOSIT
_LEDGER_INSURANCE_DEPOSIT = LedgerCause.INSURANCE_DEPOSIT
_LEDGER_ISOLATED_MARGIN = LedgerCause.ISOLATED_MARGIN
_LEDGER_TRANSFER = LedgerCause.TRANSFER
_LEDGER_WITHDRAW = LedgerCause.WITHDRAW


class Accounts:
    """The account commands: deposits, withdrawals, transfers, fund top-ups, leverage and modes."""

    def __init__(self, state: State) -> None:
        self.state = state

    def _Deposit(self, cmd: C.Deposit) -> None:
        if cmd.amount <= 0 or cmd.account <= 0:
            return self.state._reject(cmd, R.INVALID_QUANTITY, amount=cmd.amount)
        self.state._move(cmd.asset, OUTSIDE, cmd.account, cmd.amount, _LEDGER_DEPOSIT)

    def _Withdraw(self, cmd: C.Withdraw) -> None:
        if self._check_outflow(cmd):
            self.state._move(cmd.asset, cmd.account, OUTSIDE, cmd.amount, _LEDGER_WITHDRAW)

    def _Transfer(self, cmd: C.Transfer) -> None:
        if cmd.to_account <= 0 or cmd.to_account == cmd.account:
            return self.state._reject(cmd, R.UNKNOWN_ACCOUNT, to_account=cmd.to_account)
        if self._check_outflow(cmd):
            self.state._move(cmd.asset, cmd.account, cmd.to_account, cmd.amount, _LEDGER_TRANSFER)

    def _check_outflow(self, cmd) -> bool:
        if cmd.amount <= 0 or cmd.account <= 0:
            self.state._reject(cmd, R.INVALID_QUANTITY, amount=cmd.amount)
            return False
        free = self.state.withdrawable(cmd.account, cmd.asset)
        if cmd.amount > free:
            self.state._reject(cmd, R.BALANCE_INSUFFICIENT, required=cmd.amount, available=free)
            return False
        return True

    def _FundInsurance(self, cmd: C.FundInsurance) -> None:
        if cmd.amount <= 0:
            return self.state._reject(cmd, R.INVALID_QUANTITY, amount=cmd.amount)
        self.state._move(cmd.asset, OUTSIDE, INSURANCE, cmd.amount, _LEDGER_INSURANCE_DEPOSIT)

    def _SetLeverage(self, cmd: C.SetLeverage) -> None:
        if (m := self.state._market(cmd)) is None:
            return None
        held = m.held(cmd.account)
        notional = m.value(held, m.mark) if m.mark and held else 0
        allowed = m.brackets.max_leverage_for(notional)
        if not 1 <= cmd.leverage <= allowed:
            return self.state._reject(cmd, R.INVALID_LEVERAGE, leverage=cmd.leverage, max_leverage=allowed)
        old = self.state.leverage.get((cmd.account, cmd.symbol), m.default_leverage)
        if cmd.leverage < old and cmd.account in m.isolated and m.holds(cmd.account):
            return self.state._reject(cmd, R.INVALID_LEVERAGE, leverage=cmd.leverage,
                                      problem="cannot lower the leverage of an open isolated position")
        self.state.leverage[(cmd.account, cmd.symbol)] = cmd.leverage
        if cmd.leverage < old and self.state.available(cmd.account, m.asset) < 0:
            self.state.leverage[(cmd.account, cmd.symbol)] = old
            return self.state._reject(cmd, R.MARGIN_INSUFFICIENT, leverage=cmd.leverage)

    def _SetMarginMode(self, cmd: C.SetMarginMode) -> None:
        if (m := self.state._market(cmd)) is None:
            return None
        if m.holds(cmd.account):
            return self.state._reject(cmd, R.POSITION_EXISTS, symbol=cmd.symbol)
        if m.book.open_orders(cmd.account):
            return self.state._reject(cmd, R.OPEN_ORDERS_EXIST, symbol=cmd.symbol)
        if cmd.isolated and cmd.account in self.state.multi_assets:
            return self.state._reject(cmd, R.MULTI_ASSETS_ISOLATED, symbol=cmd.symbol)
        if cmd.isolated:
            m.isolated.add(cmd.account)
        else:
            m.isolated.discard(cmd.account)

    def _SetPositionMode(self, cmd: C.SetPositionMode) -> None:
        if any(m.holds(cmd.account) for m in self.state.markets.values()):
            return self.state._reject(cmd, R.POSITION_EXISTS, account=cmd.account)
        if any(m.book.open_orders(cmd.account) for m in self.state.markets.values()):
            return self.state._reject(cmd, R.OPEN_ORDERS_EXIST, account=cmd.account)
        if cmd.hedge:
            self.state.hedge.add(cmd.account)
        else:
            self.state.hedge.discard(cmd.account)

    def _SetMultiAssetsMode(self, cmd: C.SetMultiAssetsMode) -> None:
        account = cmd.account
        if account <= 0:
            return self.state._reject(cmd, R.UNKNOWN_ACCOUNT, account=account)
        if cmd.on == (account in self.state.multi_assets):
            return self.state._reject(cmd, R.MULTI_ASSETS_UNCHANGED, multi_assets=cmd.on)
        if any(m.holds(account) for m in self.state.markets.values()):
            return self.state._reject(cmd, R.POSITION_EXISTS, account=account)
        if any(m.book.open_orders(account) or account in m.conditionals_of for m in self.state.markets.values()):
            return self.state._reject(cmd, R.OPEN_ORDERS_EXIST, account=account)
        for asset in MA.MARGIN_ASSETS:  # a debt the pool covered must be repaid first
            wallet = self.state.wallet(account, asset)
            if wallet < 0:
                return self.state._reject(cmd, R.BALANCE_INSUFFICIENT, asset=asset, wallet=wallet)
        if not cmd.on:
            self.state.multi_assets.discard(account)
            return None
        if problem := MA.unsupported(self.state):
            return self.state._reject(cmd, R.INVALID_VALUE, field="multi_assets", problem=problem)
        isolated = [m.symbol for m in self.state.markets.values() if account in m.isolated]
        if isolated:
            return self.state._reject(cmd, R.MULTI_ASSETS_ISOLATED, symbol=isolated[0])
        self.state.multi_assets.add(account)

    def _AdjustIsolatedMargin(self, cmd: C.AdjustIsolatedMargin) -> None:
        if (m := self.state._market(cmd)) is None:
            return None
        p = m.positions.get(position_key(cmd.account, cmd.position_side))
        if cmd.account not in m.isolated or p is None:
            return self.state._reject(cmd, R.NOT_ISOLATED, symbol=cmd.symbol, position_side=cmd.position_side)
        if cmd.amount > 0:
            avail = self.state.available(cmd.account, m.asset)
            if cmd.amount > avail:
                return self.state._reject(cmd, R.MARGIN_INSUFFICIENT, required=cmd.amount, available=avail)
        elif cmd.amount < 0:
            # what may leave keeps the initial margin at mark and never counts unrealized profit
            iso = self.state._iso_margin(m, cmd.account, cmd.position_side)
            lev = self.state.leverage.get((cmd.account, cmd.symbol), m.default_leverage)
            need = initial_margin(m.value(p.lots, m.mark), lev)
            removable = max(0, iso + min(0, m.upnl(p)) - need)
            if -cmd.amount > removable:
                return self.state._reject(cmd, R.ISOLATED_MARGIN_INSUFFICIENT, required=-cmd.amount,
                                          available=removable)
        else:
            return self.state._reject(cmd, R.INVALID_QUANTITY, amount=0)
        holder = m.iso_holder(cmd.account, cmd.position_side)
        self.state._move(m.asset, cmd.account, holder, cmd.amount, _LEDGER_ISOLATED_MARGIN)
