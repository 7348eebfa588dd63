"""`perpsim serve`: run the venue (gRPC on 127.0.0.1:50051, data in ./perpsim-data)."""

from __future__ import annotations

import argparse
from pathlib import Path

from perpsim.cli.common import standalone


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register `perpsim serve`."""
    serve = standalone(sub, "serve", _serve, "run the venue")
    serve.add_argument("--listen", help="address to listen on (default 127.0.0.1:50051)")
    serve.add_argument("--rest", metavar="ADDRESS", help="Binance USDⓈ-M compatible REST and WebSocket address "
                                                         "(default 127.0.0.1:8080; 'off' for none)")
    serve.add_argument("--data-dir", type=Path, help="data directory (default ./perpsim-data)")
    serve.add_argument("--config", type=Path, help="a TOML file of VenueConfig settings")
    serve.add_argument("--admin-key", help="the sandbox admin key (default: $PERPSIM_ADMIN_KEY or generated)")
    serve.add_argument("--no-feed", action="store_true", help="no moving index feed")
    serve.add_argument("--no-liquidity", action="store_true", help="no built-in liquidity provider")
    serve.add_argument("--profile", choices=["binance", "bybit", "okx", "hyperliquid", "dydx"],
                       help="venue profile: liquidation model and trigger, tiers and fees (default binance)")
    serve.add_argument("--held-clock", action="store_true",
                       help="hold the venue clock: every command is stamped with the venue's time, which moves "
                            "only by `perpsim sandbox advance-clock` (reproducible runs whatever the wall-clock gaps "
                            "between calls; held again after a restart, from the journal's last time). The sandbox's "
                            "SetClockMode holds or releases it while running")


def _serve(a: argparse.Namespace, rest: list[str]) -> int:
    from perpsim.venue.app import serve
    from perpsim.venue.config import VenueConfig

    overrides = {"listen": a.listen, "data_dir": a.data_dir, "admin_key": a.admin_key, "rest_listen": a.rest,
                 "profile": a.profile}
    cfg = VenueConfig.from_toml(a.config, **overrides) if a.config else VenueConfig(
        **{k: v for k, v in overrides.items() if v is not None})
    if a.no_feed:
        cfg.feed = False
    if a.no_liquidity:
        cfg.liquidity = False
    if a.held_clock:
        cfg.held_clock = True
    return serve(cfg)
