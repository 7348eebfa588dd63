"""Order and event enums of the matching core.

The integer values are part of the kernels' contract: the Cython book declares the same
values as C enums, and a test pins them together. They are internal values, not wire
values (the protobuf enums start at *_UNSPECIFIED = 0 and are mapped at the API edge).
"""

from enum import IntEnum


class Side(IntEnum):
    """An order's side (a position's sign: BUY grows a long, SELL a short)."""

    BUY = 0
    SELL = 1

    @property
    def opposite(self) -> "Side":
        """The other side: SELL for BUY, BUY for SELL."""
        return Side(1 - self)


class OrderKind(IntEnum):
    """Limit or market."""

    LIMIT = 0
    #: A market order carries a protection price: it never fills beyond it.
    MARKET = 1


class TimeInForce(IntEnum):
    """How long an order rests, and what happens to the part that cannot trade at once."""

    GTC = 0
    IOC = 1
    #: Fill-or-kill: all of it at once or nothing; checked before the book is touched.
    FOK = 2
    #: Post-only ("good till crossing"): rejected if any part would take liquidity.
    GTX = 3
    #: Good till date: rests like GTC and expires when a command at or after expire_ts arrives.
    GTD = 4


class StpMode(IntEnum):
    """Self-trade prevention; the taker's mode decides (Binance semantics)."""

    NONE = 0
    EXPIRE_TAKER = 1
    EXPIRE_MAKER = 2
    EXPIRE_BOTH = 3


class EventKind(IntEnum):
    """What a book event reports of one order: accepted, rejected, a fill, canceled, expired, amended."""

    ACCEPTED = 1
    REJECTED = 2
    FILL = 3
    CANCELED = 4
    EXPIRED = 5
    AMENDED = 6


class ExpireCause(IntEnum):
    """Why an EXPIRED event happened (carried in the event's `reason` field)."""

    #: The unfilled remainder of an IOC or market order.
    UNFILLED = 1
    #: Expired by self-trade prevention (Binance status EXPIRED_IN_MATCH).
    SELF_TRADE = 2
    #: A GTD order reached its expiry time.
    GTD = 3


class PositionSide(IntEnum):
    """One-way mode uses BOTH; hedge mode holds a LONG and a SHORT position per market."""

    BOTH = 0
    LONG = 1
    SHORT = 2


class ConditionalKind(IntEnum):
    """Conditional (algo) order types, Binance names."""

    STOP_MARKET = 1
    STOP_LIMIT = 2
    TAKE_PROFIT_MARKET = 3
    TAKE_PROFIT_LIMIT = 4
    TRAILING_STOP_MARKET = 5


class TriggerSource(IntEnum):
    """The price a conditional order watches (Binance workingType; LAST = CONTRACT_PRICE)."""

    MARK = 0
    LAST = 1
    INDEX = 2


class ListKind(IntEnum):
    """Contingent order lists (Binance spot's orderList names; BRACKET is its OTOCO)."""

    #: Two exit legs live at once: one filling completely or firing cancels the other.
    OCO = 1
    #: An entry order whose fills arm one exit leg, sized to what filled.
    OTO = 2
    #: An entry order whose fills arm a take-profit and a stop-loss that are OCO with each other.
    BRACKET = 3


class LegType(IntEnum):
    """What an exit leg of an order list is: a resting limit order or a conditional order."""

    NONE = 0
    LIMIT = 1
    STOP_MARKET = 2
    STOP_LIMIT = 3
    TAKE_PROFIT_MARKET = 4
    TAKE_PROFIT_LIMIT = 5
    TRAILING_STOP_MARKET = 6  # stop-loss leg only: a trailing stop armed with the exits
