"""Scenarios: TOML files naming the markets and venue profile, the feeds and shocks, the agent
populations, the duration and the seed. Built-in ones ship in perpsim/sim/scenarios/.

    name = "long-squeeze"
    description = "…"
    seed = 7
    duration_s = 600          # simulated seconds
    step_s = 1                # seconds per step
    check_every = 0           # steps between full integrity checks (0: only at the end)

    [venue]
    profile = "binance"       # or bybit, okx, hyperliquid, dydx (risk.profiles)
    markets = ["BTCUSDT"]
    insurance_fund = { USDT = "250000" }      # exact decimal strings
    funding_interval_h = 8                    # optional: 8, 4, 2 or 1
    funding_cap = "0.0075"                    # optional, per interval

    [feed.BTCUSDT]
    kind = "gbm"              # constant | gbm | jump_diffusion | piecewise | replay
    start = 65000
    sigma = 0.5
    impact_coupling = 0.3     # see perpsim.sim.feeds.ImpactCoupling
    shocks = [{ at_s = 120, pct = -8, over_s = 5 }]

    [[agents]]
    kind = "leveraged"        # market_maker | leveraged | funding | noise
    name = "crowd"
    count = 2000
    …                         # the agent's parameters (perpsim.sim.agents)

    [short]                   # overrides for a quick version (tests, `--short`)
    duration_s = 150
    "agents.crowd.count" = 200

Parameters are addressed by dotted keys (`set_param`): `seed`, `duration_s`,
`venue.insurance_fund.USDT`, `feed.BTCUSDT.shocks.0.pct`, `agents.crowd.leverage.high` (agents
by name). Sweeps use the same keys.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from perpsim.model.market_files import default_markets
from perpsim.risk.profiles import PROFILES
from perpsim.sim.agents import AGENTS
from perpsim.sim.feeds import FEEDS

_REQUIRED = ("name", "duration_s", "venue", "feed", "agents")


@dataclass(frozen=True)
class Scenario:
    """A parsed scenario: its TOML data (plain dicts and lists, so it pickles to workers) and
    the folder it came from (replay CSV paths are relative to it)."""

    data: dict
    base_dir: str | None = None

    @property
    def name(self) -> str:
        """The scenario's `name`."""
        return self.data["name"]

    @property
    def description(self) -> str:
        """Its `description` ("" when none)."""
        return self.data.get("description", "")

    @property
    def seed(self) -> int:
        """The run's seed (`seed`, default 1)."""
        return int(self.data.get("seed", 1))

    @property
    def steps(self) -> int:
        """Number of steps: duration_s / step_s rounded to the nearest integer (ties to even)."""
        return round(self.data["duration_s"] / self.step_s)

    @property
    def step_s(self) -> float:
        """Seconds per step (`step_s`, default 1.0)."""
        return float(self.data.get("step_s", 1.0))

    def with_params(self, params: Mapping[str, Any]) -> Scenario:
        """A copy with dotted-key parameters set (see the module doc); validated."""
        data = copy.deepcopy(self.data)
        for key, value in params.items():
            set_param(data, key, value)
        validate(data)
        return Scenario(data, self.base_dir)

    def shortened(self) -> Scenario:
        """The scenario with its [short] overrides applied (itself when it has none)."""
        return self.with_params(self.data.get("short", {}))


def set_param(data: dict, key: str, value: Any) -> None:
    """Set a dotted key in scenario data; agents are addressed by name, list items by index."""
    parts = key.split(".")
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            node = _list_item(node, part, key)
        else:
            if part not in node:
                if i == 0:
                    raise KeyError(f"{key}: no {part!r} in the scenario")
                node[part] = {}
            node = node[part]
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def _list_item(items: list, part: str, key: str) -> Any:
    if part.isdigit():
        return items[int(part)]
    for item in items:
        if isinstance(item, dict) and item.get("name") == part:
            return item
    raise KeyError(f"{key}: no item named {part!r}")


def parse_value(text: str) -> Any:
    """A command-line parameter value as TOML (numbers, booleans, strings, tables), else a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def validate(data: dict) -> None:
    """Raise ValueError for a scenario that cannot run (missing keys, unknown kinds or markets)."""
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise ValueError(f"scenario: missing {missing}")
    venue = data["venue"]
    known = default_markets()
    for symbol in venue.get("markets", ["BTCUSDT"]):
        if symbol not in known:
            raise ValueError(f"scenario {data['name']}: unknown market {symbol}")
        if symbol not in data["feed"]:
            raise ValueError(f"scenario {data['name']}: no [feed.{symbol}]")
    if venue.get("profile", "binance") not in PROFILES:
        raise ValueError(f"scenario {data['name']}: unknown profile {venue['profile']!r}")
    for symbol, feed in data["feed"].items():
        if feed.get("kind", "constant") not in FEEDS:
            raise ValueError(f"scenario {data['name']}: feed {symbol}: unknown kind {feed.get('kind')!r}")
    names = set()
    for agent in data["agents"]:
        if agent.get("kind") not in AGENTS:
            raise ValueError(f"scenario {data['name']}: unknown agent kind {agent.get('kind')!r}")
        if agent.get("name") in names:
            raise ValueError(f"scenario {data['name']}: two agents named {agent.get('name')!r}")
        names.add(agent.get("name"))
    if data["duration_s"] <= 0 or float(data.get("step_s", 1.0)) <= 0:
        raise ValueError(f"scenario {data['name']}: duration_s and step_s must be > 0")


def _builtin_dir():
    return resources.files("perpsim.sim").joinpath("scenarios")


def builtin_names() -> list[str]:
    """Names of the scenarios shipped with the package."""
    return sorted(p.name[:-5] for p in _builtin_dir().iterdir() if p.name.endswith(".toml"))


def loads(text: str, base_dir: str | None = None) -> Scenario:
    """A scenario from TOML text."""
    data = tomllib.loads(text)
    validate(data)
    return Scenario(data, base_dir)


def load(name_or_path: str | Path) -> Scenario:
    """A built-in scenario by name, or a scenario file by path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        return loads(path.read_text(), str(path.resolve().parent))
    if str(name_or_path) not in builtin_names():
        raise ValueError(f"no scenario {name_or_path!r}: not a file, and the built-in ones are "
                         f"{', '.join(builtin_names())}")
    return loads(_builtin_dir().joinpath(f"{name_or_path}.toml").read_text())
