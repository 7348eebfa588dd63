"""Marking: the mark price, the premium samples and funding.

Time-driven work comes in on each command's timestamp (`_advance`): when it crosses a premium
sampling boundary, every market samples its basis and premium index (impact bid and ask from the
book), closes the funding intervals that ended and settles them (`_settle_funding`: payers first
into the market's funding pool, then receivers, the rounding to dust). `_remark` recomputes a
market's mark from its inputs (index, last price, funding rate, next funding time; under the
Hyperliquid form also the best bid and ask) and, when it moved, has the liquidation stage cascade
and the insurance fund offload. Hyperliquid's mark samples its EMAs on its own 3-s grid
(risk.hyperliquid_mark): those markets are sampled whenever a command crosses a 3-s boundary,
before the command, with the book, index and last price that stood since the previous one, and
their mark is published then and held until the next boundary (the oracle's publications).
"""

from __future__ import annotations

from perpsim.engine.events import FundingSettled, MarkPriceChanged
from perpsim.engine.liquidation import Liquidation
from perpsim.engine.market import BOTH, _Market, position_key, position_of
from perpsim.engine.state import State
from perpsim.model.causes import LedgerCause
from perpsim.model.enums import Side
from perpsim.risk.funding_intervals import PREMIUM_SAMPLE_NS
from perpsim.risk.funding_payments import funding_payment, funding_payments
from perpsim.risk.funding_premium import premium_index
from perpsim.risk.hyperliquid_mark import MARK_SAMPLE_NS, HyperliquidMark
from perpsim.risk.ledger import DUST

# Members bound once as module names (reading one off its Enum class costs about ten times more).
_LEDGER_FUNDING = LedgerCause.FUNDING
_LEDGER_FUNDING_DUST = LedgerCause.FUNDING_DUST

_SIDE_BUY, _SIDE_SELL = Side.BUY, Side.SELL
#: Book levels read for an impact price; deeper than any impact notional needs in practice.
_IMPACT_LEVELS = 1_000


