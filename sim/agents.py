"""Agents: market makers, leveraged trader populations, noise takers, funding-sensitive traders,
static books and a group that spikes its leverage.

Each agent owns a block of accounts and its own numpy Generator (PCG64, a child of the run's
SeedSequence). It acts through `Context.submit(command) -> events` only, in engine units; floats
become ticks and lots in perpsim.sim.units. A refused command (a CommandRejected event) is
handled where it is sent: a quote the maker cannot afford ends that side's quoting for the step,
a trader that cannot afford to add stops adding, a reduce-only exit of a position that is
already gone marks the account closed.

Parameters are the keys of an agent's [[agents]] table in a scenario file; `PARAMS` of each
class lists them with their defaults and units.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from perpsim.engine import commands as C
from perpsim.model.enums import ConditionalKind, OrderKind, Side, TimeInForce, TriggerSource
from perpsim.model.reasons import RejectReason
from perpsim.risk.units import RATE_SCALE
from perpsim.sim import units
from perpsim.sim.context import Context, rejection
from perpsim.sim.dists import draw

BUY, SELL = Side.BUY, Side.SELL


class Agent:
    """Base: `setup` once before the first step, `step` every step. Subclasses declare PARAMS
    (name -> default); unknown keys in a scenario are an error."""

    kind: ClassVar[str] = ""
    PARAMS: ClassVar[dict[str, Any]] = {}

    def __init__(self, name: str, params: Mapping[str, Any], rng: np.random.Generator) -> None:
        unknown = set(params) - set(self.PARAMS)
        if unknown:
            raise ValueError(f"agent {name!r} ({self.kind}): unknown parameters {sorted(unknown)}")
        self.name, self.rng = name, rng
        self.p = {**self.PARAMS, **params}
        self.accounts: range = range(0)

    def setup(self, ctx: Context) -> None:
        """Called once before the first step (ctx.step 0): open the agent's accounts (ctx.new_accounts),
        fund them and place what it starts with."""
        raise NotImplementedError

    def step(self, ctx: Context) -> None:
        """Act once per step (ctx.step 1..steps), through ctx.submit."""
        raise NotImplementedError


class MarketMaker(Agent):
    """Makers quoting `levels` bids and asks around the index.

    half_spread_bps: distance of the first level from the centre; level_step_bps: between
    levels; size: base quantity at the first level, times `size_growth` per further level;
    skew_bps: the centre moves against inventory by this many bps at `max_inventory` (base
    units); vol_widen: bps of extra half-spread per bp of one-step index volatility (EWMA);
    crash_pct / crash_window_s / crash_depth: when the index fell (or rose) more than crash_pct
    percent within the window, quote only crash_depth of the size (0 pulls the quotes);
    basis_bps: the centre sits this far above (+) or below (-) the index (a premium makes
    funding); capital: deposit per account (settlement asset); requote_s: seconds between
    requotes; jitter_bps: spread of the makers' half-spreads around half_spread_bps.
    """

    kind = "market_maker"
    PARAMS: ClassVar[dict[str, Any]] = {
        "symbol": "BTCUSDT", "count": 1, "capital": 10_000_000.0, "leverage": 10, "levels": 10,
        "half_spread_bps": 2.0, "level_step_bps": 5.0, "size": 0.5, "size_growth": 1.2, "skew_bps": 10.0,
        "max_inventory": 50.0, "vol_widen": 1.0, "crash_pct": 3.0, "crash_window_s": 30.0, "crash_depth": 0.2,
        "basis_bps": 0.0, "requote_s": 1.0, "jitter_bps": 1.0,
    }

    def setup(self, ctx: Context) -> None:
        """Agent.setup: open `count` accounts, deposit `capital` in each and set `leverage`, then quote."""
        p = self.p
        spec = ctx.venue.markets[p["symbol"]]
        self.accounts = ctx.new_accounts(p["count"])
        self.offsets = self.rng.uniform(-p["jitter_bps"], p["jitter_bps"], p["count"])
        for a in self.accounts:
            ctx.submit(C.Deposit(ctx.ts, a, spec.settle, units.money(spec, p["capital"])))
            ctx.submit(C.SetLeverage(ctx.ts, a, p["symbol"], p["leverage"]))
        self.quote(ctx)

    def step(self, ctx: Context) -> None:
        """Agent.step: requote every max(1, round(requote_s / dt_s)) steps."""
        every = max(1, round(self.p["requote_s"] / ctx.dt_s))
        if ctx.step % every == 0:
            self.quote(ctx)

    def depth_factor(self, ctx: Context) -> float:
        """1, or crash_depth while the index moved more than crash_pct within the window."""
        p = self.p
        before = ctx.index_ago(p["symbol"], p["crash_window_s"])
        move = abs(ctx.index[p["symbol"]] / before - 1.0) * 100
        return p["crash_depth"] if move > p["crash_pct"] else 1.0

    def quote(self, ctx: Context) -> None:
        """Cancel each maker's orders and, unless a crash pulls them (crash_depth 0), place `levels` bids and
        asks around the index, skewed against inventory and widened by volatility; each side stops at its
        first refusal."""
        p, sym = self.p, self.p["symbol"]
        spec = ctx.venue.markets[sym]
        index = units.price_of(spec, ctx.index[sym])
        factor = self.depth_factor(ctx)
        half = p["half_spread_bps"] + p["vol_widen"] * ctx.vol_bps.get(sym, 0.0)
        for a, offset in zip(self.accounts, self.offsets, strict=True):
            ctx.submit(C.CancelAll(ctx.ts, a, sym))
            if factor <= 0:
                continue
            inventory = ctx.venue.position(a, sym) * float(spec.lot_size)
            skew = p["skew_bps"] * max(-1.0, min(1.0, inventory / p["max_inventory"]))
            centre = index * (1 + (p["basis_bps"] - skew) / 1e4)
            sides = []
            for side, sign in ((BUY, -1), (SELL, 1)):
                orders = []
                for level in range(p["levels"]):
                    bps = half + offset + level * p["level_step_bps"]
                    price = units.ticks(spec, centre * (1 + sign * max(bps, 0.5) / 1e4))
                    qty = units.lots(spec, p["size"] * p["size_growth"] ** level * factor)
                    if qty > 0:
                        orders.append(C.PlaceOrder(ctx.ts, a, sym, side, qty, price))
                sides.append(orders)
            # each side in order, ending at its first refusal (out of margin or band: stop quoting it this step)
            ctx.submit_groups(sides)


class LeveragedTraders(Agent):
    """A population of leveraged traders, all opened at the start at the opening index.

    count: accounts; leverage: distribution of integer leverage (e.g. uniform_int 20..50);
    long_fraction: share of longs (side bias); notional: distribution of position size in the
    quote currency; margin_buffer: collateral beyond the initial margin, as a fraction of it;
    isolated_fraction: share in isolated margin; stop_fraction / stop_pct: share with a stop-loss
    (STOP_MARKET on mark, closing the position) stop_pct percent from entry; exit_per_hour:
    rate of reduce-only market exits per account; adder_fraction / add_trigger_pct / add_size:
    share that adds add_size × its size once when the position is add_trigger_pct percent
    under water; counterparty_*: the well-capitalised accounts that take the imbalance at the
    start (leverage, collateral multiple of their initial margin, notional per account).
    """

    kind = "leveraged"
    PARAMS: ClassVar[dict[str, Any]] = {
        "symbol": "BTCUSDT", "count": 1000, "leverage": {"dist": "uniform_int", "low": 2, "high": 100},
        "long_fraction": 0.5, "notional": {"dist": "lognormal", "median": 2000.0, "sigma": 0.7},
        "margin_buffer": {"dist": "uniform", "low": 0.05, "high": 0.6}, "isolated_fraction": 0.3,
        "stop_fraction": 0.2, "stop_pct": {"dist": "uniform", "low": 2.0, "high": 6.0}, "exit_per_hour": 0.5,
        "adder_fraction": 0.1, "add_trigger_pct": 1.5, "add_size": 0.5,
        "counterparty_leverage": 5, "counterparty_collateral": 3.0, "counterparty_notional": 5_000_000.0,
    }

    def setup(self, ctx: Context) -> None:
        """Agent.setup: draw the population, fund each member and open it at the opening index (members
        crossing each other, counterparties taking the rest), then place the stop-losses."""
        p, sym, rng = self.p, self.p["symbol"], self.rng
        spec = ctx.venue.markets[sym]
        n = p["count"]
        self.accounts = ctx.new_accounts(n)
        p0 = ctx.index[sym]
        price = units.price_of(spec, p0)
        # every draw happens for every account, in a fixed order: the population is a pure
        # function of (parameters, seed) whatever the accounts do later
        lev = draw(p["leverage"], n, rng).astype(np.int64)
        self.long = rng.random(n) < p["long_fraction"]
        size = draw(p["notional"], n, rng)
        buffer = draw(p["margin_buffer"], n, rng)
        isolated = rng.random(n) < p["isolated_fraction"]
        stops = rng.random(n) < p["stop_fraction"]
        stop_pct = draw(p["stop_pct"], n, rng)
        self.adder = rng.random(n) < p["adder_fraction"]
        self.lots = np.array([units.lots_for_notional(spec, float(x), price) for x in size], dtype=np.int64)
        self.entry = np.full(n, p0, dtype=np.int64)
        self.open = np.ones(n, dtype=bool)
        self.added = np.zeros(n, dtype=bool)
        self.leverage = lev
        ctx.leverage_of.update(zip(self.accounts, lev.tolist(), strict=True))
        fee = 2 * max(float(spec.taker_fee), float(spec.maker_fee))
        # plain Python numbers for the per-account loop (numpy scalars are slow one at a time)
        rows = zip(self.accounts, self.lots.tolist(), lev.tolist(), buffer.tolist(), isolated.tolist(),
                   np.where(self.long, BUY, SELL).tolist(), strict=True)
        cmds: list = []
        orders: list[int] = []  # where each member's order is among cmds
        for a, lots, leverage, extra, iso, side in rows:
            value = units.notional(spec, lots, p0)
            # initial margin with its buffer, plus the fee reserve and a taker fee (an exit)
            collateral = value / leverage * (1 + extra) + value * fee
            cmds.append(C.Deposit(ctx.ts, a, spec.settle, units.money(spec, collateral)))
            if iso:
                cmds.append(C.SetMarginMode(ctx.ts, a, sym, True))
            cmds.append(C.SetLeverage(ctx.ts, a, sym, leverage))
            # resting at the opening price: longs and shorts of the population cross each other,
            # the counterparties sweep the rest in a few large orders (one fill per account)
            orders.append(len(cmds))
            cmds.append(C.PlaceOrder(ctx.ts, a, sym, side, lots, p0))
        # in this order, each on its own (groups of one): no member's commands wait on another's
        # answer, so a venue over gRPC takes them in a few calls
        sent = ctx.submit_groups([[c] for c in cmds])
        for i, at in enumerate(orders):
            if rejection(sent[at][0]):
                self.open[i] = False
        self._sweep_imbalance(ctx, p0)
        for i in np.flatnonzero(stops & self.open).tolist():
            a, sign = self.accounts[i], 1 if self.long[i] else -1
            trigger = units.ticks(spec, price * (1 - sign * stop_pct[i] / 100))
            ctx.submit(C.PlaceConditional(ctx.ts, a, sym, SELL if self.long[i] else BUY, 0,
                                          ConditionalKind.STOP_MARKET, trigger_price=trigger,
                                          source=TriggerSource.MARK, close_position=True))
        self.exit_prob = 1 - math.exp(-p["exit_per_hour"] * ctx.dt_s / 3600)

    def _sweep_imbalance(self, ctx: Context, p0: int) -> None:
        """Counterparty accounts fill whatever the population left resting at p0."""
        p, sym = self.p, self.p["symbol"]
        spec = ctx.venue.markets[sym]
        for side in (BUY, SELL):
            resting = sum(q for price, q in ctx.venue.depth(sym, side, 1) if price == p0)
            if not resting:
                continue
            value = units.notional(spec, resting, p0)
            count = max(1, math.ceil(value / p["counterparty_notional"]))
            accounts = ctx.new_accounts(count)
            share, extra = divmod(resting, count)
            for j, a in enumerate(accounts):
                lots = share + (j < extra)
                collateral = units.notional(spec, lots, p0) / p["counterparty_leverage"] * p["counterparty_collateral"]
                ctx.submit(C.Deposit(ctx.ts, a, spec.settle, units.money(spec, collateral)))
                ctx.submit(C.SetLeverage(ctx.ts, a, sym, p["counterparty_leverage"]))
                ctx.submit(C.PlaceOrder(ctx.ts, a, sym, SELL if side == BUY else BUY, lots, p0, tif=TimeInForce.IOC))

    def step(self, ctx: Context) -> None:
        """Agent.step: members exit at random (exit_per_hour) with reduce-only market orders; an adder adds
        add_size of its size once, when the mark is add_trigger_pct percent or more against its entry."""
        p, sym = self.p, self.p["symbol"]
        draws = self.rng.random(len(self.accounts))  # one draw per account per step, always
        for i in np.flatnonzero((draws < self.exit_prob) & self.open):
            self.close(ctx, int(i))
        mark = ctx.venue.mark(sym)
        if mark is None or not p["adder_fraction"]:
            return
        sign = np.where(self.long, 1, -1)
        loss_pct = sign * (mark - self.entry) / self.entry * 100
        for i in np.flatnonzero(self.adder & self.open & ~self.added & (loss_pct <= -p["add_trigger_pct"])):
            self.added[i] = True  # once, whether or not it can afford it
            a = self.accounts[i]
            if ctx.venue.position(a, sym) == 0:
                self.open[i] = False
                continue
            qty = max(1, int(self.lots[i] * p["add_size"]))
            ctx.submit(C.PlaceOrder(ctx.ts, a, sym, BUY if self.long[i] else SELL, qty, kind=OrderKind.MARKET,
                                    tif=TimeInForce.IOC))

    def close(self, ctx: Context, i: int) -> None:
        """A reduce-only market order for the whole position of member i (if it still has one)."""
        sym, a = self.p["symbol"], self.accounts[i]
        lots = ctx.venue.position(a, sym)
        if lots == 0:
            self.open[i] = False
            return
        events = ctx.submit(C.PlaceOrder(ctx.ts, a, sym, SELL if lots > 0 else BUY, abs(lots), kind=OrderKind.MARKET,
                                         tif=TimeInForce.IOC, reduce_only=True))
        r = rejection(events)
        if r is None or r.reason == RejectReason.REDUCE_ONLY_REJECTED:
            self.open[i] = ctx.venue.position(a, sym) != 0


class FundingTraders(LeveragedTraders):
    """Leveraged traders that close when carry gets expensive: a member paying funding closes
    its position (reduce-only market) once the last funding rate exceeds its threshold.

    funding_threshold: distribution of the threshold, a fraction per funding interval (0.0005 =
    0.05 %); the other parameters are those of `leveraged`."""

    kind = "funding"
    PARAMS: ClassVar[dict[str, Any]] = {**LeveragedTraders.PARAMS, "exit_per_hour": 0.0, "adder_fraction": 0.0,
                                        "funding_threshold": {"dist": "uniform", "low": 0.0002, "high": 0.002}}

    def setup(self, ctx: Context) -> None:
        """LeveragedTraders.setup, then draw each member's funding threshold."""
        super().setup(ctx)
        self.threshold = draw(self.p["funding_threshold"], len(self.accounts), self.rng)
        self.seen_rate = 0

    def step(self, ctx: Context) -> None:
        """LeveragedTraders.step; then, when the last funding rate has changed, close the positions of the
        members paying it whose threshold is below |rate|."""
        super().step(ctx)
        rate = ctx.venue.funding_rate(self.p["symbol"])
        if rate == self.seen_rate:
            return
        self.seen_rate = rate
        paying = self.long if rate > 0 else ~self.long
        for i in np.flatnonzero(paying & self.open & (self.threshold < abs(rate) / RATE_SCALE)):
            self.close(ctx, int(i))


