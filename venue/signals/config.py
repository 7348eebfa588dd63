"""The risk signals' settings: sampling, windows, thresholds (venue-wide defaults).

Every figure is in human units: fractions as percent (`_pct`), basis points (`_bps`), seconds
(`_s`), notionals in the market's quote currency.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NS = 1_000_000_000


def _priors() -> dict[str, float]:
    return {"BTC/ETH": 0.8}


@dataclass(frozen=True)
class SignalConfig:
    """The venue-wide settings of the risk signals; each field's unit is in its name or comment
    (`_s` seconds of venue time, `_pct` percent, `_bps` basis points, x of leverage)."""

    #: Δ: the mark is sampled every `sample_s` of venue time (gaps filled with the last mark).
    sample_s: int = 1
    #: EWMA half-life of volatility and correlation: λ = 2^(−Δ / half_life).
    vol_half_life_s: int = 1_800
    #: returns whose sample variance seeds the EWMA (until then σ is that sample variance).
    vol_seed_samples: int = 60
    #: temperature parts (predicted funding, OI, leverage, proximity) are sampled each minute ...
    history_sample_s: int = 60
    #: ... and each part's z-score is taken against its last `history_n` samples (a day).
    history_n: int = 1_440
    #: liquidation map: bucket width and range around the mark (percent of the mark).
    bucket_pct: float = 0.25
    map_range_pct: float = 20.0
    #: crowded-trade flags: |funding z| above this together with 1h OI growth above crowd_oi_growth_pct ...
    crowd_funding_z: float = 2.0
    crowd_oi_growth_pct: float = 10.0
    #: ... or more than crowd_near_liq_pct of OI with a liquidation price within 5 % of the mark.
    crowd_near_liq_pct: float = 25.0
    #: leverage spikes: robust z of an account's leverage change against the market's recent changes
    spike_window: int = 512  # changes kept per market (median and MAD over them)
    spike_z: float = 3.5  # the modified z-score outlier rule (Iglewicz & Hoaglin)
    spike_min_jump: float = 10.0  # x: a change smaller than this never flags
    spike_min_level: float = 20.0  # x: nor one ending below this leverage
    spike_mad_floor: float = 1.0  # x: the MAD's floor (a calm history has MAD 0)
    spike_hold_s: int = 300  # how long an account stays flagged
    #: execution quality: the notional whose expected slippage is watched (quote currency) ...
    slippage_notional: float = 100_000.0
    #: ... the "fills will be worse" alert: slippage or spread above these for at least alert_hold_s
    slippage_alert_bps: float = 10.0
    spread_alert_bps: float = 20.0
    alert_hold_s: int = 10
    #: correlation prior per pair of base assets ("BTC/ETH"); markets of one base asset: 1.0
    correlation_priors: dict[str, float] = field(default_factory=_priors)
    #: samples at which the measured correlation gets half the weight: w = n / (n + n0)
    correlation_n0: int = 600
    #: insurance stress shocks (percent of the mark)
    shocks_pct: tuple[float, ...] = (-20.0, -10.0, -5.0, 5.0, 10.0, 20.0)

    def prior(self, base_a: str, base_b: str) -> float:
        """The configured correlation of two base assets (1.0 for the same asset, 0.0 unlisted)."""
        if base_a == base_b:
            return 1.0
        p = self.correlation_priors
        return p.get(f"{base_a}/{base_b}", p.get(f"{base_b}/{base_a}", 0.0))