class Marking:
    """Marks, premium sampling and funding settlement of every market."""

    def __init__(self, state: State, liquidation: Liquidation) -> None:
        self.state = state
        self.liquidation = liquidation
        self.holding = False  # a liquidity provider is requoting: the sweep waits for it (SetIndexPrice)
        # markets whose mark reads the book at each re-mark and samples on its own grid (Hyperliquid)
        self._book_marks = tuple(m for m in state.markets.values() if isinstance(m.mark_state, HyperliquidMark))

    def _advance(self, ts: int) -> None:
        """Time-driven work due at ts: mark, basis and premium sampling, funding settlement."""
        published = self._book_marks and ts // MARK_SAMPLE_NS != self.state.ts // MARK_SAMPLE_NS
        if published:
            for m in self._book_marks:
                live = bool(m.index.live_sources(ts))
                m.mark_state.sample(ts, m.index.value(ts) if live else None, m.book.best_bid(), m.book.best_ask(),
                                    m.last)
        crossed = ts // PREMIUM_SAMPLE_NS != self.state.ts // PREMIUM_SAMPLE_NS
        self.state.ts = ts
        if published:  # Hyperliquid: the mark moves only at a 3-s publication, before the command
            for m in self._book_marks:
                m.marked = None
                self._remark(m)
        if not crossed:
            return
        for m in self.state.markets.values():
            live = bool(m.index.live_sources(ts))
            m.mark_state.sample(ts, m.index.value(ts) if live else None, m.book.best_bid(), m.book.best_ask(),
                                m.last)
            premium = self._premium(m) if live else None
            for closed in m.funding.sample(ts, premium):
                if closed.avg_premium is not None:
                    m.rate = m.funding_config.rate(closed.avg_premium)
                self._settle_funding(m)
            m.next_funding = m.funding.open_interval_end

    def _premium(self, m: _Market) -> int:
        levels = ([(p, q) for p, q, _ in m.book.depth(s, _IMPACT_LEVELS)] for s in (_SIDE_BUY, _SIDE_SELL))
        bid, ask = (m.contract.impact_price(lv, m.imn, m.spec) for lv in levels)
        return premium_index(bid, ask, m.index.value(self.state.ts))

    def _settle_funding(self, m: _Market) -> None:
        if m.mark is None or not m.positions:
            return
        keys = sorted(m.positions)
        lots = {k: m.positions[k].lots for k in keys}
        mark, K = m.funding_terms(self.state.ts)  # notional at mark (or index) × rate
        pay = funding_payments(lots, mark, m.rate, K)
        pool = ("funding:" + m.symbol, 0)

        def holder(k):
            account, pside = position_of(k)
            return m.iso_holder(account, pside) if account in m.isolated else account

        for k in keys:  # payers first, so the pool never goes negative
            if pay.deltas[k] < 0:
                self.state._move(m.asset, holder(k), pool, -pay.deltas[k], _LEDGER_FUNDING)
                self.state._day_move(position_of(k)[0], m.asset, pay.deltas[k])
        for k in keys:
            if pay.deltas[k] > 0:
                self.state._move(m.asset, pool, holder(k), pay.deltas[k], _LEDGER_FUNDING)
                self.state._day_move(position_of(k)[0], m.asset, pay.deltas[k])
        self.state._move(m.asset, pool, DUST, pay.dust, _LEDGER_FUNDING_DUST)
        e = FundingSettled(m.symbol, m.rate, m.funding_price(self.state.ts), pay.dust)
        self.state._events.append(e)
        self.state.funding_history.append((self.state.ts, e))

    def _remark(self, m: _Market) -> None:
        inputs = (self.state.ts, m.last, m.rate, m.next_funding)
        if inputs == m.marked:  # nothing the mark is made of moved since it was computed
            return
        m.marked = inputs
        index = m.index.value(self.state.ts)
        if index is None:
            return
        if self._book_marks:  # Hyperliquid: the mark published at the last 3-s grid point, held
            mark = m.mark_state.held(self.state.ts, index, m.last, m.book.best_bid(), m.book.best_ask())
        else:
            mark = m.mark_state.value(self.state.ts, index, m.last, m.rate, m.next_funding, m.funding.interval_ns)
        if mark is None or mark == m.mark:
            return
        first = m.mark is None
        m.mark = mark
        self.state._events.append(MarkPriceChanged(m.symbol, mark, index))
        # other markets' liquidation prices of multi-market cross accounts depend on this mark
        multi = self.state._multi[m.symbol]
        if multi:
            self.state._touched.update(multi)
        if first:  # positions opened before the first mark had no liquidation price yet
            for k in m.positions:
                self.state._touched.add(position_of(k)[0])
        self.liquidation.mark_moved()
        if self.state._unrealized_limits:  # limits counting unrealized PnL in this asset may be hit now
            asset = m.asset
            for key in self.state._unrealized_limits:
                if key[1] == asset:
                    self.state._loss_watch.add(key)
        if self.holding:  # a requote comes first (MarketCommands._SetIndexPrice): it settles and offloads after
            return
        self.liquidation.cascade()
        self.liquidation._offload(m)

    def predicted_funding_rate(self, symbol: str) -> int:
        """The rate (scaled 1e8) the next funding settlement would apply if its interval closed
        now: the interval's premium average so far through the market's rate rule, or the last
        rate before any sample."""
        m = self.state.markets[symbol]
        avg = m.funding.average()
        return m.rate if avg is None else m.funding_config.rate(avg)

    def funding_estimate(self, account: int, symbol: str, pside: int = BOTH) -> int:
        """What the position would be paid (+) or pay (−) at the next funding time at the current
        mark and the predicted rate (money units, rounded as a settlement rounds: a payer's debit
        up, a receiver's credit down); 0 without a position or a mark."""
        m = self.state.markets[symbol]
        p = m.positions.get(position_key(account, pside))
        if p is None or m.mark is None:
            return 0
        mark, K = m.funding_terms(self.state.ts)
        return funding_payment(p.lots, mark, self.predicted_funding_rate(symbol), K)
