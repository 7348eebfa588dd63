"""What a `TriggerIndex` (engine/triggers.py) is built of: the views it hands out (``StopView``,
``TrailingView``) and its trailing-order records: the order (``_Trail``), orders sharing an extreme
(``_Bucket``), one callback rate's buckets (``_Group``) and one side's groups (``_TrailSide``).
u-space and the bucket method: the module docstring of engine/triggers.py.
"""

from __future__ import annotations

from typing import NamedTuple

from sortedcontainers import SortedDict, SortedList

from perpsim.model.enums import Side
from perpsim.risk.units import RATE_SCALE

__all__ = ["StopView", "TrailingView"]


class StopView(NamedTuple):
    """A resting STOP / TAKE_PROFIT order."""

    order_id: int
    direction: int  # RISE or FALL
    trigger: int


class TrailingView(NamedTuple):
    """A resting TRAILING_STOP_MARKET order; ``extreme`` and ``trigger`` are None until it is active."""

    order_id: int
    side: Side
    callback_rate: int
    activation_price: int | None
    active: bool
    extreme: int | None  # lowest (BUY) / highest (SELL) price since activation
    trigger: int | None  # trailing_trigger(side, extreme, callback_rate)


class _Trail:
    """A trailing order; ``bucket`` is None while pending."""

    __slots__ = ("activation", "bucket", "callback", "order_id", "side")

    def __init__(self, order_id: int, side: Side, callback: int, activation: int | None) -> None:
        self.order_id = order_id
        self.side = side
        self.callback = callback
        self.activation = activation
        self.bucket: _Bucket | None = None


class _Bucket:
    """Active trailing orders of one side and callback rate sharing one extreme (in u-space)."""

    __slots__ = ("extreme", "members")

    def __init__(self, extreme: int) -> None:
        self.extreme = extreme
        self.members: set[int] = set()


class _Group:
    """Active trailing orders of one side and one callback rate: buckets by extreme (u-space)."""

    __slots__ = ("buckets", "mult")

    def __init__(self, mult: int) -> None:
        self.mult = mult  # RATE_SCALE + c (BUY) or RATE_SCALE - c (SELL)
        self.buckets: SortedDict = SortedDict()  # extreme_u -> _Bucket

    def trigger_u(self, extreme_u: int) -> int:
        """⌈extreme_u × mult / RATE_SCALE⌉: fires when u ≥ it."""
        return -((-extreme_u * self.mult) // RATE_SCALE)


class _TrailSide:
    """The trailing orders of one side. u = sign × price (BUY +1, SELL −1)."""

    __slots__ = ("bottoms", "groups", "pending", "sign", "tops")

    def __init__(self, sign: int) -> None:
        self.sign = sign
        # pending, activated when u ≤ activation_u: (-activation_u, id), the activated are a prefix
        self.pending: SortedList = SortedList()
        self.groups: dict[int, _Group] = {}  # callback rate -> group
        self.tops: SortedList = SortedList()  # (highest extreme_u of the group, c): moved when > u
        self.bottoms: SortedList = SortedList()  # (lowest trigger_u of the group, c): fires when ≤ u
