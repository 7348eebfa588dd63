"""Open interest in the account history (venue/history.py): the long lots of every account
in every market, followed from each book fill's position changes (or read from the state), and
the 5-minute samples of it. Lots and ticks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perpsim.model.enums import PositionSide
from perpsim.venue.history_income import HistoryIncome
from perpsim.venue.history_records import OpenInterest

if TYPE_CHECKING:
    from collections import deque

    from perpsim.engine.views import ExchangeView

_BOTH, _LONG, _SHORT = int(PositionSide.BOTH), int(PositionSide.LONG), int(PositionSide.SHORT)


class HistoryOpenInterest(HistoryIncome):
    """The open-interest part of `History` (its attributes: venue/history_open_interest.pxd, set
    by History.__init__): per market the lots of all long positions (`_oi`); per (symbol,
    account) the long lots of its BOTH and its LONG position, a SHORT one holding none
    (`_legs`); per market the samples (`_oi_hist`) and the mark (`_marks`)."""

    if TYPE_CHECKING:  # the C slots (venue/history_open_interest.pxd), set by History.__init__
        view: ExchangeView
        _oi: dict[str, int]
        _legs: dict[tuple[str, int], tuple[int, int]]
        _oi_hist: dict[str, deque]
        _marks: dict[str, int]

    def _update_longs(self, symbol: str, account: int) -> None:
        """Open interest follows an account's long lots in a market (one-way or hedge mode),
        read from the state (right after the command)."""
        lots = self.view.position_lots
        key = (symbol, account)
        self._set_legs(symbol, key, self._legs.get(key), max(lots(account, symbol, _BOTH), 0),
                       max(lots(account, symbol, _LONG), 0))

    def _leg(self, symbol: str, account: int, pside: int, lots: int) -> None:
        """One position's new signed lots, from its PositionChanged (`pside`: its side)."""
        if pside == _SHORT:  # holds no long lots, before or after
            return
        key = (symbol, account)
        was = self._legs.get(key)
        both, longs = (0, 0) if was is None else was
        if pside == _BOTH:
            both = lots if lots > 0 else 0
        else:
            longs = lots if lots > 0 else 0
        self._set_legs(symbol, key, was, both, longs)

    def _set_legs(self, symbol: str, key: tuple[str, int], was: tuple[int, int] | None, both: int,
                  longs: int) -> None:
        """The long lots of (symbol, account) `key` are now `both` and `longs`; `was`: before."""
        self._oi[symbol] += both + longs - (0 if was is None else was[0] + was[1])
        if both or longs:
            self._legs[key] = (both, longs)
        elif was is not None:
            del self._legs[key]

    def _sample_oi(self, at: int) -> None:
        """The open interest that held at the 5-minute boundary `at` (before the command)."""
        for s, hist in self._oi_hist.items():
            hist.append(OpenInterest(s, self._oi[s], self._marks[s], at))
