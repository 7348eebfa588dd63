"""The trigger rules of conditional orders (venue-mechanics §7): when a STOP / TAKE_PROFIT order
fires, when a TRAILING_STOP_MARKET order activates and where its trigger stands, and the checks of
their arguments. The placement checks (engine/order_lists.py, engine/conditionals.py) and the
trigger index (engine/triggers.py) both apply them.

Units. Prices and triggers are integer ticks ≥ 1 (within int64); callback rates are integers scaled
by ``RATE_SCALE`` (10**8: 1 % = 1_000_000), 0 < c < RATE_SCALE (the Binance range 0.1 %..10 % is the
exchange's filter, not the index's). Order ids are ints within int64. Wrong types are TypeError
(bool and float are refused), wrong values ValueError.

Plain stops carry a *direction*:

* ``RISE`` (+1) fires when ``price ≥ trigger``: STOP / STOP_MARKET BUY, TAKE_PROFIT(_MARKET) SELL;
* ``FALL`` (−1) fires when ``price ≤ trigger``: STOP / STOP_MARKET SELL, TAKE_PROFIT(_MARKET) BUY

(``stop_direction`` maps order type and side to it). A trigger equal to the price fires.

Trailing stops (``Side.BUY`` / ``Side.SELL``, callback rate c, optional activation price A):

* BUY: active once some price ≤ A has been seen; tracks L, the lowest price since activation, and
  fires when ``P ≥ L × (1 + c)``;
* SELL: active once some price ≥ A has been seen; tracks H, the highest price since activation, and
  fires when ``P ≤ H × (1 − c)``.

"Since activation" equals the spec's "since placement" (every earlier price was on the far side
of A). ``activation_price=None`` activates at once from ``price_now`` (Binance's default A =
latest price). If ``price_now`` already satisfies A the order is active at once from ``price_now``
too: that is the literal rule; the venue rejects such placements first with -2021
(``would_activate``). The price at placement counts as the first observation.

Rounding of the trailing trigger. Prices are integer ticks, so the exact real-number rule is met
by exactly the ticks on one side of an integer threshold, and the effective trigger is that
threshold, computed in integer arithmetic, no float anywhere (``trailing_trigger``):

* BUY:  ``trigger = ⌈L × (RATE_SCALE + c) / RATE_SCALE⌉`` (P ≥ real x  ⇔  P ≥ ⌈x⌉ for integer P);
* SELL: ``trigger = ⌊H × (RATE_SCALE − c) / RATE_SCALE⌋`` (P ≤ real x  ⇔  P ≤ ⌊x⌋).

So the order fires on exactly the ticks where the exact rule holds: never earlier, never later.
(Rounding a SELL trigger *up* would fire a tick early whenever H × (1 − c) is not a whole tick:
H = 10_050, c = 1 % gives 9_949.5; the order must not fire at 9_950, and does at 9_949.) Since
c > 0 and prices ≥ 1, a BUY trigger is > L and a SELL trigger < H: an order never fires on the
observation that activates it or moves its extreme, so within one observation "update the extreme,
then test" and "test, then update" agree.
"""

from __future__ import annotations

from perpsim.model.enums import Side
from perpsim.risk.units import RATE_SCALE

__all__ = [
    "FALL",
    "INT64_MAX",
    "RISE",
    "stop_direction",
    "trailing_trigger",
    "would_activate",
    "would_trigger",
]

RISE = 1
"""Direction of a stop that fires when price ≥ trigger (STOP BUY, TAKE_PROFIT SELL)."""
FALL = -1
"""Direction of a stop that fires when price ≤ trigger (STOP SELL, TAKE_PROFIT BUY)."""

INT64_MAX = 2**63 - 1


# ---------------------------------------------------------------------- input checks
# (the trigger index checks its own arguments with these too)


def _check_int(name: str, value: object) -> int:
    if type(value) is not int:  # refuses bool, float, numpy scalars
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    return value


def _check_id(order_id: object) -> int:
    _check_int("order_id", order_id)
    if not -INT64_MAX - 1 <= order_id <= INT64_MAX:
        raise ValueError(f"order_id {order_id} is outside int64")
    return order_id


def _check_price(name: str, value: object) -> int:
    _check_int(name, value)
    if not 1 <= value <= INT64_MAX:
        raise ValueError(f"{name} must be a price in ticks within 1..2**63-1, got {value}")
    return value


def _check_direction(direction: object) -> int:
    if type(direction) is not int or direction not in (RISE, FALL):
        raise ValueError(f"direction must be +1 (RISE) or -1 (FALL), got {direction!r}")
    return direction


def _check_side(side: object) -> Side:
    if isinstance(side, bool) or not isinstance(side, int) or side not in (Side.BUY, Side.SELL):
        raise ValueError(f"side must be Side.BUY or Side.SELL, got {side!r}")
    return Side(side)


def _check_rate(callback_rate: object) -> int:
    _check_int("callback_rate", callback_rate)
    if not 0 < callback_rate < RATE_SCALE:
        raise ValueError(f"callback_rate must be within 1..{RATE_SCALE - 1} (scaled by 10**8), got {callback_rate}")
    return callback_rate


# ---------------------------------------------------------------------- rules


def stop_direction(side: Side, take_profit: bool) -> int:
    """The direction of a STOP(_MARKET) (``take_profit`` False) or TAKE_PROFIT(_MARKET) order of ``side``."""
    side = _check_side(side)
    rises = (side == Side.BUY) != bool(take_profit)
    return RISE if rises else FALL


def would_trigger(direction: int, trigger: int, price: int) -> bool:
    """Whether a stop of ``direction`` at ``trigger`` fires at ``price`` (at placement: -2021)."""
    _check_direction(direction)
    _check_int("trigger", trigger)
    _check_int("price", price)
    return price >= trigger if direction == RISE else price <= trigger


def would_activate(side: Side, activation_price: int, price: int) -> bool:
    """Whether a trailing order's activation price is reached at ``price``: BUY price ≤ A, SELL
    price ≥ A. At placement this is Binance's -2021 for a trailing stop."""
    side = _check_side(side)
    _check_int("activation_price", activation_price)
    _check_int("price", price)
    return price <= activation_price if side == Side.BUY else price >= activation_price


def trailing_trigger(side: Side, extreme: int, callback_rate: int) -> int:
    """The effective trigger of an active trailing order (see the module docstring, exact):
    BUY ⌈L × (RATE_SCALE + c) / RATE_SCALE⌉ (fires at P ≥ it), SELL ⌊H × (RATE_SCALE − c) / RATE_SCALE⌋
    (fires at P ≤ it)."""
    side = _check_side(side)
    _check_price("extreme", extreme)
    _check_rate(callback_rate)
    if side == Side.BUY:
        return -((-extreme * (RATE_SCALE + callback_rate)) // RATE_SCALE)
    return (extreme * (RATE_SCALE - callback_rate)) // RATE_SCALE
