"""The account risk read model: the figures of venue.signals.account for one account's
positions, read from the exchange's public queries on request (never a scan of every account).

Volatility and correlation come from outside (the market signals): ``sigma_1h(symbol)`` gives a
market's σ of mark log returns over one hour (a fraction, None while unknown) and
``rho(symbol_a, symbol_b)`` their correlation. Liquidation prices are the venue's own: a
position's from ``Exchange.liquidation_price``, a resized one's from ``Exchange.preview_order``
(a reduce-only limit at the mark), so the nudge and the preview agree to the tick.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from perpsim.engine import commands as C
from perpsim.model.enums import OrderKind, Side, TimeInForce
from perpsim.venue.signals.account import (
    HORIZONS_NS,
    Distance,
    Nudge,
    Thresholds,
    Warning,
    clusters,
    correlation_warning,
    distance,
    exposure,
    k_sigma_warning,
    largest_within,
    sigma_over,
    size_down,
    within_k_sigma,
)


@dataclass(frozen=True, slots=True)
class PositionRisk:
    """One position: signed lots, mark and liquidation price (quote per base, exact; None: none),
    signed notional at mark (settlement asset), its distance and nudge (None without a
    liquidation price; the nudge also None without a volatility)."""

    symbol: str
    position_side: int
    lots: int
    mark: Fraction
    liquidation: Fraction | None
    notional: float
    distance: Distance | None
    nudge: Nudge | None


@dataclass(frozen=True, slots=True)
class AssetRisk:
    """One settlement asset: equity (cross margin balance + isolated margins and their uPnL),
    the cross margin ratio (maintenance / margin balance, None without margin balance), the
    correlation-adjusted exposure ``E``, the gross notional, ``E / equity`` and the clusters of
    the held markets linked by ``ρ > rho``."""

    asset: str
    equity: float
    margin_ratio: float | None
    exposure: float
    gross: float
    effective_leverage: float | None
    clusters: list[list[str]]


@dataclass(frozen=True, slots=True)
class AccountReport:
    thresholds: Thresholds
    positions: list[PositionRisk]
    assets: list[AssetRisk]
    warnings: list[Warning]


@dataclass(frozen=True, slots=True)
class OrderSignals:
    """What a preview adds for an order: the resulting position's distance, the largest order
    size (lots) keeping it within kσ (None: not applicable or unknown), and the warnings."""

    distance: Distance | None
    max_lots_within: int | None
    warnings: list[Warning]


class AccountRisk:
    def __init__(self, sigma_1h: Callable[[str], float | None], rho: Callable[[str, str], float],
                 defaults: Thresholds | None = None) -> None:
        self.sigma_1h, self.rho = sigma_1h, rho
        self.defaults = defaults or Thresholds()
        self._set: dict[int, Thresholds] = {}

    # ---------------------------------------------------------------- thresholds

    def thresholds(self, account: int) -> Thresholds:
        return self._set.get(account, self.defaults)

    def set_thresholds(self, account: int, t: Thresholds) -> None:
        """Set an account's thresholds (validate with ``Thresholds.problems`` first); the
        defaults forget the account's own."""
        if t == self.defaults:
            self._set.pop(account, None)
        else:
            self._set[account] = t

    def accounts(self) -> dict[int, Thresholds]:
        """The accounts with thresholds of their own."""
        return dict(self._set)

    # ---------------------------------------------------------------- one account

    def report(self, ex, account: int) -> AccountReport:
        t = self.thresholds(account)
        positions = self.positions(ex, account, t)
        assets = [self._asset(ex, account, asset, [p for p in positions if _asset(ex, p.symbol) == asset], t)
                  for asset in sorted({_asset(ex, p.symbol) for p in positions})]
        warnings = []
        for p in positions:
            z = p.distance.z(t.horizon_ns) if p.distance else None
            if z is not None and z < t.k:
                h = next(h for h in p.distance.horizons if h.horizon_ns == t.horizon_ns)
                warnings.append(k_sigma_warning(p.symbol, z, t, h.touch_probability))
        return AccountReport(t, positions, assets, warnings)

    def positions(self, ex, account: int, t: Thresholds | None = None) -> list[PositionRisk]:
        """Every position of the account, in market then side order."""
        t = t or self.thresholds(account)
        out = []
        for symbol, m in ex.markets.items():
            if m.mark is None:
                continue
            for pside, p in m.legs(account):
                out.append(self.position(ex, account, symbol, pside, p.lots, t))
        return out

    def position(self, ex, account: int, symbol: str, pside: int, lots: int, t: Thresholds) -> PositionRisk:
        """One position's figures (``lots``: its signed size now)."""
        m = ex.markets[symbol]
        mark = m.mark * m.tick
        lp = ex.liquidation_price(account, symbol, pside)
        sigma = self.sigma_1h(symbol)
        dist = nudge = None
        if lp is not None and lp.price > 0:
            dist = distance(lots > 0, float(mark), float(lp.price), sigma, _horizons(t))
            if sigma:
                nudge = size_down(lots, float(mark), sigma_over(sigma, t.horizon_ns), t.k,
                                  lambda q: self._resized(ex, account, symbol, pside, lots, q))
        return PositionRisk(symbol, pside, lots, mark, lp.price if lp else None,
                            _signed_notional(m, lots), dist, nudge)

    def _resized(self, ex, account: int, symbol: str, pside: int, lots: int, q: int) -> float | None:
        """The liquidation price of the position reduced to ``q`` lots by a reduce-only limit at
        the mark (the preview's own solver)."""
        if q == abs(lots):
            lp = ex.liquidation_price(account, symbol, pside)
            return float(lp.price) if lp is not None else None
        m = ex.markets[symbol]
        cmd = C.PlaceOrder(ex.ts, account, symbol, Side.SELL if lots > 0 else Side.BUY, abs(lots) - q, m.mark,
                           OrderKind.LIMIT, TimeInForce.GTC, reduce_only=True, position_side=pside)
        price = ex.preview_order(cmd)["liquidation_price"]
        return float(price) if price is not None else None

    def _asset(self, ex, account: int, asset: str, positions: list[PositionRisk], t: Thresholds) -> AssetRisk:
        names, e = _net(positions)
        rho = self._matrix(names)
        equity = equity_of(ex, account, asset)
        balance, mm = ex.margin_balance(account, asset), ex.maintenance(account, asset)
        big_e = exposure(e, rho)
        return AssetRisk(asset, equity, (mm / balance) if balance > 0 else None, big_e,
                         sum(abs(x) for x in e) if e else 0.0, big_e / equity if equity > 0 else None,
                         clusters(names, rho, t.rho))

    def _matrix(self, names: list[str]) -> Callable[[int, int], float]:
        cache: dict[tuple[int, int], float] = {}

        def rho(i: int, j: int) -> float:
            if i == j:
                return 1.0
            key = (min(i, j), max(i, j))
            if key not in cache:
                cache[key] = self.rho(names[key[0]], names[key[1]])
            return cache[key]

        return rho

    # ---------------------------------------------------------------- an order

    def order(self, ex, cmd: C.PlaceOrder, preview: dict | None = None, nudge: bool = True) -> OrderSignals:
        """The signals of an order before it is placed (``preview``: Exchange.preview_order(cmd)
        if already computed; ``nudge``: also search the largest size within kσ, about 20 more
        previews)."""
        t = self.thresholds(cmd.account)
        m = ex.markets[cmd.symbol]
        if m.mark is None:
            return OrderSignals(None, None, [])
        preview = preview if preview is not None else ex.preview_order(cmd)
        mark, sigma = float(m.mark * m.tick), self.sigma_1h(cmd.symbol)
        after, lp = preview["lots"], preview["liquidation_price"]
        dist = distance(after > 0, mark, float(lp), sigma, _horizons(t)) if after and lp is not None and lp > 0 \
            else None
        warnings, best = [], None
        if sigma and not cmd.reduce_only:
            sigma_h = sigma_over(sigma, t.horizon_ns)
            z = dist.z(t.horizon_ns) if dist else None
            if z is not None and z < t.k:
                h = next(h for h in dist.horizons if h.horizon_ns == t.horizon_ns)
                warnings.append(k_sigma_warning(cmd.symbol, z, t, h.touch_probability))
            if nudge:
                def ok(q: int) -> bool:
                    if q == 0:
                        return True
                    r = ex.preview_order(dataclasses.replace(cmd, qty=q))
                    return r["lots"] == 0 or within_k_sigma(r["lots"] > 0, mark, _f(r["liquidation_price"]), sigma_h,
                                                            t.k)

                best = largest_within(0, max(cmd.qty, m.spec.qty_to_lots(m.spec.max_qty)), ok)
        w = self._correlation(ex, cmd, preview["lots"], t)
        if w is not None:
            warnings.append(w)
        return OrderSignals(dist, best, warnings)

    def order_correlation(self, ex, cmd: C.PlaceOrder) -> Warning | None:
        """The correlation warning of an order about to be placed, as the preview gives it (the
        order filled in full), with the resulting size by arithmetic instead of a preview: cheap
        enough for every order. None for a reduce-only order."""
        if cmd.reduce_only or ex.markets[cmd.symbol].mark is None:
            return None
        before = ex.position(cmd.account, cmd.symbol, cmd.position_side).lots
        after = before + (cmd.qty if cmd.side == Side.BUY else -cmd.qty)
        return self._correlation(ex, cmd, after, self.thresholds(cmd.account))

    def market_warnings(self, ex, account: int, symbol: str) -> list[Warning]:
        """The kσ warnings of the account's legs in one market as they stand."""
        t = self.thresholds(account)
        below = self.below_k(ex, account, symbol)
        return [k_sigma_warning(symbol, z, t, touch) for (_, _), (z, touch) in sorted(below.items())]

    def _correlation(self, ex, cmd: C.PlaceOrder, after_lots: int, t: Thresholds) -> Warning | None:
        asset = _asset(ex, cmd.symbol)
        held = [p for p in self.positions_light(ex, cmd.account) if _asset(ex, p[0]) == asset]
        names = sorted({s for s, _ in held} | {cmd.symbol})
        e = [sum(n for s, n in held if s == name) for name in names]
        m = ex.markets[cmd.symbol]
        before = ex.position(cmd.account, cmd.symbol, cmd.position_side).lots
        delta = [0.0] * len(names)
        delta[names.index(cmd.symbol)] = _signed_notional(m, after_lots) - _signed_notional(m, before)
        return correlation_warning(names, e, delta, self._matrix(names), equity_of(ex, cmd.account, asset), t)

    def positions_light(self, ex, account: int) -> list[tuple[str, float]]:
        """(symbol, signed notional at mark) of every leg: no liquidation prices solved."""
        return [(symbol, _signed_notional(m, p.lots)) for symbol, m in ex.markets.items() if m.mark is not None
                for _, p in m.legs(account)]

    # ---------------------------------------------------------------- alerts

    def below_k(self, ex, account: int, only: str = "") -> dict[tuple[str, int], tuple[float, float]]:
        """The account's positions (in market `only`, or all) closer than kσ over its horizon:
        (symbol, position side) -> (z, chance of touching). One liquidation price per position."""
        t = self.thresholds(account)
        out = {}
        for symbol, m in ex.markets.items():
            if only and symbol != only:
                continue
            sigma = self.sigma_1h(symbol) if m.mark is not None else None
            if not sigma:
                continue
            for pside, p in m.legs(account):
                lp = ex.liquidation_price(account, symbol, pside)
                if lp is None or lp.price <= 0:
                    continue
                d = distance(p.lots > 0, float(m.mark * m.tick), float(lp.price), sigma, (t.horizon_ns,))
                h = d.horizons[0]
                if h.z < t.k:
                    out[(symbol, pside)] = (h.z, h.touch_probability)
        return out


