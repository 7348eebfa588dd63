"""Hyperliquid's liquidation attempts, as the liquidation stage (engine/liquidation.py) paces them:
what a market order leaves stays with the account and is sent again at the next mark publication
(risk.hyperliquid_liquidation has the rule and its sources).

The stage keeps `_retry`: (symbol, account) -> the venue time (ns) the next attempt is due. Its
sweep passes such an account over until then; the earliest due time is folded into the stage's
`_due`, so the cascade sweeps at it even when the published mark did not move.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perpsim.risk.hyperliquid_liquidation import market_limit, retry_at

if TYPE_CHECKING:
    from perpsim.engine.liquidation import Liquidation
    from perpsim.engine.market import _Market

__all__ = ["expire", "later", "limit"]


def later(stage: Liquidation, m: _Market, account: int) -> None:
    """The account's order in m left a rest: its next attempt is the next mark publication."""
    due = retry_at(stage.state.ts)
    stage._retry[(m.symbol, account)] = due
    if not stage._due or due < stage._due:
        stage._due = due


def expire(stage: Liquidation) -> None:
    """Drop the attempts due by now (the sweep may liquidate those accounts again) and keep the
    stage's `_due` at the earliest one still waiting."""
    ts = stage.state.ts
    retry = stage._retry
    for key in [k for k, due in retry.items() if due <= ts]:
        del retry[key]
    if retry:
        due = min(retry.values())
        if not stage._due or due < stage._due:
            stage._due = due


def limit(stage: Liquidation, m: _Market, lots: int) -> int:
    """The limit (ticks) of the market order closing `lots` (signed) in m: 10 % through the mark,
    rounded against the account, within the market's price limits."""
    t = stage._terms[m.symbol]
    return market_limit(lots > 0, m.mark, t.lowest, t.highest)
