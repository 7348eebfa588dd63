"""A market flag reports the figure that raised it and that figure's threshold, in one unit."""

from __future__ import annotations

import pytest

from perpsim.venue.signals.anomaly import SpikeFlag
from perpsim.venue.signals.config import SignalConfig
from perpsim.venue.signals.execution import ExecutionQuality
from perpsim.venue.signals.report import MarketRisk, Temperature, market_flags

CFG = SignalConfig()  # spread alert 20 bps, slippage alert 10 bps


def _risk(execution: ExecutionQuality, funding_z: float = 0.0, oi_1h: float | None = None,
          near_5: float = 0.0) -> MarketRisk:
    return MarketRisk(
        symbol="BTCUSDT", time_ns=0, mark=650_000, open_interest_lots=100, open_interest_notional=1.0,
        oi_change_1h_pct=oi_1h, oi_change_24h_pct=None, predicted_funding_rate=0.0, funding_z=funding_z,
        long_accounts=1, short_accounts=1, long_short_ratio=1.0, average_leverage=5.0,
        near_liquidation_pct={1: 0.0, 2: 0.0, 5: near_5, 10: near_5},
        temperature=Temperature(50.0, 0.0, 0.0, 0.0, 0.0), volatility={}, execution=execution, stress=[],
        buckets=[], bucket_pct=1.0, spike_accounts=0, spike_oi_pct=0.0, correlations={})


def _flag(flags, code: str):
    (f,) = [f for f in flags if f.code == code]
    return f


def test_worse_fills_raised_by_slippage_reports_the_worse_side() -> None:
    ex = ExecutionQuality(spread_bps=4.0, notional=50_000.0, buy_slippage_bps=12.5, sell_slippage_bps=30.0,
                          alert=True)
    f = _flag(market_flags(CFG, _risk(ex), []), "fills_will_be_worse")
    assert (f.value, f.threshold) == (30.0, CFG.slippage_alert_bps)
    assert f.value > f.threshold


def test_worse_fills_raised_by_the_spread_reports_the_spread() -> None:
    ex = ExecutionQuality(spread_bps=35.0, notional=50_000.0, buy_slippage_bps=12.5, sell_slippage_bps=30.0,
                          alert=True)
    f = _flag(market_flags(CFG, _risk(ex), []), "fills_will_be_worse")
    assert (f.value, f.threshold) == (35.0, CFG.spread_alert_bps)


def test_worse_fills_beyond_the_book_reports_the_spread_and_says_so() -> None:
    ex = ExecutionQuality(spread_bps=4.0, notional=50_000.0, buy_slippage_bps=None, sell_slippage_bps=3.0,
                          alert=True)
    f = _flag(market_flags(CFG, _risk(ex), []), "fills_will_be_worse")
    assert (f.value, f.threshold) == (4.0, CFG.spread_alert_bps)
    assert "buy beyond the book" in f.message


def test_leverage_spike_counts_accounts_against_one() -> None:
    spikes = [SpikeFlag(3, 0, 5.0, 40.0, 9.0, 1), SpikeFlag(4, 0, 5.0, 40.0, 9.0, -1)]
    f = _flag(market_flags(CFG, _risk(ExecutionQuality()), spikes), "leverage_spike")
    assert (f.value, f.threshold) == (2.0, 1.0)
    assert "2 account(s)" in f.message and "1 long, 1 short" in f.message


def test_crowded_and_near_liquidation_flags_in_their_units() -> None:
    r = _risk(ExecutionQuality(), funding_z=-2.5, oi_1h=12.0, near_5=40.0)
    flags = market_flags(CFG, r, [])
    crowded = _flag(flags, "crowded_funding_oi")
    assert (crowded.value, crowded.threshold) == (-2.5, CFG.crowd_funding_z)
    assert "crowded shorts" in crowded.message
    near = _flag(flags, "oi_near_liquidation")
    assert (near.value, near.threshold) == (40.0, CFG.crowd_near_liq_pct)


def test_no_flag_below_every_threshold() -> None:
    r = _risk(ExecutionQuality(spread_bps=4.0, buy_slippage_bps=1.0, sell_slippage_bps=1.0), funding_z=1.0,
              oi_1h=50.0, near_5=10.0)
    assert market_flags(CFG, r, []) == []


@pytest.mark.parametrize("code", ["crowded_funding_oi", "oi_near_liquidation", "leverage_spike", "fills_will_be_worse"])
def test_every_flag_code_is_one_this_module_raises(code: str) -> None:
    r = _risk(ExecutionQuality(spread_bps=35.0, buy_slippage_bps=1.0, sell_slippage_bps=1.0, alert=True),
              funding_z=3.0, oi_1h=20.0, near_5=50.0)
    codes = {f.code for f in market_flags(CFG, r, [SpikeFlag(1, 0, 1.0, 30.0, 9.0, 1)])}
    assert code in codes
