"""Reject reasons: the one table of business rejections.

Ranges: 1xxx validation, 2xxx margin/risk, 3xxx order state, 4xxx account/auth, 5xxx limits.
Each reason records the Binance USDⓈ-M error code where one exists and the gRPC status it
maps to (by name, so this module needs no gRPC import).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, NamedTuple


class RejectReason(IntEnum):
    """Why the core or the venue refused a command; REASONS below maps each to its gRPC status
    and Binance error code."""

    # 1xxx validation (bad input)
    INVALID_QUANTITY = 1001
    QUANTITY_TOO_SMALL = 1002
    QUANTITY_TOO_LARGE = 1003
    QUANTITY_OFF_STEP = 1004
    INVALID_PRICE = 1005
    PRICE_TOO_LOW = 1006
    PRICE_TOO_HIGH = 1007
    PRICE_OFF_TICK = 1008
    BAD_PRECISION = 1009
    INVALID_SIDE = 1010
    INVALID_ORDER_TYPE = 1011
    INVALID_TIME_IN_FORCE = 1012
    INVALID_STP_MODE = 1013
    INVALID_GTD_TIME = 1014
    DUPLICATE_ORDER_ID = 1015
    STALE_TIMESTAMP = 1016
    UNKNOWN_SYMBOL = 1017
    MIN_NOTIONAL = 1018
    PRICE_ABOVE_BAND = 1019
    PRICE_BELOW_BAND = 1020
    INVALID_MARKET_SPEC = 1021
    INVALID_LEVERAGE = 1022
    INVALID_POSITION_SIDE = 1023
    INVALID_MARGIN_MODE = 1024
    INVALID_CLIENT_ORDER_ID = 1025
    INVALID_VALUE = 1026
    # 2xxx margin / risk
    MARGIN_INSUFFICIENT = 2001
    BALANCE_INSUFFICIENT = 2002
    REDUCE_ONLY_REJECTED = 2003
    WOULD_IMMEDIATELY_TRIGGER = 2004
    USER_IN_LIQUIDATION = 2005
    POSITION_EXISTS = 2006
    OPEN_ORDERS_EXIST = 2007
    ISOLATED_MARGIN_INSUFFICIENT = 2008
    NOT_ISOLATED = 2009
    DAILY_LOSS_LIMIT = 2010
    MULTI_ASSETS_ISOLATED = 2011
    MULTI_ASSETS_UNCHANGED = 2012
    MULTI_ASSETS_COIN_M = 2013
    # 3xxx order state
    UNKNOWN_ORDER = 3001
    FOK_NOT_FILLABLE = 3002
    POST_ONLY_WOULD_TAKE = 3003
    SAME_ORDER = 3004
    # 4xxx account / auth
    UNKNOWN_ACCOUNT = 4001
    PERMISSION_DENIED = 4002
    UNAUTHENTICATED = 4003
    API_KEY_IN_USE = 4004
    # 5xxx limits
    MAX_OPEN_ORDERS = 5001
    RATE_LIMITED = 5002
    MAX_ALGO_ORDERS = 5003


class ReasonInfo(NamedTuple):
    """A reason's face on the wire: the gRPC status, Binance's code (None: none fits) and the message."""

    status: str  # gRPC status code name
    binance_code: int | None
    message: str


_BAD = "INVALID_ARGUMENT"
_STATE = "FAILED_PRECONDITION"

REASONS: dict[RejectReason, ReasonInfo] = {
    RejectReason.INVALID_QUANTITY: ReasonInfo(_BAD, -4003, "Quantity must be positive."),
    RejectReason.QUANTITY_TOO_SMALL: ReasonInfo(_BAD, -4004, "Quantity is below the minimum."),
    RejectReason.QUANTITY_TOO_LARGE: ReasonInfo(_BAD, -4005, "Quantity is above the maximum."),
    RejectReason.QUANTITY_OFF_STEP: ReasonInfo(_BAD, -4023, "Quantity is not a multiple of the lot size."),
    RejectReason.INVALID_PRICE: ReasonInfo(_BAD, -4013, "Price must be positive."),
    RejectReason.PRICE_TOO_LOW: ReasonInfo(_BAD, -4013, "Price is below the minimum."),
    RejectReason.PRICE_TOO_HIGH: ReasonInfo(_BAD, -4002, "Price is above the maximum."),
    RejectReason.PRICE_OFF_TICK: ReasonInfo(_BAD, -4014, "Price is not a multiple of the tick size."),
    RejectReason.BAD_PRECISION: ReasonInfo(_BAD, -1111, "Value is not an exact decimal number."),
    RejectReason.INVALID_SIDE: ReasonInfo(_BAD, -1117, "Invalid side."),
    RejectReason.INVALID_ORDER_TYPE: ReasonInfo(_BAD, -1116, "Invalid order type."),
    RejectReason.INVALID_TIME_IN_FORCE: ReasonInfo(_BAD, -1115, "Invalid time in force."),
    RejectReason.INVALID_STP_MODE: ReasonInfo(_BAD, -5039, "Invalid self-trade prevention mode."),
    RejectReason.INVALID_GTD_TIME: ReasonInfo(
        _BAD, -5040, "Expiry time is missing, in the past, or set for a non-GTD order."
    ),
    RejectReason.DUPLICATE_ORDER_ID: ReasonInfo("ALREADY_EXISTS", -4116, "Order id is already in use."),
    RejectReason.STALE_TIMESTAMP: ReasonInfo(_BAD, -1021, "Command timestamp is earlier than the last one."),
    RejectReason.UNKNOWN_SYMBOL: ReasonInfo("NOT_FOUND", -1121, "Invalid symbol."),
    RejectReason.MIN_NOTIONAL: ReasonInfo(_BAD, -4164, "Order notional is below the minimum."),
    RejectReason.PRICE_ABOVE_BAND: ReasonInfo(_BAD, -4016, "Price is higher than the mark price band."),
    RejectReason.PRICE_BELOW_BAND: ReasonInfo(_BAD, -4024, "Price is lower than the mark price band."),
    RejectReason.INVALID_MARKET_SPEC: ReasonInfo(_BAD, None, "Invalid market specification."),
    RejectReason.INVALID_MARGIN_MODE: ReasonInfo(_BAD, -4046, "Invalid margin mode."),
    RejectReason.INVALID_CLIENT_ORDER_ID: ReasonInfo(_BAD, -1102, "Client order id must be 1 to 36 characters."),
    RejectReason.INVALID_VALUE: ReasonInfo(_BAD, -1102, "A parameter is missing, malformed or out of range."),
    RejectReason.INVALID_POSITION_SIDE: ReasonInfo(_BAD, -4061, "Position side does not match the position mode."),
    RejectReason.INVALID_LEVERAGE: ReasonInfo(_BAD, -4028, "Leverage is not valid for this position."),
    RejectReason.MARGIN_INSUFFICIENT: ReasonInfo(_STATE, -2019, "Margin is insufficient."),
    RejectReason.BALANCE_INSUFFICIENT: ReasonInfo(_STATE, -2018, "Balance is insufficient."),
    RejectReason.REDUCE_ONLY_REJECTED: ReasonInfo(_STATE, -2022, "ReduceOnly order is rejected."),
    RejectReason.WOULD_IMMEDIATELY_TRIGGER: ReasonInfo(_STATE, -2021, "Order would immediately trigger."),
    RejectReason.USER_IN_LIQUIDATION: ReasonInfo(_STATE, -2023, "User in liquidation mode now."),
    RejectReason.POSITION_EXISTS: ReasonInfo(_STATE, -4048, "Cannot change mode while a position exists."),
    RejectReason.OPEN_ORDERS_EXIST: ReasonInfo(_STATE, -4047, "Cannot change mode while open orders exist."),
    RejectReason.ISOLATED_MARGIN_INSUFFICIENT: ReasonInfo(
        _STATE, -4051, "Isolated balance is insufficient for this margin removal."
    ),
    RejectReason.NOT_ISOLATED: ReasonInfo(_STATE, -4049, "The position is not in isolated margin mode."),
    RejectReason.DAILY_LOSS_LIMIT: ReasonInfo(
        _STATE, None, "Daily loss limit reached: only orders that reduce a position until the next 00:00 UTC."
    ),
    RejectReason.MULTI_ASSETS_ISOLATED: ReasonInfo(
        _STATE, -4167, "Multi-Assets mode and isolated margin exclude each other: switch every market to cross first."
    ),
    RejectReason.MULTI_ASSETS_UNCHANGED: ReasonInfo(
        _STATE, -4171, "The account is already in this asset mode."
    ),
    RejectReason.MULTI_ASSETS_COIN_M: ReasonInfo(
        _STATE, None,
        "In Multi-Assets mode the BTC wallet is USDⓈ-M collateral: coin-margined markets need Single-Asset mode.",
    ),
    RejectReason.UNKNOWN_ORDER: ReasonInfo("NOT_FOUND", -2011, "Unknown order."),
    RejectReason.FOK_NOT_FILLABLE: ReasonInfo(_STATE, -5021, "FOK order could not be filled immediately and in full."),
    RejectReason.POST_ONLY_WOULD_TAKE: ReasonInfo(_STATE, -5022, "Post-only order would have taken liquidity."),
    RejectReason.SAME_ORDER: ReasonInfo(_BAD, -5027, "No need to modify the order."),
    RejectReason.UNKNOWN_ACCOUNT: ReasonInfo("NOT_FOUND", None, "Unknown account."),
    RejectReason.PERMISSION_DENIED: ReasonInfo("PERMISSION_DENIED", None, "Permission denied."),
    RejectReason.UNAUTHENTICATED: ReasonInfo("UNAUTHENTICATED", -2015, "Missing or invalid API key."),
    RejectReason.API_KEY_IN_USE: ReasonInfo("ALREADY_EXISTS", None, "The API key is in use with another secret."),
    RejectReason.MAX_OPEN_ORDERS: ReasonInfo("RESOURCE_EXHAUSTED", -2025, "Reached the maximum number of open orders."),
    RejectReason.RATE_LIMITED: ReasonInfo("RESOURCE_EXHAUSTED", -1015, "Too many requests."),
    RejectReason.MAX_ALGO_ORDERS: ReasonInfo(
        "RESOURCE_EXHAUSTED", -4045, "Reached the maximum number of conditional (algo) orders."
    ),
}


@dataclass(frozen=True)
class Reject:
    """A business rejection as a value: the reason plus the structured fields behind it."""

    reason: RejectReason
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def info(self) -> ReasonInfo:
        """The reason's ReasonInfo (REASONS): gRPC status, Binance code and message."""
        return REASONS[self.reason]

    def __str__(self) -> str:
        detail = ", ".join(f"{k}={v}" for k, v in self.fields.items())
        return f"{self.reason.name}: {self.info.message}" + (f" ({detail})" if detail else "")


class Rejected(ValueError):
    """Raised at the decimal edge (parsing input) when a value is refused; carries the `Reject`."""

    def __init__(self, reason: RejectReason, **fields: Any) -> None:
        self.reject = Reject(reason, fields)
        super().__init__(str(self.reject))

    @property
    def reason(self) -> RejectReason:
        """The refusal's reason (`reject.reason`)."""
        return self.reject.reason