def equity_of(ex, account: int, asset: str) -> float:
    """Equity in ``asset`` (a float in the asset's unit): the cross margin balance plus every
    isolated position's margin and uPnL."""
    units = ex.margin_balance(account, asset)
    for symbol, m in ex.markets.items():
        if m.asset == asset and account in m.isolated and m.mark is not None:
            for pside, p in m.legs(account):
                units += ex.isolated_margin(account, symbol, pside) + m.upnl(p)
    return units / _scale(ex, asset)


def _net(positions: list[PositionRisk]) -> tuple[list[str], list[float]]:
    """Markets held (sorted) and the signed notional of each (hedge legs netted)."""
    names = sorted({p.symbol for p in positions})
    return names, [sum(p.notional for p in positions if p.symbol == n) for n in names]


def _signed_notional(m, lots: int) -> float:
    """Signed notional at mark in the settlement asset (a float of asset units)."""
    if not lots or m.mark is None:
        return 0.0
    value = m.value(abs(lots), m.mark) / 10**m.spec.settle_decimals
    return float(value) if lots > 0 else -float(value)


def _asset(ex, symbol: str) -> str:
    return ex.markets[symbol].asset


def _scale(ex, asset: str) -> int:
    return next(10**m.spec.settle_decimals for m in ex.markets.values() if m.asset == asset)


def _horizons(t: Thresholds) -> tuple[int, ...]:
    """The reported horizons plus the account's own."""
    return tuple(sorted({*HORIZONS_NS, t.horizon_ns}))


def _f(x) -> float | None:
    return None if x is None else float(x)

