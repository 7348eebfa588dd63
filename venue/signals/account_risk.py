"""The account risk read model: the figures of venue.signals.account for one account's
positions, read through the engine's read API (``ExchangeView``) on request (never a scan of every account).

Volatility and correlation come from outside (the market signals): ``sigma_1h(symbol)`` gives a
market's σ of mark log returns over one hour (a fraction, None while unknown) and
``rho(symbol_a, symbol_b)`` their correlation. Liquidation prices are the venue's own: a
position's from ``ExchangeView.liquidation_price``, a resized one's from ``ExchangeView.preview_order``
(a reduce-only limit at the mark), so the nudge and the preview agree to the tick.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from perpsim.engine import commands as C
from perpsim.engine.views import ExchangeView
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
    """One account's risk as it stands: the thresholds applied, every position's figures (market
    then side order), per settlement asset its exposure figures, and a kσ warning for each
    position closer than ``k`` σ over the thresholds' horizon."""

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
    """The account risk read model: each account's thresholds (the defaults unless set) and, on
    request, the figures of its positions and assets or of an order before it is placed.
    ``sigma_1h(symbol)``: σ of mark log returns over 1h, a fraction; ``rho(a, b)``: correlation."""

    def __init__(self, sigma_1h: Callable[[str], float | None], rho: Callable[[str, str], float],
                 defaults: Thresholds | None = None) -> None:
        self.sigma_1h, self.rho = sigma_1h, rho
        self.defaults = defaults or Thresholds()
        self._set: dict[int, Thresholds] = {}

    # ---------------------------------------------------------------- thresholds

    def thresholds(self, account: int) -> Thresholds:
        """The account's thresholds: its own when set, else the defaults."""
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

    def report(self, view: ExchangeView, account: int) -> AccountReport:
        """The account's risk now: its thresholds, every position in a market with a mark, the figures of each
        settlement asset they are in, and a k σ warning for each position closer than k σ over the horizon."""
        t = self.thresholds(account)
        positions = self.positions(view, account, t)
        assets = [self._asset(view, account, asset, [p for p in positions if _asset(view, p.symbol) == asset], t)
                  for asset in sorted({_asset(view, p.symbol) for p in positions})]
        warnings = []
        for p in positions:
            d = p.distance
            z = d.z(t.horizon_ns) if d else None
            if d is not None and z is not None and z < t.k:
                h = next(h for h in d.horizons if h.horizon_ns == t.horizon_ns)
                warnings.append(k_sigma_warning(p.symbol, z, t, h.touch_probability))
        return AccountReport(t, positions, assets, warnings)

    def positions(self, view: ExchangeView, account: int, t: Thresholds | None = None) -> list[PositionRisk]:
        """Every position of the account, in market then side order."""
        t = t or self.thresholds(account)
        out = []
        for symbol in view.symbols():
            if view.mark(symbol) is None:
                continue
            for pside, lots in view.legs(account, symbol):
                out.append(self.position(view, account, symbol, pside, lots, t))
        return out

    def position(self, view: ExchangeView, account: int, symbol: str, pside: int, lots: int,
                 t: Thresholds) -> PositionRisk:
        """One position's figures (``lots``: its signed size now)."""
        mark = _mark_price(view, symbol)
        lp = _liquidation_price(view, account, symbol, pside)
        sigma = self.sigma_1h(symbol)
        dist = nudge = None
        if lp is not None and lp > 0:
            dist = distance(lots > 0, float(mark), float(lp), sigma, _horizons(t))
            if sigma:
                nudge = size_down(lots, float(mark), sigma_over(sigma, t.horizon_ns), t.k,
                                  lambda q: self._resized(view, account, symbol, pside, lots, q))
        return PositionRisk(symbol, pside, lots, mark, lp, _signed_notional(view, symbol, lots), dist, nudge)

    def _resized(self, view: ExchangeView, account: int, symbol: str, pside: int, lots: int, q: int) -> float | None:
        """The liquidation price of the position reduced to ``q`` lots by a reduce-only limit at
        the mark (the preview's own solver)."""
        if q == abs(lots):
            lp = _liquidation_price(view, account, symbol, pside)
            return float(lp) if lp is not None else None
        mark = view.mark(symbol)
        assert mark is not None  # a position's figures are read only once the market has a mark
        cmd = C.PlaceOrder(view.ts, account, symbol, Side.SELL if lots > 0 else Side.BUY, abs(lots) - q, mark,
                           OrderKind.LIMIT, TimeInForce.GTC, reduce_only=True, position_side=pside)
        price = view.preview_order(cmd)["liquidation_price"]
        return float(price) if price is not None else None

    def _asset(self, view: ExchangeView, account: int, asset: str, positions: list[PositionRisk],
               t: Thresholds) -> AssetRisk:
        names, e = _net(positions)
        rho = self._matrix(names)
        equity = equity_of(view, account, asset)
        b = view.balance(account, asset)
        balance, mm = b.margin_balance, b.maintenance_margin
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

    def order(self, view: ExchangeView, cmd: C.PlaceOrder, preview: dict | None = None,
              nudge: bool = True) -> OrderSignals:
        """The signals of an order before it is placed (``preview``: ExchangeView.preview_order(cmd)
        if already computed; ``nudge``: also search the largest size within kσ, about 20 more
        previews)."""
        t = self.thresholds(cmd.account)
        if view.mark(cmd.symbol) is None:
            return OrderSignals(None, None, [])
        preview = preview if preview is not None else view.preview_order(cmd)
        mark, sigma = float(_mark_price(view, cmd.symbol)), self.sigma_1h(cmd.symbol)
        after, lp = preview["lots"], preview["liquidation_price"]
        dist = distance(after > 0, mark, float(lp), sigma, _horizons(t)) if after and lp is not None and lp > 0 \
            else None
        warnings, best = [], None
        if sigma and not cmd.reduce_only:
            sigma_h = sigma_over(sigma, t.horizon_ns)
            z = dist.z(t.horizon_ns) if dist else None
            if dist is not None and z is not None and z < t.k:
                h = next(h for h in dist.horizons if h.horizon_ns == t.horizon_ns)
                warnings.append(k_sigma_warning(cmd.symbol, z, t, h.touch_probability))
            if nudge:
                def ok(q: int) -> bool:
                    if q == 0:
                        return True
                    r = view.preview_order(dataclasses.replace(cmd, qty=q))
                    return r["lots"] == 0 or within_k_sigma(r["lots"] > 0, mark, _f(r["liquidation_price"]), sigma_h,
                                                            t.k)

                spec = view.spec(cmd.symbol)
                best = largest_within(0, max(cmd.qty, spec.qty_to_lots(spec.max_qty)), ok)
        w = self._correlation(view, cmd, preview["lots"], t)
        if w is not None:
            warnings.append(w)
        return OrderSignals(dist, best, warnings)

    def order_correlation(self, view: ExchangeView, cmd: C.PlaceOrder) -> Warning | None:
        """The correlation warning of an order about to be placed, as the preview gives it (the
        order filled in full), with the resulting size by arithmetic instead of a preview: cheap
        enough for every order. None for a reduce-only order."""
        if cmd.reduce_only or view.mark(cmd.symbol) is None:
            return None
        before = view.position_lots(cmd.account, cmd.symbol, cmd.position_side)
        after = before + (cmd.qty if cmd.side == Side.BUY else -cmd.qty)
        return self._correlation(view, cmd, after, self.thresholds(cmd.account), before)

    def market_warnings(self, view: ExchangeView, account: int, symbol: str) -> list[Warning]:
        """The kσ warnings of the account's legs in one market as they stand."""
        t = self.thresholds(account)
        below = self.below_k(view, account, symbol)
        return [k_sigma_warning(symbol, z, t, touch) for (_, _), (z, touch) in sorted(below.items())]

    def _correlation(self, view: ExchangeView, cmd: C.PlaceOrder, after_lots: int, t: Thresholds,
                     before: int | None = None) -> Warning | None:
        """`before`: the order's leg's signed lots now (read here when not given)."""
        symbol, account = cmd.symbol, cmd.account
        spec = view.spec(symbol)
        asset = spec.settle
        held = self.positions_light(view, account, asset)
        if not any(n for _, n in held):
            # no exposure held in the asset: the order's has nothing to correlate with (ρ
            # undefined), so correlation_warning gives None; its figures are not worked out
            return None
        names = sorted({s for s, _ in held} | {symbol})
        e = [sum(n for s, n in held if s == name) for name in names]
        if before is None:
            before = view.position_lots(account, symbol, cmd.position_side)
        delta = [0.0] * len(names)
        delta[names.index(symbol)] = _signed_notional(view, symbol, after_lots) - _signed_notional(view, symbol, before)
        # the equity (a walk of the account's markets) only once the warning is about to fire
        return correlation_warning(names, e, delta, self._matrix(names),
                                   lambda: equity_of(view, account, asset, 10**spec.settle_decimals), t)

    def positions_light(self, view: ExchangeView, account: int, asset: str = "") -> list[tuple[str, float]]:
        """(symbol, signed notional at mark) of every leg (settled in `asset`, or all): no
        liquidation prices solved."""
        out = []
        for symbol in view.symbols():
            if not view.holds(account, symbol):
                continue
            spec = view.spec(symbol)
            mark = view.mark(symbol)
            if (asset and spec.settle != asset) or mark is None:
                continue
            scale = 10**spec.settle_decimals
            for _, lots in view.legs(account, symbol):
                out.append((symbol, _notional_at(view, symbol, lots, mark, scale)))
        return out

    # ---------------------------------------------------------------- alerts

    def below_k(self, view: ExchangeView, account: int, only: str = "") -> dict[tuple[str, int], tuple[float, float]]:
        """The account's positions (in market `only`, or all) closer than kσ over its horizon:
        (symbol, position side) -> (z, chance of touching). One liquidation price per position."""
        t = self.thresholds(account)
        out = {}
        for symbol in (only,) if only else view.symbols():
            legs = view.legs(account, symbol)  # (most accounts hold few markets: σ only for those)
            if not legs:
                continue
            sigma = self.sigma_1h(symbol) if view.mark(symbol) is not None else None
            if not sigma:
                continue
            for pside, lots in legs:
                lp = _liquidation_price(view, account, symbol, pside)
                if lp is None or lp <= 0:
                    continue
                d = distance(lots > 0, float(_mark_price(view, symbol)), float(lp), sigma, (t.horizon_ns,))
                h = d.horizons[0]
                if h.z < t.k:
                    out[(symbol, pside)] = (h.z, h.touch_probability)
        return out


