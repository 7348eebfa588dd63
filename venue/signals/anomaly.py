"""Leverage-spike flags: an account's effective leverage jumping far beyond what is usual.

Per market, every change of an account's effective leverage (notional / margin, sampled once
per step of venue time) is scored by a robust z-score against the market's recent changes:
`z = (Δ − median) / max(1.4826 · MAD, floor)` over the last `window` changes (median and MAD of
the changes before this step's; Δ in x of leverage). A change flags its account when
`z ≥ z_threshold` (3.5 by default: Iglewicz and Hoaglin's modified z-score rule),
`Δ ≥ min_jump` and the new leverage `≥ min_level`; the account stays flagged
for `hold_ns` of venue time. Deterministic: no randomness, sums in a fixed order.

The market flag is the crowd: how many accounts are flagged, their sides, and the share of the
market's open lots (both sides) they hold.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass
class SpikeFlag:
    """One account's leverage spike in a market: effective leverage before and after the change
    (x), the change's robust z (unitless), the account's side then and the venue time (ns) of
    the command that closed the step it was scored in."""

    account: int
    ts: int  # venue time (ns) of the step that scored the change
    before: float  # leverage before and after (x)
    after: float
    z: float
    side: int  # +1 long, −1 short


def median(xs: list[float]) -> float:
    """The median of `xs` (not empty): the middle value, or the mean of the two middle ones."""
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2.0


class LeverageSpikes:
    """One market's spike detector (see the module docstring): the last `window` leverage changes
    (x), each account's last leverage (x) and its latest flag, kept `hold_ns` of venue time."""

    def __init__(self, window: int, z_threshold: float, min_jump: float, min_level: float, mad_floor: float,
                 hold_ns: int) -> None:
        self.changes: deque[float] = deque(maxlen=window)
        self.z_threshold, self.min_jump, self.min_level = z_threshold, min_jump, min_level
        self.mad_floor, self.hold_ns = mad_floor, hold_ns
        self.level: dict[int, float] = {}  # account -> last effective leverage seen
        self.flags: dict[int, SpikeFlag] = {}  # account -> its latest flag

    def baseline(self) -> tuple[float, float]:
        """(median, scale) of the recent changes: scale = max(1.4826 · MAD, floor)."""
        xs = list(self.changes)
        if not xs:
            return 0.0, self.mad_floor
        med = median(xs)
        mad = median([abs(x - med) for x in xs])
        return med, max(1.4826 * mad, self.mad_floor)

    def step(self, ts: int, levels: list[tuple[int, float, int]]) -> list[SpikeFlag]:
        """Score one step's new leverages (account, leverage x, side), in account order; the
        flags raised. The baseline is the history before this step."""
        med, scale = self.baseline()
        raised, deltas = [], []
        for account, lev, side in levels:
            before = self.level.get(account, 0.0)
            if lev == before:
                continue
            if lev > 0:
                self.level[account] = lev
            else:
                self.level.pop(account, None)
            d = lev - before
            deltas.append(d)
            z = (d - med) / scale
            if z >= self.z_threshold and d >= self.min_jump and lev >= self.min_level:
                flag = self.flags[account] = SpikeFlag(account, ts, before, lev, z, side)
                raised.append(flag)
        self.changes.extend(deltas)
        return raised

    def active(self, now: int) -> list[SpikeFlag]:
        """Flags raised within hold_ns before `now`, by account."""
        for account in [a for a, f in self.flags.items() if now - f.ts >= self.hold_ns]:
            del self.flags[account]
        return [self.flags[a] for a in sorted(self.flags)]
