"""The venue's configuration: everything `perpsim serve` can be told (flags, environment, or a
TOML file), with the default world's starting prices."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perpsim.risk.profiles import profile_named
from perpsim.venue.history_records import HistoryLimits
from perpsim.venue.signals import SignalConfig

DEFAULT_PRICES = {"BTCUSDT": "65000", "ETHUSDT": "3500", "BTCUSD": "65000", "SOLUSDT": "150", "CYBERUSDT": "2.5"}


@dataclass
class VenueConfig:
    """Everything `perpsim serve` can be told (flags, environment, or a TOML file)."""

    listen: str = "127.0.0.1:50051"
    data_dir: Path = Path("perpsim-data")
    admin_key: str | None = None
    markets_file: Path | None = None
    start_prices: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PRICES))
    feed: bool = True
    feed_interval_s: float = 1.0
    feed_volatility_bp: int = 5  # per step, basis points (standard deviation of the random walk)
    liquidity: bool = True
    liquidity_levels: int = 10
    liquidity_spread_bp: int = 5
    book_impl: str = "cython"
    seed: int = 1
    # start with the venue clock held: time moves only by the sandbox's AdvanceClock (venue.clock;
    # the sandbox's SetClockMode changes it until a restart), so runs are reproducible
    held_clock: bool = False
    # the venue profile (risk.profiles: binance, bybit, okx, hyperliquid, dydx): its liquidation
    # model and trigger, and each market's tiers and fees as that venue publishes them
    profile: str = "binance"
    metrics_listen: str = "127.0.0.1:9464"  # Prometheus endpoint; "" = off
    rest_listen: str = "127.0.0.1:8080"  # Binance USDⓈ-M compatible REST + WebSocket; "" or "off" = off
    dashboard: bool = True  # the live risk dashboard at the root of the REST address (venue/dashboard)
    dashboard_reports: Path | None = Path("scenario-out")  # where its scenario view finds report folders
    snapshot_every: int = 100_000  # commands between automatic snapshots (0 = only on request)
    # snapshots written by a follower process holding a second copy of the state (twice the
    # state's memory; the sequencer only tells it what to write); false: a forked writer per
    # snapshot (the sequencer pays the fork and its copy-on-write faults)
    snapshot_follower: bool = True
    # keep every journal segment, so that any build (an upgrade: it refuses older builds'
    # snapshots) can replay from the start; by default a checkpoint deletes the segments older
    # than the oldest kept snapshot
    keep_journal: bool = False
    rate_limit_per_s: float = 2_000  # per API key; 0 = unlimited
    rate_limit_burst: int = 4_000
    alert_spread_bps: int = 50  # a market alert: spread at least this (basis points of the mid) ...
    alert_funding_bps: int = 5  # ... while the predicted funding rate is at least this per interval
    # history retention (TOML table [history]): HistoryLimits field -> records kept, e.g.
    # orders_per_account = 10000, klines_per_interval = 1500 (venue/history_records.py)
    history: dict = field(default_factory=dict)
    # account risk thresholds, venue-wide defaults (an account sets its own): warn below k σ of
    # distance to liquidation over the horizon; warn when an order adds exposure correlated above
    # rho with positions held at a correlation-adjusted effective leverage above max_leverage
    risk_k: float = 3.0
    risk_horizon_s: int = 8 * 3_600
    risk_rho: float = 0.7
    risk_max_leverage: float = 10.0
    # market risk signals (venue.signals): on/off, volatility half-life, liquidation-map buckets,
    # the "fills will be worse" thresholds, leverage-spike score; correlation priors by base
    # assets, which the built-in index feed also moves the markets with
    # (defaults: SignalConfig's, stated once there)
    signals: bool = True
    risk_vol_half_life_s: int = SignalConfig.vol_half_life_s
    risk_bucket_pct: float = SignalConfig.bucket_pct
    risk_map_range_pct: float = SignalConfig.map_range_pct
    risk_slippage_notional: float = SignalConfig.slippage_notional
    risk_slippage_alert_bps: float = SignalConfig.slippage_alert_bps
    risk_spread_alert_bps: float = SignalConfig.spread_alert_bps
    risk_spike_z: float = SignalConfig.spike_z
    risk_correlations: dict[str, float] = field(default_factory=lambda: {"BTC/ETH": 0.8})

    def signal_config(self) -> SignalConfig:
        """The market risk signals' SignalConfig from the risk_* settings."""
        return SignalConfig(vol_half_life_s=self.risk_vol_half_life_s, bucket_pct=self.risk_bucket_pct,
                            map_range_pct=self.risk_map_range_pct, slippage_notional=self.risk_slippage_notional,
                            slippage_alert_bps=self.risk_slippage_alert_bps,
                            spread_alert_bps=self.risk_spread_alert_bps, spike_z=self.risk_spike_z,
                            correlation_priors=dict(self.risk_correlations))

    @classmethod
    def from_toml(cls, path: Path, **overrides) -> VenueConfig:
        """The settings of a TOML file, then each of `overrides` that is not None; ValueError naming the file for an
        unknown setting, bad [history] limits or an unknown profile."""
        data = tomllib.loads(Path(path).read_text())
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"{path}: unknown settings {sorted(unknown)}")
        paths = ("data_dir", "markets_file", "dashboard_reports")
        settings: dict[str, Any] = {k: (Path(v) if k in paths else v) for k, v in data.items()}
        cfg = cls(**settings)
        try:  # refused here, naming the file, rather than when the venue starts
            HistoryLimits.from_mapping(cfg.history)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{path}: [history]: {e}") from None
        try:
            profile_named(cfg.profile)
        except ValueError as e:
            raise ValueError(f"{path}: profile: {e}") from None
        for k, v in overrides.items():
            if v is not None:
                setattr(cfg, k, v)
        return cfg
