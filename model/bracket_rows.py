"""A market's leverage and margin brackets as the markets file states them, validated.

Each row is ``(cap, max_leverage, mmr)``: the position notional cap of the bracket in the
settlement asset (a decimal; the bracket covers previous cap < notional ≤ cap), the highest
leverage allowed in it (an integer) and its maintenance margin rate (a decimal fraction, e.g.
"0.004" for 0.4 %). The maintenance amounts (cum) follow from the recursion in risk.brackets and
are not written. Rows as the venue publishes its table, in the order of the caps.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

#: One validated row: (cap in the settlement asset, max leverage, maintenance margin rate).
BracketRow = tuple[Decimal, int, Decimal]


def _decimal(value: object, what: str) -> Decimal:
    if isinstance(value, bool) or isinstance(value, float) or not isinstance(value, str | int | Decimal):
        raise ValueError(f"{what} must be a decimal string (a TOML float is not exact)")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{what} {value!r} is not a decimal number") from None
    if not number.is_finite():
        raise ValueError(f"{what} must be finite")
    return number


def bracket_rows(rows: object, settle_unit: Decimal) -> tuple[BracketRow, ...]:
    """The rows as exact values, or ValueError saying what is wrong: caps rising and multiples
    of the settlement unit, max leverage ≥ 1 and not rising, MMR in (0, 1) not falling and
    below the initial margin rate 1 / max leverage of its bracket (so the maintenance margin
    is always less than the initial margin, as on Binance)."""
    if not isinstance(rows, list | tuple) or not rows:
        raise ValueError("brackets: a list of [cap, max_leverage, mmr] rows")
    out: list[BracketRow] = []
    for i, row in enumerate(rows, start=1):
        if not isinstance(row, list | tuple) or len(row) != 3:
            raise ValueError(f"bracket {i}: expected [cap, max_leverage, mmr]")
        cap, lev, mmr = _decimal(row[0], f"bracket {i} cap"), row[1], _decimal(row[2], f"bracket {i} mmr")
        if isinstance(lev, bool) or not isinstance(lev, int) or lev < 1:
            raise ValueError(f"bracket {i}: max_leverage must be an integer >= 1")
        if cap <= (out[-1][0] if out else 0) or cap % settle_unit:
            raise ValueError(f"bracket {i}: cap {cap} must exceed the previous one and be a multiple of {settle_unit}")
        if not 0 < mmr < 1 or mmr * lev >= 1:
            raise ValueError(f"bracket {i}: mmr {mmr} must be in (0, 1) and below 1 / max_leverage")
        if out and (lev > out[-1][1] or mmr < out[-1][2]):
            raise ValueError(f"bracket {i}: max_leverage may not rise nor mmr fall from one bracket to the next")
        out.append((cap, lev, mmr))
    return tuple(out)
