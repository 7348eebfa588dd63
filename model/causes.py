"""The engine's status and cause vocabularies: why money moved, and where a conditional order
or an order list stands and why.

Each is a StrEnum whose members are the strings the events have always carried (a member
equals its string, hashes and formats as it), so the event stream, the history, the gateway
and the API keep reading plain strings, while the engine names every status and cause it
emits from one list here instead of writing string literals.
"""

from __future__ import annotations

from enum import StrEnum


class LedgerCause(StrEnum):
    """Why a ledger move happened (`LedgerEvent.cause`)."""

    DEPOSIT = "deposit"
    WITHDRAW = "withdraw"
    TRANSFER = "transfer"
    INSURANCE_DEPOSIT = "insurance_deposit"
    #: margin moved between an account and one of its isolated positions
    ISOLATED_MARGIN = "isolated_margin"
    FEE = "fee"
    REALIZED_PNL = "realized_pnl"
    #: what a fill between two positions leaves in the pnl pool by rounding (inverse markets)
    ROUNDING_DUST = "rounding_dust"
    FUNDING = "funding"
    #: what a funding settlement's per-position rounding leaves over
    FUNDING_DUST = "funding_dust"
    LIQUIDATION_FEE = "liquidation_fee"
    #: the insurance fund covers a liquidated account's remainder below zero
    INSURANCE_COVER = "insurance_cover"
    #: a backstop liquidation: the account's margin handed to the vault with its positions (Hyperliquid)
    BACKSTOP_MARGIN = "backstop_margin"
    #: Multi-Assets mode: a negative asset repaid from the account's other collateral
    AUTO_EXCHANGE = "auto_exchange"


class PlacedBy(StrEnum):
    """Why the venue placed an order on its own (`OrderPlaced.cause`; "" when an order list or a
    conditional order placed it, named by `by`)."""

    NONE = ""
    #: a flatten-on-hit daily loss limit closing a position (reduce-only market order)
    DAILY_LOSS_LIMIT = "daily_loss_limit"
    #: the built-in liquidity provider's quote moved with the index
    REQUOTE = "requote"


class ConditionalStatus(StrEnum):
    """A conditional order's life (`ConditionalEvent.status`)."""

    NEW = "NEW"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    #: its trigger was met while mark and last diverged past the price protection: held back, still armed
    SUPPRESSED = "SUPPRESSED"
    TRIGGERED = "TRIGGERED"
    REJECTED_AT_TRIGGER = "REJECTED_AT_TRIGGER"


class ListStatus(StrEnum):
    """An order list's life (`ListEvent.status`)."""

    NEW = "NEW"
    ARMED = "ARMED"
    LEG_REJECTED = "LEG_REJECTED"
    ENTRY_CLOSED = "ENTRY_CLOSED"
    REDUCED = "REDUCED"
    DONE = "DONE"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"


class OrderGone(StrEnum):
    """Why an order of a list left the book without filling."""

    CANCELED = "canceled"
    EXPIRED = "expired"
    #: the unfilled remainder of an IOC or market order
    UNFILLED = "unfilled"
    SELF_TRADE = "self_trade"


class ListCause(StrEnum):
    """Why an order list changed (`ListEvent.cause`)."""

    CANCELED = "canceled"
    EXPIRED = "expired"
    ENTRY_FILLED = "entry_filled"
    ENTRY_PARTIALLY_FILLED = "entry_partially_filled"
    ENTRY_CANCELED = "entry_canceled"
    ENTRY_EXPIRED = "entry_expired"
    ENTRY_UNFILLED = "entry_unfilled"
    ENTRY_SELF_TRADE = "entry_self_trade"
    LEG_FILLED = "leg_filled"
    LEG_REJECTED = "leg_rejected"
    LEG_CANCELED = "leg_canceled"
    EXIT_FILLED = "exit_filled"
    EXIT_TRIGGERED = "exit_triggered"
    EXIT_REJECTED = "exit_rejected"
    POSITION_CLOSED = "position_closed"
    LIQUIDATION = "liquidation"
    AUTO_DELEVERAGE = "auto_deleverage"
    DAILY_LOSS_LIMIT = "daily_loss_limit"

    @classmethod
    def entry_gone(cls, gone: OrderGone) -> ListCause:
        """The list's cause when its entry order left the book for `gone`."""
        return _ENTRY_GONE[gone]


_ENTRY_GONE = {gone: ListCause("entry_" + gone) for gone in OrderGone}
