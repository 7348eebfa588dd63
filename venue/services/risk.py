"""The gRPC RiskService: the risk read models (`perpsim.venue.signals`) on the wire.

Market half: GetMarketRisk and StreamMarketRisk (public, like a venue's published insurance
fund). The account half (GetAccountRisk) is served beside them by its own methods below the
market half. The servicer only converts: every figure is computed by `Signals`.
"""

from __future__ import annotations

import asyncio
import math
from decimal import Decimal, InvalidOperation

from perpsim.model.reasons import RejectReason as R
from perpsim.v1 import risk_pb2, risk_pb2_grpc
from perpsim.venue.account_signals import account_signals_of
from perpsim.venue.errors import VenueError, to_status
from perpsim.venue.services.common import rpc
from perpsim.venue.signals.hub import Signals
from perpsim.venue.signals.report import MarketRisk

MIN_INTERVAL_MS, DEFAULT_INTERVAL_MS = 100, 1_000
TEMPERATURE_FORMULA = "100 * Phi(mean of the parts' z-scores, each clipped to +-3)"


def _price(spec, ticks: float | None) -> str:
    """A price in ticks (maybe fractional) as a decimal string at the market's price precision."""
    if ticks is None:
        return ""
    return f"{ticks * float(spec.tick_size):.{spec.price_decimals}f}"


def _num(x: float | None) -> tuple[bool, float]:
    return (False, 0.0) if x is None or math.isnan(x) else (True, x)


def market_risk_out(spec, r: MarketRisk) -> risk_pb2.MarketRisk:
    """A market's risk report as the MarketRisk message: prices as decimal strings at the market's
    precision, figures as floats with a has_* flag where they may be unknown (None or NaN)."""
    has_1h, ch_1h = _num(r.oi_change_1h_pct)
    has_24h, ch_24h = _num(r.oi_change_24h_pct)
    has_ratio, ratio = _num(r.long_short_ratio)
    q = r.execution
    has_buy, buy = _num(q.buy_slippage_bps)
    has_sell, sell = _num(q.sell_slippage_bps)
    stress = []
    for s in r.stress:
        has_cov, cov = _num(s.coverage)
        stress.append(risk_pb2.InsuranceStress(
            shock_pct=s.shock_pct, shocked_price=_price(spec, s.shocked_price), liquidated_lots=s.liquidated_lots,
            liquidated_notional=s.liquidated_notional, unabsorbed_lots=s.unabsorbed_lots, fund_draw=s.draw,
            fund_balance=s.fund, has_coverage=has_cov, coverage=cov, adl_share=s.adl_share))
    t = r.temperature
    return risk_pb2.MarketRisk(
        symbol=r.symbol, time_ns=r.time_ns, mark_price=_price(spec, r.mark),
        open_interest=risk_pb2.MarketOpenInterest(
            lots=r.open_interest_lots, quantity=spec.format_qty(r.open_interest_lots),
            notional=r.open_interest_notional, has_change_1h=has_1h, change_1h_pct=ch_1h, has_change_24h=has_24h,
            change_24h_pct=ch_24h),
        funding=risk_pb2.FundingTemperature(predicted_rate=r.predicted_funding_rate, z_score=r.funding_z),
        long_accounts=r.long_accounts, short_accounts=r.short_accounts, has_long_short_ratio=has_ratio,
        long_short_ratio=ratio, average_leverage=r.average_leverage,
        temperature=risk_pb2.Temperature(score=t.score, funding_z=t.funding_z, open_interest_z=t.open_interest_z,
                                         leverage_z=t.leverage_z, proximity_z=t.proximity_z,
                                         formula=TEMPERATURE_FORMULA),
        volatility=[risk_pb2.Volatility(horizon=h, ready=v is not None, sigma_pct=(v or 0.0) * 100.0)
                    for h, v in r.volatility.items()],
        execution=risk_pb2.ExecutionQuality(
            has_book=q.spread_bps is not None, spread_bps=q.spread_bps or 0.0,
            bid_depth_10bps_quote=q.depth_bid.get(10, 0.0), ask_depth_10bps_quote=q.depth_ask.get(10, 0.0),
            bid_depth_50bps_quote=q.depth_bid.get(50, 0.0), ask_depth_50bps_quote=q.depth_ask.get(50, 0.0),
            slippage_notional_quote=q.notional, buy_fillable=has_buy, buy_slippage_bps=buy, sell_fillable=has_sell,
            sell_slippage_bps=sell, fills_will_be_worse=q.alert),
        insurance_stress=stress,
        liquidation_map=risk_pb2.LiquidationMap(
            bucket_pct=r.bucket_pct,
            buckets=[risk_pb2.LiquidationBucket(
                price_low=_price(spec, b.low), price_high=_price(spec, b.high), long_notional=b.long_notional,
                short_notional=b.short_notional, long_lots=b.long_lots, short_lots=b.short_lots) for b in r.buckets],
            within_2_pct=r.near_liquidation_pct[2], within_5_pct=r.near_liquidation_pct[5],
            within_10_pct=r.near_liquidation_pct[10]),
        spike_accounts=r.spike_accounts, spike_oi_pct=r.spike_oi_pct,
        correlations=[risk_pb2.MarketCorrelation(symbol=o, rho=rho, measured_weight=w)
                      for o, (rho, w) in r.correlations.items()],
        flags=[risk_pb2.RiskFlag(code=f.code, message=f.message, value=f.value, threshold=f.threshold)
               for f in r.flags])


