"""The venue's initial state, built from its config: the exchange a journal replays onto when
there is no snapshot (its markets under the venue profile, each market's brackets, the data
directory's creation time) and the VenueState around it."""

from __future__ import annotations

import time
from pathlib import Path

from perpsim.engine.exchange import Exchange
from perpsim.model.market_files import default_markets, load_markets
from perpsim.risk.brackets import market_brackets
from perpsim.risk.profiles import market_under, profile_named
from perpsim.venue import datadir, profile_record
from perpsim.venue.config import VenueConfig
from perpsim.venue.files import write_atomic
from perpsim.venue.history_records import HistoryLimits
from perpsim.venue.state import VenueState


def venue_epoch(data_dir: Path) -> int:
    """The time (ns) this data directory's venue was created: recorded at the first start, so
    that a replay builds the same exchange (its samplers start from this time, not from 0)."""
    path = data_dir / datadir.CREATED
    epoch = datadir.read_int(path, "the venue's creation time in nanoseconds")
    if epoch is None:
        epoch = time.time_ns()
        write_atomic(path, str(epoch).encode())
    return epoch


def make_exchange(cfg: VenueConfig) -> Exchange:
    """The exchange of a venue with no state yet: the config's markets (its markets file, else
    the built-in ones) under its venue profile, each with its own brackets, its clock starting at
    the data directory's creation time (0 without a data directory). Records the profile in the
    data directory, or raises DataDirError if it was created under another one (its journal
    replays under that profile's rules)."""
    markets = load_markets(cfg.markets_file) if cfg.markets_file else default_markets()
    profile = profile_named(cfg.profile)
    if cfg.data_dir.exists():  # a journal replays under the profile it was written with
        profile_record.settle(cfg.data_dir, profile.name)
    markets = {s: market_under(profile, m) for s, m in markets.items()}
    brackets = {s: market_brackets(m) for s, m in markets.items()}  # each market its own table
    start = venue_epoch(cfg.data_dir) if cfg.data_dir.exists() else 0
    return Exchange(markets, brackets, book_impl=cfg.book_impl, profile=profile, start_ts=start)


def make_state(cfg: VenueConfig) -> VenueState:
    """A fresh venue state: the exchange with its order registry and history."""
    return VenueState(make_exchange(cfg), HistoryLimits.from_mapping(cfg.history))