class NoiseTakers(Agent):
    """Takers sending market orders of random side and size at random times.

    count: accounts; capital: deposit per account; leverage; orders_per_min: Poisson rate for
    the whole group; notional: distribution of order size (quote currency); max_notional: a
    member whose position is larger than this only reduces it."""

    kind = "noise"
    PARAMS: ClassVar[dict[str, Any]] = {
        "symbol": "BTCUSDT", "count": 20, "capital": 20_000.0, "leverage": 10, "orders_per_min": 30.0,
        "notional": {"dist": "lognormal", "median": 3000.0, "sigma": 0.8}, "max_notional": 50_000.0,
    }

    def setup(self, ctx: Context) -> None:
        """Agent.setup: open `count` accounts, deposit `capital` in each and set `leverage`."""
        p = self.p
        spec = ctx.venue.markets[p["symbol"]]
        self.accounts = ctx.new_accounts(p["count"])
        for a in self.accounts:
            ctx.submit(C.Deposit(ctx.ts, a, spec.settle, units.money(spec, p["capital"])))
            ctx.submit(C.SetLeverage(ctx.ts, a, p["symbol"], p["leverage"]))

    def step(self, ctx: Context) -> None:
        """Agent.step: Poisson(orders_per_min × dt_s / 60) IOC market orders of random member, side and
        notional; a member whose position is worth more than max_notional at the index reduces it instead."""
        p, sym = self.p, self.p["symbol"]
        spec = ctx.venue.markets[sym]
        n = int(self.rng.poisson(p["orders_per_min"] * ctx.dt_s / 60))
        who = self.rng.integers(0, len(self.accounts), n)
        buys = self.rng.random(n) < 0.5
        sizes = draw(p["notional"], n, self.rng)
        price = units.price_of(spec, ctx.index[sym])
        for k in range(n):
            a = self.accounts[int(who[k])]
            lots = units.lots_for_notional(spec, float(sizes[k]), price)
            held = ctx.venue.position(a, sym)
            reduce = units.notional(spec, held, ctx.index[sym]) > p["max_notional"]
            side = (SELL if held > 0 else BUY) if reduce else (BUY if buys[k] else SELL)
            ctx.submit(C.PlaceOrder(ctx.ts, a, sym, side, lots, kind=OrderKind.MARKET, tif=TimeInForce.IOC,
                                    reduce_only=reduce))


