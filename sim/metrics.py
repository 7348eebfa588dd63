"""What a run measures: liquidations, cascade rounds, forced-order slippage, book, fund, ADL,
open interest, funding, rejections, and the venue's market risk signals (perpsim.sim.risk_series).
Fed with every command's events and sampled once a step.

Per-event work is a dict lookup on the event's type; only the kinds the metrics use have a
handler (liquidation notices and forced fills, ADL, funding, rejections, position changes for
open interest). Everything is kept in engine units and converted to floats for the summary.

Cascade rounds: an episode is a run of consecutive steps with liquidations; a liquidation's
round is its step's distance from the episode's first step (round 0 = the liquidations the
price move itself caused, round k = those k steps later, after the earlier rounds' forced
orders moved the last price, the basis and, through impact coupling, the index). A liquidation
counts as "induced" when it comes in round >= 1 of a step where the exogenous index did not move
against the liquidated side.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from perpsim.engine.events import (
    AutoDeleveraged,
    BalanceChanged,
    CommandRejected,
    FundingSettled,
    Liquidation,
    OrderEvent,
    PositionChanged,
)
from perpsim.model.enums import EventKind, Side
from perpsim.model.markets import MarketSpec
from perpsim.model.reasons import RejectReason
from perpsim.risk.units import RATE_SCALE
from perpsim.sim import units
from perpsim.sim.risk_series import RiskSeries, risk_summary

#: Leverage buckets (upper bounds, inclusive) for liquidations by leverage.
LEVERAGE_BUCKETS = (5, 10, 20, 50, 100, 125)
DEPTH_BAND = 0.01  # book depth is measured within ±1 % of the mark
_FILL = EventKind.FILL


def bucket(leverage: int) -> str:
    """Label of a leverage bucket: "<=5x", "6-10x", …; "other" for accounts of no population."""
    lo = 1
    for hi in LEVERAGE_BUCKETS:
        if leverage <= hi:
            return f"{lo}-{hi}x" if leverage > 0 else "other"
        lo = hi + 1
    return f">{LEVERAGE_BUCKETS[-1]}x"


@dataclass
class Series:
    """Per-step samples of one market (engine units)."""

    index: list[int] = field(default_factory=list)
    exogenous: list[float] = field(default_factory=list)
    mark: list[int] = field(default_factory=list)
    last: list[int] = field(default_factory=list)
    bid: list[int] = field(default_factory=list)
    ask: list[int] = field(default_factory=list)
    depth_bid: list[int] = field(default_factory=list)  # lots within DEPTH_BAND of the mark
    depth_ask: list[int] = field(default_factory=list)
    open_interest: list[int] = field(default_factory=list)  # long lots
    funding_rate: list[int] = field(default_factory=list)  # the last settled rate (changes at settlements)
    predicted_funding_rate: list[int] = field(default_factory=list)  # what the next settlement would apply
    risk: RiskSeries = field(default_factory=RiskSeries)  # the venue's risk signals (perpsim.sim.risk_series)


class Metrics:
    """Collects one run's metrics. `observe(events)` after every command; `sample(...)` at the
    end of every step (step 0 = after the setup)."""

    def __init__(self, markets: dict[str, MarketSpec], leverage_of: dict[int, int]) -> None:
        self.markets = markets
        self.leverage_of = leverage_of
        self.step = 0
        self.steps: list[int] = []
        self.series = {s: Series() for s in markets}
        self.insurance: dict[str, list[int]] = {a: [] for a in sorted({m.settle for m in markets.values()})}
        # liquidations, one row each: step, symbol, account, side, qty, bankruptcy, filled, taken, adl
        self.liquidations: list[tuple] = []
        # forced fills: step, symbol, taker (0 = the fund's offload), qty, price, mark before the step
        self.forced_fills: list[tuple] = []
        self.adl: list[tuple] = []  # step, symbol, bankrupt account, counterparty, qty, price
        self.funding: list[tuple] = []  # step, symbol, rate, mark
        self.funding_flows: Counter = Counter()  # (asset, "paid"|"received") -> units
        self.rejections: Counter = Counter()
        self.long_oi = dict.fromkeys(markets, 0)
        self._lots: dict[tuple[str, int], int] = {}
        self._mark_before = dict.fromkeys(markets, 0)
        self._handlers: dict[type, Callable[[Any], None]] = {
            Liquidation: self._liquidation, OrderEvent: self._order, AutoDeleveraged: self._adl,
            FundingSettled: self._funding, BalanceChanged: self._balance, CommandRejected: self._rejected,
            PositionChanged: self._position,
        }

    # ---------------------------------------------------------------- events

    def observe(self, events: list) -> None:
        """Fold a command's events into the metrics (liquidations, forced fills, ADL, funding, rejections,
        positions); other events are ignored."""
        handlers = self._handlers
        for e in events:
            h = handlers.get(type(e))
            if h is not None:
                h(e)

    def _liquidation(self, e: Liquidation) -> None:
        self.liquidations.append((self.step, e.symbol, e.account, int(e.side), e.qty, e.bankruptcy_price, e.filled,
                                  e.taken_by_insurance, e.deleveraged))

    def _order(self, e: OrderEvent) -> None:
        if e.liquidation and e.event.kind == _FILL:
            b = e.event
            self.forced_fills.append((self.step, e.symbol, b.account, int(b.side), b.qty, b.price,
                                      self._mark_before[e.symbol]))

    def _adl(self, e: AutoDeleveraged) -> None:
        self.adl.append((self.step, e.symbol, e.account, e.counterparty, e.qty, e.price))

    def _funding(self, e: FundingSettled) -> None:
        self.funding.append((self.step, e.symbol, e.rate, e.mark))

    def _balance(self, e: BalanceChanged) -> None:
        if e.cause == "funding":
            self.funding_flows[(e.asset, "paid" if e.delta < 0 else "received")] += abs(e.delta)

    def _rejected(self, e: CommandRejected) -> None:
        try:
            name = RejectReason(e.reason).name
        except ValueError:
            name = str(e.reason)
        self.rejections[f"{e.command}:{name}"] += 1

    def _position(self, e: PositionChanged) -> None:
        key = (e.symbol, e.account)
        old = self._lots.get(key, 0)
        if e.lots:
            self._lots[key] = e.lots
        else:
            self._lots.pop(key, None)
        self.long_oi[e.symbol] += max(e.lots, 0) - max(old, 0)

    # ---------------------------------------------------------------- steps

    def begin_step(self, step: int, venue) -> None:
        """Before the step's commands: remember the mark (the reference of forced-fill slippage)."""
        self.step = step
        for s in self.markets:
            self._mark_before[s] = venue.mark(s) or 0

    def sample(self, venue, index: dict[str, int], exogenous: dict[str, float]) -> None:
        """End of a step: the index sent (ticks) and the exogenous price behind it (float), mark,
        last, book top and depth, open interest (the venue's own when it reports it, else counted
        from the position events), funding rate, the market's risk signals, insurance fund."""
        self.steps.append(self.step)
        for s, _spec in self.markets.items():
            ser = self.series[s]
            mark = venue.mark(s) or 0
            bid, ask = venue.top(s)
            ser.mark.append(mark)
            ser.index.append(index.get(s, 0))
            ser.exogenous.append(exogenous.get(s, 0.0))
            ser.last.append(venue.last(s) or 0)
            ser.bid.append(bid or 0)
            ser.ask.append(ask or 0)
            lo, hi = mark * (1 - DEPTH_BAND), mark * (1 + DEPTH_BAND)
            ser.depth_bid.append(sum(q for p, q in venue.depth(s, Side.BUY, 50) if p >= lo))
            ser.depth_ask.append(sum(q for p, q in venue.depth(s, Side.SELL, 50) if p <= hi))
            oi = venue.open_interest(s)
            ser.open_interest.append(self.long_oi[s] if oi is None else oi)
            ser.funding_rate.append(venue.funding_rate(s))
            ser.predicted_funding_rate.append(venue.predicted_funding_rate(s))
            ser.risk.append(venue.market_risk(s))
        for asset, path in self.insurance.items():
            path.append(venue.insurance(asset))

    # ---------------------------------------------------------------- results

    def rounds(self) -> list[int]:
        """The cascade round of each liquidation row (see the module doc)."""
        steps_with = sorted({row[0] for row in self.liquidations})
        start: dict[int, int] = {}
        for i, st in enumerate(steps_with):
            start[st] = start[steps_with[i - 1]] if i and steps_with[i - 1] == st - 1 else st
        return [row[0] - start[row[0]] for row in self.liquidations]

    def summary(self) -> dict:
        """Headline figures, JSON-ready (floats in the quote or settlement currency, bps, %)."""
        out: dict = {"markets": {}}
        rounds = self.rounds()
        for s, spec in self.markets.items():
            out["markets"][s] = self._market_summary(s, spec, rounds)
        out["insurance_fund"] = {
            a: {"start": _money(self.markets, a, p[0]), "min": _money(self.markets, a, min(p)),
                "end": _money(self.markets, a, p[-1])} for a, p in self.insurance.items() if p}
        out["funding_flows"] = {f"{a}:{k}": _money(self.markets, a, v)
                                for (a, k), v in sorted(self.funding_flows.items())}
        out["rejections"] = dict(sorted(self.rejections.items()))
        risk = {s: risk_summary(self.series[s].risk.out(), self.steps) for s in self.markets}
        if any(risk.values()):
            out["risk"] = risk
        return out

    def _market_summary(self, s: str, spec: MarketSpec, rounds: list[int]) -> dict:
        ser = self.series[s]
        rows = [(r, rd) for r, rd in zip(self.liquidations, rounds, strict=True) if r[1] == s]
        by_bucket: Counter = Counter()
        by_bucket_notional: dict[str, float] = {}
        per_round: Counter = Counter()
        induced = 0
        exo = ser.exogenous
        step_index = {st: i for i, st in enumerate(self.steps)}
        for r, rd in rows:
            b = bucket(self.leverage_of.get(r[2], 0))
            by_bucket[b] += 1
            by_bucket_notional[b] = by_bucket_notional.get(b, 0.0) + units.notional(spec, r[4], r[5])
            per_round[rd] += 1
            i = step_index.get(r[0])
            if rd >= 1 and i is not None and i > 0:
                move = exo[i] - exo[i - 1]
                adverse = move < 0 if r[3] == Side.SELL else move > 0  # a forced sell closes a long
                induced += not adverse
        fills = [f for f in self.forced_fills if f[1] == s and f[2] != 0]
        offload = [f for f in self.forced_fills if f[1] == s and f[2] == 0]
        slip = [((f[6] - f[5]) if f[3] == Side.SELL else (f[5] - f[6])) / f[6] * 1e4 * f[4] for f in fills if f[6]]
        fill_lots = sum(f[4] for f in fills)
        marks = [m for m in ser.mark if m]
        spreads = [(a - b) / ((a + b) / 2) * 1e4 for b, a in zip(ser.bid, ser.ask, strict=True) if a and b]
        adl = [a for a in self.adl if a[1] == s]
        return {
            "liquidations": len(rows),
            "liquidated_lots": sum(r[0][4] for r in rows),
            "liquidated_notional": round(sum(units.notional(spec, r[0][4], r[0][5]) for r in rows), 2),
            "filled_in_book_lots": sum(r[0][6] for r in rows),
            "taken_by_insurance_lots": sum(r[0][7] for r in rows),
            "deleveraged_lots": sum(r[0][8] for r in rows),
            "by_leverage": {b: {"count": by_bucket[b], "notional": round(by_bucket_notional[b], 2)}
                            for b in sorted(by_bucket, key=_bucket_order)},
            "cascade_rounds": max(per_round) + 1 if per_round else 0,
            "liquidations_per_round": [per_round[k] for k in range(max(per_round) + 1)] if per_round else [],
            "induced_liquidations": induced,
            "forced_fills": len(fills),
            "forced_fill_slippage_bps": round(sum(slip) / fill_lots, 3) if fill_lots else 0.0,
            "forced_fill_worst_bps": round(max((x / f[4] for x, f in zip(slip, fills, strict=False)), default=0.0), 3),
            "fund_offload_fills": len(offload),
            "adl_events": len(adl),
            "adl_lots": sum(a[4] for a in adl),
            "mark_start": units.price_of(spec, marks[0]) if marks else None,
            "mark_min": units.price_of(spec, min(marks)) if marks else None,
            "mark_max": units.price_of(spec, max(marks)) if marks else None,
            "mark_end": units.price_of(spec, marks[-1]) if marks else None,
            "max_drawdown_pct": round(_drawdown(marks) * 100, 3),
            "spread_bps_mean": round(float(np.mean(spreads)), 3) if spreads else None,
            "spread_bps_max": round(max(spreads), 3) if spreads else None,
            "depth_1pct_min_lots": min(b + a for b, a in zip(ser.depth_bid, ser.depth_ask, strict=True)),
            "open_interest_start_lots": ser.open_interest[0],
            "open_interest_end_lots": ser.open_interest[-1],
            "funding_settlements": sum(1 for f in self.funding if f[1] == s),
            "funding_rate_max": max((f[2] for f in self.funding if f[1] == s), default=0) / RATE_SCALE,
        }


def _bucket_order(label: str) -> tuple[int, str]:
    head = label.lstrip(">").split("-")[0].rstrip("x")
    return (int(head) if head.isdigit() else 10**6, label)


def _drawdown(marks: list[int]) -> float:
    """Largest fall from a running peak, as a fraction."""
    if not marks:
        return 0.0
    arr = np.asarray(marks, dtype=float)
    return float(np.max(1 - arr / np.maximum.accumulate(arr)))


def _money(markets: dict[str, MarketSpec], asset: str, amount: int) -> float:
    spec = next(m for m in markets.values() if m.settle == asset)
    return amount / 10**spec.settle_decimals
