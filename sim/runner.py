"""Run a scenario: build the venue, set the agents up, step the clock, collect metrics.

The loop, per step of `step_s` simulated seconds (timestamps in integer ns):

  1. the clock moves to step × step_s; each market's index is set (SetIndexPrice) to the feed's
     exogenous price × the impact-coupling factor, converted to ticks in perpsim.sim.units;
     time-driven work (funding, basis samples) happens in the engine on that command;
  2. every agent acts, in the scenario's order (each with its own Generator);
  3. the coupling factor takes the step's last trade price in; metrics sample the step.

Determinism: every random draw comes from a child of numpy's SeedSequence(seed) (one per feed,
in symbol order, then one per agent, in file order) and the engine is a pure function of its
commands, so a scenario and seed give the same event stream (`event_hash`: BLAKE2b over
every command's events as `engine.records.encode` writes them) and the same report
(`report_hash`) in any process or machine.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from perpsim.engine import commands as C
from perpsim.engine.exchange import Exchange
from perpsim.engine.records import encode as encode_records
from perpsim.engine.views import ExchangeView
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import market_brackets
from perpsim.risk.funding import FundingConfig
from perpsim.risk.profiles import PROFILES, market_under
from perpsim.risk.units import rate
from perpsim.sim import units
from perpsim.sim.agents import AGENTS, Agent
from perpsim.sim.context import Context, rejection
from perpsim.sim.feeds import ImpactCoupling, feed_from_table
from perpsim.sim.metrics import Metrics
from perpsim.sim.scenario import Scenario
from perpsim.sim.venues import InProcessVenue, SimVenue

NS = 10**9
_VOL_DECAY = 0.9  # EWMA weight of the previous volatility estimate, per step


@dataclass
class RunResult:
    """Everything a report needs, as plain data (it crosses process and cluster boundaries).

    summary: headline metrics (perpsim.sim.metrics); series: per-step samples, floats in the
    quote currency; liquidations / adl: one row per event; event_hash / state_hash: of the
    engine's events and final state (in-process; "" over gRPC); report_hash: of all of the
    above except the sweep parameters and the timings (wall-clock seconds of setup and steps)."""

    scenario: str
    seed: int
    params: dict
    steps: int
    step_s: float
    summary: dict
    series: dict
    liquidations: list
    adl: list
    event_hash: str
    state_hash: str
    events: int
    conservation: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    report_hash: str = ""

    def hashed_part(self) -> dict:
        """What the report hash covers: the results, not how the run was invoked or timed."""
        # the fields are plain data (numbers, strings, lists, dicts): a shallow view serialises
        # as asdict's deep copy would, without copying a row per liquidation
        skip = ("timings", "report_hash", "params")
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}


def build_exchange(scenario: Scenario) -> Exchange:
    """The in-process engine of a scenario: its markets (default specs), default brackets,
    venue profile and funding rules, starting at ts 0."""
    venue = scenario.data["venue"]
    specs = default_markets()
    profile = PROFILES[venue.get("profile", "binance")]
    markets = {s: market_under(profile, specs[s]) for s in venue.get("markets", ["BTCUSDT"])}  # its tiers, fees
    brackets = {s: market_brackets(m) for s, m in markets.items()}
    interval = int(float(venue.get("funding_interval_h", 8)) * 3600) * NS
    cap = venue.get("funding_cap")
    funding = {s: FundingConfig(interval_ns=interval, cap=rate(str(cap)) if cap is not None else None,
                                floor=-rate(str(cap)) if cap is not None else None) for s in markets}
    return Exchange(markets, brackets, profile=profile, start_ts=0,
                    funding=funding)


@contextlib.contextmanager
def _collector_paused():
    """The cyclic garbage collector off for the run (its final checks and result included), as it
    was before afterwards. The run builds a population that lives to its end (100k accounts are
    millions of objects) and a cascade's command returns a million events at once: every full
    collection would rescan all of it, the risk signals' read models too, while the engine makes
    next to no reference cycles (reference counting frees the rest)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class Run:
    """One scenario run against a venue (in-process unless one is given)."""

    def __init__(self, scenario: Scenario, seed: int | None = None, venue: SimVenue | None = None,
                 hash_events: bool = True, signals: bool = True) -> None:
        """`signals`: in process, feed the venue's risk signals and sample them each step
        (perpsim.sim.risk_series); a venue over gRPC reports its own."""
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self.exchange: Exchange | None = None
        self.venue: SimVenue
        if venue is None:  # in process
            self.exchange = exchange = build_exchange(scenario)
            self.venue = InProcessVenue(exchange, signals)
            self.markets = dict(self.venue.markets)
        else:
            self.venue = venue
            self.markets = {s: default_markets()[s] for s in scenario.data["venue"].get("markets", ["BTCUSDT"])}
        self.steps, self.dt_s = scenario.steps, scenario.step_s
        self.dt_ns = round(self.dt_s * NS)
        self._hash = hashlib.blake2b(digest_size=16) if hash_events else None
        self.n_events = 0
        self.engine_s = 0.0  # wall time inside venue.submit: the rest of a run is the simulator's own
        self.deposited: dict[str, int] = {}
        self.ctx = Context(self.venue, self.submit, self.dt_s)
        if hasattr(self.venue, "submit_groups"):  # over gRPC: a group of orders in one call
            self.ctx.send_groups = self.submit_groups
        self.metrics = Metrics(self.markets, self.ctx.leverage_of)
        children = np.random.SeedSequence(self.seed).spawn(len(self.markets) + len(scenario.data["agents"]))
        feeds = scenario.data["feed"]
        self.paths, self.coupling = {}, {}
        for child, symbol in zip(children, sorted(self.markets), strict=False):
            table = feeds[symbol]
            feed = feed_from_table(table, None if scenario.base_dir is None else Path(scenario.base_dir))
            self.paths[symbol] = feed.path(self.steps, self.dt_s, np.random.Generator(np.random.PCG64(child)))
            self.coupling[symbol] = ImpactCoupling(table.get("impact_coupling", 0.0), table.get("impact_decay", 0.05))
        self.agents: list[Agent] = []
        for child, table in zip(children[len(self.markets):], scenario.data["agents"], strict=True):
            params = {k: v for k, v in table.items() if k not in ("kind", "name")}
            rng = np.random.Generator(np.random.PCG64(child))
            self.agents.append(AGENTS[table["kind"]](table.get("name", table["kind"]), params, rng))

    def submit(self, cmd) -> list:
        """Send one command; its events go to the metrics and the event hash."""
        t0 = time.perf_counter()
        events = self.venue.submit(cmd)
        self.engine_s += time.perf_counter() - t0
        self._record(cmd, events)
        return events

    def submit_groups(self, groups: list[list]) -> list[list[list]]:
        """Send groups of commands through the venue's `submit_groups` (perpsim.sim.context.Context
        .submit_groups: each group in order, ending at its first refusal); every sent command's
        events go to the metrics and the event hash, in order."""
        t0 = time.perf_counter()
        sent = self.venue.submit_groups(groups)  # type: ignore[attr-defined]
        self.engine_s += time.perf_counter() - t0
        for group, results in zip(groups, sent, strict=True):
            for cmd, events in zip(group, results, strict=False):  # a group's sent commands come first
                self._record(cmd, events)
        return sent

    def _record(self, cmd, events: list) -> None:
        self.n_events += len(events)
        if self._hash is not None:
            self._hash.update(encode_records(events))
        self.metrics.observe(events)
        if type(cmd) in (C.Deposit, C.FundInsurance) and rejection(events) is None:
            self.deposited[cmd.asset] = self.deposited.get(cmd.asset, 0) + cmd.amount

    def _set_index(self, step: int) -> None:
        ctx = self.ctx
        for symbol in sorted(self.markets):
            spec = self.markets[symbol]
            tick = units.ticks(spec, float(self.paths[symbol][step]) * self.coupling[symbol].factor)
            self.submit(C.SetIndexPrice(ctx.ts, symbol, tick))
            prev = ctx.index.get(symbol)
            ctx.index[symbol] = tick
            ctx.index_history.setdefault(symbol, []).append(tick)
            if prev:
                move = abs(math.log(tick / prev)) * 1e4
                ctx.vol_bps[symbol] = _VOL_DECAY * ctx.vol_bps.get(symbol, move) + (1 - _VOL_DECAY) * move

    def setup(self) -> None:
        """Step 0: opening index, insurance fund, then each agent's setup."""
        ctx = self.ctx
        self._set_index(0)
        for asset, amount in sorted(self.scenario.data["venue"].get("insurance_fund", {}).items()):
            spec = next(m for m in self.markets.values() if m.settle == asset)
            if units.money_exact(spec, amount) > 0:
                self.submit(C.FundInsurance(ctx.ts, asset, units.money_exact(spec, amount)))
        for agent in self.agents:
            agent.setup(ctx)
        self._sample()

    def _sample(self) -> None:
        exo = {s: float(self.paths[s][self.ctx.step]) for s in self.markets}
        prefetch = getattr(self.venue, "prefetch", None)
        if prefetch is not None:  # over gRPC: the sample's reads made together
            prefetch(sorted(self.markets))
        self.metrics.sample(self.venue, dict(self.ctx.index), exo)

    def step(self, step: int) -> None:
        """Run step `step` (1..steps) at ts = step × dt_ns: set the index, let each agent act, feed the last
        price into the index coupling, then sample the metrics."""
        ctx = self.ctx
        ctx.step, ctx.ts = step, step * self.dt_ns
        self.metrics.begin_step(step, self.venue)
        self._set_index(step)
        for agent in self.agents:
            agent.step(ctx)
        prefetch = getattr(self.venue, "prefetch", None)
        if prefetch is not None and any(c.coupling for c in self.coupling.values()):
            prefetch(sorted(self.markets))  # over gRPC: the sample's reads now, the coupling's last price among them
        for symbol, c in self.coupling.items():
            if c.coupling:
                last = self.venue.last(symbol)
                spec = self.markets[symbol]
                c.update(None if last is None else units.price_of(spec, last), units.price_of(spec, ctx.index[symbol]))
        self._sample()

    def check(self) -> dict:
        """In-process: the engine's integrity (conservation, pools, indexes) and the ledger
        identity against what this run deposited. Raises AssertionError on a violation."""
        if self.exchange is None:
            return {}
        self.exchange.check_integrity()
        view = ExchangeView(self.exchange)
        out = {}
        for asset, amount in sorted(self.deposited.items()):
            flows = view.flows(asset)
            if flows.deposited != amount:
                raise AssertionError(f"{asset}: the ledger saw {flows.deposited} deposited, the run {amount}")
            out[asset] = {"deposited": amount, "withdrawn": flows.withdrawn, "insurance": flows.insurance}
        return out

    def run(self, check_every: int | None = None, progress: Callable[[int, int], None] | None = None) -> RunResult:
        """Setup, every step, the final checks; the result. `check_every` (steps; default the
        scenario's) runs the integrity check during the run too."""
        every = self.scenario.data.get("check_every", 0) if check_every is None else check_every
        t0 = time.perf_counter()
        with _collector_paused():
            self.setup()
            t1 = time.perf_counter()
            for step in range(1, self.steps + 1):
                self.step(step)
                if every and step % every == 0:
                    self.check()
                if progress is not None:
                    progress(step, self.steps)
            t2 = time.perf_counter()
            conservation = self.check()
            # engine_s: inside Exchange.apply only; signals_s: feeding and reading the risk signals
            signals_s = getattr(self.venue, "signals_s", 0.0)
            in_submit = getattr(self.venue, "signals_submit_s", 0.0)
            return self._result(conservation, {"setup_s": t1 - t0, "steps_s": t2 - t1,
                                               "check_s": time.perf_counter() - t2,
                                               "engine_s": self.engine_s - in_submit, "signals_s": signals_s})

    def _result(self, conservation: dict, timings: dict) -> RunResult:
        m = self.metrics
        series: dict = {"t_s": [st * self.dt_s for st in m.steps], "insurance": {}}
        for asset, path in m.insurance.items():
            spec = next(s for s in self.markets.values() if s.settle == asset)
            series["insurance"][asset] = [x / 10**spec.settle_decimals for x in path]
        liq_by_step: dict[tuple[str, int], float] = {}
        for row in m.liquidations:
            spec = self.markets[row[1]]
            key = (row[1], row[0])
            liq_by_step[key] = liq_by_step.get(key, 0.0) + units.notional(spec, row[4], row[5])
        for s, spec in self.markets.items():
            ser = m.series[s]
            tick, lot = float(spec.tick_size), float(spec.lot_size)
            series[s] = {
                "index": [x * tick for x in ser.index], "exogenous": ser.exogenous,
                "mark": [x * tick for x in ser.mark], "last": [x * tick for x in ser.last],
                "bid": [x * tick for x in ser.bid], "ask": [x * tick for x in ser.ask],
                "depth_bid": [x * lot for x in ser.depth_bid], "depth_ask": [x * lot for x in ser.depth_ask],
                "open_interest": [x * lot for x in ser.open_interest],
                "funding_rate": [x / 10**8 for x in ser.funding_rate],
                "predicted_funding_rate": [x / 10**8 for x in ser.predicted_funding_rate],
                "liquidated_notional": [liq_by_step.get((s, st), 0.0) for st in m.steps],
                **ser.risk.out(),
            }
        rounds = m.rounds()
        result = RunResult(
            scenario=self.scenario.name, seed=self.seed, params={}, steps=self.steps, step_s=self.dt_s,
            summary=m.summary(), series=series,
            liquidations=[[*row, rd, self.ctx.leverage_of.get(row[2], 0)] for row, rd in
                          zip(m.liquidations, rounds, strict=True)],
            adl=[list(a) for a in m.adl], event_hash=self._hash.hexdigest() if self._hash else "",
            state_hash=self.exchange.state_hash() if self.exchange is not None else "", events=self.n_events,
            conservation=conservation, timings=timings)
        result.report_hash = report_hash(result)
        return result


def report_hash(result: RunResult) -> str:
    """BLAKE2b of the result's canonical JSON (everything but the timings)."""
    text = json.dumps(result.hashed_part(), sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def run(scenario: Scenario, seed: int | None = None, *, venue: SimVenue | None = None, hash_events: bool = True,
        check_every: int | None = None, progress: Callable[[int, int], None] | None = None,
        signals: bool = True) -> RunResult:
    """Run a scenario (in-process unless `venue` is given) and return its result."""
    return Run(scenario, seed, venue, hash_events, signals).run(check_every, progress)