class StaticOrders(Agent):
    """One account resting fixed limit orders from the start (walls, stale bids, scripted
    books): orders = [["buy"|"sell", price, quantity], ...], prices and quantities as exact
    decimal strings (or numbers, rounded in perpsim.sim.units). Never requoted."""

    kind = "static"
    PARAMS: ClassVar[dict[str, Any]] = {"symbol": "BTCUSDT", "capital": 1_000_000.0, "leverage": 10, "orders": []}

    def setup(self, ctx: Context) -> None:
        """Agent.setup: one account, funded with `capital` at `leverage`, resting the `orders` as GTC limit
        orders."""
        p, sym = self.p, self.p["symbol"]
        spec = ctx.venue.markets[sym]
        (a,) = self.accounts = ctx.new_accounts(1)
        ctx.submit(C.Deposit(ctx.ts, a, spec.settle, units.money(spec, p["capital"])))
        ctx.submit(C.SetLeverage(ctx.ts, a, sym, p["leverage"]))
        for side, price, qty in p["orders"]:
            ticks = spec.price_to_ticks(price) if isinstance(price, str) else units.ticks(spec, price)
            lots = spec.qty_to_lots(qty) if isinstance(qty, str) else units.lots(spec, qty)
            ctx.submit(C.PlaceOrder(ctx.ts, a, sym, BUY if side == "buy" else SELL, lots, ticks))

    def step(self, ctx: Context) -> None:
        """Nothing: the orders are never requoted."""
        pass


