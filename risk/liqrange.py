"""Where the legs of a cross hedge-mode position reach maintenance margin on a rise.

For the legs of one linear market (signed lots q_i, signed cost c_i; the other markets held
fixed in `base`), the account's margin balance less its maintenance margin at mark P is

    g(P) = base − K Σc_i + K P Σq_i − Σ_i MM(|q_i| K P)

MM is convex in the notional (the maximum of the bracket lines, risk.brackets), so g is concave:
the safe prices (g > 0) form one interval, and the account is liquidatable below its lower end,
above its upper end, or both. A one-way position has one end (a long's g rises for every mmr
below 100 %, a short's falls), and so does a hedged pair of equal size (g = const − MM falls as
the price rises: it is liquidated on a rise). A hedge-mode pair whose net exposure is small
against its gross one can have both: its net long loses on a fall, its maintenance margin
outgrows the wallet on a rise.

`margin_kernel.BracketTable.liq_tick` finds the end its first bracket line leads to (the
lower end when g rises at P = 0). `rise_tick` finds the upper end, by the same iteration over
bracket lines started from the last bracket (each line lies on or above g, so its root lies at
or above g's upper root; re-picking each leg's bracket at the root converges from above).
Integers only: the root num / den is rounded down (the trigger fires at or above it, so the
index never misses it), and brackets are picked at ⌈|q| K num / den⌉ as the kernel picks them.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

from perpsim.risk.brackets import Brackets
from perpsim.risk.units import RATE_SCALE

#: The direction of a trigger at or above its tick (as margin_kernel.SHORT).
RISE = -1


def rise_tick(brackets: Brackets, lots: Sequence[int], costs: Sequence[int], base: int,
              K: int) -> tuple[int, int] | None:
    """(RISE, tick) at or above which the legs are liquidatable, or None when no rise makes them
    so (g does not fall at high prices). tick 0: liquidatable at every price (g ≤ 0 all along).
    base = wallet + other markets' uPnL − their MM (money units); K: notional per tick × lot."""
    rows = list(brackets)
    caps = [b.cap for b in rows]
    sum_lots, sum_cost = sum(lots), sum(costs)
    picks = [len(rows) - 1] * len(lots)
    first = True
    for _ in range(2 * len(rows) * max(1, len(lots)) + 4):
        cum = mmr = 0
        for q, i in zip(lots, picks, strict=True):
            cum += rows[i].cum
            mmr += abs(q) * rows[i].mmr
        num = RATE_SCALE * (K * sum_cost - base - cum)
        den = K * (RATE_SCALE * sum_lots - mmr)  # the line's slope × RATE_SCALE
        if den >= 0:  # at the top: no upper end; later: past g's maximum, so g ≤ 0 all along
            return None if first else (RISE, 0)
        first = False
        num, den = -num, -den
        if num < 0:  # the line lies below 0 at every price ≥ 0, and g lies below the line
            return (RISE, 0)
        repick = [_index(caps, -(-abs(q) * K * num // den)) for q in lots]
        if repick == picks:
            return (RISE, num // den)
        picks = repick
    raise ArithmeticError("rise liquidation-price iteration did not settle (a bug)")


def _index(caps: list[int], notional: int) -> int:
    """0-based bracket of an integer notional: the first whose cap ≥ notional (else the last),
    as `Brackets.for_notional` picks it."""
    return min(bisect_left(caps, notional), len(caps) - 1)
