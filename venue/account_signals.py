"""The account side of the risk signals inside the venue: the read models (venue.signals.account_risk,
venue.signals.slippage), how the sequencer feeds them, and their protobuf shapes.

Volatility and correlation come from the venue's market signals (`venue.signals`, or the sources
given to `use_market_signals`); without them a market has no σ (σ figures, nudges and k σ
alerts are empty) and correlations are the configured priors by base asset.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

from perpsim.model.enums import PositionSide, Side
from perpsim.model.reasons import RejectReason as R
from perpsim.v1 import account_pb2, common_pb2, risk_pb2
from perpsim.venue import convert as cv
from perpsim.venue.errors import VenueError
from perpsim.venue.files import write_atomic
from perpsim.venue.signals.account import Thresholds, Warning
from perpsim.venue.signals.account_risk import AccountRisk
from perpsim.venue.signals.config import SignalConfig
from perpsim.venue.signals.slippage import SlippageTracker

log = logging.getLogger("perpsim.venue")

RAISED, CLEARED = "RAISED", "CLEARED"
MAX_RECENT_FILLS = 500
#: The accounts' own thresholds, in the data directory (read models are not journaled).
RISK_THRESHOLDS_FILE = "risk-thresholds.json"


class AccountSignals:
    """The account half of the risk signals: per-account thresholds (AccountRisk), fill slippage
    (SlippageTracker), k σ alerts, and their protobuf shapes for the Account and Risk services."""

    def __init__(self, venue, defaults: Thresholds | None = None, config: SignalConfig | None = None,
                 path: Path | None = None) -> None:
        """`path`: where the accounts' own thresholds are kept across restarts (JSON; None: memory only)."""
        self.venue, self.path = venue, path
        self.config = config or SignalConfig()
        self.sigma_source = None  # symbol -> σ over 1h (fraction) or None
        self.rho_source = None  # (symbol, symbol) -> ρ
        self.risk = AccountRisk(self._sigma, self._rho, defaults)
        if path is not None and path.exists():
            for account, fields in json.loads(path.read_text()).items():
                self.risk.set_thresholds(int(account), Thresholds(**fields))
        self.slippage = SlippageTracker()
        self._alerted: dict[int, set[tuple[str, int]]] = {}  # per account: positions below k σ

    def attach(self, sequencer, streams) -> None:
        """Feed the slippage tracker: its prices from the sequencer before each command, its
        fills from the streams' batch listener once durable (each command's just before that
        command's messages, which carry their slippage); raise k σ alerts on the account streams."""
        self.slippage.follow(sequencer)
        streams.slippage = self.slippage
        streams.risk_alerts = lambda account, ts: self.alerts(streams, account, ts)

    def use_market_signals(self, sigma_1h, rho) -> None:
        """Take σ over 1h and ρ from the market signals: ``sigma_1h(symbol)``, ``rho(a, b)``."""
        self.sigma_source, self.rho_source = sigma_1h, rho

    def _sigma(self, symbol: str) -> float | None:
        if self.sigma_source is not None:
            return self.sigma_source(symbol)
        hub = getattr(self.venue, "signals", None)  # the market signals, when the venue runs them
        return hub.sigma(symbol) if hub is not None else None

    def _rho(self, a: str, b: str) -> float:
        if self.rho_source is not None:
            return self.rho_source(a, b)
        hub = getattr(self.venue, "signals", None)
        if hub is not None:
            return hub.rho(a, b)
        specs = self.venue.markets
        return self.config.prior(specs[a].base, specs[b].base)

    # ---------------------------------------------------------------- alerts

    def alerts(self, streams, account: int, ts: int) -> None:
        """RAISED when a position's liquidation comes closer than k σ, CLEARED when it moves back
        beyond (or the position is gone); once per crossing."""
        below = self.risk.below_k(self.venue.view, account)
        before = self._alerted.get(account, set())
        t = self.risk.thresholds(account)
        for key in sorted(set(below) | before):
            if (key in below) == (key in before):
                continue
            z, touch = below.get(key, (None, None))
            symbol, pside = key
            streams.send_account(account, ts, risk_alert=account_pb2.RiskAlert(
                symbol=symbol, position_side=cv.PSIDE_OUT[PositionSide(pside)],
                state=RAISED if key in below else CLEARED, z="" if z is None else f"{z:.4f}", k=f"{t.k:g}",
                horizon_ns=t.horizon_ns, touch_probability="" if touch is None else f"{touch:.6f}"))
        if below:
            self._alerted[account] = set(below)
        else:
            self._alerted.pop(account, None)

    # ---------------------------------------------------------------- shapes

    def preview_fields(self, cmd, preview: dict) -> dict:
        """The PreviewOrderResponse fields the signals add for an order."""
        s = self.risk.order(self.venue.view, cmd, preview)
        spec = self.venue.markets[cmd.symbol]
        return {"liquidation_distance_sigma": sigma_out(s.distance),
                "max_quantity_within_k_sigma": spec.format_qty(s.max_lots_within) if s.max_lots_within is not None
                else "", "warnings": warnings_out(s.warnings)}

    def decorate_positions(self, account: int, positions: list) -> None:
        """Fill each account_pb2.Position's σ distance and nudge in place."""
        view = self.venue.view
        t = self.risk.thresholds(account)
        for out in positions:
            if view.mark(out.symbol) is None:
                continue
            pside = cv.PSIDE_IN[out.position_side]
            p = self.risk.position(view, account, out.symbol, pside, out.quantity_lots, t)
            out.liquidation_distance_sigma.extend(sigma_out(p.distance))
            if p.nudge is not None:
                spec = self.venue.markets[out.symbol]
                out.nudge_max_quantity = spec.format_qty(p.nudge.max_lots)
                out.nudge_reduce_quantity = spec.format_qty(p.nudge.reduce_lots)

    def order_warnings(self, cmd) -> list[common_pb2.RiskWarning]:
        """The preview's correlation warning for an order about to be placed. Advisory: a
        failure here is logged and never keeps the order from being placed."""
        try:
            w = self.risk.order_correlation(self.venue.view, cmd)
        except Exception:
            log.exception("order warnings of %r", cmd)
            return []
        return warnings_out([w] if w is not None else [])

    def after_order(self, cmd) -> list[common_pb2.RiskWarning]:
        """The kσ warnings of the account's position in the order's market as it stands after
        the order (what it holds now, not the preview's full fill)."""
        try:
            return warnings_out(self.risk.market_warnings(self.venue.view, cmd.account, cmd.symbol))
        except Exception:
            log.exception("warnings after %r", cmd)
            return []

    def fill_slippage(self, order_id: int, side: int, price: int) -> dict:
        """slippage_mid_bps / slippage_mark_bps of a fill, as decimal strings ("" unknown)."""
        mid, mark = self.fill_bps(order_id, side, price)
        return {"slippage_mid_bps": mid, "slippage_mark_bps": mark}

    def fill_bps(self, order_id: int, side: int, price: int) -> tuple[str, str]:
        """`fill_slippage`'s two strings (SlippageTracker.bps_texts)."""
        return self.slippage.bps_texts(order_id, side, price)

    # ---------------------------------------------------------------- RiskService, account half

    @staticmethod
    def _on_tick(view, account: int, spec, p) -> str:
        """The liquidation price as the venue shows it everywhere: the engine's trigger tick,
        rounded against the account (a long's up, a short's down); "" for none."""
        held = view.position(account, p.symbol, p.position_side)
        tick = held.liquidation_tick if held is not None else None
        return "" if tick is None else spec.format_price(tick)

    def account_risk_out(self, account: int) -> risk_pb2.GetAccountRiskResponse:
        """RiskService.GetAccountRisk's answer for `account`: per position with a mark its distance to liquidation
        (percent and σ) and size-down nudge, per settlement asset its equity, margin ratio (percent), exposure and
        effective leverage (x), and the k σ warnings."""
        view = self.venue.view
        r = self.risk.report(view, account)
        positions = []
        for p in r.positions:
            spec = self.venue.markets[p.symbol]
            out = risk_pb2.AccountPositionRisk(
                symbol=p.symbol, position_side=cv.PSIDE_OUT[PositionSide(p.position_side)],
                quantity=_signed_qty(spec, p.lots), mark_price=spec.format_price(view.mark(p.symbol)),
                liquidation_price=self._on_tick(view, account, spec, p),
                distance_pct=p.distance.percent if p.distance else 0.0, distance_sigma=sigma_out(p.distance),
                notional=p.notional)
            if p.nudge is not None:
                out.has_nudge = True
                out.nudge.CopyFrom(risk_pb2.SizeDownNudge(
                    max_quantity=spec.format_qty(p.nudge.max_lots),
                    reduce_quantity=spec.format_qty(p.nudge.reduce_lots), within_k_sigma=p.nudge.reduce_lots == 0))
            positions.append(out)
        assets = [risk_pb2.AccountAssetRisk(
            asset=a.asset, equity=a.equity, has_margin_ratio=a.margin_ratio is not None,
            margin_ratio_pct=(a.margin_ratio or 0.0) * 100, exposure=a.exposure, gross_notional=a.gross,
            has_effective_leverage=a.effective_leverage is not None, effective_leverage=a.effective_leverage or 0.0,
            clusters=[risk_pb2.CorrelatedCluster(symbols=c) for c in a.clusters]) for a in r.assets]
        return risk_pb2.GetAccountRiskResponse(
            account_id=account, time_ns=view.ts, thresholds=thresholds_out(r.thresholds), positions=positions,
            assets=assets, warnings=warnings_out(r.warnings))

    def set_thresholds(self, account: int, request) -> risk_pb2.SetAccountRiskThresholdsResponse:
        """Set (zero fields: keep) or reset an account's thresholds; INVALID_VALUE naming every
        out-of-range field, changing nothing."""
        if request.reset:
            t = self.risk.defaults
        else:
            given = request.thresholds
            changes = {name: getattr(given, name) for name in ("k", "horizon_ns", "rho", "max_leverage")
                       if getattr(given, name)}
            t = dataclasses.replace(self.risk.thresholds(account), **changes)
            problems = t.problems()
            if problems:
                raise VenueError(R.INVALID_VALUE, field=",".join(sorted(problems)),
                                 problem="; ".join(f"{k} {v}" for k, v in sorted(problems.items())))
        self.risk.set_thresholds(account, t)
        if self.path is not None:
            kept = {str(a): dataclasses.asdict(x) for a, x in sorted(self.risk.accounts().items())}
            write_atomic(self.path, json.dumps(kept, sort_keys=True).encode())
        return risk_pb2.SetAccountRiskThresholdsResponse(thresholds=thresholds_out(t))

    def recent_fills_out(self, account: int, request) -> risk_pb2.ListRecentFillsResponse:
        """RiskService.ListRecentFills' answer: the account's latest fills (in request.symbol, or all), newest first,
        with their slippage (bps) against the mid and the mark at arrival; limit 0 = 100, at most MAX_RECENT_FILLS."""
        if request.symbol:
            self.venue.spec(request.symbol)  # UNKNOWN_SYMBOL
        limit = request.limit or 100
        if limit > MAX_RECENT_FILLS:
            raise VenueError(R.INVALID_VALUE, field="limit", limit=limit, problem=f"at most {MAX_RECENT_FILLS}")
        out = []
        for f in self.slippage.recent(account, request.symbol, limit):
            spec = self.venue.markets[f.symbol]
            a = f.arrival
            out.append(risk_pb2.FillQuality(
                order_id=f.order_id, symbol=f.symbol, side=cv.SIDE_OUT[Side(f.side)], price=spec.format_price(f.price),
                quantity=spec.format_qty(f.lots),
                liquidity=common_pb2.LIQUIDITY_MAKER if f.maker else common_pb2.LIQUIDITY_TAKER,
                liquidation=f.liquidation, time_ns=f.ts,
                arrival_mid_price=_price(spec, a.mid) if a is not None else "",
                arrival_mark_price=_price(spec, a.mark) if a is not None else "",
                has_slippage_mid=f.mid_bps is not None, slippage_mid_bps=f.mid_bps or 0.0,
                has_slippage_mark=f.mark_bps is not None, slippage_mark_bps=f.mark_bps or 0.0))
        return risk_pb2.ListRecentFillsResponse(fills=out)


