"""The daily loss limit's rules, as data: which limit is in force, when a change takes effect,
and how the day's loss is measured. The exchange keeps the running figures and enforces them.

Definitions (integers, money units of the settlement asset):

* the venue day runs from 00:00 UTC to the next 00:00 UTC of command time (ns since the epoch;
  the wall clock is never read): `day_start(ts) = ts // DAY_NS * DAY_NS` (floor), and a limit
  hit today resets at `next_day(ts)`;
* `day_pnl` = realized PnL + funding − trading fees − liquidation fees booked since the day
  started (deposits, withdrawals, transfers and margin moves are not PnL). The venue keeps it
  only for accounts with a limit (so trading without one costs nothing): on the day a first
  limit is set, it counts from that moment;
* with `include_unrealized`, the change of the account's unrealized PnL (every position in the
  asset, cross and isolated, at mark) since the day started, or since the limit was set if that
  was later, is added;
* `loss = −day_pnl` (a profit is a negative loss); the limit is hit when `loss ≥ amount`. A hit
  holds until the next 00:00 UTC even if the loss shrinks again.

Changes: a limit that is no looser than the one in force (a lower or equal amount, and not
dropping unrealized PnL that was counted) takes effect at once, and so does setting a first
limit. A looser one (a higher amount, dropping unrealized PnL, or removing the limit with amount
0) is stored as pending and comes into force at the next 00:00 UTC; a later tighter change
replaces a pending one. Changing only `flatten` takes effect at once.
"""

from __future__ import annotations

from dataclasses import dataclass

#: One venue day in ns.
DAY_NS = 86_400 * 10**9


def day_start(ts: int) -> int:
    """00:00 UTC of the day holding `ts` (ns; rounded down to the day)."""
    return ts // DAY_NS * DAY_NS


def next_day(ts: int) -> int:
    """The next 00:00 UTC after `ts` (ns): when today's hit and pending changes resolve."""
    return day_start(ts) + DAY_NS


@dataclass(frozen=True, slots=True)
class LossLimit:
    """A limit as the account set it: `amount` in money units of the asset (> 0)."""

    amount: int
    include_unrealized: bool = False
    flatten: bool = False

    def no_looser_than(self, other: LossLimit) -> bool:
        """Whether this limit stops trading at or before `other` does, at every loss."""
        return self.amount <= other.amount and (self.include_unrealized or not other.include_unrealized)


@dataclass(slots=True)
class LossLimitState:
    """One account's limit in one asset: in force (`limit`, None: none), a change waiting for
    the next 00:00 UTC (`pending` with `has_pending`; pending None: the limit goes), the
    unrealized PnL the day's change is measured from (`upnl_base`), and the loss at which the
    limit was hit today (`hit`, None: not hit)."""

    limit: LossLimit | None = None
    pending: LossLimit | None = None
    has_pending: bool = False
    upnl_base: int = 0
    hit: int | None = None

    def change(self, new: LossLimit | None) -> bool:
        """Apply a change the account asked for: True if in force now, False if it waits for
        the next 00:00 UTC (it is looser than the limit in force)."""
        current = self.limit
        if current is None or (new is not None and new.no_looser_than(current)):
            if new is None:  # removing a limit that is not there: nothing to wait for
                self.has_pending, self.pending = False, None
                return True
            self.limit, self.has_pending, self.pending = new, False, None
            return True
        self.pending, self.has_pending = new, True
        return False

    def roll(self) -> None:
        """A new venue day: a pending change comes into force and the hit is cleared."""
        if self.has_pending:
            self.limit, self.pending, self.has_pending = self.pending, None, False
        self.hit = None

    def key(self) -> tuple:
        """The state as plain values (for the exchange's state hash)."""
        def plain(x: LossLimit | None) -> tuple:
            return () if x is None else (x.amount, int(x.include_unrealized), int(x.flatten))
        return plain(self.limit), plain(self.pending), int(self.has_pending), self.upnl_base, self.hit


def loss(day_pnl: int, upnl_now: int, upnl_base: int, include_unrealized: bool) -> int:
    """The day's loss in money units (negative: a profit): −day_pnl, less the change in
    unrealized PnL since `upnl_base` when it counts."""
    return -day_pnl - (upnl_now - upnl_base if include_unrealized else 0)
