"""Which waiting commands surely move no position and no price, for GrpcVenue.

A command is quiet when, applied after the ones before it, it can neither trade nor move a
mark: deposits, leverage and margin-mode settings, stops (refused if they would trigger at
once), the insurance fund's deposits; cancels, where the market's mark does not read the book;
and limit orders that cross nothing the book could hold by then, where the mark does not read
the book. The book's best prices after the last Apply (`BookTop`) bound it: cancels only take
liquidity away, and each waiting limit order that crosses nothing rests at its price, so the
best ask can be no lower than the lowest of that top and the waiting asks before it (the bid
alike; an order of a group the venue skips after a refusal takes no liquidity either).
Anything else (market orders, index and clock moves) is not quiet, nor is whatever comes after
it. A position read waits for no quiet command.
"""

from __future__ import annotations

from collections.abc import Sequence

from perpsim.engine import commands as C
from perpsim.model.enums import OrderKind, Side

#: commands that never trade nor move a price
_SETTINGS = frozenset({C.Deposit, C.SetLeverage, C.SetMarginMode, C.PlaceConditional, C.FundInsurance})
_NO_ASK = 1 << 62  # an empty ask side: above any price


def quiet(pending: Sequence, tops: dict, exact: bool) -> list[bool]:
    """Per waiting command (perpsim.sim.grpc_apply.Pending), whether it is quiet. `tops`:
    symbol -> BookTop after the last Apply; `exact`: the tops and positions are the venue's as
    the run's own commands left them (else only settings are quiet)."""
    out: list[bool] = []
    bounds: dict[str, tuple[int, int]] = {}  # symbol -> (highest bid, lowest ask) there can be
    for p in pending:
        out.append((not out or out[-1]) and _quiet(p.cmd, tops, exact, bounds))  # none after one that is not
    return out


def _quiet(cmd, tops: dict, exact: bool, bounds: dict[str, tuple[int, int]]) -> bool:
    """Whether `cmd` is quiet after quiet commands whose limit orders left `bounds` (updated)."""
    t = type(cmd)
    if t in _SETTINGS:
        return True
    if t is C.CancelAll:
        top = tops.get(cmd.symbol)
        return exact and top is not None and not top.mark_reads_book
    if t is not C.PlaceOrder or cmd.kind != OrderKind.LIMIT or not exact:
        return False
    top = tops.get(cmd.symbol)
    if top is None or top.mark_reads_book:
        return False
    bid, ask = bounds.get(cmd.symbol, (top.bid_ticks, top.ask_ticks or _NO_ASK))
    if cmd.side == Side.BUY:
        bounds[cmd.symbol] = (max(bid, cmd.price), ask)
        return cmd.price < ask
    bounds[cmd.symbol] = (bid, min(ask, cmd.price))
    return cmd.price > bid


class QuietScan:
    """Whether every waiting command is quiet (`all(quiet(...))`), kept as the waiting list
    grows: each command is looked at once, until the list, the tops or `exact` change (an
    Apply sends the list and makes new ones)."""

    def __init__(self) -> None:
        self._of: tuple = ()  # (pending, tops, exact) the scan so far is of
        self._seen = 0  # commands looked at
        self._quiet = True
        self._bounds: dict[str, tuple[int, int]] = {}

    def all_quiet(self, pending: list, tops: dict, exact: bool) -> bool:
        """Whether every command of `pending` is quiet (`all(quiet(pending, tops, exact))`), looking only
        at those added since the last call on the same list, tops and `exact`."""
        of = self._of
        if not of or of[0] is not pending or of[1] is not tops or of[2] != exact or self._seen > len(pending):
            self._of, self._seen, self._quiet, self._bounds = (pending, tops, exact), 0, True, {}
        while self._quiet and self._seen < len(pending):
            self._quiet = _quiet(pending[self._seen].cmd, tops, exact, self._bounds)
            self._seen += 1
        return self._quiet


def cut(pending: Sequence, limit: int) -> int:
    """How many waiting commands (perpsim.sim.grpc_apply.Pending) the next Apply takes: at most
    `limit`, never a block of groups split (the venue ends each group at its first refusal
    within one Apply; a block is at most `limit` commands itself)."""
    n = 0
    while n < len(pending):
        block = pending[n].block
        end = n + 1
        if block is not None:
            while end < len(pending) and pending[end].block == block:
                end += 1
        if end > limit and n:
            break
        n = end
    return n