def account_signals_of(venue) -> AccountSignals:
    """The venue's account signals, or INVALID_VALUE when the venue runs none."""
    signals = getattr(venue, "account_signals", None)
    if signals is None:
        raise VenueError(R.INVALID_VALUE, problem="account risk signals are off on this venue")
    return signals


def thresholds_out(t: Thresholds) -> risk_pb2.AccountRiskThresholds:
    """An account's risk thresholds as the AccountRiskThresholds message (k, horizon in ns, ρ, max leverage)."""
    return risk_pb2.AccountRiskThresholds(k=t.k, horizon_ns=t.horizon_ns, rho=t.rho, max_leverage=t.max_leverage)


def _signed_qty(spec, lots: int) -> str:
    return str((1 if lots >= 0 else -1) * spec.lots_to_qty(abs(lots)))


def _price(spec, ticks: float | None) -> str:
    """A price in ticks (a mid may be half a tick) at one more decimal than the tick's."""
    if ticks is None:
        return ""
    return f"{ticks * float(spec.tick_size):.{spec.price_decimals + 1}f}"


def bps_out(x: float | None) -> str:
    """Basis points with 2 decimals ("" for None)."""
    return "" if x is None else f"{x:.2f}"


def warnings_out(ws: list[Warning]) -> list[common_pb2.RiskWarning]:
    """Risk warnings as RiskWarning messages (code, message, fields)."""
    return [common_pb2.RiskWarning(code=w.code, message=w.message, fields=w.fields) for w in ws]


def sigma_out(d) -> list[account_pb2.SigmaDistance]:
    """A liquidation distance per horizon as SigmaDistance messages (σ at 8 decimals, z at 4, touch
    probability at 6, as strings); [] for no distance."""
    if d is None:
        return []
    return [account_pb2.SigmaDistance(horizon_ns=h.horizon_ns, sigma=f"{h.sigma:.8f}", z=f"{h.z:.4f}",
                                      touch_probability=f"{h.touch_probability:.6f}") for h in d.horizons]
