"""The income side of the account history (venue/history.py): a wallet's or an isolated
margin's movements as the account's income, a fill's fees and realized PnL claimed by its two
trades, and how income is kept (its fields as a tuple, the engine's cause as a code: see
`History.__init__`). Money in integer units of the asset.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import cython

if cython.compiled:  # a C call
    from cython.cimports.perpsim.venue.history_handoff import event_field
else:
    from perpsim.venue.history_handoff import event_field

from perpsim.engine.events import BalanceChanged
from perpsim.venue.history_orders import HistoryOrders
from perpsim.venue.history_records import INCOME_OF_CAUSE, AccountTrade, Income

#: BalanceChanged cause -> the income kind's name (a plain str: what Income.kind holds)
INCOME_KIND = {cause: str(kind) for cause, kind in INCOME_OF_CAUSE.items()}
FUNDING_FEE = INCOME_KIND["funding"]

# an account trade while its fees and PnL arrive: AccountTrade's fields as a list
_COMMISSION, _PNL = AccountTrade._fields.index("commission"), AccountTrade._fields.index("realized_pnl")
PSIDE = AccountTrade._fields.index("position_side")
# BalanceChanged read by position (history_handoff.event_field)
_ACCOUNT, _ASSET, _DELTA, _CAUSE, _SYMBOL = (BalanceChanged._fields.index(name)
                                             for name in ("account", "asset", "delta", "cause", "symbol"))


class PendingFill:
    """A fill whose two trades wait for their realized PnL and fees (the events after it)."""

    def __init__(self, symbol: str, trade_id: int, taker: list, maker: list, taker_pays: bool, forced: bool) -> None:
        self.symbol, self.trade_id, self.taker, self.maker = symbol, trade_id, taker, maker
        # PositionChanged seen: 0 = the taker's PnL comes next, 1 = the maker's (the engine books
        # a fill's two positions in that order, each on its order's position side)
        self.positions = 0
        self.taker_pays, self.taker_fee, self.maker_fee = taker_pays, False, False
        self.forced = forced


class HistoryIncome(HistoryOrders):
    """The income part of `History` (its attributes: venue/history_income.pxd, set by
    History.__init__): per account Income's fields, its info as a code (`_income`); the last
    income id; the income infos by code, the very objects the engine's events carried
    (`_causes`), and their codes (`_cause_codes`)."""

    if TYPE_CHECKING:  # the C slots (venue/history_income.pxd), set by History.__init__
        _income: dict[int, deque[tuple]]
        _income_id: int
        _causes: list
        _cause_codes: dict

    def _balance(self, e: BalanceChanged, ts: int, fill: PendingFill | None, symbol: str) -> bool:
        """Record a wallet's or an isolated margin's movement as income (funding aside: see
        _fold); whether a fill's trade claimed it. An isolated margin's event names its market."""
        cause = event_field(e, _CAUSE)
        kind = INCOME_KIND.get(cause)
        account = event_field(e, _ACCOUNT)
        if kind is None or account <= 0:
            return False
        symbol = event_field(e, _SYMBOL) or symbol
        delta = event_field(e, _DELTA)
        trade_id = 0
        if fill is not None:
            if cause == "realized_pnl" and fill.positions < 2:
                side = fill.taker if fill.positions == 0 else fill.maker
                if side[2] == account:
                    side[_PNL] += delta
                    trade_id = fill.trade_id
            elif cause == "fee" and fill.positions >= 2:
                if fill.taker_pays and not fill.taker_fee and fill.taker[2] == account:
                    fill.taker_fee, side = True, fill.taker
                elif not fill.maker_fee and fill.maker[2] == account:
                    fill.maker_fee, side = True, fill.maker
                else:
                    side = None
                if side is not None:
                    side[_COMMISSION] -= delta  # a fee paid is a negative delta: a positive commission
                    trade_id = fill.trade_id
        self._add_income(account, kind, event_field(e, _ASSET), delta, "" if kind == "TRANSFER" else symbol, cause,
                         trade_id, ts)
        return trade_id != 0

    def _add_income(self, account: int, kind: str, asset: str, amount: int, symbol: str, info: str, trade_id: int,
                    ts: int) -> None:
        income = self._income.get(account)
        if income is None:
            income = self._income[account] = deque(maxlen=self.limits.income_per_account)
        self._income_id += 1
        code = self._cause_codes.get(info)
        if code is None or self._causes[code] is not info:
            code = self._cause_code(info)
        income.append((self._income_id, account, kind, asset, amount, symbol, code, trade_id, ts))  # see __init__

    def _cause_code(self, info) -> int:
        """The code of an income's `info` object (the same object, not merely an equal one)."""
        for code, known in enumerate(self._causes):
            if known is info:
                return code
        self._causes.append(info)
        self._cause_codes.setdefault(info, len(self._causes) - 1)
        return len(self._causes) - 1

    def _income_record(self, fields: tuple) -> Income:
        """The Income kept as `fields` (its info as a code, see __init__)."""
        i, account, kind, asset, amount, symbol, code, trade_id, ts = fields
        return Income(i, account, kind, asset, amount, symbol, self._causes[code], trade_id, ts)