def equity_of(view: ExchangeView, account: int, asset: str, scale: int | None = None) -> float:
    """Equity in ``asset`` (a float in the asset's unit): the cross margin balance plus every
    isolated position's margin and uPnL. `scale`: the asset's money units per unit, when known."""
    units = view.margin_balance(account, asset)
    for symbol in view.symbols():
        if view.holds(account, symbol) and view.isolated(account, symbol) and _asset(view, symbol) == asset \
                and view.mark(symbol) is not None:
            for p in view.positions(account, symbol):
                units += p.isolated_margin + p.upnl
    return units / (scale if scale is not None else _scale(view, asset))


def _net(positions: list[PositionRisk]) -> tuple[list[str], list[float]]:
    """Markets held (sorted) and the signed notional of each (hedge legs netted)."""
    names = sorted({p.symbol for p in positions})
    return names, [sum(p.notional for p in positions if p.symbol == n) for n in names]


def _signed_notional(view: ExchangeView, symbol: str, lots: int) -> float:
    """Signed notional at mark in the settlement asset (a float of asset units)."""
    mark = view.mark(symbol)
    if not lots or mark is None:
        return 0.0
    return _notional_at(view, symbol, lots, mark, 10**view.spec(symbol).settle_decimals)


def _notional_at(view: ExchangeView, symbol: str, lots: int, mark: int, scale: int) -> float:
    """`_signed_notional` at a mark already read, `scale` the asset's units per unit: the exact
    value (an int, a Fraction on an inverse market) over `scale`, rounded once to a float."""
    if not lots:
        return 0.0
    value = view.notional(symbol, abs(lots), mark) / scale
    return float(value) if lots > 0 else -float(value)


def _mark_price(view: ExchangeView, symbol: str) -> Fraction:
    """The mark in quote per base, exact (the market has a mark)."""
    mark = view.mark(symbol)
    assert mark is not None
    return mark * Fraction(view.spec(symbol).tick_size)


def _liquidation_price(view: ExchangeView, account: int, symbol: str, pside: int) -> Fraction | None:
    """The position's exact liquidation price in quote per base (None: none)."""
    ticks = view.liquidation_price(account, symbol, pside)
    return None if ticks is None else ticks * Fraction(view.spec(symbol).tick_size)


def _asset(view: ExchangeView, symbol: str) -> str:
    return view.spec(symbol).settle


def _scale(view: ExchangeView, asset: str) -> int:
    return next(10**spec.settle_decimals for spec in view.specs().values() if spec.settle == asset)


def _horizons(t: Thresholds) -> tuple[int, ...]:
    """The reported horizons plus the account's own."""
    return tuple(sorted({*HORIZONS_NS, t.horizon_ns}))


def _f(x) -> float | None:
    return None if x is None else float(x)