def _notional(text: str) -> float | None:
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or value <= 0:
        raise VenueError(R.INVALID_VALUE, field="slippage_notional", value=text,
                         problem="a positive decimal notional in the quote currency")
    return float(value)


class RiskService(risk_pb2_grpc.RiskServiceServicer):
    """perpsim.v1.RiskService: the market half is public, the account half uses the bearer key's account;
    INVALID_VALUE when the venue runs no risk signals."""

    def __init__(self, venue) -> None:
        self.venue = venue

    @property
    def signals(self) -> Signals:
        """The venue's market risk signals; INVALID_VALUE when it runs none."""
        signals = getattr(self.venue, "signals", None)
        if signals is None:
            raise VenueError(R.INVALID_VALUE, problem="risk signals are off on this venue")
        return signals

    def _risk(self, symbol: str, notional: float | None) -> risk_pb2.MarketRisk:
        spec = self.venue.spec(symbol)
        return market_risk_out(spec, self.signals.market_risk(spec.symbol, notional))

    # ---------------------------------------------------------------- market half

    @rpc
    async def GetMarketRisk(self, request, context):
        """RiskService.GetMarketRisk: a market's risk figures now, the expected slippage at request.slippage_notional
        (empty: the configured notional)."""
        return risk_pb2.GetMarketRiskResponse(risk=self._risk(request.symbol, _notional(request.slippage_notional)))

    async def StreamMarketRisk(self, request, context):
        """RiskService.StreamMarketRisk: a market's risk figures every interval_ms of wall time (0 = 1000, at least
        100), skipped while the venue is not ready, until the caller cancels."""
        try:
            self.venue.spec(request.symbol)
            interval = request.interval_ms or DEFAULT_INTERVAL_MS
            if interval < MIN_INTERVAL_MS:
                raise VenueError(R.INVALID_VALUE, field="interval_ms", interval_ms=interval,
                                 problem=f"at least {MIN_INTERVAL_MS} ms")
            self.signals  # noqa: B018 - refuses the stream at once when signals are off
        except VenueError as e:
            await context.abort_with_status(to_status(self.venue.refused(e)))
            return
        seq = 0
        while True:
            if self.venue.ready:
                if not self.venue.seq.durable:
                    await self.venue.seq.settled()  # a tick reads the durable commands, as a call does
                seq += 1
                yield risk_pb2.StreamMarketRiskResponse(sequence=seq, risk=self._risk(request.symbol, None))
            await asyncio.sleep(interval / 1000)

    # ---------------------------------------------------------------- account half (venue.account_signals)

    @rpc
    async def GetAccountRisk(self, request, context):
        """RiskService.GetAccountRisk: the caller's risk now (AccountSignals.account_risk_out)."""
        account = self.venue.account(context)  # (authenticated first: a stranger learns nothing of the venue)
        return account_signals_of(self.venue).account_risk_out(account)

    @rpc
    async def SetAccountRiskThresholds(self, request, context):
        """RiskService.SetAccountRiskThresholds: set (zero: keep) or reset the caller's thresholds; answers them."""
        account = self.venue.account(context)
        return account_signals_of(self.venue).set_thresholds(account, request)

    @rpc
    async def ListRecentFills(self, request, context):
        """RiskService.ListRecentFills: the caller's latest fills with their slippage
        (AccountSignals.recent_fills_out)."""
        account = self.venue.account(context)
        return account_signals_of(self.venue).recent_fills_out(account, request)


def add_to_server(venue, server) -> None:
    """Register the RiskService on a grpc.aio server (build_server calls this)."""
    risk_pb2_grpc.add_RiskServiceServicer_to_server(RiskService(venue), server)
