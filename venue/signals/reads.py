"""The read side of `Signals` (venue.signals.hub): σ and ρ of the marks, a market's leverage
temperature and risk figures (`MarketRisk`), an account's active spike flags.

Every read but σ and ρ first follows the venue onto its live exchange (a recovery, a reset)
and folds in every command handed over (`current`); σ and ρ move only when a step closes,
inside the handoff, so they are read without a catch-up. Figures are floats (a read model
outside the core).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from perpsim.risk.units import RATE_SCALE
from perpsim.venue.signals.config import SignalConfig
from perpsim.venue.signals.correlation import Correlations
from perpsim.venue.signals.execution import MAX_LEVELS, measure
from perpsim.venue.signals.market import MarketSignals, pnl
from perpsim.venue.signals.reader import EngineReader
from perpsim.venue.signals.report import MarketRisk, Temperature, market_flags
from perpsim.venue.signals.stress import stress
from perpsim.venue.signals.volatility import HORIZONS, YEAR_NS

NEAR_PCTS = (2, 5, 10)


def phi(z: float) -> float:
    """Φ(z): the standard normal cumulative distribution, from `math.erf`."""
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


class SignalReads:
    """What `Signals` is read with. It expects of its subclass: `source`, `ex`, `attach(ex)`,
    `catch_up()`, `cfg`, `rd`, `markets`, `symbols`, `corr`, `sample_ns` and `ts`."""

    source: Callable[[], object]
    ex: object
    cfg: SignalConfig
    rd: EngineReader
    markets: dict[str, MarketSignals]
    symbols: list[str]
    corr: Correlations
    sample_ns: int
    ts: int

    if TYPE_CHECKING:  # typing only: at run time these must resolve to the other bases' methods
        def attach(self, ex) -> None:
            """Start over on `ex` (Signals.attach)."""
            ...
        def catch_up(self, budget: int | None = None) -> bool:
            """Fold in what was handed over (HandoffBuffer.catch_up); whether nothing is left."""
            ...

    def current(self) -> None:
        """Before a read: follow the venue onto a new exchange (a recovery, a reset) and fold
        in every command handed over."""
        self._follow()
        self.catch_up()

    def _follow(self) -> None:
        ex = self.source()
        if ex is not self.ex:
            self.attach(ex)

    def sigma(self, symbol: str, horizon: str = "1h") -> float | None:
        """The mark's σ over `horizon` ("1h", "8h", "24h"; a fraction), None before two samples.
        Volatility moves only when a step closes, inside the handoff: no catch-up needed (the
        account signals ask for it on the sequencer's listener path)."""
        self._follow()
        return self.markets[symbol].vol.sigma(HORIZONS[horizon], self.sample_ns)

    def rho(self, a: str, b: str) -> float:
        """The published correlation of two markets' mark returns (see correlation.py); like
        σ, it moves only when a step closes."""
        self._follow()
        return self.corr.rho(a, b)[0]

    def temperature(self, symbol: str) -> Temperature:
        """The market's leverage temperature now (see Temperature)."""
        self.current()
        m, rd = self.markets[symbol], self.rd
        m.flush_liq(rd)
        return self._temperature(m, rd.predicted_funding(symbol) / RATE_SCALE, m.near_share(rd.mark(symbol), 5))

    def _temperature(self, m: MarketSignals, funding: float, near5: float) -> Temperature:
        """score = 100 · Φ(mean of the parts' z-scores clipped to ±3); each part against its own
        minute history: predicted funding, open interest (lots), average leverage, the share of
        OI within 5 % of liquidation."""
        zs = (m.h_funding.z(funding), m.h_oi.z(float(m.long_lots)), m.h_lev.z(m.average_leverage()),
              m.h_near.z(near5))
        clipped = [max(-3.0, min(3.0, z)) for z in zs]
        return Temperature(100.0 * phi(sum(clipped) / len(clipped)), *zs)

    def market_risk(self, symbol: str, notional: float | None = None, full: bool = True) -> MarketRisk:
        """The market's figures now (KeyError for an unknown symbol). `notional`: the quote
        notional whose expected slippage to report (default: the configured one). `full=False`
        leaves the insurance stress and the liquidation map's buckets out (empty): their walks
        are the costly part of a read, and a per-step sample that charts neither skips them."""
        self.current()
        cfg, rd = self.cfg, self.rd
        m = self.markets[symbol]
        mark = rd.mark(symbol)
        m.flush_liq(rd)
        oi_lots, oi_notional = m.open_interest(mark)
        funding = rd.predicted_funding(symbol) / RATE_SCALE
        per_hour = 3_600 // cfg.history_sample_s

        def change(k: int) -> float | None:
            then = m.h_oi.ago(k)
            return None if not then else (oi_lots - then) / then * 100.0

        near = {p: m.near_share(mark, p) * 100.0 for p in NEAR_PCTS}
        temp = self._temperature(m, funding, near[5] / 100.0)
        vol = {h: m.vol.sigma(ns, self.sample_ns) for h, ns in HORIZONS.items()}
        vol["annual"] = m.vol.sigma(YEAR_NS, self.sample_ns)
        bids, asks = rd.book(symbol, MAX_LEVELS) if full or notional is not None else ([], [])
        execution = m.execution
        if notional is not None and notional != execution.notional:
            execution = measure(bids, asks, notional, m.quote)
            execution.alert, execution.alert_since_ns = m.execution.alert, m.execution.alert_since_ns
        stresses = []
        if mark and full:
            fund = rd.insurance(m.asset) / 10**m.spec.settle_decimals

            def loss(side: int, lots: int, bankruptcy: float, fill: float, spec=m.spec) -> float:
                return max(0.0, -pnl(spec, side * lots, bankruptcy, fill))

            for s in cfg.shocks_pct:
                stresses.append(stress(m.liqmap, mark, s, bids if s < 0 else asks, fund, m.notional, loss,
                                       lambda key, m=m: m.bankruptcy(rd, key)))
        spikes = m.spikes.active(self.ts)
        spike_lots = sum(sum(m.legs.get(f.account, (0, 0))) for f in spikes)
        total_lots = m.long_lots + m.short_lots
        spike_oi = spike_lots / total_lots * 100.0 if total_lots else 0.0
        corr = {o: self.corr.rho(symbol, o)[:2] for o in self.symbols if o != symbol}
        risk = MarketRisk(
            symbol=symbol, time_ns=self.ts, mark=mark, open_interest_lots=oi_lots, open_interest_notional=oi_notional,
            oi_change_1h_pct=change(per_hour), oi_change_24h_pct=change(24 * per_hour),
            predicted_funding_rate=funding, funding_z=temp.funding_z, long_accounts=m.long_accounts,
            short_accounts=m.short_accounts,
            long_short_ratio=m.long_accounts / m.short_accounts if m.short_accounts else None,
            average_leverage=m.average_leverage(), near_liquidation_pct=near, temperature=temp, volatility=vol,
            execution=execution, stress=stresses,
            buckets=m.liqmap.buckets(mark, cfg.bucket_pct, cfg.map_range_pct, m.notional) if mark and full else [],
            bucket_pct=cfg.bucket_pct, spike_accounts=len(spikes), spike_oi_pct=spike_oi, correlations=corr)
        risk.flags = market_flags(self.cfg, risk, spikes)
        return risk

    def account_flags(self, account: int) -> list:
        """The account's own active leverage-spike flags, per market (symbol, SpikeFlag)."""
        self.current()
        out = []
        for s in self.symbols:
            for f in self.markets[s].spikes.active(self.ts):
                if f.account == account:
                    out.append((s, f))
        return out
