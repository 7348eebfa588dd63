"""Daily loss limits: the guard that refuses opening orders once an account lost its limit today.

A limit is per account and settlement asset (SetDailyLossLimit), and a lower or removed one
waits for the next venue day (risk.losslimit). The day's PnL (realized, funding, fees) is kept
per account with a limit as money moves (`State._day_move`), so the refusal check
(`_loss_refused`) is O(1) for a limit of realized PnL; a limit counting unrealized PnL adds its
positions' uPnL at mark. At 00:00 UTC (`_roll_day`) every limit starts a new day. What a hit
does (DailyLossLimitHit, and with flatten closing the account's positions) is a stage above the
order stages (engine/loss_limit_hits.py), since it places orders and re-runs the pipeline after them.
"""

from __future__ import annotations

from perpsim.engine import commands as C
from perpsim.engine.events import DailyLossLimitSet
from perpsim.engine.state import State
from perpsim.model.reasons import RejectReason as R
from perpsim.risk.losslimit import LossLimit, LossLimitState, loss, next_day


class LossLimits:
    """The daily loss limits' command, day roll, refusal check and query, over the limits'
    state kept in the shared State (`_loss_limits`, `_day_pnl`, `_loss_watch`, ...)."""

    def __init__(self, state: State) -> None:
        self.state = state

    def _SetDailyLossLimit(self, cmd: C.SetDailyLossLimit) -> None:
        if cmd.account <= 0:
            return self.state._reject(cmd, R.UNKNOWN_ACCOUNT, account=cmd.account)
        if not any(m.asset == cmd.asset for m in self.state.markets.values()):
            return self.state._reject(cmd, R.INVALID_VALUE, field="asset", asset=cmd.asset,
                                      problem="no market settles in this asset")
        if cmd.amount < 0:
            return self.state._reject(cmd, R.INVALID_VALUE, field="amount", amount=cmd.amount,
                                      problem="a limit is a positive amount (0 removes it)")
        key = (cmd.account, cmd.asset)
        state = self.state._loss_limits.get(key)
        if state is None:
            state = LossLimitState()
        counted = state.limit is not None and state.limit.include_unrealized
        new = LossLimit(cmd.amount, bool(cmd.include_unrealized), bool(cmd.flatten)) if cmd.amount else None
        if state.change(new) and new is not None and new.include_unrealized and not counted:
            # unrealized PnL counts from now: its level at 00:00 was not kept for this account
            state.upnl_base = self._upnl_all(cmd.account, cmd.asset)
        self._keep_limit(key, state)
        self._limit_event(cmd.account, cmd.asset, state, "set")
        self.state._loss_watch.add(key)  # a lower limit may be hit already

    def _keep_limit(self, key: tuple[int, str], state: LossLimitState) -> None:
        """Store a limit's state (or drop it when it holds nothing) and its unrealized flag."""
        if state.limit is None and not state.has_pending:
            self.state._loss_limits.pop(key, None)
        else:
            self.state._loss_limits[key] = state
        if state.limit is not None and state.limit.include_unrealized:
            self.state._unrealized_limits.add(key)
        else:
            self.state._unrealized_limits.discard(key)

    def _limit_event(self, account: int, asset: str, state: LossLimitState, cause: str) -> None:
        limit, pending = state.limit, state.pending
        self.state._events.append(DailyLossLimitSet(
            account, asset, 0 if limit is None else limit.amount, limit is not None and limit.include_unrealized,
            limit is not None and limit.flatten, 0 if pending is None else pending.amount,
            self.state._day_end if state.has_pending else 0, cause))

    def _roll_day(self, ts: int) -> None:
        """A command reached 00:00 UTC (or later): a new venue day for every limit. The day's
        PnL starts again from 0, hits clear, waiting changes come into force, and unrealized
        PnL is measured from its level now (the marks before this command). O(limits)."""
        self.state._day_end = next_day(ts)
        self.state._day_pnl = {}
        for key in sorted(self.state._loss_limits):
            state = self.state._loss_limits[key]
            waited = state.has_pending
            state.roll()
            account, asset = key
            if state.limit is not None and state.limit.include_unrealized:
                state.upnl_base = self._upnl_all(account, asset)
            self._keep_limit(key, state)
            if waited:
                self._limit_event(account, asset, state, "day_start")

    def _upnl_all(self, account: int, asset: str) -> int:
        """Unrealized PnL at mark of every position (cross and isolated) of the account in
        `asset`, money units."""
        total = 0
        for symbol in sorted(self.state._markets_of.get(account, ())):
            m = self.state.markets[symbol]
            if m.asset == asset and m.mark is not None:
                for _, p in m.leg_list(account):
                    total += m.upnl(p)
        return total

    def _day_loss(self, account: int, asset: str, state: LossLimitState) -> int:
        """The account's loss today in `asset` as its limit measures it (risk.losslimit.loss)."""
        day = self.state._day_pnl.get(asset)
        pnl = 0 if day is None else day.get(account, 0)
        counted = state.limit is not None and state.limit.include_unrealized
        return loss(pnl, self._upnl_all(account, asset) if counted else 0, state.upnl_base, counted)

    def _loss_refused(self, cmd, asset: str) -> bool:
        """Whether the account's daily loss limit in `asset` is hit (after rejecting `cmd` with
        DAILY_LOSS_LIMIT: limit, loss so far, resets_at). O(1) for a limit of realized PnL."""
        state = self.state._loss_limits.get((cmd.account, asset))
        if state is None or state.limit is None:
            return False
        lost = self._day_loss(cmd.account, asset, state)
        if state.hit is None and lost < state.limit.amount:
            return False
        self.state._reject(cmd, R.DAILY_LOSS_LIMIT, asset=asset, limit=state.limit.amount, loss=lost,
                           resets_at=self.state._day_end)
        return True

    def daily_loss_limit(self, account: int, asset: str) -> dict:
        """The account's daily loss limit in `asset` as of the last command (money units): limit
        (0: none), include_unrealized, flatten, loss (today's, a profit negative), hit, resets_at
        (ns), pending (the waiting change's limit, 0: removal) and pending_from (ns, 0: none)."""
        state = self.state._loss_limits.get((account, asset)) or LossLimitState()
        limit, pending = state.limit, state.pending
        return {"limit": 0 if limit is None else limit.amount,
                "include_unrealized": limit is not None and limit.include_unrealized,
                "flatten": limit is not None and limit.flatten,
                "loss": self._day_loss(account, asset, state), "hit": state.hit is not None,
                "resets_at": self.state._day_end, "pending": 0 if pending is None else pending.amount,
                "pending_from": self.state._day_end if state.has_pending else 0}
