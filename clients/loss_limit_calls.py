"""The client's daily loss limit calls (AccountService), shared by `Client` and `AsyncClient`,
and what they return.

The venue refuses every order that could add exposure in an asset once the account's loss
there today (realized PnL + funding − fees since 00:00 UTC of venue time, optionally with the
change in unrealized PnL) reaches its limit, until the next 00:00 UTC; reduce-only orders,
closes and cancels still work. A lower limit takes effect at once; a higher one, or removing
it (amount 0), at the next 00:00 UTC.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from perpsim.v1 import account_pb2


@dataclass(frozen=True)
class DailyLossLimit:
    """An account's daily loss limit in one asset. Money in the asset, exact: `limit` in
    force (0: none), `loss` today so far (negative: a profit); `resets_at_ns`: the next 00:00
    UTC of venue time; a waiting change (`change_pending`) to `pending_limit` (0: removal)
    takes effect at `pending_from_ns`."""

    asset: str
    limit: Decimal
    include_unrealized: bool
    flatten: bool
    loss: Decimal
    hit: bool
    resets_at_ns: int
    change_pending: bool
    pending_limit: Decimal
    pending_from_ns: int

    @classmethod
    def from_pb(cls, r: account_pb2.DailyLossLimit) -> DailyLossLimit:
        """From a `DailyLossLimit` message: the asset of its limit (else its loss), empty amounts as 0."""
        return cls(asset=r.limit.asset or r.loss.asset, limit=Decimal(r.limit.amount or 0),
                   include_unrealized=r.include_unrealized, flatten=r.flatten, loss=Decimal(r.loss.amount or 0),
                   hit=r.hit, resets_at_ns=r.resets_at_ns, change_pending=r.change_pending,
                   pending_limit=Decimal(r.pending_limit.amount or 0), pending_from_ns=r.pending_from_ns)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (Decimals as strings)."""
        return {k: str(v) if isinstance(v, Decimal) else v for k, v in asdict(self).items()}


def _amount(value: Decimal | int | str) -> str:
    """An exact decimal amount as the wire's text (no float: it is not exact)."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise TypeError("amount: expected a Decimal, an int or a decimal string")
    try:
        text = format(Decimal(value), "f")
    except InvalidOperation:
        raise ValueError(f"amount: not a decimal number: {value!r}") from None
    if Decimal(text) < 0:
        raise ValueError("amount: must be 0 (remove) or positive")
    return text


class LossLimitCalls:
    """Mixin of the SDK's API class: `_account(method, request, convert, write)` makes the call."""

    def _account(self, method: str, request: Any, convert, write: bool = False) -> Any:
        raise NotImplementedError

    def set_daily_loss_limit(self, asset: str, amount: Decimal | int | str, include_unrealized: bool = False,
                             flatten: bool = False) -> DailyLossLimit:
        """Set the daily loss limit in `asset` (0 removes it); the limit as it stands after.
        `include_unrealized`: count the day's change in unrealized PnL; `flatten`: once hit,
        close every position in the asset with reduce-only market orders."""
        request = account_pb2.SetDailyLossLimitRequest(asset=asset, amount=_amount(amount),
                                                       include_unrealized=include_unrealized, flatten=flatten)
        return self._account("SetDailyLossLimit", request, DailyLossLimit.from_pb, write=True)

    def daily_loss_limit(self, asset: str) -> DailyLossLimit:
        """The daily loss limit in `asset`, today's loss and whether it is hit."""
        return self._account("GetDailyLossLimit", account_pb2.GetDailyLossLimitRequest(asset=asset),
                             DailyLossLimit.from_pb)
