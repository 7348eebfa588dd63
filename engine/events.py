"""Events: the only outputs of `Exchange.apply`, in the order things happened.

Units as in commands: ticks, lots, integer money units of `asset`.
"""

from __future__ import annotations

from typing import NamedTuple

from perpsim.engine.book_types import BookEvent
from perpsim.engine.commands import PlaceOrder


class CommandRejected(NamedTuple):
    """The command changed nothing. `reason` is a RejectReason; `fields` say why."""

    command: str
    account: int
    reason: int
    fields: tuple[tuple[str, object], ...] = ()


class OrderEvent(NamedTuple):
    """A book event of one market (accepted, fill, canceled, expired, amended)."""

    symbol: str
    event: BookEvent
    liquidation: bool = False


class OrderPlaced(NamedTuple):
    """The venue placed an order for an account: a fired conditional order or an order of an
    order list (`by`: the conditional or list id), a flatten order of a daily loss limit (`by`
    0, cause "daily_loss_limit"), or a liquidity provider's quote moved with the index (`by` 0,
    cause "requote"). `order` is what it placed; the order's book events come before this one."""

    symbol: str
    order_id: int
    by: int
    order: PlaceOrder
    cause: str = ""


class DailyLossLimitSet(NamedTuple):
    """An account's daily loss limit in `asset` changed: cause "set" (its command) or
    "day_start" (a change that waited for 00:00 UTC came into force). limit: in force now
    (money units, 0: none); pending_from: when a waiting change takes effect (ns, 0: none
    waits), pending: its limit (0: the limit goes)."""

    account: int
    asset: str
    limit: int
    include_unrealized: bool
    flatten: bool
    pending: int = 0
    pending_from: int = 0
    cause: str = "set"


class DailyLossLimitHit(NamedTuple):
    """The account's loss today (money units of `asset`) reached its limit: orders that could
    add exposure in the asset are refused until `resets_at` (ns, the next 00:00 UTC); with
    `flatten`, reduce-only market orders (OrderPlaced, cause "daily_loss_limit") follow."""

    account: int
    asset: str
    limit: int
    loss: int
    resets_at: int
    flatten: bool


class BalanceChanged(NamedTuple):
    """Money moved in or out of what an account holds: its wallet (`symbol` ""), or the isolated
    margin of its position in `symbol` (on `position_side`), where an isolated position's realized
    PnL, funding and liquidation charges are booked. `balance`: that holder's balance after."""

    account: int
    asset: str
    delta: int
    balance: int
    cause: str  # deposit, withdraw, realized_pnl, fee, funding, liquidation_fee, insurance_cover, isolated_margin
    symbol: str = ""  # "": the wallet; else the market of the isolated margin that moved
    position_side: int = 0  # of that isolated margin: a PositionSide (BOTH in one-way mode)


class PositionChanged(NamedTuple):
    """One position after a fill: the account's position on `position_side` (BOTH in one-way
    mode, LONG or SHORT in hedge mode) now holds `lots`."""

    symbol: str
    account: int
    lots: int  # signed
    cost: int  # signed ticks × lots; entry = cost / lots
    position_side: int = 0  # PositionSide: BOTH 0, LONG 1, SHORT 2


class MarkPriceChanged(NamedTuple):
    """A market's mark moved: the new `mark` and the `index` it was computed from (ticks)."""

    symbol: str
    mark: int
    index: int


class FundingSettled(NamedTuple):
    """A market's funding paid at a funding time: `rate` scaled by RATE_SCALE, paid on `mark`
    (ticks: the price funding is paid on); `dust`, the money units the payments' rounding left in
    the funding pool, booked to the dust holder."""

    symbol: str
    rate: int  # scaled by RATE_SCALE
    mark: int
    dust: int


class Liquidation(NamedTuple):
    """Public liquidation notice (like Binance forceOrder): the forced order and its outcome. A
    takeover without an order (OKX's full liquidation, Hyperliquid's vault) is one with nothing
    filled and everything taken over; `bankruptcy_price` is then the price it was taken at (the
    vault's: the mark)."""

    symbol: str
    account: int
    side: int  # side of the forced order
    qty: int
    bankruptcy_price: int
    filled: int
    taken_by_insurance: int
    deleveraged: int


class HedgedPairClosed(NamedTuple):
    """OKX: a cross account's long and short in one market closed against each other at a
    liquidation, before any order (risk.okx_liquidation): `qty` lots of each leg, at `price`
    (the mark, ticks)."""

    symbol: str
    account: int
    qty: int
    price: int


class InsuranceFundChanged(NamedTuple):
    """The insurance fund of `asset` moved by `delta` money units to `balance`; `cause`: the
    ledger movement that moved it."""

    asset: str
    delta: int
    balance: int
    cause: str


class AutoDeleveraged(NamedTuple):
    """ADL: `counterparty`'s opposite position closed `qty` lots against `account`'s bankrupt
    one (or the insurance fund's, account 0) at `price` (ticks: the price the liquidation plan
    closes at, the bankruptcy price on Binance)."""

    symbol: str
    account: int  # the bankrupt side (or the insurance fund, account 0)
    counterparty: int
    qty: int
    price: int


class ConditionalEvent(NamedTuple):
    """A conditional order's life: NEW, TRIGGERED (order_id of the order it placed),
    REJECTED_AT_TRIGGER (reason: the RejectReason of that order), SUPPRESSED (price protection
    held it back; it stays armed), CANCELED (reason: USER_IN_LIQUIDATION when a liquidation
    canceled it, REDUCE_ONLY_REJECTED when the position it would reduce closed or reversed),
    EXPIRED (GTD)."""

    symbol: str
    conditional_id: int
    account: int
    status: str
    order_id: int = 0
    reason: int = 0


class ListEvent(NamedTuple):
    """An order list's life (PlaceOrderList), each change with its cause:

    NEW (order_id: the entry's, 0 for OCO), ARMED (the entry filled: the exits now cover `qty`
    lots; cause entry_partially_filled / entry_filled), REDUCED (an exit filled partly: the
    other now covers `qty`; cause leg_filled), ENTRY_CLOSED (the entry ended after some fills;
    the exits keep covering `qty`; cause entry_canceled / entry_unfilled), LEG_REJECTED (an exit
    could not be placed when armed; reason: the RejectReason; it is retried on the next fill),
    DONE (cause exit_filled / exit_triggered / exit_rejected, reason set for the last),
    CANCELED (cause canceled, leg_canceled, entry_canceled, entry_unfilled, position_closed,
    liquidation, auto_deleverage), EXPIRED (GTD)."""

    symbol: str
    list_id: int
    account: int
    status: str
    cause: str = ""
    qty: int = 0
    order_id: int = 0
    reason: int = 0