class LeverageSpikers(Agent):
    """A group of cross-margin accounts that hold a calm position, then lever it up together.

    count: accounts; capital: deposit per account (settlement asset); max_leverage: the
    leverage setting (it bounds the initial margin of the spiked position); side: "long" or
    "short"; start_leverage: the position opened at setup, as notional / capital; spike_at_s /
    spike_over_s: from spike_at_s, each member adds at one step drawn uniformly among the steps
    of spike_over_s seconds (at least one), a market order for the notional that takes it to
    spike_leverage × capital at the index of that step (nothing when spike_leverage is not
    above start_leverage)."""

    kind = "leverage_spike"
    PARAMS: ClassVar[dict[str, Any]] = {
        "symbol": "BTCUSDT", "count": 20, "capital": 2_000.0, "max_leverage": 50, "side": "long",
        "start_leverage": 5.0, "spike_leverage": 40.0, "spike_at_s": 60.0, "spike_over_s": 3.0,
    }

    def setup(self, ctx: Context) -> None:
        """Agent.setup: fund each member at `max_leverage`, open its calm position (a market order for
        start_leverage × capital at the index) and draw its spike step."""
        p, sym = self.p, self.p["symbol"]
        if p["side"] not in ("long", "short"):
            raise ValueError(f"agent {self.name!r} (leverage_spike): side must be long or short, not {p['side']!r}")
        spec = ctx.venue.markets[sym]
        self.accounts = ctx.new_accounts(p["count"])
        self.side = BUY if p["side"] == "long" else SELL
        steps = max(1, round(p["spike_over_s"] / ctx.dt_s))
        first = round(p["spike_at_s"] / ctx.dt_s)
        self.spike_step = (first + self.rng.integers(0, steps, len(self.accounts))).tolist()
        price = units.price_of(spec, ctx.index[sym])
        for a in self.accounts:
            ctx.submit(C.Deposit(ctx.ts, a, spec.settle, units.money(spec, p["capital"])))
            ctx.submit(C.SetLeverage(ctx.ts, a, sym, p["max_leverage"]))
            lots = units.lots_for_notional(spec, p["capital"] * p["start_leverage"], price)
            ctx.submit(C.PlaceOrder(ctx.ts, a, sym, self.side, lots, kind=OrderKind.MARKET, tif=TimeInForce.IOC))

    def step(self, ctx: Context) -> None:
        """Agent.step: at its spike step, each member adds a market order for (spike_leverage −
        start_leverage) × capital of notional at the index; nothing when that is not above 0."""
        p, sym = self.p, self.p["symbol"]
        add = p["capital"] * (p["spike_leverage"] - p["start_leverage"])
        if add <= 0:
            return
        spec = ctx.venue.markets[sym]
        price = units.price_of(spec, ctx.index[sym])
        for a, at in zip(self.accounts, self.spike_step, strict=True):
            if at == ctx.step:
                lots = units.lots_for_notional(spec, add, price)
                ctx.submit(C.PlaceOrder(ctx.ts, a, sym, self.side, lots, kind=OrderKind.MARKET, tif=TimeInForce.IOC))


AGENTS: dict[str, type[Agent]] = {cls.kind: cls for cls in (MarketMaker, LeveragedTraders, FundingTraders,
                                                            NoiseTakers, StaticOrders, LeverageSpikers)}
